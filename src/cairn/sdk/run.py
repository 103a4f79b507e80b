"""``Run`` and the module-level ``init`` / ``finish`` / ``log_artifact`` / ``use_artifact``."""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any

from ..core.errors import UsageError
from ..core.names import DEFAULT_PROJECT, parse_ref
from .api import PublicRun
from .artifact import Artifact, artifact_from_path
from .registry import RegistryCalls
from .terminal import sdk_progress

if TYPE_CHECKING:
    from ..client import Client
    from ..core.versions import RunInfo

_lock = threading.Lock()
_current: "Run | None" = None


class Config(dict):
    """Run config: a dict that also allows attribute access (``run.config.lr``)."""

    def __getattr__(self, key: str) -> Any:
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None

    def __setattr__(self, key: str, value: Any) -> None:
        self[key] = value

    def update(self, *args: Any, allow_val_change: bool = True, **kw: Any) -> None:  # noqa: D401
        super().update(*args, **kw)


class Run(RegistryCalls, PublicRun):
    """A process that logs (outputs) and uses (inputs) artifact versions; the attributes and
    lineage of ``PublicRun``, plus the writing calls."""

    config = None  # an instance attribute here (a mutable Config), not PublicRun's read-only view

    def __init__(self, info: "RunInfo", client: "Client") -> None:
        super().__init__(info, client)
        self.config = Config(info.config)
        self._finished = False

    path = property(lambda self: f"{self._info.entity}/{self._info.project}/{self._info.id}")
    url = property(lambda self: None)

    def _check_open(self, what: str) -> None:
        if self._finished:
            raise UsageError(f"run {self.path} is finished; cannot {what}. Start a new run with cairn.init()")

    def _artifact(self, artifact_or_path: Any, name: str | None, type: str | None) -> Artifact:  # noqa: A002
        if isinstance(artifact_or_path, Artifact):
            return artifact_or_path
        path = os.fspath(artifact_or_path)
        return artifact_from_path(path, name or _default_name(path, self.id), type or "unspecified")

    def log_artifact(
        self,
        artifact_or_path: Any,
        name: str | None = None,
        type: str | None = None,  # noqa: A002
        aliases: list[str] | None = None,
        tags: list[str] | None = None,
    ) -> Artifact:
        """Commit the artifact as this run's output. Content identical to a committed version
        of the same artifact makes no new version: that version gets the aliases."""
        self._check_open("log an artifact")
        a = self._artifact(artifact_or_path, name, type)
        if a._distributed_id is not None:
            raise UsageError(
                f"artifact {a._name!r} was upserted to distributed_id {a._distributed_id!r}; "
                "commit it with run.finish_artifact instead"
            )
        if isinstance(aliases, str) or isinstance(tags, str):
            raise UsageError("aliases and tags must be lists of strings")
        req = a._commit_request(self.entity, self.project, self.id, aliases, tags)
        with sdk_progress():
            info = self._client.commit(req)
        a._client_obj = self._client
        a._set_version(info)
        return a

    def use_artifact(
        self,
        artifact_or_name: Any,
        type: str | None = None,  # noqa: A002
        aliases: list[str] | None = None,
        use_as: str | None = None,
    ) -> Artifact:
        """Resolve ``name[:alias]`` (or take an Artifact) and record it as this run's input."""
        self._check_open("use an artifact")
        if isinstance(artifact_or_name, Artifact):
            a = artifact_or_name
            if a._version is None:
                self.log_artifact(a, aliases=aliases)
        else:
            ref = parse_ref(str(artifact_or_name))
            info = self._client.resolve(ref, self.entity, self.project)
            a = Artifact._from_version(info, self._client)
        if type is not None and a.type != type:
            raise UsageError(f"artifact {a.qualified_name} has type {a.type!r}, not {type!r}")
        self._client.use_version(self.id, a._version.id)  # type: ignore[union-attr]
        return a

    def _distributed_id(self, distributed_id: str | None, verb: str) -> str:
        did = distributed_id or self.group
        if not did:
            raise TypeError(
                f"cannot {verb} an artifact: pass distributed_id=..., or start the run in a group "
                "(cairn.init(group=...)) so the group is used as the distributed id"
            )
        return str(did)

    def _contribution(self, verb: str, artifact_or_path: Any, name: str | None, type: str | None,  # noqa: A002
                      aliases: list[str] | None, distributed_id: str | None):  # noqa: ANN202
        """The artifact, distributed id and request of an upsert or finish."""
        self._check_open(f"{verb} an artifact")
        did = self._distributed_id(distributed_id, verb)
        a = self._artifact(artifact_or_path, name, type)
        if a._version is not None:
            raise UsageError(f"{a.qualified_name} is already committed; {verb} a new Artifact or a draft")
        req = a._commit_request(self.entity, self.project, self.id, aliases, None)
        if req.entries is None:  # a draft of an existing version contributes its whole file set
            req.entries = list(a._all_entries().values())
            req.base_version_id, req.edits = None, None
        return a, did, req

    def upsert_artifact(
        self,
        artifact_or_path: Any,
        name: str | None = None,
        type: str | None = None,  # noqa: A002
        aliases: list[str] | None = None,
        distributed_id: str | None = None,
    ) -> Artifact:
        """Contribute files to the distributed version ``distributed_id`` (default: the run's group)."""
        a, did, req = self._contribution("upsert", artifact_or_path, name, type, aliases, distributed_id)
        with sdk_progress():
            self._client.upsert_draft(req, did)
        a._client_obj = self._client
        a._entity, a._project = self.entity, self.project
        a._distributed_id = did
        return a

    def finish_artifact(
        self,
        artifact_or_path: Any,
        name: str | None = None,
        type: str | None = None,  # noqa: A002
        aliases: list[str] | None = None,
        distributed_id: str | None = None,
    ) -> Artifact:
        """Commit every contribution to ``distributed_id`` (plus this artifact's files) as one
        version, and lock it: later upserts to that id are refused."""
        a, did, req = self._contribution("finish", artifact_or_path, name, type, aliases, distributed_id)
        with sdk_progress():
            info = self._client.finish_draft(req, did)
        a._client_obj = self._client
        a._distributed_id = None
        a._set_version(info)
        return a

    def finish(self, exit_code: int | None = None, quiet: bool | None = None) -> None:
        global _current
        if self._finished:
            return
        self._finished = True
        self._client.finish_run(self.id, exit_code or 0, dict(self.config))
        with _lock:
            if _current is self:
                _set_current(None)

    def __enter__(self) -> "Run":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:  # noqa: ANN001
        self.finish(exit_code=1 if exc_type is not None else 0)

    def __repr__(self) -> str:
        return f"<Run {self.path} ({self._info.name})>"


