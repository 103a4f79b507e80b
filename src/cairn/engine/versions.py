"""Finding versions and collections, and editing what may change after commit."""

from __future__ import annotations

import json

from sqlalchemy import select

from ..core.errors import ArtifactNotFoundError, LockedError, UsageError
from ..core.names import LATEST, ArtifactRef, check_alias, check_tag
from ..core.versions import COMMITTED, DELETED, CollectionInfo, VersionInfo, check_metadata
from ..storage.meta import schema as s
from ..storage.meta.sql import MetaStore
from ..storage.meta.sqlutil import insert_ignore, lock_row, now
from . import records
from .aliases import alias_history, drop_alias, move_alias, set_version_aliases

_UNSET = object()


def resolve(ms: MetaStore, ref: ArtifactRef, entity: str, project: str) -> VersionInfo:
    entity = ref.entity or entity
    project = ref.project or project
    full = f"{entity}/{project}/{ref.name}"
    with ms.read() as conn:
        art = records.artifact_row(conn, entity, project, ref.name)
        if art is None:
            raise ArtifactNotFoundError(f"{full}:{ref.alias}", f"no artifact named {ref.name!r} in project {entity}/{project}")
        if ref.version_index is not None:
            found = records.versions_where(conn, records.committed(art.id), s.versions.c.idx == ref.version_index)
        else:
            vid = conn.execute(
                select(s.aliases.c.version_id).where(s.aliases.c.artifact_id == art.id, s.aliases.c.alias == ref.alias)
            ).scalar()
            found = records.versions_where(conn, s.versions.c.id == vid) if vid is not None else []
            if not found and ref.alias.startswith("blake3:"):
                found = records.versions_where(conn, records.committed(art.id), s.versions.c.digest == ref.alias)
        if not found or found[0].state != COMMITTED:
            raise ArtifactNotFoundError(f"{full}:{ref.alias}", "no committed version has that version or alias")
        return found[0]


def get(ms: MetaStore, version_id: int) -> VersionInfo:
    with ms.read() as conn:
        return records.version_by_id(conn, version_id)


def list_versions(ms: MetaStore, entity: str, project: str, name: str, tags: list[str] | None = None) -> list[VersionInfo]:
    with ms.read() as conn:
        art = records.artifact_row(conn, entity, project, name)
        if art is None:
            raise ArtifactNotFoundError(f"{entity}/{project}/{name}")
        found = records.versions_where(conn, records.committed(art.id))
    if tags:
        found = [v for v in found if set(tags) <= set(v.tags)]
    return found


def list_collections(ms: MetaStore, entity: str, project: str, type_: str | None = None) -> list[CollectionInfo]:
    where = (s.projects.c.entity == entity) & (s.projects.c.name == project)
    if type_ is not None:
        where = where & (s.artifacts.c.type == type_)
    with ms.read() as conn:
        return records.collection_info(conn, where)


def list_projects(ms: MetaStore, entity: str | None = None) -> list[tuple[str, str]]:
    q = select(s.projects.c.entity, s.projects.c.name).order_by(s.projects.c.entity, s.projects.c.name)
    if entity is not None:
        q = q.where(s.projects.c.entity == entity)
    with ms.read() as conn:
        return [tuple(r) for r in conn.execute(q)]


def update(
    ms: MetaStore,
    version_id: int,
    *,
    description=_UNSET,  # noqa: ANN001
    metadata=_UNSET,  # noqa: ANN001
    ttl_seconds=_UNSET,  # noqa: ANN001
    aliases: list[str] | None = None,
    tags: list[str] | None = None,
    run_id: str | None = None,
) -> VersionInfo:
    """Change what may change after commit, without making a version."""
    values: dict = {}
    if description is not _UNSET:
        values["description"] = description
    if metadata is not _UNSET:
        values["metadata"] = json.dumps(check_metadata(metadata))
    if ttl_seconds is not _UNSET:
        if ttl_seconds is not None and (not isinstance(ttl_seconds, int) or ttl_seconds <= 0):
            raise UsageError(f"ttl must be a positive duration or None, got {ttl_seconds!r} seconds")
        values["ttl_seconds"] = ttl_seconds
    if aliases is not None:
        aliases = list(dict.fromkeys(a if a == LATEST else check_alias(a) for a in aliases))
    if tags is not None:
        tags = list(dict.fromkeys(check_tag(t) for t in tags))
    with ms.write() as conn:
        v = records.version_by_id(conn, version_id)
        if v.state != COMMITTED:
            raise LockedError(f"{v.qualified_name} is {v.state.lower()}; it cannot be edited")
        art_id = conn.execute(select(s.versions.c.artifact_id).where(s.versions.c.id == version_id)).scalar()
        lock_row(conn, s.artifacts, art_id)
        if values:
            values["updated_at"] = now()
            conn.execute(s.versions.update().where(s.versions.c.id == version_id).values(**values))
        if aliases is not None:
            set_version_aliases(conn, art_id, version_id, aliases, run_id)
        if tags is not None:
            conn.execute(s.tags.delete().where(s.tags.c.version_id == version_id))
            insert_ignore(conn, s.tags, [{"version_id": version_id, "tag": t} for t in tags])
        return records.version_by_id(conn, version_id)


def delete(ms: MetaStore, version_id: int, delete_aliases: bool = False, run_id: str | None = None) -> None:
    """Mark a version DELETED; its blobs stay until ``gc``. ``latest`` moves to the newest remaining."""
    with ms.write() as conn:
        v = records.version_by_id(conn, version_id)
        if v.state == DELETED:
            return
        art_id = conn.execute(select(s.versions.c.artifact_id).where(s.versions.c.id == version_id)).scalar()
        lock_row(conn, s.artifacts, art_id)
        named = [a for a in v.aliases if a != LATEST]
        if named and not delete_aliases:
            raise UsageError(
                f"{v.qualified_name} has aliases {named}; pass delete_aliases=True to delete it with its aliases"
            )
        for alias in v.aliases:
            drop_alias(conn, art_id, alias, run_id)
        conn.execute(s.versions.update().where(s.versions.c.id == version_id).values(state=DELETED, updated_at=now()))
        if LATEST in v.aliases:
            newest = conn.execute(
                select(s.versions.c.id).where(records.committed(art_id)).order_by(s.versions.c.idx.desc()).limit(1)
            ).scalar()
            if newest is not None:
                move_alias(conn, art_id, LATEST, newest, run_id)


def aliases_log(ms: MetaStore, entity: str, project: str, name: str) -> list[dict]:
    with ms.read() as conn:
        art = records.artifact_row(conn, entity, project, name)
        if art is None:
            raise ArtifactNotFoundError(f"{entity}/{project}/{name}")
        return alias_history(conn, art.id)
