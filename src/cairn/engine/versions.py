"""Finding versions and collections, and editing what may change after commit."""

from __future__ import annotations

import json
from enum import Enum
from typing import Any, Final

from ..core.digest import is_content_digest
from ..core.errors import ArtifactNotFoundError, LockedError, UsageError
from ..core.limits import MAX_NAME, check_text, check_ttl
from ..core.names import LATEST, ArtifactRef, check_alias, check_name, check_tag, split_run_ref
from ..core.versions import (
    COMMITTED,
    DELETED,
    CollectionInfo,
    VersionInfo,
    check_metadata,
)
from ..core.paging import Page, check_limit, index_cursor
from ..storage.meta.sql import MetaStore
from ..storage.meta.tx import insert_ignore, lock_row
from . import links, records, version_log
from .aliases import alias_history, drop_alias, move_alias, set_version_aliases


class _Unset(Enum):
    """The default of an edit's field that is left as it is (None is a value: "no description")."""

    UNSET = "unset"


_UNSET: Final = _Unset.UNSET


def check_collection(entity: str, project: str, name: str | None = None) -> None:
    """Names a read is asked about: a malformed one is a UsageError, never a query."""
    check_name(entity, "entity name")
    check_name(project, "project name")
    if name is not None:
        check_name(name)


def resolve(ms: MetaStore, ref: ArtifactRef, entity: str, project: str) -> VersionInfo:
    entity = ref.entity or entity
    project = ref.project or project
    check_collection(entity, project)
    full = f"{entity}/{project}/{ref.name}"
    with ms.read() as tx:
        art = records.artifact_row(tx, entity, project, ref.name)
        if art is None:
            raise ArtifactNotFoundError(
                f"{full}:{ref.alias}", f"no artifact named {ref.name!r} in project {entity}/{project}"
            )
        committed = records.COMMITTED_OF
        if ref.version_index is not None:
            found = records.versions_where(tx, f"{committed} AND v.idx = :i", {"art": art.id, "i": ref.version_index})
        else:
            vid = tx.scalar(
                "SELECT version_id FROM aliases WHERE artifact_id = :art AND alias = :a",
                {"art": art.id, "a": ref.alias},
            )
            found = records.versions_where(tx, "v.id = :v", {"v": vid}) if vid is not None else []
            if not found and is_content_digest(ref.alias):
                found = records.versions_where(tx, f"{committed} AND v.digest = :d", {"art": art.id, "d": ref.alias})
        if not found or found[0].state != COMMITTED:
            raise no_such_version(ref, entity, project)
        return found[0]


def no_such_version(ref: ArtifactRef, entity: str, project: str) -> ArtifactNotFoundError:
    """The error for a reference to a collection that exists but has no such version or alias
    (the server answers with it too for a version the caller may not see)."""
    full = f"{ref.entity or entity}/{ref.project or project}/{ref.name}"
    return ArtifactNotFoundError(f"{full}:{ref.alias}", "no committed version has that version or alias")


def get(ms: MetaStore, version_id: int) -> VersionInfo:
    with ms.read() as tx:
        return records.version_by_id(tx, version_id)


def list_versions(
    ms: MetaStore, entity: str, project: str, name: str, tags: list[str] | None = None
) -> list[VersionInfo]:
    check_collection(entity, project, name)
    with ms.read() as tx:
        art = records.artifact_row(tx, entity, project, name)
        if art is None:
            raise ArtifactNotFoundError(f"{entity}/{project}/{name}")
        found = records.versions_where(tx, records.COMMITTED_OF, {"art": art.id})
    if tags:
        found = [v for v in found if set(tags) <= set(v.tags)]
    return found


def versions_page(
    ms: MetaStore, entity: str, project: str, name: str, tags: list[str] | None, after: str | None, limit: int
) -> Page[VersionInfo]:
    """Up to ``limit`` committed versions after the cursor ``after``, oldest first (those
    carrying every tag of ``tags``, when given; a page may then hold fewer)."""
    check_collection(entity, project, name)
    check_limit(limit, "a page's limit")
    start = index_cursor(after)
    with ms.read() as tx:
        art = records.artifact_row(tx, entity, project, name)
        if art is None:
            raise ArtifactNotFoundError(f"{entity}/{project}/{name}")
        where = records.COMMITTED_OF + " AND v.idx > :after"
        found = records.versions_where(tx, where, {"art": art.id, "after": start}, limit=limit)
    nxt = str(found[-1].index) if len(found) == limit else None
    if tags:
        found = [v for v in found if set(tags) <= set(v.tags)]
    return Page(found, nxt)


def list_collections(ms: MetaStore, entity: str, project: str, type_: str | None = None) -> list[CollectionInfo]:
    return collections_page(ms, entity, project, type_, None, None).items


