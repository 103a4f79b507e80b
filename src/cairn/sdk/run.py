"""``Run`` and the module-level ``init`` / ``finish`` / ``log`` / ``log_artifact`` / ``use_artifact``."""

from __future__ import annotations

import dataclasses
import os
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ..core.errors import UsageError
from ..core.names import DEFAULT_PROJECT, parse_ref, run_path
from . import artifact as artifacts, current as current_mod, options
from .artifact import Artifact, artifact_from_path
from .history import History
from .public_run import PublicRun
from .record import Config, Summary, config_dict
from .registry import RegistryCalls

if TYPE_CHECKING:
    from ..client import Client
    from ..core.versions import RunInfo


class Run(RegistryCalls, PublicRun):
    """A process that logs (outputs) and uses (inputs) artifact versions and keeps a record
    (config, history, summary); the attributes and lineage of ``PublicRun``, plus the writing calls."""

    # instance attributes here (mutable), set in __init__: these class attributes hide PublicRun's views
    config: Config = None  # type: ignore[assignment]  # never None on an instance (mypy cannot see __init__'s order)
    summary: Summary = None  # type: ignore[assignment]  # likewise

    def __init__(
        self,
        info: "RunInfo",
        client: "Client",
        mode: str = "online",
        allow_val_change: bool = False,
        resume: "options.Resume | None" = None,
    ) -> None:
        super().__init__(info, client)
        self.mode = mode
        self._resume = resume or options.Resume(None, info.id)
        self.config = Config(info.config, on_change=self._config_changed, allow_val_change=allow_val_change)
        self.summary = Summary(info.summary, on_change=self._summary_changed)
        start = 0 if info.last_step is None else info.last_step + 1
        self._history = History(client, run_path(info.entity, info.project, info.id), start, self.summary, self.config)
        self._finished = False

    path = property(
        lambda self: f"{self._info.entity}/{self._info.project}/{self._info.id}", doc="``entity/project/id``."
    )
    offline = property(
        lambda self: self.mode == "offline",
        doc='Whether the run writes to the embedded store although a server is set (``mode="offline"``).',
    )
    disabled = property(
        lambda self: self.mode == "disabled", doc='Whether the run stores nothing (``mode="disabled"``).'
    )
    resumed = property(
        lambda self: self._info.last_step is not None,
        doc="Whether this run continues one that logged before (``resume=``).",
    )
    step = property(lambda self: self._history.step, doc="The step the next ``log`` writes to.")
    """The step the next ``log`` writes to."""

    @property
    def url(self) -> str | None:
        """The run's page on the server; None on the embedded store (as W&B's offline runs)."""
        base = getattr(getattr(self._client, "settings", None), "base_url", None)
        if self.mode != "online" or not base:
            return None
        return f"{base.rstrip('/')}/runs/{self.id}"

    def _config_changed(self) -> None:
        self._history.config_changed()

    def _summary_changed(self) -> None:
        self._history.summary_changed()

    # -- the record -------------------------------------------------------------------
    def log(
        self, data: dict[str, Any], step: int | None = None, commit: bool | None = None, sync: bool | None = None
    ) -> None:
        """Log values at a step (W&B's semantics: see ``sdk/history.py``). Numbers and
        strings go to the history and the summary; other values are left out with one
        warning per type and key."""
        self._check_open("log")
        if sync is not None:
            options.not_acted_on("run.log", "sync", "cairn always stores in the background")
        self._history.log(data, step, commit)

    def _set_record(self, what: str, **changes: Any) -> None:
        self._check_open(f"change its {what}")
        self._client.update_run(self._ref, **changes)
        self._info = dataclasses.replace(self._info, **changes)

    name = property(
        lambda self: self._info.name,
        lambda self, v: self._set_record("name", name=v),
        doc="The run's display name; assigning one stores it.",
    )
    notes = property(
        lambda self: self._info.notes,
        lambda self, v: self._set_record("notes", notes=v),
        doc="The run's notes; assigning them stores them.",
    )
    tags = property(
        lambda self: self._info.tags,
        lambda self, v: self._set_record("tags", tags=tuple(_tags(v))),
        doc="The run's tags; assigning a list of strings stores it.",
    )

    def define_metric(self, name: str, *args: Any, **kw: Any) -> None:
        """Accepted for W&B scripts; cairn charts every key against ``_step`` and says so once."""
        options.not_acted_on(
            "run.define_metric", "name", "every logged key is charted against _step; the summary keeps the last value"
        )

    def watch(self, *args: Any, **kw: Any) -> None:
        """Accepted for W&B scripts; cairn logs no gradients or parameters and says so once."""
        options.not_acted_on("run.watch", "models", "cairn logs no gradients or parameters")

    def unwatch(self, *args: Any, **kw: Any) -> None:
        """Accepted for W&B scripts; does nothing (``watch`` records nothing)."""
        pass

    def save(self, *args: Any, **kw: Any) -> bool:
        """Accepted for W&B scripts; cairn keeps files through ``log_artifact`` and says so once. Returns False."""
        options.not_acted_on("run.save", "glob_str", "keep files with run.log_artifact")
        return False

    def alert(self, *args: Any, **kw: Any) -> None:
        """Accepted for W&B scripts; cairn sends no alerts and says so once."""
        options.not_acted_on("run.alert", "title", "cairn sends no alerts")

    def mark_preempting(self) -> None:
        """Accepted for W&B scripts; a run that ends unfinished is resumed with ``resume="auto"``."""
        pass

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
        if a.distributed_id is not None:
            raise UsageError(
                f"artifact {a.name!r} was upserted to distributed_id {a.distributed_id!r}; "
                "commit it with run.finish_artifact instead"
            )
        if isinstance(aliases, str) or isinstance(tags, str):
            raise UsageError("aliases and tags must be lists of strings")
        return artifacts.commit(a, self._client, self.entity, self.project, self.id, aliases, tags)

    def use_artifact(
        self,
        artifact_or_name: Any,
        type: str | None = None,  # noqa: A002
        aliases: list[str] | None = None,
        use_as: str | None = None,
    ) -> Artifact:
        """Resolve ``name[:alias]`` (or take an Artifact) and record it as this run's input.
        ``aliases`` are given to an Artifact that this call logs first, as in W&B."""
        self._check_open("use an artifact")
        if use_as is not None:
            options.not_acted_on("run.use_artifact", "use_as", "W&B deprecated it; cairn records the input as is")
        if isinstance(artifact_or_name, Artifact):
            a = artifact_or_name
            if a.is_draft():
                self.log_artifact(a, aliases=aliases)
            elif aliases:
                options.not_acted_on(
                    "run.use_artifact",
                    "aliases",
                    "the artifact is logged already; set artifact.aliases and call save() to change them",
                )
        else:
            if aliases:
                options.not_acted_on(
                    "run.use_artifact",
                    "aliases",
                    "aliases go on an Artifact logged by use_artifact; pick a version by name:alias instead",
                )
            ref = parse_ref(str(artifact_or_name))
            info = self._client.resolve(ref, self.entity, self.project)
            a = artifacts.from_version(info, self._client)
        if type is not None and a.type != type:
            raise UsageError(f"artifact {a.qualified_name} has type {a.type!r}, not {type!r}")
        self._client.use_version(self._ref, artifacts.logged_version(a, "use_artifact").id)
        return a

    def _distributed_id(self, distributed_id: str | None, verb: str) -> str:
        did = distributed_id or self.group
        if not did:
            raise TypeError(
                f"cannot {verb} an artifact: pass distributed_id=..., or start the run in a group "
                "(cairn.init(group=...)) so the group is used as the distributed id"
            )
        return str(did)

    def _contribution(
        self,
        verb: str,
        artifact_or_path: Any,
        name: str | None,
        type: str | None,  # noqa: A002
        aliases: list[str] | None,
        distributed_id: str | None,
        finish: bool,
    ) -> Artifact:
        """Upsert (or with ``finish``, finish) a contribution to a distributed version."""
        self._check_open(f"{verb} an artifact")
        did = self._distributed_id(distributed_id, verb)
        a = self._artifact(artifact_or_path, name, type)
        if not a.is_draft():
            raise UsageError(f"{a.qualified_name} is already committed; {verb} a new Artifact or a draft")
        return artifacts.contribute(a, self._client, did, self.entity, self.project, self.id, aliases, finish)

    def upsert_artifact(
        self,
        artifact_or_path: Any,
        name: str | None = None,
        type: str | None = None,  # noqa: A002
        aliases: list[str] | None = None,
        distributed_id: str | None = None,
    ) -> Artifact:
        """Contribute files to the distributed version ``distributed_id`` (default: the run's group)."""
        return self._contribution("upsert", artifact_or_path, name, type, aliases, distributed_id, finish=False)

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
        return self._contribution("finish", artifact_or_path, name, type, aliases, distributed_id, finish=True)

    def finish(self, exit_code: int | None = None, quiet: bool | None = None) -> None:
        """Store what is left of the history, then mark the run finished (failed for a
        non-zero ``exit_code``) with its config and summary."""
        if self._finished:
            return
        self._finished = True
        try:
            self._history.close()
        finally:
            self._client.finish_run(self._ref, exit_code or 0, self.config.as_dict(), self.summary.as_dict())
            if not exit_code:
                self._resume.forget()  # resume="auto" resumes only a run that did not finish cleanly
            current_mod.forget(self)

    def __enter__(self) -> "Run":
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.finish(exit_code=1 if exc_type is not None else 0)

    def __repr__(self) -> str:
        return f"<Run {self.path} ({self._info.name})>"


