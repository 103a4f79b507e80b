"""Reading and creating the rows the use cases share: projects, artifacts, versions, runs."""

from __future__ import annotations

import json
from typing import Literal, overload

from ..core.errors import ArtifactNotFoundError, ConflictError, RunNotFoundError, UsageError
from ..core.limits import check_int
from ..core.names import split_run_ref
from ..core.versions import COMMITTED, LINKS, LOGGED, CollectionInfo, RunInfo, VersionInfo
from ..storage.meta.tx import Tx, as_utc, batches, in_list, insert_ignore
from .rows import ArtifactRow, RunRow, VersionRow


@overload
def project_id(tx: Tx, entity: str, project: str, create: Literal[True]) -> int: ...
@overload
def project_id(tx: Tx, entity: str, project: str, create: bool = False) -> int | None: ...
def project_id(tx: Tx, entity: str, project: str, create: bool = False) -> int | None:
    q = "SELECT id FROM projects WHERE entity = :e AND name = :p"
    params = {"e": entity, "p": project}
    pid = tx.scalar(q, params)
    if pid is None and create:
        insert_ignore(tx, "projects", {"entity": entity, "name": project, "created_at": tx.now()})
        pid = tx.scalar(q, params)
    return pid


def artifact_row(tx: Tx, entity: str, project: str, name: str) -> ArtifactRow | None:
    pid = project_id(tx, entity, project)
    if pid is None:
        return None
    return tx.first("SELECT * FROM artifacts WHERE project_id = :pid AND name = :n", {"pid": pid, "n": name})


def ensure_artifact(tx: Tx, entity: str, project: str, name: str, type_: str, kind: str = LOGGED) -> ArtifactRow:
    """The artifact row, created if new; a ConflictError when the name has another type, a
    UsageError when it holds the other ``kind`` (logged versions vs links)."""
    pid = project_id(tx, entity, project, create=True)
    insert_ignore(
        tx,
        "artifacts",
        {"project_id": pid, "name": name, "type": type_, "created_at": tx.now(), "next_index": 0, "kind": kind},
    )
    row = tx.first("SELECT * FROM artifacts WHERE project_id = :pid AND name = :n", {"pid": pid, "n": name})
    if row.type != type_:
        raise ConflictError(
            f"artifact {entity}/{project}/{name} already has type {row.type!r}, not {type_!r}; "
            "one name has one type per project: use its type or another name"
        )
    if row.kind != kind:
        if kind == LINKS:
            raise UsageError(
                f"{entity}/{project}/{name} is a collection of logged versions; link into another "
                "collection name (a collection holds either logged versions or links)"
            )
        raise UsageError(
            f"{entity}/{project}/{name} is a collection of links (a registry collection); log under "
            "another name, then link that version into it with artifact.link() or run.link_artifact()"
        )
    return row


# The committed versions of one artifact, as a condition on ``v``.
COMMITTED_OF = f"v.artifact_id = :art AND v.state = '{COMMITTED}'"

# A link (v.link_of) reads its description, metadata, ttl, producing run and tags from its
# source version ``s``, which the LEFT JOINs bring along (NULLs for a logged version).
_VERSIONS = (
    "SELECT v.*, a.name AS a_name, a.type AS a_type, p.entity AS p_entity, p.name AS p_name, "
    "s.idx AS s_idx, s.description AS s_description, s.metadata AS s_metadata, s.ttl_seconds AS s_ttl, "
    "s.run_id AS s_run_id, sa.name AS s_name, sp.entity AS s_entity, sp.name AS s_project "
    "FROM versions v JOIN artifacts a ON v.artifact_id = a.id JOIN projects p ON a.project_id = p.id "
    "LEFT OUTER JOIN versions s ON s.id = v.link_of LEFT OUTER JOIN artifacts sa ON sa.id = s.artifact_id "
    "LEFT OUTER JOIN projects sp ON sp.id = sa.project_id "
)


