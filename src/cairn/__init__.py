"""cairn: local-first, W&B-compatible artifact versioning for ML runs.

``import cairn as wandb`` runs W&B artifact code unchanged. The embedded store (SQLite + a
content-addressed folder in ``CAIRN_DIR``) needs no set-up; ``CAIRN_BASE_URL`` points the
SDK at a ``cairn server`` instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

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
from .sdk.media import Audio, Histogram, Html, Image, Molecule, Object3D, Plotly, Video, plot
from .sdk.record import ConfigError
from .sdk.registry import link_model, log_model, use_model
from .sdk.run import (
    Run,
    alert,
    define_metric,
    finish,
    init,
    log,
    log_artifact,
    save,
    unwatch,
    use_artifact,
    watch,
)
from .sdk.table import Table

if TYPE_CHECKING:
    from .sdk.record import Config, Summary

Error = CairnError  # W&B's wandb.Error

__version__ = "0.1.0"


def __getattr__(name: str) -> Run | Config | Summary | None:
    """``cairn.run`` is the active run (None before ``init()`` and after ``finish()``, as in
    W&B); ``cairn.config`` and ``cairn.summary`` are that run's. They are read from
    ``sdk/current.py`` on each access, so nothing assigns into this module."""
    if name in ("run", "config", "summary"):
        from .sdk.current import active

        run = active()
        if name == "run":
            return run
        if run is None:
            raise UsageError(f"call cairn.init() before using cairn.{name}")
        return getattr(run, name)
    raise AttributeError(f"module 'cairn' has no attribute {name!r}")


__all__ = [
    "Api",
    "Artifact",
    "ArtifactFinalizedError",
    "ArtifactNotFoundError",
    "ArtifactNotLoggedError",
    "Audio",
    "AuthError",
    "BlobNotFoundError",
    "CairnError",
    "CommError",
    "ConfigError",
    "ConflictError",
    "Error",
    "FileChangedError",
    "ForbiddenError",
    "Histogram",
    "Html",
    "Image",
    "IntegrityError",
    "InvalidPathError",
    "LockedError",
    "ModelUsageError",
    "Molecule",
    "NotAModelError",
    "NotFoundError",
    "Object3D",
    "Plotly",
    "Run",
    "RunNotFoundError",
    "StoreError",
    "Table",
    "UsageError",
    "Video",
    "alert",
    "define_metric",
    "errors",
    "finish",
    "init",
    "link_model",
    "log",
    "log_artifact",
    "log_model",
    "plot",
    "run",
    "save",
    "unwatch",
    "use_artifact",
    "use_model",
    "watch",
]