def _default_name(path: str, run_id: str) -> str:
    """W&B's name for an artifact logged from a path: ``run-<run id>-<basename>``."""
    base = os.path.basename(path.rstrip("/")) or "artifact"
    return "".join(c if (c.isalnum() or c in "-_.") else "-" for c in f"run-{run_id}-{base}")[:128]


def _tags(tags: Any) -> list[str]:
    if tags is None:
        return []
    if isinstance(tags, str) or not all(isinstance(t, str) for t in tags):
        raise UsageError("run tags must be a list of strings")
    return list(tags)


def init(
    project: str | None = None,
    entity: str | None = None,
    name: str | None = None,
    group: str | None = None,
    job_type: str | None = None,
    config: Any = None,
    id: str | None = None,  # noqa: A002
    reinit: Any = None,
    resume: Any = None,
    dir: str | None = None,  # noqa: A002
    tags: list[str] | None = None,
    notes: str | None = None,
    mode: str | None = None,
    settings: Any = None,
    config_exclude_keys: list[str] | None = None,
    config_include_keys: list[str] | None = None,
    allow_val_change: bool | None = None,
    save_code: bool | None = None,
    force: bool | None = None,
    anonymous: str | None = None,
    tensorboard: bool | None = None,
    sync_tensorboard: bool | None = None,
    monitor_gym: bool | None = None,
    magic: Any = None,
    resume_from: str | None = None,
    fork_from: str | None = None,
    _make_current: bool = True,
    **unknown: Any,
) -> Run:
    """Start a run (W&B's signature). Settings come from CAIRN_* variables, else W&B's
    WANDB_*. ``mode="disabled"`` touches no store; ``mode="offline"`` uses the embedded store
    even when CAIRN_BASE_URL is set.

    ``reinit`` as W&B's, for a run that is still active: "finish_previous" (or True)
    finishes it first; "return_previous" (or False) returns it; "create_new" starts another
    run that ``cairn.run`` and ``cairn.log`` do not follow. Left out, the active run is
    finished first (W&B does that in notebooks; its scripts return the active run)."""
    from ..client import Settings, get_client
    from ..client.settings import env

    for key in unknown:
        options.not_acted_on("init", key, "W&B has no such parameter either")
    reinit = options.reinit(reinit)
    previous = current_mod.active()
    if previous is not None and reinit == "return_previous":
        return previous
    run_mode = options.mode(mode, settings)
    id = id or env("RUN_ID")  # noqa: A001
    resumed = options.resume(resume if resume is not None else env("RESUME"), id, dir)
    if run_mode == "disabled":  # writes nothing anywhere, a resume file included
        resumed = dataclasses.replace(resumed, file=None)
    options.warn_ignored(
        {
            "dir": dir if resumed.file is None else None,  # resume="auto" keeps its file there
            "settings": settings,
            "save_code": save_code,
            "force": force,
            "anonymous": anonymous,
            "tensorboard": tensorboard,
            "sync_tensorboard": sync_tensorboard,
            "monitor_gym": monitor_gym,
            "magic": magic,
            "resume_from": resume_from,
            "fork_from": fork_from,
        }
    )
    config = options.filter_config(config_dict(config), config_include_keys, config_exclude_keys)
    config = Config(config).as_dict()  # values made JSON-friendly as they are set later
    tags = _tags(tags)
    if run_mode == "disabled":
        from ..client.null import NullClient

        client: Client = NullClient(env("ENTITY"))
    else:
        settings_ = Settings.from_env()
        if run_mode == "offline" and settings_.base_url:
            settings_ = dataclasses.replace(settings_, base_url=None, api_key=None)
        client = get_client(settings_)
    project = project or env("PROJECT") or DEFAULT_PROJECT
    entity = entity or client.entity
    info = client.create_run(
        entity,
        project,
        run_id=resumed.run_id,
        name=name,
        group=group,
        job_type=job_type,
        config=config,
        tags=tags,
        notes=notes,
        resume=resumed.mode,
    )
    resumed.remember(info.id)
    run = Run(info, client, run_mode, bool(allow_val_change), resumed)
    if config and config != info.config:
        run.config.update(config, allow_val_change=True)  # a resumed run: the values given win
    if _make_current and reinit == "create_new":
        current_mod.add_detached(run)  # finished at exit like the active run
    elif _make_current:
        if previous is not None:
            previous.finish()
        current_mod.make_active(run)
    return run


