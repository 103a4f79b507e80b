"""cairn: local-first, W&B-compatible artifact versioning for ML runs.

``import cairn as wandb`` runs W&B artifact code unchanged. The embedded store (SQLite + a
content-addressed folder in ``CAIRN_DIR``) needs no set-up; ``CAIRN_BASE_URL`` points the
SDK at a ``cairn server`` instead.
"""

from __future__ import annotations

from . import errors
from .core.errors import (
    ArtifactFinalizedError,
    ArtifactNotFoundError,
    ArtifactNotLoggedError,
    AuthError,
    BlobNotFoundError,
    CairnError,
    CommError,
    ConflictError,
    FileChangedError,
    ForbiddenError,
    IntegrityError,
    InvalidPathError,
    LockedError,
    ModelUsageError,
    NotAModelError,
    NotFoundError,
    RunNotFoundError,
    StoreError,
    UsageError,
)
from .sdk.api import Api
from .sdk.artifact import Artifact
from .sdk.registry import link_model, log_model, use_model
from .sdk.run import Run, finish, init, log_artifact, use_artifact
from .sdk.table import Table

Error = CairnError  # W&B's wandb.Error

__version__ = "0.1.0"

run: Run | None = None  # the active run, set by init() and cleared by finish(), as in W&B

__all__ = [
    "Api",
    "Artifact",
    "ArtifactFinalizedError",
    "ArtifactNotFoundError",
    "ArtifactNotLoggedError",
    "AuthError",
    "BlobNotFoundError",
    "CairnError",
    "CommError",
    "ConflictError",
    "Error",
    "FileChangedError",
    "ForbiddenError",
    "IntegrityError",
    "InvalidPathError",
    "LockedError",
    "ModelUsageError",
    "NotAModelError",
    "NotFoundError",
    "Run",
    "RunNotFoundError",
    "StoreError",
    "Table",
    "UsageError",
    "errors",
    "finish",
    "init",
    "link_model",
    "log_artifact",
    "log_model",
    "run",
    "use_artifact",
    "use_model",
]
