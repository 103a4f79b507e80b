"""Committing versions: blobs first, then manifest chunks, then one metadata transaction."""

from __future__ import annotations

import dataclasses
import itertools
import json
import logging
import time
from collections.abc import Callable, Iterable
from typing import TypeVar

from ..core import manifest as mf
from ..core.errors import ArtifactNotFoundError, BlobNotFoundError, StoreError, UsageError
from ..core.names import LATEST, all_canonical, normalize_path
from ..core.versions import COMMITTED, CommitRequest, Edits, VersionInfo, check_commit
from ..storage.base import BlobStore
from ..storage.meta.sql import MetaStore
from ..storage.meta.tx import Tx, insert, insert_ignore, lock_row
from . import gcmarks, records
from .aliases import move_alias
from .rows import ArtifactRow

T = TypeVar("T")

log = logging.getLogger("cairn.commit")


def validate_request(req: CommitRequest) -> None:
    check_commit(req)


def sorted_entries(entries: list[mf.Entry] | mf.SortedEntries) -> list[mf.Entry] | mf.SortedEntries:
    """Entries sorted by path; a path given twice must have the same digest. A
    ``SortedEntries`` (an in-process SDK's spilled entries) is in order already."""
    if isinstance(entries, mf.SortedEntries):
        return entries
    if not all_canonical([e.path for e in entries]):
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


def check_blobs(blobs: BlobStore, entries: Iterable[mf.Entry], window: int = 8192) -> None:
    """Every blob the entries name is stored; asked ``window`` entries at a time, so that
    a streamed commit holds no more than that."""
    it = iter(entries)
    while part := list(itertools.islice(it, window)):
        wanted = {e.digest for e in part if e.ref is None}
        missing = wanted - blobs.has(wanted)
        if missing:
            path = next(e.path for e in part if e.digest in missing)
            raise BlobNotFoundError(sorted(missing)[0], f"(entry {path!r}); upload the file before committing")


def existing_root(ms: MetaStore, req: CommitRequest, entries: Iterable[mf.Entry]) -> mf.Root | None:
    """The manifest of a committed version of this artifact with exactly these entries, if
    there is one: logging content again then needs no leaf encoded, no chunk written and
    no blob checked (that version's commit checked them). 50,000 entries: the build takes
    0.107 s, the digest alone 0.072 s; a commit of new content to an existing artifact pays
    that 0.072 s on top of its build."""
    with ms.read() as tx:
        art = records.artifact_row(tx, req.entity, req.project, req.name)
        if art is None:
            return None  # a new artifact: nothing to compare with, so no digest computed twice
        digest = mf.identity(entries)
        row = tx.first(
            f"SELECT manifest_key, file_count, size FROM versions v WHERE {records.COMMITTED_OF} AND v.digest = :d "
            "ORDER BY v.idx LIMIT 1",
            {"art": art.id, "d": digest},
        )
    # That version may be deleted before this commit's transaction, and gc may then collect
    # its chunks: the transaction checks that it is still there, else builds the manifest.
    return None if row is None else mf.Root(row.manifest_key, digest, row.file_count, row.size)


def build_root(
    ms: MetaStore,
    req: CommitRequest,
    chunks: dict[str, bytes],
    entries: list[mf.Entry] | mf.SortedEntries | None = None,
) -> tuple[mf.Root, list[mf.Entry] | mf.SortedEntries, str | None]:
    """The new manifest's root, the entries whose blobs the commit must check, and the
    manifest key of the base version it was built on (None for a full build).
    ``entries``: ``req.entries`` already through ``sorted_entries``."""
    if req.entries is not None:
        entries = sorted_entries(req.entries) if entries is None else entries
        return mf.build(entries, chunks.__setitem__), entries, None
    if req.base_version_id is None:
        raise UsageError("a commit needs either entries or a base version")
    with ms.read() as tx:
        try:
            base = records.version_by_id(tx, req.base_version_id)
        except ArtifactNotFoundError:  # its collection or project was deleted since the draft began
            raise ArtifactNotFoundError(
                f"version id {req.base_version_id}", "the base version of this draft was deleted"
            ) from None
    if base.state != COMMITTED or req.base_manifest_key not in (None, base.manifest_key):
        raise ArtifactNotFoundError(base.qualified_name, "the base version of this draft was deleted")
    edits = req.edits or Edits()
    manifest = mf.Manifest(base.manifest_key, ms.get_chunks)
    removes = set(edits.removes)
    for prefix in edits.remove_prefixes:
        removes.update(e.path for e in manifest.prefix(prefix))
    upserts = {p: e for p, e in edits.upserts.items()}
    for p in upserts:
        normalize_path(p)
    return mf.apply_edits(manifest, upserts, removes, chunks.__setitem__), list(upserts.values()), base.manifest_key