def collections_page(
    ms: MetaStore, entity: str, project: str, type_: str | None, after: str | None, limit: int | None
) -> Page[CollectionInfo]:
    """Up to ``limit`` (None: every) collections of the project whose names sort after the
    cursor ``after``, by name; of type ``type_`` when given."""
    check_collection(entity, project)
    check_text(type_, "artifact type", MAX_NAME, optional=True)
    check_text(after, "a page cursor", MAX_NAME, optional=True)
    if limit is not None:
        check_limit(limit, "a page's limit")
    where, params = "p.entity = :e AND p.name = :p", {"e": entity, "p": project}
    if type_ is not None:
        where, params["t"] = where + " AND a.type = :t", type_
    if after is not None:
        where, params["after"] = where + " AND a.name > :after", after
    with ms.read() as tx:
        found = records.collection_info(tx, where, params, limit)
    return Page(found, found[-1].name if limit is not None and len(found) == limit else None)


def update_collection(
    ms: MetaStore,
    entity: str,
    project: str,
    name: str,
    *,
    description: str | None | _Unset = _UNSET,
    tags: list[str] | None = None,
) -> CollectionInfo:
    """Edit a collection's description and tags (its versions are untouched)."""
    if description is not _UNSET:
        check_text(description, "a collection's description", optional=True)
    if tags is not None:
        if isinstance(tags, str):
            raise UsageError("tags must be a list of strings, not one string")
        tags = list(dict.fromkeys(check_tag(t) for t in tags))
    with ms.write() as tx:
        art = records.artifact_row(tx, entity, project, name)
        if art is None:
            raise ArtifactNotFoundError(f"{entity}/{project}/{name}", "no such collection")
        lock_row(tx, "artifacts", art.id)
        if description is not _UNSET:
            tx.execute("UPDATE artifacts SET description = :d WHERE id = :a", {"d": description, "a": art.id})
        if tags is not None:
            tx.execute("DELETE FROM collection_tags WHERE artifact_id = :a", {"a": art.id})
            insert_ignore(tx, "collection_tags", [{"artifact_id": art.id, "tag": t} for t in tags])
        return records.collection_info(tx, "a.id = :a", {"a": art.id})[0]


def list_projects(ms: MetaStore, entity: str | None = None) -> list[tuple[str, str]]:
    if entity is not None:
        check_name(entity, "entity name")
    where = "" if entity is None else "WHERE entity = :e "
    with ms.read() as tx:
        return tx.tuples(f"SELECT entity, name FROM projects {where}ORDER BY entity, name", {"e": entity})