def versions_where(
    tx: Tx, where: str, params: dict, order: str = "v.idx", limit: int | None = None
) -> list[VersionInfo]:
    """Versions (with their aliases and tags) matching ``where``, a condition on ``v``
    (versions), ``a`` (artifacts) and ``p`` (projects)."""
    q = f"{_VERSIONS} WHERE {where} ORDER BY {order}"
    if limit:
        q += f" LIMIT {int(limit)}"
    rows = tx.rows(q, params)
    if not rows:
        return []
    al: dict[int, list[str]] = {}
    tg: dict[int, list[str]] = {}
    for part in batches([r.id for r in rows]):
        ph, ids = in_list(part)
        for vid, a in tx.tuples(f"SELECT version_id, alias FROM aliases WHERE version_id IN {ph}", ids):
            al.setdefault(vid, []).append(a)
    for part in batches(list({r.link_of or r.id for r in rows})):  # a link's tags are its source's
        ph, ids = in_list(part)
        for vid, t in tx.tuples(f"SELECT version_id, tag FROM tags WHERE version_id IN {ph}", ids):
            tg.setdefault(vid, []).append(t)
    return [_version_info(r, al.get(r.id, []), tg.get(r.link_of or r.id, [])) for r in rows]


def _version_info(r: VersionRow, aliases: list[str], tags: list[str]) -> VersionInfo:
    link = r.link_of is not None
    return VersionInfo(
        id=r.id,
        entity=r.p_entity,
        project=r.p_name,
        name=r.a_name,
        type=r.a_type,
        index=r.idx,
        digest=r.digest,
        manifest_key=r.manifest_key,
        file_count=r.file_count,
        size=r.size,
        description=r.s_description if link else r.description,
        metadata=json.loads((r.s_metadata if link else r.metadata) or "{}"),
        state=r.state,
        aliases=tuple(sorted(aliases, key=lambda a: (a != "latest", a))),
        tags=tuple(sorted(tags)),
        ttl_seconds=r.s_ttl if link else r.ttl_seconds,
        created_at=as_utc(r.created_at),
        updated_at=as_utc(r.updated_at),
        run_id=r.s_run_id if link else r.run_id,
        link_of=r.link_of,
        source_entity=r.s_entity,
        source_project=r.s_project,
        source_name=r.s_name,
        source_index=r.s_idx,
    )


def version_by_id(tx: Tx, version_id: int) -> VersionInfo:
    check_int(version_id, "version id", lo=1)
    found = versions_where(tx, "v.id = :vid", {"vid": version_id})
    if not found:
        raise ArtifactNotFoundError(f"version id {version_id}")
    return found[0]


def collection_info(tx: Tx, where: str, params: dict, limit: int | None = None) -> list[CollectionInfo]:
    """Artifacts matching ``where`` (a condition on ``a`` and ``p``) with their committed
    counts, by name (the first ``limit``, when given)."""
    q = (
        "SELECT a.*, p.entity AS p_entity, p.name AS p_name, c.n AS n "
        "FROM artifacts a JOIN projects p ON a.project_id = p.id "
        "LEFT OUTER JOIN (SELECT artifact_id, count(*) AS n FROM versions "
        f"WHERE state = '{COMMITTED}' GROUP BY artifact_id) c ON c.artifact_id = a.id "
        f"WHERE {where} ORDER BY a.name" + (f" LIMIT {int(limit)}" if limit else "")
    )
    rows = tx.rows(q, params)
    tags: dict[int, list[str]] = {}
    for part in batches([r.id for r in rows]):
        ph, ids = in_list(part)
        for aid, t in tx.tuples(f"SELECT artifact_id, tag FROM collection_tags WHERE artifact_id IN {ph}", ids):
            tags.setdefault(aid, []).append(t)
    sources = _link_sources(tx, [r.id for r in rows if r.kind == "links"])
    return [
        CollectionInfo(
            r.p_entity,
            r.p_name,
            r.name,
            r.type,
            r.description,
            as_utc(r.created_at),
            r.n or 0,
            r.kind,
            tuple(sorted(tags.get(r.id, []))),
            tuple(sorted(sources.get(r.id, {}).items())),
        )
        for r in rows
    ]


def _link_sources(tx: Tx, artifact_ids: list[int]) -> dict[int, dict[str, int]]:
    """Per collection of links: its committed links counted by their source's entity."""
    out: dict[int, dict[str, int]] = {}
    for part in batches(artifact_ids):
        ph, ids = in_list(part)
        q = (
            "SELECT v.artifact_id, sp.entity, count(*) FROM versions v "
            "JOIN versions s ON v.link_of = s.id JOIN artifacts sa ON s.artifact_id = sa.id "
            "JOIN projects sp ON sa.project_id = sp.id "
            f"WHERE v.state = '{COMMITTED}' AND v.artifact_id IN {ph} GROUP BY v.artifact_id, sp.entity"
        )
        for aid, entity, n in tx.tuples(q, ids):
            out.setdefault(aid, {})[entity] = n
    return out


