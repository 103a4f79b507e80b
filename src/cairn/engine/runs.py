"""Runs and lineage: run -> version (output) and version -> run (input) edges."""

from __future__ import annotations

import json
import secrets
import string

from sqlalchemy import select

from ..core.errors import RunNotFoundError, UsageError
from ..core.names import check_name
from ..core.versions import RunInfo, VersionInfo
from ..storage.meta import schema as s
from ..storage.meta.sql import MetaStore
from ..storage.meta.sqlutil import insert_ignore, now
from . import records

RUNNING, FINISHED, FAILED = "running", "finished", "failed"
_ALPHABET = string.ascii_lowercase + string.digits


def new_run_id() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(8))


def create(
    ms: MetaStore,
    entity: str,
    project: str,
    *,
    run_id: str | None = None,
    name: str | None = None,
    group: str | None = None,
    job_type: str | None = None,
    config: dict | None = None,
) -> RunInfo:
    """A new run, or the existing one with ``run_id`` in that project (resumed)."""
    check_name(project, "project name")
    check_name(entity, "entity name")
    if run_id is not None:
        check_name(run_id, "run id")
    try:
        config_text = json.dumps(config or {}, default=str)
    except (TypeError, ValueError) as e:
        raise UsageError(f"run config must be JSON-serializable: {e}") from None
    with ms.write() as conn:
        pid = records.project_id(conn, entity, project, create=True)
        if run_id is not None:
            row = conn.execute(select(s.runs.c.project_id).where(s.runs.c.id == run_id)).first()
            if row is not None:
                if row.project_id != pid:
                    raise UsageError(f"run id {run_id!r} already belongs to another project; pick another id")
                conn.execute(s.runs.update().where(s.runs.c.id == run_id).values(state=RUNNING, finished_at=None))
                return records.run_by_id(conn, run_id)
        rid = run_id or new_run_id()
        conn.execute(
            s.runs.insert().values(
                id=rid,
                project_id=pid,
                name=name or rid,
                group_name=group,
                job_type=job_type,
                config=config_text,
                state=RUNNING,
                created_at=now(),
            )
        )
        return records.run_by_id(conn, rid)


def finish(ms: MetaStore, run_id: str, exit_code: int = 0, config: dict | None = None) -> None:
    values = {"state": FINISHED if not exit_code else FAILED, "finished_at": now()}
    if config is not None:
        values["config"] = json.dumps(config, default=str)
    with ms.write() as conn:
        if conn.execute(s.runs.update().where(s.runs.c.id == run_id).values(**values)).rowcount == 0:
            raise RunNotFoundError(run_id)


def get(ms: MetaStore, run_id: str, entity: str | None = None, project: str | None = None) -> RunInfo:
    with ms.read() as conn:
        where = [s.runs.c.id == run_id]
        if entity:
            where.append(s.projects.c.entity == entity)
        if project:
            where.append(s.projects.c.name == project)
        found = records.runs_where(conn, *where)
    if not found:
        raise RunNotFoundError("/".join(p for p in (entity, project, run_id) if p))
    return found[0]


def list_runs(ms: MetaStore, entity: str, project: str) -> list[RunInfo]:
    with ms.read() as conn:
        return records.runs_where(conn, s.projects.c.entity == entity, s.projects.c.name == project)


def use(ms: MetaStore, run_id: str, version_id: int) -> None:
    with ms.write() as conn:
        insert_ignore(conn, s.usages, {"run_id": run_id, "version_id": version_id, "at": now()})


def outputs(ms: MetaStore, run_id: str) -> list[VersionInfo]:
    with ms.read() as conn:
        ids = select(s.outputs.c.version_id).where(s.outputs.c.run_id == run_id)
        return records.versions_where(conn, s.versions.c.id.in_(ids), order=(s.versions.c.id,))


def inputs(ms: MetaStore, run_id: str) -> list[VersionInfo]:
    with ms.read() as conn:
        ids = select(s.usages.c.version_id).where(s.usages.c.run_id == run_id)
        return records.versions_where(conn, s.versions.c.id.in_(ids), order=(s.versions.c.id,))


def users(ms: MetaStore, version_id: int) -> list[RunInfo]:
    with ms.read() as conn:
        ids = select(s.usages.c.run_id).where(s.usages.c.version_id == version_id)
        return records.runs_where(conn, s.runs.c.id.in_(ids))