ATTEMPTS = 6  # a commit that loses a race with gc starts again from its presence checks
COLLECTING_WAIT_S = (0.05, 0.1, 0.2, 0.5, 1.0, 2.0)


def commit(ms: MetaStore, blobs: BlobStore, req: CommitRequest) -> VersionInfo:
    validate_request(req)
    req = dataclasses.replace(req)  # attempts pin its base here (_pin_base), not in the caller's request
    entries = sorted_entries(req.entries) if req.entries is not None else None
    return with_gc_retries(lambda reuse: _commit_once(ms, blobs, req, entries, reuse))


def _pin_base(req: CommitRequest, base_key: str) -> None:
    """An attempt built on this base manifest: a retry must find the same one (not whatever
    version took the base's id meanwhile)."""
    if req.base_manifest_key is None:
        req.base_manifest_key = base_key


def with_gc_retries(attempt: Callable[[bool], T]) -> T:
    """Run ``attempt(reuse)`` again while it loses a race with gc (gcmarks.Retry): each
    time from its presence checks, waiting a little while gc is removing a blob it names."""
    reuse, why = True, ""
    for n in range(ATTEMPTS):
        try:
            return attempt(reuse)
        except gcmarks.Collecting as e:
            log.info("commit waits for garbage collection: %s", e)
            why = str(e)
            time.sleep(COLLECTING_WAIT_S[n])
        except gcmarks.Retry as e:
            log.info("commit starts again: %s", e)
            why, reuse = str(e), reuse and e.reuse
    raise StoreError(
        f"the commit lost {ATTEMPTS} races with garbage collection ({why}); try again, "
        "or give gc a longer grace period (cairn gc --grace)"
    )


def _commit_once(
    ms: MetaStore,
    blobs: BlobStore,
    req: CommitRequest,
    entries: list[mf.Entry] | mf.SortedEntries | None,
    reuse: bool,
) -> VersionInfo:
    checked = gcmarks.begin_checks(ms, blobs)
    root = existing_root(ms, req, entries) if entries is not None and reuse else None
    reused = root is not None
    relied: list[mf.Entry] | mf.SortedEntries = []
    chunk_keys: set[str] | list[str] = []
    base_key: str | None = None  # an incremental commit relies on this manifest's chunks and blobs
    if root is None and isinstance(entries, mf.SortedEntries):
        # streamed: the blobs checked first, then each 4 MiB of chunks written as it is
        # built, so that no pass holds the whole manifest
        check_blobs(blobs, entries)
        blobs.flush()
        with _ChunkWriter(ms) as sink:
            root = mf.build(entries, sink)
        relied, chunk_keys = entries, sink.keys
    elif root is None:
        chunks: dict[str, bytes] = {}
        root, relied, base_key = build_root(ms, req, chunks, entries)
        if base_key is not None:
            _pin_base(req, base_key)
        check_blobs(blobs, relied)
        blobs.flush()
        ms.put_chunks(chunks)
        chunk_keys = list(chunks)
    else:
        # content a version already has: what the ingest stored anyway (a damaged blob set
        # aside and stored again) is made durable; free when nothing was written
        blobs.flush()
    with ms.write() as tx:
        gcmarks.guard(tx)
        gcmarks.check_fresh(tx, checked, blobs, relied, chunk_keys)
        art = records.ensure_artifact(tx, req.entity, req.project, req.name, req.type)
        if reused or req.base_version_id is not None:
            lock_row(tx, "artifacts", art.id)
        if (
            reused
            and tx.scalar(
                f"SELECT v.id FROM versions v WHERE {records.COMMITTED_OF} AND v.digest = :d",
                {"art": art.id, "d": root.digest},
            )
            is None
        ):
            raise gcmarks.Retry("the version whose manifest this commit reused was deleted", reuse=False)
        if base_key is not None:
            # The base's manifest must still be a committed version's: then gc keeps its
            # chunks and blobs (docs/gc.md). Its manifest key is checked besides its id: ids
            # are never handed out twice since schema 9, but before it SQLite gave the id of
            # a dropped newest row to the next row (the race test once saw this commit a
            # version on removed chunks), and a store may hold rows of that time.
            row = tx.first("SELECT state, manifest_key FROM versions WHERE id = :v", {"v": req.base_version_id})
            if row is None or row.state != COMMITTED or row.manifest_key != base_key:
                raise ArtifactNotFoundError(
                    f"version id {req.base_version_id}", "the base version of this draft was deleted"
                )
        gcmarks.settle(tx, blobs, relied, chunk_keys)
        version_id = commit_in_tx(tx, art, root, req)
        return records.version_by_id(tx, version_id)


