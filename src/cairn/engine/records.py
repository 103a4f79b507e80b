"""Reading and creating the rows the use cases share: projects, artifacts, versions, runs."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import Connection, and_, func, select

from ..core.errors import ArtifactNotFoundError, ConflictError, RunNotFoundError
from ..core.versions import COMMITTED, CollectionInfo, RunInfo, VersionInfo
from ..storage.meta import schema as s
from ..storage.meta.sqlutil import insert_ignore, now


def _utc(dt: datetime | None) -> datetime | None:
    if dt is not None and dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)
    return dt


def project_id(conn: Connection, entity: str, project: str, create: bool = False) -> int | None:
    q = select(s.projects.c.id).where(s.projects.c.entity == entity, s.projects.c.name == project)
    pid = conn.execute(q).scalar()
    if pid is None and create:
        insert_ignore(conn, s.projects, {"entity": entity, "name": project, "created_at": now()})
        pid = conn.execute(q).scalar()
    return pid


def artifact_row(conn: Connection, entity: str, project: str, name: str):  # noqa: ANN201
    pid = project_id(conn, entity, project)
    if pid is None:
        return None
    return conn.execute(
        select(s.artifacts).where(s.artifacts.c.project_id == pid, s.artifacts.c.name == name)
    ).first()


def ensure_artifact(conn: Connection, entity: str, project: str, name: str, type_: str):  # noqa: ANN201
    """The artifact row, created if new; a ConflictError when the name has another type."""
    pid = project_id(conn, entity, project, create=True)
    insert_ignore(
        conn,
        s.artifacts,
        {"project_id": pid, "name": name, "type": type_, "created_at": now(), "next_index": 0},
    )
    row = conn.execute(select(s.artifacts).where(s.artifacts.c.project_id == pid, s.artifacts.c.name == name)).one()
    if row.type != type_:
        raise ConflictError(
            f"artifact {entity}/{project}/{name} already has type {row.type!r}, not {type_!r}; "
            "one name has one type per project: use its type or another name"
        )
    return row


_VERSION_COLS = (
    s.versions,
    s.artifacts.c.name.label("a_name"),
    s.artifacts.c.type.label("a_type"),
    s.projects.c.entity.label("p_entity"),
    s.projects.c.name.label("p_name"),
)


def _version_query():  # noqa: ANN202
    return (
        select(*_VERSION_COLS)
        .select_from(s.versions.join(s.artifacts, s.versions.c.artifact_id == s.artifacts.c.id).join(s.projects))
    )


def versions_where(conn: Connection, *where, order=None, limit: int | None = None) -> list[VersionInfo]:  # noqa: ANN001
    q = _version_query().where(*where).order_by(*(order if order is not None else (s.versions.c.idx,)))
    if limit:
        q = q.limit(limit)
    rows = conn.execute(q).all()
    if not rows:
        return []
    ids = [r.id for r in rows]
    al: dict[int, list[str]] = {}
    tg: dict[int, list[str]] = {}
    for i in range(0, len(ids), 500):
        part = ids[i : i + 500]
        for vid, a in conn.execute(select(s.aliases.c.version_id, s.aliases.c.alias).where(s.aliases.c.version_id.in_(part))):
            al.setdefault(vid, []).append(a)
        for vid, t in conn.execute(select(s.tags.c.version_id, s.tags.c.tag).where(s.tags.c.version_id.in_(part))):
            tg.setdefault(vid, []).append(t)
    return [
        VersionInfo(
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
            description=r.description,
            metadata=json.loads(r.metadata or "{}"),
            state=r.state,
            aliases=tuple(sorted(al.get(r.id, []), key=lambda a: (a != "latest", a))),
            tags=tuple(sorted(tg.get(r.id, []))),
            ttl_seconds=r.ttl_seconds,
            created_at=_utc(r.created_at),
            updated_at=_utc(r.updated_at),
            run_id=r.run_id,
        )
        for r in rows
    ]


def version_by_id(conn: Connection, version_id: int) -> VersionInfo:
    found = versions_where(conn, s.versions.c.id == version_id)
    if not found:
        raise ArtifactNotFoundError(f"version id {version_id}")
    return found[0]


def collection_info(conn: Connection, where) -> list[CollectionInfo]:  # noqa: ANN001
    counts = (
        select(s.versions.c.artifact_id, func.count().label("n"))
        .where(s.versions.c.state == COMMITTED)
        .group_by(s.versions.c.artifact_id)
        .subquery()
    )
    q = (
        select(s.artifacts, s.projects.c.entity, s.projects.c.name.label("p_name"), counts.c.n)
        .select_from(
            s.artifacts.join(s.projects).outerjoin(counts, counts.c.artifact_id == s.artifacts.c.id)
        )
        .where(where)
        .order_by(s.artifacts.c.name)
    )
    return [
        CollectionInfo(r.entity, r.p_name, r.name, r.type, r.description, _utc(r.created_at), r.n or 0)
        for r in conn.execute(q)
    ]


def run_info(row) -> RunInfo:  # noqa: ANN001
    return RunInfo(
        id=row.id,
        entity=row.entity,
        project=row.p_name,
        name=row.name,
        group=row.group_name,
        job_type=row.job_type,
        config=json.loads(row.config or "{}"),
        state=row.state,
        created_at=_utc(row.created_at),
        finished_at=_utc(row.finished_at),
    )


def runs_where(conn: Connection, *where) -> list[RunInfo]:  # noqa: ANN001
    q = (
        select(s.runs, s.projects.c.entity, s.projects.c.name.label("p_name"))
        .select_from(s.runs.join(s.projects))
        .where(*where)
        .order_by(s.runs.c.created_at, s.runs.c.id)
    )
    return [run_info(r) for r in conn.execute(q)]


def run_by_id(conn: Connection, run_id: str) -> RunInfo:
    found = runs_where(conn, s.runs.c.id == run_id)
    if not found:
        raise RunNotFoundError(run_id)
    return found[0]


def committed(artifact_id: int):  # noqa: ANN201
    return and_(s.versions.c.artifact_id == artifact_id, s.versions.c.state == COMMITTED)
