"""A run's registry calls (``link_artifact`` and W&B's model helpers) and their
module-level shortcuts ``log_model`` / ``use_model`` / ``link_model``.

Models are artifacts whose type contains "model"; a registered model is a collection of
links in the project ``model-registry`` of the run's entity, as in W&B.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from ..core.errors import ModelUsageError, NotAModelError, NotFoundError, UsageError
from . import artifact as artifacts, current

if TYPE_CHECKING:
    from ..client import Client
    from .artifact import Artifact

MODEL_REGISTRY = "model-registry"


def _is_model(type_: str) -> bool:
    return "model" in type_.lower()


class RegistryCalls:
    """Mixed into ``Run`` (needs its ``log_artifact``, ``use_artifact``, ``entity``,
    ``project``, ``id``, ``_ref`` and ``_check_open``)."""

    if TYPE_CHECKING:  # Run's (declared here for the type checker only: at run time Run's own)
        entity: str
        project: str
        id: str
        _ref: str  # the run's path entity/project/id (a run id is unique within its project)
        _client: Client

        def _check_open(self, what: str) -> None: ...
        def log_artifact(
            self,
            artifact_or_path: Any,
            name: str | None = None,
            type: str | None = None,  # noqa: A002
            aliases: list[str] | None = None,
            tags: list[str] | None = None,
        ) -> Artifact: ...
        def use_artifact(
            self,
            artifact_or_name: Any,
            type: str | None = None,  # noqa: A002
            aliases: list[str] | None = None,
            use_as: str | None = None,
        ) -> Artifact: ...

    def link_artifact(self, artifact: "Artifact", target_path: str, aliases: list[str] | None = None) -> "Artifact":
        """Link ``artifact`` (logged first by this run if it is not logged yet) into the
        collection ``target_path`` (``collection``, ``project/collection`` or
        ``entity/project/collection``; entity and project default to the run's). The link is
        a pointer: no file is copied. Returns the link."""
        from .links import parse_target

        self._check_open("link an artifact")
        if artifact.is_draft():
            self.log_artifact(artifact)
        v = artifacts.stored_version(artifact, "link")
        entity, project, name = parse_target(target_path, self.entity, self.project)
        if isinstance(aliases, str):
            raise UsageError("aliases must be a list of strings, not one string")
        client = artifacts.client_of(artifact)
        info = client.link_version(v.id, entity, project, name, list(aliases or []), self._ref)
        return artifacts.from_version(info, client)

    def log_model(
        self, path: str | os.PathLike, name: str | None = None, aliases: list[str] | None = None
    ) -> "Artifact":
        """Log the file or folder ``path`` as an artifact of type "model" (named
        ``run-<run id>-<basename>`` unless ``name`` is given)."""
        return self.log_artifact(path, name=name, type="model", aliases=aliases)

    def use_model(self, name: str) -> str:
        """Use the model artifact ``name`` (``name:alias``, ``project/name:vN``, …) as this
        run's input and download it; returns the path of its only file or folder when the
        download holds one, else the download folder. A type without "model" is an error."""
        self._check_open("use a model")
        artifact = self.use_artifact(name)
        if not _is_model(artifact.type):
            raise NotAModelError(artifact.qualified_name, artifact.type)
        root = artifact.download()
        inside = os.listdir(root)
        return os.path.join(root, inside[0]) if len(inside) == 1 else root

    def link_model(
        self,
        path: str | os.PathLike,
        registered_model_name: str,
        name: str | None = None,
        aliases: list[str] | None = None,
    ) -> "Artifact":
        """Log ``path`` as a model (a version of the model artifact ``name``: its type is
        kept when it exists and contains "model") and link it to the registered model
        ``registered_model_name`` in this entity's ``model-registry`` project; returns the link.
        ``aliases`` go on the link only."""
        from .links import parse_target

        self._check_open("link a model")
        if "/" in registered_model_name:
            raise ModelUsageError(
                f"registered_model_name {registered_model_name!r} must be a name only, without entity or "
                f"project: registered models live in {self.entity}/{MODEL_REGISTRY}"
            )
        parse_target(registered_model_name, self.entity, MODEL_REGISTRY)
        type_ = "model"
        if name is not None:
            try:
                existing = self._client.resolve(
                    _ref(f"{name}:latest"),
                    self.entity,
                    self.project,
                )
            except NotFoundError:
                existing = None
            if existing is not None:
                if not _is_model(existing.type):
                    raise NotAModelError(existing.qualified_name, existing.type)
                type_ = existing.type
        logged = self.log_artifact(path, name=name, type=type_)
        return self.link_artifact(logged, f"{self.entity}/{MODEL_REGISTRY}/{registered_model_name}", aliases)


def _ref(text: str) -> Any:
    from ..core.names import parse_ref

    return parse_ref(text)


def log_model(path: str | os.PathLike, name: str | None = None, aliases: list[str] | None = None) -> "Artifact":
    """``run.log_model`` of the active run."""
    return _active("log_model").log_model(path, name, aliases)


def use_model(name: str) -> str:
    """``run.use_model`` of the active run."""
    return _active("use_model").use_model(name)


def link_model(
    path: str | os.PathLike, registered_model_name: str, name: str | None = None, aliases: list[str] | None = None
) -> "Artifact":
    """``run.link_model`` of the active run."""
    return _active("link_model").link_model(path, registered_model_name, name, aliases)


def _active(what: str) -> Any:
    active = current.active()
    if active is None:
        raise UsageError(f"call cairn.init() before cairn.{what}()")
    return active
