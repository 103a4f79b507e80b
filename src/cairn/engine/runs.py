"""Runs and lineage: run -> version (output) and version -> run (input) edges."""

from __future__ import annotations

import string

from ..core.errors import ConflictError, RunNotFoundError, UsageError
from ..core.limits import MAX_RUN_STATE, MAX_RUN_TEXT, check_label, check_text
from ..core.names import check_name, check_run_id
from ..core.paging import Page, check_limit, offset_cursor
from ..core.versions import RunInfo, RunState, VersionInfo
from ..storage.meta.sql import MetaStore
from ..storage.meta.tx import insert, insert_ignore
from . import records
from .run_docs import MAX_NOTES, check_tags, config_json, dumps, summary_json

RUNNING, FINISHED, FAILED = RunState.RUNNING, RunState.FINISHED, RunState.FAILED
RESUME_MODES = (None, "allow", "must", "never")
_ALPHABET = string.ascii_lowercase + string.digits


def new_run_id() -> str:
    import secrets  # here, not at the top: the commands that make no run need not load it

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
    tags: list[str] | None = None,
    notes: str | None = None,
    resume: str | None = None,
) -> RunInfo:
    """A new run, or the existing one with ``run_id`` in that project, resumed (running
    again, its record kept). ``resume`` as W&B's: None or "allow" resume an existing id,
    "must" requires one (RunNotFoundError), "never" refuses one (ConflictError). A run id is
    unique within its project only: runs of other projects are never looked at, so an id
    that another project (of any entity) uses answers exactly as a free one."""
    check_name(project, "project name")
    check_name(entity, "entity name")
    if resume not in RESUME_MODES:
        raise UsageError(f"resume must be one of 'allow', 'must', 'never' or None, not {resume!r}")
    if run_id is not None:
        check_run_id(run_id)
    elif resume == "must":
        raise UsageError("resume='must' needs the id of the run to resume: init(id=..., resume='must')")
    for value, what in ((name, "run name"), (group, "run group"), (job_type, "job type")):
        check_label(value, what, MAX_RUN_TEXT, optional=True)
    config_text = config_json(config)
    tags_text = dumps(check_tags(tags or []))
    check_text(notes, "run notes", MAX_NOTES, optional=True)
    with ms.write() as tx:
        pid = records.project_id(tx, entity, project, create=True)
        if run_id is not None:
            key = {"pid": pid, "rid": run_id}
            if tx.scalar("SELECT 1 FROM runs WHERE project_id = :pid AND id = :rid", key) is not None:
                if resume == "never":
                    raise ConflictError(
                        f"run {entity}/{project}/{run_id} already exists and resume='never'; "
                        "pick another id or resume it with resume='allow'"
                    )
                tx.execute(
                    "UPDATE runs SET state = :s, finished_at = NULL WHERE project_id = :pid AND id = :rid",
                    {"s": RUNNING, **key},
                )
                return records.run_by_key(tx, pid, run_id)
            if resume == "must":
                raise RunNotFoundError(f"{entity}/{project}/{run_id}")
        rid = run_id or new_run_id()
        insert(
            tx,
            "runs",
            {
                "id": rid,
                "project_id": pid,
                "name": name or rid,
                "group_name": group,
                "job_type": job_type,
                "config": config_text,
                "tags": tags_text,
                "notes": notes,
                "state": RUNNING,
                "created_at": tx.now(),
            },
        )
        return records.run_by_key(tx, pid, rid)


def finish(
    ms: MetaStore, run_id: str, exit_code: int = 0, config: dict | None = None, summary: dict | None = None
) -> None:
    """Mark the run finished (failed for a non-zero exit code), storing its last config and
    summary. ``run_id``: its path ``entity/project/id``, or an id only one project has."""
    records.split_run_ref(run_id)
    if isinstance(exit_code, bool) or not isinstance(exit_code, int) or not -(2**31) <= exit_code < 2**31:
        raise UsageError(f"exit_code must be a 32-bit integer, not {exit_code!r}")
    config_text = config_json(config) if config is not None else None
    summary_text = summary_json(summary) if summary is not None else None
    with ms.write() as tx:
        pid, rid = records.run_key(tx, run_id)
        values = {
            "state": FINISHED if not exit_code else FAILED,
            "finished_at": tx.now(),
            "pid": pid,
            "rid": rid,
            "code": exit_code,
        }
        sets = "state = :state, finished_at = :finished_at, exit_code = :code"
        if config_text is not None:
            values["config"] = config_text
            sets += ", config = :config"
        if summary_text is not None:
            values["summary"] = summary_text
            sets += ", summary = :summary"
        tx.execute(f"UPDATE runs SET {sets} WHERE project_id = :pid AND id = :rid", values)


def get(ms: MetaStore, run_id: str, entity: str | None = None, project: str | None = None) -> RunInfo:
    """The run ``run_id`` names (its path, or an id only one project has), or the run of that
    id in ``entity``/``project`` when given."""
    e, p, rid = records.split_run_ref(run_id)
    entity, project = entity or e, project or p
    if entity:
        check_name(entity, "entity name")
    if project:
        check_name(project, "project name")
    where, params = "r.id = :rid", {"rid": rid}
    if entity:
        where, params["e"] = where + " AND p.entity = :e", entity
    if project:
        where, params["p"] = where + " AND p.name = :p", project
    with ms.read() as tx:
        found = records.runs_where(tx, where, params)
    if len(found) > 1:
        raise UsageError(
            f"run id {rid!r} names runs of {len(found)} projects; name the run by its path entity/project/{rid}"
        )
    if not found:
        raise RunNotFoundError("/".join(x for x in (entity, project, rid) if x))
    return found[0]


