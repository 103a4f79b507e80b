"""Committing versions: blobs first, then manifest chunks, then one metadata transaction."""

from __future__ import annotations

import json

from sqlalchemy import Connection, select

from ..core import manifest as mf
from ..core.errors import ArtifactNotFoundError, BlobNotFoundError, UsageError
from ..core.names import LATEST, check_alias, check_name, check_tag, check_type, normalize_path
from ..core.versions import COMMITTED, CommitRequest, Edits, VersionInfo, check_metadata
from ..storage.base import BlobStore
from ..storage.meta import schema as s
from ..storage.meta.sql import MetaStore
from ..storage.meta.sqlutil import insert_ignore, lock_row, now
from . import records
from .aliases import move_alias


def validate_request(req: CommitRequest) -> None:
    check_name(req.name)
    check_type(req.type)
    check_name(req.project, "project name")
    check_name(req.entity, "entity name")
    req.aliases = list(dict.fromkeys(check_alias(a) for a in req.aliases))
    req.tags = list(dict.fromkeys(check_tag(t) for t in req.tags))
    req.metadata = check_metadata(req.metadata)
    if req.ttl_seconds is not None and (not isinstance(req.ttl_seconds, int) or req.ttl_seconds <= 0):
        raise UsageError(f"ttl must be a positive duration, got {req.ttl_seconds!r} seconds")


def sorted_entries(entries: list[mf.Entry]) -> list[mf.Entry]:
    """Entries sorted by path; a path given twice must have the same digest."""
    for e in entries:
        if normalize_path(e.path) != e.path:
            from ..core.errors import InvalidPathError

            raise InvalidPathError(e.path, "not in canonical form")
    if all(a.path < b.path for a, b in zip(entries, entries[1:])):
        return list(entries)  # already in order without repeats: an add_dir of one folder
    by_path: dict[str, mf.Entry] = {}
    for e in entries:
        prev = by_path.get(e.path)
        if prev is not None and prev.digest != e.digest:
            raise UsageError(f"path {e.path!r} is listed twice with different content ({prev.digest}, {e.digest})")
        by_path[e.path] = e
    return [by_path[p] for p in sorted(by_path)]


def check_blobs(blobs: BlobStore, entries: list[mf.Entry]) -> None:
    wanted = {e.digest for e in entries if e.ref is None}
    missing = wanted - blobs.has(wanted)
    if missing:
        path = next(e.path for e in entries if e.digest in missing)
        raise BlobNotFoundError(sorted(missing)[0], f"(entry {path!r}); upload the file before committing")


def build_root(ms: MetaStore, req: CommitRequest, chunks: dict[str, bytes]) -> tuple[mf.Root, list[mf.Entry]]:
    """The new manifest's root, and the entries whose blobs the commit must check."""
    if req.entries is not None:
        entries = sorted_entries(req.entries)
        return mf.build(entries, chunks.__setitem__), entries
    if req.base_version_id is None:
        raise UsageError("a commit needs either entries or a base version")
    with ms.read() as conn:
        base = records.version_by_id(conn, req.base_version_id)
    if base.state != COMMITTED:
        raise ArtifactNotFoundError(base.qualified_name, "the base version of this draft was deleted")
    edits = req.edits or Edits()
    manifest = mf.Manifest(base.manifest_key, ms.get_chunks)
    removes = set(edits.removes)
    for prefix in edits.remove_prefixes:
        removes.update(e.path for e in manifest.prefix(prefix))
    upserts = {p: e for p, e in edits.upserts.items()}
    for p in upserts:
        normalize_path(p)
    return mf.apply_edits(manifest, upserts, removes, chunks.__setitem__), list(upserts.values())


def commit(ms: MetaStore, blobs: BlobStore, req: CommitRequest) -> VersionInfo:
    validate_request(req)
    chunks: dict[str, bytes] = {}
    root, new_entries = build_root(ms, req, chunks)
    check_blobs(blobs, new_entries)
    blobs.flush()
    ms.put_chunks(chunks)
    with ms.write() as conn:
        art = records.ensure_artifact(conn, req.entity, req.project, req.name, req.type)
        version_id = commit_in_tx(conn, art, root, req)
        return records.version_by_id(conn, version_id)


def commit_in_tx(conn: Connection, art, root: mf.Root, req: CommitRequest) -> int:  # noqa: ANN001
    """Create the version (or find the identical one) and apply aliases and tags; returns its id."""
    lock_row(conn, s.artifacts, art.id)
    existing = conn.execute(
        select(s.versions.c.id)
        .where(records.committed(art.id), s.versions.c.digest == root.digest)
        .order_by(s.versions.c.idx)
        .limit(1)
    ).scalar()
    t = now()
    if existing is not None:
        version_id = existing
    else:
        idx = conn.execute(select(s.artifacts.c.next_index).where(s.artifacts.c.id == art.id)).scalar()
        conn.execute(s.artifacts.update().where(s.artifacts.c.id == art.id).values(next_index=idx + 1))
        version_id = conn.execute(
            s.versions.insert().values(
                artifact_id=art.id,
                idx=idx,
                digest=root.digest,
                manifest_key=root.key,
                file_count=root.count,
                size=root.size,
                description=req.description,
                metadata=json.dumps(req.metadata),
                state=COMMITTED,
                ttl_seconds=req.ttl_seconds,
                created_at=t,
                updated_at=t,
                run_id=req.run_id,
            )
        ).inserted_primary_key[0]
    for alias in [LATEST, *req.aliases]:
        move_alias(conn, art.id, alias, version_id, req.run_id)
    insert_ignore(conn, s.tags, [{"version_id": version_id, "tag": tag} for tag in req.tags])
    if req.run_id:
        insert_ignore(conn, s.outputs, {"run_id": req.run_id, "version_id": version_id, "at": t})
    return version_id