def finish(exit_code: int | None = None, quiet: bool | None = None) -> None:
    """``run.finish`` on the active run, if there is one."""
    run = current_mod.active()
    if run is not None:
        run.finish(exit_code)


def log(data: dict[str, Any], step: int | None = None, commit: bool | None = None, sync: bool | None = None) -> None:
    """``run.log`` on the active run."""
    _require_run("log").log(data, step, commit, sync)


def define_metric(name: str, *args: Any, **kw: Any) -> None:
    """``run.define_metric`` on the active run."""
    _require_run("define_metric").define_metric(name, *args, **kw)


def watch(*args: Any, **kw: Any) -> None:
    """``run.watch`` on the active run."""
    _require_run("watch").watch(*args, **kw)


def unwatch(*args: Any, **kw: Any) -> None:
    """Accepted for W&B scripts; does nothing."""
    pass


def save(*args: Any, **kw: Any) -> bool:
    """``run.save`` on the active run."""
    return _require_run("save").save(*args, **kw)


def alert(*args: Any, **kw: Any) -> None:
    """``run.alert`` on the active run."""
    _require_run("alert").alert(*args, **kw)


def _require_run(what: str) -> Run:
    run = current_mod.active()
    if run is None:
        raise UsageError(f"call cairn.init() before cairn.{what}()")
    return run


def log_artifact(
    artifact_or_path: Any,
    name: str | None = None,
    type: str | None = None,  # noqa: A002
    aliases: list[str] | None = None,
    tags: list[str] | None = None,
) -> Artifact:
    """``run.log_artifact`` on the active run."""
    return _require_run("log_artifact").log_artifact(artifact_or_path, name, type, aliases, tags)


def use_artifact(
    artifact_or_name: Any,
    type: str | None = None,
    aliases: list[str] | None = None,  # noqa: A002
    use_as: str | None = None,
) -> Artifact:
    """``run.use_artifact`` on the active run."""
    return _require_run("use_artifact").use_artifact(artifact_or_name, type, aliases, use_as)