def with_id(ms: MetaStore, run_id: str) -> list[RunInfo]:
    """Every run of that id, in any project (a run id is unique within its project only)."""
    check_run_id(run_id)
    with ms.read() as tx:
        return records.runs_where(tx, "r.id = :rid", {"rid": run_id})


def list_runs(ms: MetaStore, entity: str, project: str) -> list[RunInfo]:
    check_name(entity, "entity name")
    check_name(project, "project name")
    with ms.read() as tx:
        return records.runs_where(tx, "p.entity = :e AND p.name = :p", {"e": entity, "p": project})


# W&B's run filters and orders that cairn answers: the field, and its column
RUN_FILTERS = {
    "group": "r.group_name",
    "jobType": "r.job_type",
    "job_type": "r.job_type",
    "state": "r.state",
    "name": "r.name",
}
# the longest value each filtered column holds (a longer one is a caller's mistake, not "no match")
RUN_FILTER_LENGTHS = {"state": MAX_RUN_STATE}
RUN_ORDERS = {"created_at": "r.created_at", "name": "r.name", "state": "r.state"}


def runs_page(
    ms: MetaStore,
    entity: str,
    project: str,
    filters: dict[str, str | None] | None,
    order: str | None,
    after: str | None,
    limit: int,
) -> Page[RunInfo]:
    """Up to ``limit`` of the project's runs from the cursor ``after``: those whose fields
    equal ``filters`` (None: no value), by W&B's ``order`` (``[+|-]created_at``, ``name`` or
    ``state``; ties and the default oldest first). The cursor is a position: a run created
    while paging by another order than the default may shift the pages by one."""
    check_name(entity, "entity name")
    check_name(project, "project name")
    check_limit(limit, "a page's limit")
    offset = offset_cursor(after)
    where, params = "p.entity = :e AND p.name = :p", {"e": entity, "p": project}
    if filters is not None and not isinstance(filters, dict):
        raise UsageError(f"run filters must be a dict of field to value, got {filters!r}")
    for i, (key, value) in enumerate((filters or {}).items()):
        column = RUN_FILTERS.get(key)
        if column is None:
            raise UsageError(f"unsupported run filter {key!r}; supported: group, job_type, state, name")
        if value is None:
            where += f" AND {column} IS NULL"
        elif isinstance(value, str):
            check_text(value, f"run filter {key!r}", RUN_FILTER_LENGTHS.get(key, MAX_RUN_TEXT))
            where, params[f"f{i}"] = where + f" AND {column} = :f{i}", value
        else:
            raise UsageError(f"run filter {key!r} takes a string or None, got {value!r}")
    field = (order or "created_at").lstrip("+-")
    if field not in RUN_ORDERS or (order or "").count("-") + (order or "").count("+") > 1:
        raise UsageError(f"unsupported run order {order!r}; supported: [+|-]created_at, [+|-]name, [+|-]state")
    with ms.read() as tx:
        # text sorts by code point on both databases (PostgreSQL's default collation may not)
        column = RUN_ORDERS[field] + (' COLLATE "C"' if tx.dialect == "postgresql" and field != "created_at" else "")
        direction = " DESC" if (order or "").startswith("-") else ""
        found = records.runs_where(tx, where, params, column + direction, limit, offset)
    return Page(found, str(offset + len(found)) if len(found) == limit else None)


def use(ms: MetaStore, run_id: str, version_id: int) -> None:
    records.split_run_ref(run_id)
    with ms.write() as tx:
        pid, rid = records.run_key(tx, run_id)
        records.version_by_id(tx, version_id)
        insert_ignore(tx, "usages", {"run_project": pid, "run_id": rid, "version_id": version_id, "at": tx.now()})


OF_RUN = "v.id IN (SELECT version_id FROM {table} WHERE run_project = :pid AND run_id = :rid)"


def outputs(ms: MetaStore, run_id: str) -> list[VersionInfo]:
    with ms.read() as tx:
        pid, rid = records.run_key(tx, run_id)
        return records.versions_where(tx, OF_RUN.format(table="outputs"), {"pid": pid, "rid": rid}, order="v.id")


def inputs(ms: MetaStore, run_id: str) -> list[VersionInfo]:
    with ms.read() as tx:
        pid, rid = records.run_key(tx, run_id)
        return records.versions_where(tx, OF_RUN.format(table="usages"), {"pid": pid, "rid": rid}, order="v.id")


USED = "EXISTS (SELECT 1 FROM usages u WHERE u.version_id = :v AND u.run_project = r.project_id AND u.run_id = r.id)"
WROTE = "EXISTS (SELECT 1 FROM outputs o WHERE o.version_id = :v AND o.run_project = r.project_id AND o.run_id = r.id)"


def users(ms: MetaStore, version_id: int) -> list[RunInfo]:
    with ms.read() as tx:
        return records.runs_where(tx, USED, {"v": version_id})
