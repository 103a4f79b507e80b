"""Garbage collection: give back the bytes nothing references, safely while others write.

One run (``collect``), holding the store's gc lock so that runs never overlap:

1. policies: delete versions whose ttl passed or that retention does not keep, and drafts
   left open longer than ``draft_ttl``;
2. finish what a killed run left half done (blobs in state 'deleting');
3. find what is live: every blob and manifest chunk that a committed version or an open
   draft references (walking each manifest tree once per distinct chunk), and the chunks of
   live chunked blobs;
4. condemn: marks older than the grace period whose digest is still unreferenced, and
   still marked in the condemning transaction (a commit clears the marks it relies on);
   manifest chunks go in that transaction, blob bytes right after it;
5. mark what is stored and unreferenced now, with the store's clock time;
6. drop tombstones older than the grace period; staged uploads never completed, handed out
   longer ago than the upload ttl (24 hours unless told), their records and their bytes;
   temporary files, unrecorded staging objects, incomplete multipart uploads and a
   server's upload temp files older than the grace period; and damaged blobs set aside
   (quarantine/) longer ago than the quarantine ttl (7 days unless told).

So an unreferenced blob goes on the first run at least one grace period after the run that
marked it. Why this never removes what a commit relies on: docs/gc.md and engine/gcmarks.py.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ..core import progress
from ..core.errors import StoreError, UsageError
from ..core.manifest import decode_chunk
from ..core.versions import COMMITTED
from ..storage.base import BlobStore
from ..storage.blobs.local import STALE_TMP_AGE
from ..storage.meta.sql import MetaStore
from ..storage.meta.tx import Tx, batches, in_list
from . import gcmarks, retention, staged_uploads, versions
from .gc_report import GcReport
from .gcmarks import BLOB, CHUNK, DELETED, DELETING, MARKED
from .gcscratch import Scratch

log = logging.getLogger("cairn.gc")

GC_RUN_LOCK = 727276
DRAFT_TTL_S = 7 * 86400
QUARANTINE_TTL_S = 7 * 86400
# a staged upload not completed this long after it was handed out is abandoned (its client
# died): well past its URLs' hour, and long enough for a client's retries after an outage
UPLOAD_TTL_S = 86400
# rows per condemning / removing transaction (each a durable commit): 500 made the sweep of
# 100,000 packed blobs take 89 s. Statements still name 500 at a time: SQLite looks named
# parameters up one by one, so a 5,000-key IN list cost ~0.4 s to prepare.
_BATCH = 5000

# Progress goes to the reporter in force (core.progress), one task per phase, in this order:
# "gc: walking manifests" (chunks), "gc: listing blobs", "gc: removing" (blobs and chunks
# condemned this run; opened once the live set is known, before anything is condemned).
WALK, LIST, REMOVE = "gc: walking manifests", "gc: listing blobs", "gc: removing"


@dataclass
class GcOptions:
    dry_run: bool = False
    draft_ttl_seconds: float = DRAFT_TTL_S
    # damaged blobs set aside (quarantine/) are kept this long for inspection, then go
    quarantine_ttl_seconds: float = QUARANTINE_TTL_S
    # staged uploads (a server's direct uploads) never completed go this long after they began
    upload_ttl_seconds: float = UPLOAD_TTL_S
    # (folder, file name prefix) of a server's upload temp files on this machine: those a
    # killed server left, untouched for the grace period and at least an hour, go (server/transfer.py)
    upload_temp: tuple[str, str] | None = None


def collect(ms: MetaStore, blobs: BlobStore, options: GcOptions | None = None) -> GcReport:
    """One garbage collection run over a metadata store and its blob store (see the module
    docstring); StoreError when another run holds the lock or a manifest is damaged.
    Progress goes to the reporter in force (``core.progress``)."""
    opts = options or GcOptions()
    with ms.exclusive("gc", GC_RUN_LOCK):
        return _Run(ms, blobs, opts, progress.current()).run()


class _Run:
    def __init__(self, ms: MetaStore, blobs: BlobStore, opts: GcOptions, reporter: progress.Reporter) -> None:
        self.ms, self.blobs, self.opts, self.reporter = ms, blobs, opts, reporter
        with ms.read() as tx:
            self.now = gcmarks.store_now(tx)
            self.grace = gcmarks.grace_seconds(tx)
        self.report = GcReport(dry_run=opts.dry_run, grace_seconds=self.grace)
        self.remove_task: progress.Task = progress.NULL_TASK  # opened by _condemn
        # the live blobs, the stored ones with their sizes and the marks: on disk (gcscratch)
        self.scratch: Scratch | None = None

    def run(self) -> GcReport:
        log.info("gc: %s, grace period %g s", "dry run" if self.opts.dry_run else "run", self.grace)
        with Scratch() as self.scratch:
            return self._run()

    @property
    def _sc(self) -> Scratch:
        """The scratch tables of the running ``run``."""
        assert self.scratch is not None, "gc's steps run inside run()"
        return self.scratch

    def _run(self) -> GcReport:
        skip = self._policies()
        if not self.opts.dry_run:
            self._finish_deleting()
        live_chunks = self._live(skip)
        self._stored_blobs()
        chunk_sizes = self._stored_chunks()
        if self.opts.dry_run:
            self._dry(chunk_sizes, live_chunks)
            return self.report
        self._condemn(chunk_sizes, live_chunks)
        self._finish_deleting()
        self.remove_task.close()
        self._mark(chunk_sizes, live_chunks)
        self._expire_tombstones()
        self._abandoned_uploads()
        self._temp()
        reclaim = getattr(self.blobs, "reclaim_space", None)  # a store with a pack file
        if reclaim is not None and self.report.removed_blobs.count:
            self.report.pack_bytes_freed = reclaim()
        if self.report.removed_chunks.count or self.report.versions_expired or self.report.versions_retention:
            self.ms.reclaim_space()
        log.info("gc done: %s", "; ".join(self.report.lines()))
        return self.report

    # -- 1. policies -----------------------------------------------------------------
    def _policies(self) -> set[int]:
        """Delete what ttl and retention say (in a dry run: note it); the ids to treat as gone."""
        doomed, kept = retention.due(self.ms, self.now)
        self.report.kept_aliased += kept
        gone: set[int] = set()
        for d in doomed:
            if not self.opts.dry_run:
                try:
                    versions.delete(self.ms, d.version_id, delete_aliases=False)
                except Exception as e:  # an alias given meanwhile: keep it, say why
                    log.info("gc keeps %s: %s", d.name, e)
                    self.report.kept_aliased.append(f"{d.name} ({d.why})")
                    continue
            gone.add(d.version_id)
            (self.report.versions_expired if d.why == "ttl" else self.report.versions_retention).append(d.name)
        cutoff = gcmarks.cutoff(self.now, self.opts.draft_ttl_seconds)
        with self.ms.read() as tx:
            old = tx.tuples(
                "SELECT d.id, d.distributed_id, a.name FROM drafts d JOIN artifacts a ON a.id = d.artifact_id "
                "WHERE d.state = 'OPEN' AND d.created_at < :c",
                {"c": gcmarks.ts(tx, cutoff)},
            )
        for draft_id, dist_id, name in old:
            if not self.opts.dry_run:
                with self.ms.write() as tx:
                    gcmarks.guard(tx, exclusive=True)
                    for table in ("draft_entries", "outputs_pending"):
                        tx.execute(f"DELETE FROM {table} WHERE draft_id = :d", {"d": draft_id})
                    tx.execute("DELETE FROM drafts WHERE id = :d AND state = 'OPEN'", {"d": draft_id})
            self.report.drafts_expired.append(f"{name} (distributed_id {dist_id})")
        if doomed or old:
            log.info("gc: %d versions past ttl or retention, %d abandoned drafts", len(gone), len(old))
        return gone

    # -- 3. what is live -------------------------------------------------------------
    def _live(self, skip: set[int]) -> set[str]:
        """The live manifest chunks; the live blobs go to the scratch table ``live``."""
        scratch = self._sc
        with self.ms.read() as tx:
            roots = [
                (vid, key)
                for vid, key in tx.tuples(f"SELECT id, manifest_key FROM versions WHERE state = '{COMMITTED}'")
                if vid not in skip
            ]
            draft_blobs = tx.scalars("SELECT DISTINCT digest FROM draft_entries WHERE ref IS NULL")
        scratch.add_live(draft_blobs)
        del draft_blobs
        live_chunks: set[str] = set()
        held: list[str] = []  # leaf digests, written to the scratch table a page at a time
        frontier: list[str] = []
        for _vid, key in roots:
            if key not in live_chunks:
                live_chunks.add(key)
                frontier.append(key)
        task = self.reporter.task(WALK)
        task.add_total(files=len(frontier))
        while frontier:
            nxt: list[str] = []
            for i in range(0, len(frontier), 256):
                keys = frontier[i : i + 256]
                loaded = self.ms.get_chunks(keys)
                for k in keys:
                    data = loaded.get(k)
                    if data is None:
                        raise StoreError(
                            f"manifest chunk {k} that a committed version needs is missing; gc removed nothing. "
                            "Run `cairn verify` to find the damaged versions"
                        )
                    node = decode_chunk(k, data)
                    if "leaf" in node:
                        held.extend(r[1] for r in node["leaf"] if len(r) < 4 or r[3] is None)
                    else:
                        for c in node["children"]:
                            if c[2] not in live_chunks:
                                live_chunks.add(c[2])
                                nxt.append(c[2])
                task.advance(files=len(keys), nbytes=sum(len(loaded[k]) for k in keys))
                if len(held) >= 50_000:
                    scratch.add_live(held)
                    held = []
            task.add_total(files=len(nxt))
            frontier = nxt
        scratch.add_live(held)
        scratch.index("live")
        task.close()
        recipes = getattr(self.blobs, "iter_recipes", None)  # a store that chunks huge files
        if recipes is not None:
            for digest, parts in recipes():
                if scratch.is_live(digest):
                    scratch.add_live(parts)
        log.info(
            "gc: %d versions reference %d blobs and %d manifest chunks",
            len(roots),
            scratch.live_count(),
            len(live_chunks),
        )
        return live_chunks

    def _stored_blobs(self) -> None:
        """List the blob store into the scratch table ``stored``."""
        with self.reporter.task(LIST) as task:
            for n in self._sc.add_stored(_iter_stored(self.blobs)):
                task.advance(files=n)
            self._sc.index("stored")
            count, size = self._sc.stored_tally()
            task.advance(nbytes=size)
        self.report.blobs.add(count, size)

    def _stored_chunks(self) -> dict[str, int]:
        with self.ms.read() as tx:
            sizes = dict(tx.tuples("SELECT key, length(data) FROM chunks"))
        self.report.chunks.add(len(sizes), sum(sizes.values()))
        return sizes

    # -- dry run -----------------------------------------------------------------------
    def _dry(self, chunk_sizes: dict[str, int], live_chunks: set) -> None:
        r = self.report
        r.referenced_blobs.add(*self._sc.stored_tally(live=True))
        r.removed_blobs.add(*self._sc.stored_tally(live=False))
        for k, size in chunk_sizes.items():
            (r.referenced_chunks if k in live_chunks else r.removed_chunks).add(1, size)
        for _, size in self._temp_items():
            r.removed_temp.add(1, size)
        for _, size in staged_uploads.abandoned_now(self.ms, self.opts.upload_ttl_seconds):
            r.removed_uploads.add(1, size)
        for _, size in self._set_aside_items():
            r.removed_quarantine.add(1, size)

    # -- 4. condemn --------------------------------------------------------------------
    def _iter_marks(self, cut: datetime) -> Iterator[tuple[str, str, str, bool]]:
        """Every gc_marks row as (kind, digest, state, marked before ``cut``), a page at a time
        (each page its own read: the condemning transactions check again what they act on)."""
        after = ("", "")
        while True:
            with self.ms.read() as tx:
                page = tx.tuples(
                    "SELECT kind, digest, state, CASE WHEN at < :c THEN 1 ELSE 0 END FROM gc_marks "
                    "WHERE kind > :k OR (kind = :k AND digest > :d) ORDER BY kind, digest LIMIT 5000",
                    {"c": gcmarks.ts(tx, cut), "k": after[0], "d": after[1]},
                )
            if not page:
                return
            yield from ((k, d, s, bool(o)) for k, d, s, o in page)
            after = (page[-1][0], page[-1][1])

    def _condemn(self, chunk_sizes: dict[str, int], live_chunks: set) -> None:
        cut = gcmarks.cutoff(self.now, self.grace)
        claim_cut = cut
        scratch = self._sc
        scratch.set_marks(self._iter_marks(cut))
        chunk_marks = scratch.db.execute(
            f"SELECT d, old FROM marks WHERE kind = '{CHUNK}' AND state = '{MARKED}'"
        ).fetchall()
        unmark_chunks = [(CHUNK, d) for d, _ in chunk_marks if d in live_chunks]
        doomed = {BLOB: scratch.doomed_blobs(), CHUNK: [d for d, o in chunk_marks if o and d not in live_chunks]}
        doomed_sizes = scratch.sizes(doomed[BLOB])
        self.remove_task = self.reporter.task(REMOVE)
        self.remove_task.add_total(files=len(doomed[BLOB]) + len(doomed[CHUNK]), nbytes=sum(doomed_sizes.values()))
        unmark = itertools.chain([unmark_chunks], ([(BLOB, d) for d in page] for page in scratch.live_marks(BLOB)))
        for pairs in unmark:
            if not pairs:
                continue
            with self.ms.write() as tx:
                gcmarks.guard(tx, exclusive=True)
                for kind, d in pairs:
                    tx.execute(
                        "DELETE FROM gc_marks WHERE kind = :k AND digest = :d AND state = :s",
                        {"k": kind, "d": d, "s": MARKED},
                    )
        for part in batches(sorted(doomed[CHUNK]), _BATCH):
            with self.ms.write() as tx:
                gcmarks.guard(tx, exclusive=True)
                still = _still_marked(tx, CHUNK, part, cut)
                if still:
                    _each_part(tx, "DELETE FROM chunks WHERE key IN {ph}", still)
                    _set_state(tx, CHUNK, still, DELETED, self.now_tx(tx))
            for k in still:
                self.report.removed_chunks.add(1, chunk_sizes.get(k, 0))
            self.remove_task.advance(files=len(part))
        for part in batches(sorted(doomed[BLOB]), _BATCH):
            with self.ms.write() as tx:
                gcmarks.guard(tx, exclusive=True)
                still = _still_marked(tx, BLOB, part, cut)
                claimed = _claimed(tx, still, claim_cut)
                still = [d for d in still if d not in claimed]
                if still:
                    _set_state(tx, BLOB, still, DELETING, self.now_tx(tx))
                    _forget_holders(tx, still)
            for d in claimed:
                self.report.in_flight.add(1, doomed_sizes.get(d, 0))

    def now_tx(self, tx: Tx) -> datetime | str:
        return gcmarks.ts(tx, gcmarks.store_now(tx))

    def _finish_deleting(self) -> None:
        """Remove the bytes of condemned blobs, then record them as deleted (tombstones)."""
        with self.ms.read() as tx:
            doomed = tx.scalars(f"SELECT digest FROM gc_marks WHERE kind = '{BLOB}' AND state = '{DELETING}'")
        if not doomed:
            return
        for part in batches(sorted(doomed), _BATCH):
            sizes = self.scratch.sizes(part) if self.scratch is not None else {}
            _delete_bytes(self.blobs, part)
            with self.ms.write() as tx:
                gcmarks.guard(tx, exclusive=True)
                _set_state(tx, BLOB, part, DELETED, self.now_tx(tx), only=DELETING)
                _forget_holders(tx, part)
            self.report.removed_blobs.add(len(part), sum(sizes.values()))
            self.remove_task.advance(files=len(part), nbytes=sum(sizes.values()))
        log.info("gc: removed %d blobs", len(doomed))

    # -- 5. mark -------------------------------------------------------------------------
    def _mark(self, chunk_sizes: dict[str, int], live_chunks: set) -> None:
        scratch = self._sc
        scratch.set_marks(self._iter_marks(self.now))  # as they are now, after condemning
        self.report.referenced_blobs.add(*scratch.stored_tally(live=True))
        known_chunks = dict(scratch.db.execute(f"SELECT d, state FROM marks WHERE kind = '{CHUNK}'").fetchall())
        chunk_rows = []
        for d, size in chunk_sizes.items():
            if d in live_chunks:
                self.report.referenced_chunks.add(1, size)
            else:
                chunk_rows.append((d, size, known_chunks.get(d)))
        marked = 0
        for kind, page in itertools.chain([(CHUNK, chunk_rows)], ((BLOB, p) for p in scratch.unreferenced())):
            fresh = []
            for d, size, state in page:
                if state is None:
                    fresh.append(d)
                    self.report.marked_now.add(1, size)
                elif state == MARKED:
                    self.report.waiting.add(1, size)
            for part in batches(fresh, _BATCH):
                with self.ms.write() as tx:
                    gcmarks.guard(tx, exclusive=True)
                    at = self.now_tx(tx)
                    rows = [{"kind": kind, "digest": d, "state": MARKED, "at": at} for d in part]
                    tx.execute_many(
                        "INSERT INTO gc_marks (kind, digest, state, at) VALUES (:kind, :digest, :state, :at) "
                        "ON CONFLICT DO NOTHING",
                        rows,
                    )
            marked += len(fresh)
        if marked:
            log.info("gc: marked %d unreferenced blobs and chunks", marked)

    # -- 6. tombstones and temporary files ----------------------------------------------
    def _expire_tombstones(self) -> None:
        cut = gcmarks.cutoff(self.now, self.grace)
        with self.ms.write() as tx:
            gcmarks.guard(tx, exclusive=True)
            tx.execute(f"DELETE FROM gc_marks WHERE state = '{DELETED}' AND at < :c", {"c": gcmarks.ts(tx, cut)})

    def _abandoned_uploads(self) -> None:
        """Staged uploads never completed, older than the upload ttl: their records, then
        their bytes (a record gone first: a late completion answers 404, never half-read)."""
        remove = getattr(self.blobs, "remove_staging", None)
        while found := staged_uploads.abandoned(self.ms, self.opts.upload_ttl_seconds):
            for key, size in found:
                if remove is not None:  # else: another store's keys; stale_uploads sweeps them
                    try:
                        remove(key)
                    except (StoreError, UsageError) as e:  # unrecorded now: stale_uploads takes it later
                        log.warning("gc: could not remove abandoned upload %s: %s", key, e)
                self.report.removed_uploads.add(1, size)
        if self.report.removed_uploads.count:
            log.info("gc: removed %d abandoned staged uploads", self.report.removed_uploads.count)

    def _temp_items(self) -> Iterator[tuple[object, int]]:
        """Temporary files, and staged objects and multipart uploads that no recorded upload
        names, older than the grace period: (handle, bytes). A recorded upload's bytes stay
        while its record does (``_abandoned_uploads``)."""
        temp_files = getattr(self.blobs, "temp_files", None)  # local store: tmp/
        if temp_files is not None:
            for path, size, age in temp_files():
                if age > self.grace:
                    yield path, size
        stale = getattr(self.blobs, "stale_uploads", None)  # S3: staging keys, multipart uploads
        if stale is not None:
            recorded = staged_uploads.recorded(self.ms)
            yield from ((h, n) for h, n in stale(self.grace) if h[1] not in recorded)
        if self.opts.upload_temp is not None:  # a server's upload temp files on this machine
            folder, prefix = self.opts.upload_temp
            # at least the server's own rule (an hour untouched): the temp folder is shared by
            # every server on the machine, and a short grace must not cut a stalled upload
            age = max(self.grace, STALE_TMP_AGE)
            now = time.time()
            with contextlib.suppress(FileNotFoundError), os.scandir(folder) as it:
                for f in it:
                    if f.name.startswith(prefix) and f.is_file(follow_symlinks=False):
                        with contextlib.suppress(FileNotFoundError):
                            st = f.stat(follow_symlinks=False)
                            if now - st.st_mtime > age:
                                yield Path(f.path), st.st_size

    def _temp(self) -> None:
        remove = getattr(self.blobs, "remove_upload", None)
        for handle, size in list(self._temp_items()):
            try:
                if isinstance(handle, Path):
                    handle.unlink()
                else:
                    assert remove is not None, handle  # only a store with remove_upload yields other handles
                    remove(handle)
            except FileNotFoundError:
                continue
            self.report.removed_temp.add(1, size)
        remove_aside = getattr(self.blobs, "remove_set_aside", None)  # with set_aside (_set_aside_items)
        for handle, size in list(self._set_aside_items()):
            assert remove_aside is not None, handle
            remove_aside(handle)
            self.report.removed_quarantine.add(1, size)

    def _set_aside_items(self) -> Iterator[tuple[object, int]]:
        """Damaged blobs set aside longer ago than the quarantine ttl."""
        items = getattr(self.blobs, "set_aside", None)  # stores that set damaged blobs aside
        if items is not None:
            yield from items(self.opts.quarantine_ttl_seconds)


def _iter_stored(blobs: BlobStore) -> Iterator[tuple[str, int]]:
    it = getattr(blobs, "iter_stored", None)
    if it is not None:
        yield from it()
    else:
        yield from ((d, 0) for d in blobs.iter_digests())


def _delete_bytes(blobs: BlobStore, digests: list[str]) -> None:
    many = getattr(blobs, "delete_many", None)  # stores that remove many in one call
    if many is not None:
        many(digests)
    else:
        for d in digests:
            blobs.delete(d)


def _each_part(tx: Tx, sql: str, digests: list[str], extra: dict | None = None) -> list:
    """Run ``sql`` (``{ph}`` the IN list) for each 500 of ``digests``; the rows of queries."""
    out: list = []
    for part in batches(digests):
        ph, params = in_list(part)
        if sql.lstrip().upper().startswith("SELECT"):
            out += tx.scalars(sql.format(ph=ph), {**params, **(extra or {})})
        else:
            tx.execute(sql.format(ph=ph), {**params, **(extra or {})})
    return out


def _still_marked(tx: Tx, kind: str, digests: list[str], cut: datetime) -> list[str]:
    return _each_part(
        tx,
        f"SELECT digest FROM gc_marks WHERE kind = :kind AND state = '{MARKED}' AND at < :c AND digest IN {{ph}}",
        digests,
        {"kind": kind, "c": gcmarks.ts(tx, cut)},
    )


def _claimed(tx: Tx, digests: list[str], cut: datetime) -> set[str]:
    """Digests an upload in flight claims (server); claims older than the grace period are
    abandoned uploads and dropped."""
    if not digests:
        return set()
    _each_part(
        tx, "DELETE FROM blob_claims WHERE created_at < :c AND digest IN {ph}", digests, {"c": gcmarks.ts(tx, cut)}
    )
    return set(_each_part(tx, "SELECT digest FROM blob_claims WHERE digest IN {ph}", digests))


def _forget_holders(tx: Tx, digests: list[str]) -> None:
    """No project holds a condemned blob any more (server: dedup must not skip its upload)."""
    _each_part(tx, "DELETE FROM project_blobs WHERE digest IN {ph}", digests)
    _each_part(tx, "DELETE FROM blob_claims WHERE digest IN {ph}", digests)


def _set_state(tx: Tx, kind: str, digests: list[str], state: str, at: datetime | str, only: str | None = None) -> None:
    cond = f" AND state = '{only}'" if only else ""
    _each_part(
        tx,
        f"UPDATE gc_marks SET state = :s, at = :at WHERE kind = :kind AND digest IN {{ph}}{cond}",
        digests,
        {"s": state, "at": at, "kind": kind},
    )
