"""Links (W&B's registry): a version row in a collection of links that points at a
committed version of another collection.

A link has its own ``vN``, aliases and ``latest`` inside its collection, and shares the
source's manifest: it names the same content (manifest key, digest, counts) and copies no
byte. Its description, metadata, tags and producing run are read from the source, so an
edit of the source shows through every link. Linking the same source into a collection
again returns the existing link (with the new aliases, and ``latest``, as logging
identical content does). A link of a link points at the source of that link.
"""

from __future__ import annotations

from ..core.errors import ArtifactNotFoundError, UsageError
from ..core.names import LATEST, check_alias, check_name
from ..core.versions import COMMITTED, DELETED, LINKS, VersionInfo
from ..storage.meta.sql import MetaStore
from ..storage.meta.tx import Tx, batches, in_list, insert, lock_row
from . import records
from .aliases import drop_alias, move_alias


def link(
    ms: MetaStore,
    source_id: int,
    entity: str,
    project: str,
    name: str,
    aliases: list[str] | None = None,
    run_id: str | None = None,
) -> VersionInfo:
    """Link the committed version ``source_id`` into the collection ``entity/project/name``
    (created, with the source's type, if new); returns the link."""
    check_name(name, "collection name")
    check_name(project, "project name")
    check_name(entity, "entity name")
    wanted = list(dict.fromkeys(check_alias(a) for a in aliases or [] if a != LATEST))
    with ms.write() as tx:
        # the linking run, by its path (or an id only one project has): any project's
        run = records.run_key(tx, run_id) if run_id is not None else None
        src = records.version_by_id(tx, source_id)
        if src.link_of is not None:
            src = records.version_by_id(tx, src.link_of)
        if src.state != COMMITTED:
            raise ArtifactNotFoundError(src.qualified_name, "a deleted version cannot be linked")
        art = records.ensure_artifact(tx, entity, project, name, src.type, kind=LINKS)
        lock_row(tx, "artifacts", art.id)
        version_id = tx.scalar(
            "SELECT id FROM versions WHERE artifact_id = :art AND link_of = :src AND state = :s",
            {"art": art.id, "src": src.id, "s": COMMITTED},
        )
        if version_id is None:
            t = tx.now()
            idx = tx.scalar("SELECT next_index FROM artifacts WHERE id = :art", {"art": art.id})
            tx.execute("UPDATE artifacts SET next_index = :n WHERE id = :art", {"n": idx + 1, "art": art.id})
            version_id = insert(
                tx,
                "versions",
                {
                    "artifact_id": art.id,
                    "idx": idx,
                    "digest": src.digest,
                    "manifest_key": src.manifest_key,
                    "file_count": src.file_count,
                    "size": src.size,
                    "description": None,
                    "metadata": "{}",
                    "state": COMMITTED,
                    "ttl_seconds": None,
                    "created_at": t,
                    "updated_at": t,
                    **records.run_columns(run),
                    "link_of": src.id,
                },
                returning="id",
            )
        for alias in [LATEST, *wanted]:
            move_alias(tx, art.id, alias, version_id, run)
        return records.version_by_id(tx, version_id)


def unlink(ms: MetaStore, version_id: int, run_id: str | None = None) -> None:
    """Remove the link ``version_id`` (its aliases go with it; ``latest`` moves to the newest
    remaining link). The source version is untouched. A ValueError on a logged version."""
    with ms.write() as tx:
        v = records.version_by_id(tx, version_id)
        if v.link_of is None:
            raise UsageError(
                f"{v.qualified_name} is not a link; unlink() removes a link from a collection "
                "(use delete() to delete a logged version)"
            )
        if v.state == DELETED:
            return
        remove(tx, v, records.row_run(tx, run_id, records.project_id(tx, v.entity, v.project)))


def remove(tx: Tx, v: VersionInfo, run: records.RunKey | None) -> None:
    """Mark the link ``v`` deleted inside the caller's transaction."""
    art_id = tx.scalar("SELECT artifact_id FROM versions WHERE id = :v", {"v": v.id})
    lock_row(tx, "artifacts", art_id)
    for alias in v.aliases:
        drop_alias(tx, art_id, alias, run)
    tx.execute(
        "UPDATE versions SET state = :s, updated_at = :t WHERE id = :v", {"s": DELETED, "t": tx.now(), "v": v.id}
    )
    if LATEST in v.aliases:
        newest = tx.scalar(
            f"SELECT v.id FROM versions v WHERE {records.COMMITTED_OF} ORDER BY v.idx DESC LIMIT 1", {"art": art_id}
        )
        if newest is not None:
            move_alias(tx, art_id, LATEST, newest, run)


def remove_links_of(tx: Tx, source_id: int, run: records.RunKey | None) -> None:
    """Remove every link to ``source_id`` (its source is being deleted: a link never points
    at nothing)."""
    ids = tx.scalars("SELECT id FROM versions WHERE link_of = :v AND state = :s", {"v": source_id, "s": COMMITTED})
    for vid in ids:
        remove(tx, records.version_by_id(tx, vid), run)


def links_to_drop(tx: Tx, version_ids: list[int], artifact_ids: list[int]) -> list[int]:
    """Before versions are dropped whole (their collection or project deleted): the links to
    them that live in other collections, unlinked (aliases gone, ``latest`` moved) so that
    the caller deletes their rows first (a link never points at nothing)."""
    found: list[int] = []
    for part in batches(version_ids):
        ph, params = in_list(part)
        found += tx.scalars(f"SELECT id FROM versions WHERE link_of IN {ph}", params)
    dropped = set(artifact_ids)
    out = []
    for vid in found:
        v = records.version_by_id(tx, vid)
        if tx.scalar("SELECT artifact_id FROM versions WHERE id = :v", {"v": vid}) in dropped:
            continue
        if v.state == COMMITTED:
            remove(tx, v, None)
        out.append(vid)
    return out


def links_of(ms: MetaStore, version_id: int) -> list[VersionInfo]:
    """The live links to a version (to its source, when it is a link itself)."""
    with ms.read() as tx:
        v = records.version_by_id(tx, version_id)
        source = v.link_of or v.id
        return records.versions_where(
            tx, "v.link_of = :src AND v.state = :s", {"src": source, "s": COMMITTED}, order="v.id"
        )