def run_info(row: RunRow) -> RunInfo:
    return RunInfo(
        id=row.id,
        entity=row.p_entity,
        project=row.p_name,
        name=row.name,
        group=row.group_name,
        job_type=row.job_type,
        config=json.loads(row.config or "{}"),
        state=row.state,
        created_at=as_utc(row.created_at),
        finished_at=as_utc(row.finished_at),
        summary=json.loads(row.summary or "{}"),
        tags=tuple(json.loads(row.tags or "[]")),
        notes=row.notes,
        last_step=row.last_step,
    )


def runs_where(
    tx: Tx, where: str, params: dict, order: str = "", limit: int | None = None, offset: int = 0
) -> list[RunInfo]:
    """Runs matching ``where``, a condition on ``r`` (runs) and ``p`` (projects), by
    ``order`` (SQL terms) and then oldest first; ``limit`` of them from ``offset``, if given."""
    q = (
        "SELECT r.*, p.entity AS p_entity, p.name AS p_name, "
        "(SELECT max(h.step) FROM run_history h WHERE h.run_project = r.project_id AND h.run_id = r.id) "
        "AS last_step FROM runs r JOIN projects p ON r.project_id = p.id "
        f"WHERE {where} ORDER BY {order + ', ' if order else ''}r.created_at, r.id"
    )
    if limit is not None:
        q += f" LIMIT {int(limit)} OFFSET {int(offset)}"
    return [run_info(r) for r in tx.rows(q, params)]


def run_key(tx: Tx, ref: str) -> tuple[int, str]:
    """(project id, run id) of the run ``ref`` names: a run path, or a bare id that only one
    project has (a run id is unique within its project only)."""
    entity, project, run_id = split_run_ref(ref)
    if entity is None:
        pids = tx.scalars("SELECT project_id FROM runs WHERE id = :rid", {"rid": run_id})
        if len(pids) > 1:
            raise UsageError(
                f"run id {run_id!r} names runs of {len(pids)} projects; name the run by its path entity/project/{run_id}"
            )
    else:
        pids = tx.scalars(
            "SELECT r.project_id FROM runs r JOIN projects p ON r.project_id = p.id "
            "WHERE r.id = :rid AND p.entity = :e AND p.name = :p",
            {"rid": run_id, "e": entity, "p": project},
        )
    if not pids:
        raise RunNotFoundError(ref)
    return pids[0], run_id


# A run as a row records it: (its project's id, its id). A run id is unique within its
# project only (schema 10), so every row that names a run names its project too (schema 11).
RunKey = tuple[int, str]


def run_columns(run: RunKey | None) -> dict[str, object]:
    """The columns a row that names ``run`` is written with: ``run_project`` and ``run_id``,
    or none at all for no run (both stay NULL; a test that drives this code over a store of
    an older schema, without ``run_project``, can still write such rows)."""
    return {"run_project": run[0], "run_id": run[1]} if run else {}


def row_run(tx: Tx, ref: str | None, project_id: int | None) -> RunKey | None:
    """The run a history row of ``project_id`` (an alias move, an edit) records for ``ref``:
    a run path names its run; a bare id names the run of that id in ``project_id`` when it
    has one, else the one run of that id in the store. RunNotFoundError for no run, a
    UsageError for a bare id of several other projects' runs."""
    if ref is None:
        return None
    entity, _, run_id = split_run_ref(ref)
    if (
        entity is None
        and project_id is not None
        and tx.scalar("SELECT 1 FROM runs WHERE project_id = :pid AND id = :rid", {"pid": project_id, "rid": run_id})
    ):
        return project_id, run_id
    return run_key(tx, ref)


def project_run(tx: Tx, project_id: int, run_id: str) -> str:
    """``run_id``, checked to name a run of that project (a version's producing run, a
    draft's contributor): RunNotFoundError otherwise, whatever other projects hold."""
    if (
        tx.scalar("SELECT 1 FROM runs WHERE project_id = :pid AND id = :rid", {"pid": project_id, "rid": run_id})
        is None
    ):
        raise RunNotFoundError(run_id)
    return run_id


def run_by_key(tx: Tx, project_id: int, run_id: str) -> RunInfo:
    found = runs_where(tx, "r.project_id = :pid AND r.id = :rid", {"pid": project_id, "rid": run_id})
    if not found:
        raise RunNotFoundError(run_id)
    return found[0]
