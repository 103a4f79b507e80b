"""W&B's error names (``wandb.errors``) on cairn's one hierarchy (``core/errors.py``).

``except wandb.errors.CommError`` in a W&B script catches what cairn raises where W&B would
raise a CommError (a missing artifact or run, an unreachable or refusing server);
``UsageError`` is cairn's (also a ``ValueError``); ``AuthenticationError`` is ``AuthError``.
"""

from __future__ import annotations

from .core.errors import (
    ArtifactFinalizedError,
    ArtifactNotFoundError,
    ArtifactNotLoggedError,
    AuthError,
    CairnError,
    CommError,
    UsageError,
)

Error = CairnError
AuthenticationError = AuthError

__all__ = [
    "ArtifactFinalizedError",
    "ArtifactNotFoundError",
    "ArtifactNotLoggedError",
    "AuthenticationError",
    "CommError",
    "Error",
    "UsageError",
]