class _ChunkWriter:
    """A chunk sink that writes what it is given in batches of about ``limit`` bytes."""

    def __init__(self, ms: MetaStore, limit: int = 4 << 20) -> None:
        self.ms, self.limit = ms, limit
        self.held: dict[str, bytes] = {}
        self.size = 0
        self.keys: list[str] = []  # every chunk key written (the commit settles them with gc)

    def __call__(self, key: str, data: bytes) -> None:
        self.held[key] = data
        self.keys.append(key)
        self.size += len(data)
        if self.size >= self.limit:
            self.flush()

    def flush(self) -> None:
        self.ms.put_chunks(self.held)
        self.held, self.size = {}, 0

    def __enter__(self) -> "_ChunkWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self.flush()


def commit_in_tx(tx: Tx, art: ArtifactRow, root: mf.Root, req: CommitRequest) -> int:
    """Create the version (or find the identical one) and apply aliases and tags; returns its id."""
    lock_row(tx, "artifacts", art.id)
    existing = tx.scalar(
        f"SELECT v.id FROM versions v WHERE {records.COMMITTED_OF} AND v.digest = :d ORDER BY v.idx LIMIT 1",
        {"art": art.id, "d": root.digest},
    )
    t = tx.now()
    run = None
    if req.run_id:  # the producing run is one of this project's (a run id is unique per project)
        run = (art.project_id, records.project_run(tx, art.project_id, req.run_id))
    if existing is not None:
        version_id = existing
    else:
        idx = tx.scalar("SELECT next_index FROM artifacts WHERE id = :art", {"art": art.id})
        tx.execute("UPDATE artifacts SET next_index = :n WHERE id = :art", {"n": idx + 1, "art": art.id})
        version_id = insert(
            tx,
            "versions",
            {
                "artifact_id": art.id,
                "idx": idx,
                "digest": root.digest,
                "manifest_key": root.key,
                "file_count": root.count,
                "size": root.size,
                "description": req.description,
                "metadata": json.dumps(req.metadata),
                "state": COMMITTED,
                "ttl_seconds": req.ttl_seconds,
                "created_at": t,
                "updated_at": t,
                **records.run_columns(run),
            },
            returning="id",
        )
    for alias in [LATEST, *req.aliases]:
        move_alias(tx, art.id, alias, version_id, run)
    insert_ignore(tx, "tags", [{"version_id": version_id, "tag": tag} for tag in req.tags])
    if req.run_id:
        row = {"run_project": art.project_id, "run_id": req.run_id, "version_id": version_id, "at": t}
        insert_ignore(tx, "outputs", row)
    return version_id