def _default_name(path: str, run_id: str) -> str:
    """W&B's name for an artifact logged from a path: ``run-<run id>-<basename>``."""
    base = os.path.basename(path.rstrip("/")) or "artifact"
    return "".join(c if (c.isalnum() or c in "-_.") else "-" for c in f"run-{run_id}-{base}")[:128]


def _set_current(run: Run | None) -> None:
    global _current
    _current = run
    import cairn

    cairn.run = run


def current() -> Run | None:
    return _current


def init(
    project: str | None = None,
    entity: str | None = None,
    name: str | None = None,
    group: str | None = None,
    job_type: str | None = None,
    config: dict | None = None,
    id: str | None = None,  # noqa: A002
    reinit: Any = None,
    resume: Any = None,
    dir: str | None = None,  # noqa: A002
    tags: list[str] | None = None,
    notes: str | None = None,
    mode: str | None = None,
    settings: Any = None,
    _make_current: bool = True,
    **_ignored: Any,
) -> Run:
    """Start a run (W&B's signature; settings come from CAIRN_* variables). A run that is
    still active is finished first, as a script's second ``wandb.init()`` does."""
    from ..client import get_client

    client = get_client()
    if config is not None and not isinstance(config, dict):
        config = dict(vars(config)) if hasattr(config, "__dict__") else dict(config)
    project = project or os.environ.get("CAIRN_PROJECT") or DEFAULT_PROJECT
    entity = entity or client.entity
    info = client.create_run(entity, project, run_id=id, name=name, group=group, job_type=job_type, config=config)
    run = Run(info, client)
    if _make_current:
        with _lock:
            previous = _current
        if previous is not None and not previous._finished:
            previous.finish()
        with _lock:
            _set_current(run)
    return run


def finish(exit_code: int | None = None, quiet: bool | None = None) -> None:
    if _current is not None:
        _current.finish(exit_code)


def _require_run(what: str) -> Run:
    if _current is None:
        raise UsageError(f"call cairn.init() before cairn.{what}()")
    return _current


def log_artifact(artifact_or_path: Any, name: str | None = None, type: str | None = None,  # noqa: A002
                 aliases: list[str] | None = None, tags: list[str] | None = None) -> Artifact:
    return _require_run("log_artifact").log_artifact(artifact_or_path, name, type, aliases, tags)


def use_artifact(artifact_or_name: Any, type: str | None = None, aliases: list[str] | None = None,  # noqa: A002
                 use_as: str | None = None) -> Artifact:
    return _require_run("use_artifact").use_artifact(artifact_or_name, type, aliases, use_as)