def update(
    ms: MetaStore,
    version_id: int,
    *,
    description: str | None | _Unset = _UNSET,
    metadata: dict[str, Any] | None | _Unset = _UNSET,
    ttl_seconds: int | None | _Unset = _UNSET,
    aliases: list[str] | None = None,
    tags: list[str] | None = None,
    run_id: str | None = None,
    remove_aliases: list[str] | None = None,
    add_aliases: list[str] | None = None,
    add_tags: list[str] | None = None,
    remove_tags: list[str] | None = None,
    by: str | None = None,
) -> VersionInfo:
    """Change what may change after commit, without making a version. ``aliases``: the
    version's aliases become exactly these (``latest`` stays unless named); then each of
    ``add_aliases`` moves to it (from the version of its collection that held it), and those
    of ``remove_aliases`` that it still holds (``latest`` included) are taken off it. The
    deltas (``add_aliases``/``remove_aliases``) leave every other alias as it is when the
    change is applied, so an alias someone else set meanwhile survives (``cairn sync`` sends
    only these). ``tags``: the version's tags become exactly these; then ``add_tags`` are
    added and ``remove_tags`` taken off, the others left as they are. What changed is recorded in the version's history (``version_log``), as
    done by user ``by``."""
    values: dict = {}  # column -> new value
    if description is not _UNSET:
        values["description"] = check_text(description, "description", optional=True)
    if metadata is not _UNSET:
        values["metadata"] = json.dumps(check_metadata(metadata))
    if ttl_seconds is not _UNSET:
        values["ttl_seconds"] = check_ttl(ttl_seconds)
    if run_id is not None:  # the run that made the change: its path, or a bare id (records.row_run)
        split_run_ref(run_id)
    if isinstance(aliases, str) or isinstance(tags, str):
        raise UsageError("aliases and tags must be lists of strings, not one string")
    if aliases is not None:
        aliases = list(dict.fromkeys(a if a == LATEST else check_alias(a) for a in aliases))
    if isinstance(add_aliases, str) or isinstance(remove_aliases, str):
        raise UsageError("add_aliases and remove_aliases must be lists of strings, not one string")
    if add_aliases is not None:
        add_aliases = list(dict.fromkeys(a if a == LATEST else check_alias(a) for a in add_aliases))
    if tags is not None:
        tags = list(dict.fromkeys(check_tag(t) for t in tags))
    if isinstance(add_tags, str) or isinstance(remove_tags, str):
        raise UsageError("add_tags and remove_tags must be lists of strings, not one string")
    if add_tags is not None:
        add_tags = list(dict.fromkeys(check_tag(t) for t in add_tags))
    tag_delta = bool(add_tags or remove_tags)
    with ms.write() as tx:
        v = records.version_by_id(tx, version_id)
        if v.state != COMMITTED:
            raise LockedError(f"{v.qualified_name} is {v.state.lower()}; it cannot be edited")
        if v.link_of is not None and (values or tags is not None or tag_delta):
            raise UsageError(
                f"{v.qualified_name} is a link to {v.source_qualified_name}: its description, metadata, ttl and "
                "tags are the source's; edit them on the source version (a link's own are its aliases)"
            )
        art_id = tx.scalar("SELECT artifact_id FROM versions WHERE id = :v", {"v": version_id})
        lock_row(tx, "artifacts", art_id)
        run = records.row_run(tx, run_id, records.project_id(tx, v.entity, v.project))
        if values:
            values["updated_at"] = tx.now()
            sets = ", ".join(f"{col} = :{col}" for col in values)
            tx.execute(f"UPDATE versions SET {sets} WHERE id = :_id", {**values, "_id": version_id})
        if aliases is not None:
            set_version_aliases(tx, art_id, version_id, aliases, run)
        for alias in add_aliases or []:
            move_alias(tx, art_id, alias, version_id, run)
        for alias in remove_aliases or []:  # only where this version still holds it
            held = tx.scalar(
                "SELECT version_id FROM aliases WHERE artifact_id = :art AND alias = :a", {"art": art_id, "a": alias}
            )
            if held == version_id:
                drop_alias(tx, art_id, alias, run)
        if tags is not None:
            tx.execute("DELETE FROM tags WHERE version_id = :v", {"v": version_id})
            insert_ignore(tx, "tags", [{"version_id": version_id, "tag": t} for t in tags])
        if add_tags:
            insert_ignore(tx, "tags", [{"version_id": version_id, "tag": t} for t in add_tags])
        for t in remove_tags or []:
            tx.execute("DELETE FROM tags WHERE version_id = :v AND tag = :t", {"v": version_id, "t": t})
        after = records.version_by_id(tx, version_id)
        detail = version_log.edit_detail(
            v, values, v.aliases, after.aliases, v.tags, after.tags if tags is not None or tag_delta else None
        )
        version_log.record(tx, version_id, version_log.EDIT, detail, by, run)
        return after


def delete(
    ms: MetaStore, version_id: int, delete_aliases: bool = False, run_id: str | None = None, by: str | None = None
) -> None:
    """Mark a version DELETED; its blobs stay until ``gc``. ``latest`` moves to the newest
    remaining. The deletion is recorded in the version's history, as done by user ``by``."""
    with ms.write() as tx:
        v = records.version_by_id(tx, version_id)
        if v.state == DELETED:
            return
        run = records.row_run(tx, run_id, records.project_id(tx, v.entity, v.project))
        if v.link_of is not None:  # deleting a link removes the link only, as W&B's does
            version_log.record(
                tx,
                version_id,
                version_log.DELETE,
                {"aliases_removed": sorted(v.aliases)} if v.aliases else {},
                by,
                run,
            )
            links.remove(tx, v, run)
            return
        art_id = tx.scalar("SELECT artifact_id FROM versions WHERE id = :v", {"v": version_id})
        lock_row(tx, "artifacts", art_id)
        named = [a for a in v.aliases if a != LATEST]
        if named and not delete_aliases:
            raise UsageError(
                f"{v.qualified_name} has aliases {named}; pass delete_aliases=True (--delete-aliases) to delete it with its aliases"
            )
        for alias in v.aliases:
            drop_alias(tx, art_id, alias, run)
        version_log.record(
            tx, version_id, version_log.DELETE, {"aliases_removed": sorted(v.aliases)} if v.aliases else {}, by, run
        )
        tx.execute(
            "UPDATE versions SET state = :s, updated_at = :t WHERE id = :v",
            {"s": DELETED, "t": tx.now(), "v": version_id},
        )
        links.remove_links_of(tx, version_id, run)
        if LATEST in v.aliases:
            newest = tx.scalar(
                f"SELECT v.id FROM versions v WHERE {records.COMMITTED_OF} ORDER BY v.idx DESC LIMIT 1", {"art": art_id}
            )
            if newest is not None:
                move_alias(tx, art_id, LATEST, newest, run)


def aliases_log(ms: MetaStore, entity: str, project: str, name: str) -> list[dict]:
    check_collection(entity, project, name)
    with ms.read() as tx:
        art = records.artifact_row(tx, entity, project, name)
        if art is None:
            raise ArtifactNotFoundError(f"{entity}/{project}/{name}")
        return alias_history(tx, art.id)
