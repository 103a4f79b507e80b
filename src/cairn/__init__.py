"""cairn: local-first, W&B-compatible artifact versioning for ML runs.

``import cairn as wandb`` runs W&B artifact code unchanged. The embedded store (SQLite + a
content-addressed folder in ``CAIRN_DIR``) needs no set-up; ``CAIRN_BASE_URL`` points the
SDK at a ``cairn server`` instead.

The public names are loaded on first use (``_LAZY`` below, through the module
``__getattr__``): ``import cairn`` itself loads only the error classes, so a process that
uses one part (the ``cairn`` command, a script that only calls ``init``) does not pay for
the media, table and registry code at start-up (bench/startup.py measures it).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

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

if TYPE_CHECKING:
    from . import errors
    from .sdk.api import Api
    from .sdk.artifact import Artifact
    from .sdk.media import Audio, Histogram, Html, Image, Molecule, Object3D, Plotly, Video, plot
    from .sdk.record import Config, ConfigError, Summary
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

    run: Run | None  # the active run: see __getattr__
    config: Config
    summary: Summary

Error = CairnError  # W&B's wandb.Error

__version__ = "0.1.0"

# Public name -> the module (relative to this package) that defines it; a module whose name
# is the public name itself (``errors``) is that submodule.
_LAZY: dict[str, str] = {
    "errors": ".errors",
    "Api": ".sdk.api",
    "Artifact": ".sdk.artifact",
    "Audio": ".sdk.media",
    "Histogram": ".sdk.media",
    "Html": ".sdk.media",
    "Image": ".sdk.media",
    "Molecule": ".sdk.media",
    "Object3D": ".sdk.media",
    "Plotly": ".sdk.media",
    "Video": ".sdk.media",
    "plot": ".sdk.media",
    "ConfigError": ".sdk.record",
    "link_model": ".sdk.registry",
    "log_model": ".sdk.registry",
    "use_model": ".sdk.registry",
    "Run": ".sdk.run",
    "alert": ".sdk.run",
    "define_metric": ".sdk.run",
    "finish": ".sdk.run",
    "init": ".sdk.run",
    "log": ".sdk.run",
    "log_artifact": ".sdk.run",
    "save": ".sdk.run",
    "unwatch": ".sdk.run",
    "use_artifact": ".sdk.run",
    "watch": ".sdk.run",
    "Table": ".sdk.table",
}

# Read from ``sdk/current.py`` on every access, never stored here.
_ACTIVE = ("run", "config", "summary")


def __getattr__(name: str) -> object:
    """The public names of ``_LAZY``, imported on first access and then kept in this
    module's namespace. ``cairn.run`` is the active run (None before ``init()`` and after
    ``finish()``, as in W&B); ``cairn.config`` and ``cairn.summary`` are that run's. They
    are read from ``sdk/current.py`` on each access, so nothing assigns into this module."""
    where = _LAZY.get(name)
    if where is not None:
        module = importlib.import_module(where, __name__)
        value = module if where == f".{name}" else getattr(module, name)
        globals()[name] = value
        return value
    if name in _ACTIVE:
        return _active(name)
    raise AttributeError(f"module 'cairn' has no attribute {name!r}")


def _active(name: str) -> Run | Config | Summary | None:
    from .sdk.current import active

    run = active()
    if name == "run":
        return run
    if run is None:
        raise UsageError(f"call cairn.init() before using cairn.{name}")
    return getattr(run, name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY) | set(_ACTIVE))


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
