"""The upload pipeline of the HTTP client: files are hashed when added (stat cache
honoured) and sent when a version is committed. The server is asked which digests its
project lacks and only those travel — directly to the object store with presigned URLs
when it has one, else streamed through the server.
"""

from __future__ import annotations

import logging
import os
import struct
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path

from ..core.digest import digest_of, hasher
from ..core.errors import FileChangedError, IntegrityError, StoreError
from ..core.limits import MAX_BATCH_BLOBS
from ..core.manifest import Entry
from ..core.progress import NULL_TASK, Task, current
from . import rpc as rpc_mod
from . import transfer
from .rpc import Presigned, Rpc, project_path
from .sources import BlobSource, Bytes, HeldFile, LocalFile
from .hashing import hash_file
from .statcache import WHOLE, Span, StatCache

log = logging.getLogger(__name__)

# Blobs under DIRECT_MIN are PUT with presigned URLs to staging keys, granted 5,000 per
# call, which the server reads back and hashes before they count (server/uploads.py: no
# unread bytes ever reach a blob's key, and the answer is the same whoever holds a blob).
# Earlier figures, 1,000 x 1 MiB to SeaweedFS, same run: unread direct PUTs 6.7-7.3 s, 88-98%
# of raw boto3 puts; through the server in 8 MiB batches (each byte over HTTP twice, hashed
# twice) 10.2-10.8 s, 56-65%; staged with a read-back per blob (one at a time), 20.7 s.
# Larger blobs go in parts to a staging key the server checks the same way (send_large).
# Batches through the server remain for stores that cannot presign and for staged bytes
# that did not match.
DIRECT_MIN = 8 << 20
# Blobs under BATCH_BELOW skip the direct PUT and go through the server in batches: for them
# the cost is in requests, not bytes. Direct, each is a client PUT, then on direct/done a GET
# (read back and hashed), a copy and a delete by the server; in a batch, one store PUT by the
# server. 2,000 x 1 KiB to SeaweedFS on a loaded machine: direct/done alone took 58 s.
BATCH_BELOW = 64 << 10
COMPLETE_RATE = 16 << 20  # bytes/s a server is given to read back and copy a large upload (SeaweedFS: ~80 MiB/s)
BATCH_BYTES = 8 << 20
HOLD_MAX = 16 << 20  # files up to this size are kept in memory between hashing and sending
HOLD_BUDGET = 256 << 20
PARTS_IN_FLIGHT = 4  # parts of one large blob being sent at once (memory: this many parts)

Pending = tuple[str, BlobSource]  # (digest, where its bytes are)


class Uploader:
    """Blobs added in this process (``ingest*``) until a commit sends what the server lacks
    (``upload``) and the server holds them (``release``)."""

    def __init__(self, rpc: Rpc, presigned: Presigned, statcache: StatCache) -> None:
        self.rpc, self.presigned, self.statcache = rpc, presigned, statcache
        self._pending: dict[str, BlobSource] = {}
        self._held_bytes = 0  # bytes of HeldFile sources, at most HOLD_BUDGET
        self._lock = threading.Lock()

    # -- adding ------------------------------------------------------------------
    def source(self, digest: str) -> BlobSource | None:
        """Where the bytes of ``digest`` are, if it was added in this process and not yet
        taken by the server."""
        return self._pending.get(digest)

    def ingest_dir(self, root: str) -> Iterator[transfer.Window]:
        return transfer.ingest_windows(root, self.ingest, "hashing")

    def ingest(
        self,
        paths: list[str],
        folder: str | None = None,
        sigs: dict[str, tuple[int, int, int]] | None = None,
        span: Span = WHOLE,
        task: Task | None = None,
    ) -> dict[str, tuple[str, int]]:
        """Hash the files now (stat cache honoured); their bytes travel at commit, and only
        those the server lacks. Files read to be hashed are kept in memory (up to HOLD_MAX
        each, HOLD_BUDGET in all) so that sending them needs no second read. Reported to
        ``task``, else as a progress task "hashing" of its own."""
        sigs = transfer.stat_all(paths, sigs)
        if task is None:
            with current().task("hashing") as own:
                own.add_total(len(paths), sum(sig[0] for sig in sigs.values()))
                return self.ingest(paths, folder, sigs, span, own)
        known = self.statcache.lookup(sigs, folder, span)
        out: dict[str, tuple[str, int]] = {}
        fresh = []

        def one(p: str) -> tuple[str, str, bytes | None]:
            if p in known:
                return p, known[p], None
            size = sigs[p][0]
            if size <= HOLD_MAX and self._reserve(size):
                with open(p, "rb") as f:
                    data = f.read()
                h = hasher()
                h.update(data)
                return p, digest_of(h), data
            return p, hash_file(Path(p)), None

        with ThreadPoolExecutor(transfer.WORKERS) as pool:
            for p, digest, data in pool.map(one, paths):
                transfer.check_unchanged(p, sigs[p])
                out[p] = (digest, sigs[p][0])
                self._add(digest, LocalFile(p, sigs[p]) if data is None else HeldFile(p, data))
                if p not in known:
                    fresh.append((p, sigs[p], digest))
                task.advance(1, sigs[p][0])
        self.statcache.record(fresh, folder=folder, span=span)
        return out

    def ingest_bytes(self, data: bytes) -> tuple[str, int]:
        h = hasher()
        h.update(data)
        digest = digest_of(h)
        self._add(digest, Bytes(bytes(data)))
        return digest, len(data)

    def _add(self, digest: str, src: BlobSource) -> None:
        """Keep ``src`` as the source of ``digest``; one already held in memory is kept
        (sending it reads nothing), and a new held one beyond it gives its reservation back."""
        with self._lock:
            old = self._pending.get(digest)
            if old is not None and old.in_memory:
                if src.in_memory:
                    self._held_bytes -= src.size
                return
            self._pending[digest] = src

    def _reserve(self, n: int) -> bool:
        with self._lock:
            if self._held_bytes + n > HOLD_BUDGET:
                return False
            self._held_bytes += n
            return True

    def release(self, digests: list[str]) -> None:
        """Forget the local sources of blobs the server now holds (after a commit): the
        server serves them from then on, and a source may go (a new_file's temp folder)."""
        with self._lock:
            for d in digests:
                src = self._pending.pop(d, None)
                if src is not None and src.in_memory:
                    self._held_bytes -= src.size

    # -- sending -----------------------------------------------------------------
    def missing(self, entity: str, project: str, digests: list[str]) -> set[str]:
        """Which of ``digests`` the project lacks (asked 50,000 a call)."""
        missing: list[str] = []
        for i in range(0, len(digests), 50_000):
            body = {"digests": digests[i : i + 50_000]}
            missing += self.rpc.json("POST", project_path(entity, project, "blobs", "missing"), json_body=body)[
                "missing"
            ]
        return set(missing)

    def upload(self, entity: str, project: str, entries: Iterable[Entry]) -> None:
        """Send the blobs of ``entries`` that the project lacks (progress task "uploading")."""
        digests = list(dict.fromkeys(e.digest for e in entries if e.ref is None))
        missing = sorted(self.missing(entity, project, digests))
        if not missing:
            return
        tiny: list[Pending] = []
        small: list[Pending] = []
        large: list[Pending] = []
        for d in missing:
            src = self._pending.get(d)
            if src is None:
                raise StoreError(
                    f"blob {d} is not on the server and this process does not have its file; add the file again"
                )
            (tiny if src.size < BATCH_BELOW else small if src.size < DIRECT_MIN else large).append((d, src))
        with ThreadPoolExecutor(rpc_mod.SEND_WORKERS) as pool, current().task("uploading") as task:
            task.add_total(len(missing), sum(src.size for _, src in tiny + small + large))
            jobs = [pool.submit(self.send_large, entity, project, d, src, task) for d, src in large]
            through = tiny + self.send_direct(entity, project, small, pool, task)
            jobs += [pool.submit(self.send_batch, entity, project, b, task) for b in _batches(through)]
            for j in jobs:
                j.result()

    def send_direct(
        self,
        entity: str,
        project: str,
        small: list[Pending],
        pool: ThreadPoolExecutor,
        task: Task = NULL_TASK,
        resend: bool = True,
    ) -> list[Pending]:
        """PUT small blobs (each under DIRECT_MIN, its size sent: the URL admits only that
        many bytes) to staging keys of the object store, which the server hashes when told
        they are done; returns those that must go through the server instead (no presigning
        store, or staged bytes that did not match). Blobs this project staged in an earlier
        attempt (``staged``: no URL) are reported done without being sent; those of them
        the server could not take (their bytes never arrived) are asked for again, once
        (``resend``), and PUT like the rest."""
        if not small:
            return []
        src = dict(small)
        through: list[str] = []
        puts = []
        staged: list[str] = []
        for i in range(0, len(small), 5_000):
            part = small[i : i + 5_000]
            body = {"digests": [d for d, _ in part], "sizes": [s.size for _, s in part]}
            r = self.rpc.json("POST", project_path(entity, project, "blobs", "direct"), json_body=body)
            if not r["direct"]:
                return small
            through += r["through_server"]
            staged += r.get("staged", [])
            puts += [(d, url, r["headers"]) for d, url in r["urls"].items()]

        def put(d: str, url: str, headers: dict[str, str]) -> None:
            data = src[d].read(d)
            self.put_create_only(url, data, headers)
            task.advance(1, len(data))

        jobs = [pool.submit(put, d, url, headers) for d, url, headers in puts]
        for job in jobs:
            job.result()
        done = [d for d, _, _ in puts] + staged
        refused: set[str] = set()
        for i in range(0, len(done), 50_000):
            part = done[i : i + 50_000]
            refused.update(
                self.rpc.json(
                    "POST", project_path(entity, project, "blobs", "direct", "done"), json_body={"digests": part}
                )["through_server"]
            )
        for d in staged:
            if d not in refused:
                task.advance(1, src[d].size)
        again = [d for d in staged if d in refused] if resend else []
        through += [d for d in done if d in refused and d not in again]
        retried = self.send_direct(entity, project, [(d, src[d]) for d in again], pool, task, resend=False)
        return [(d, src[d]) for d in through] + retried

    def put_create_only(self, url: str, data: bytes, headers: dict[str, str]) -> None:
        """PUT to a presigned URL that may only create; 412 (the object exists) is fine."""
        self.presigned.put(url, data, headers, ok=frozenset({412}))

    def send_batch(self, entity: str, project: str, batch: list[Pending], task: Task = NULL_TASK) -> None:
        """Blobs through the server in one body (distinct, at most MAX_BATCH_BLOBS): each as a
        4-byte big-endian length and its bytes; the server answers the digests it computed,
        in order."""
        body = bytearray()
        for d, src in batch:
            data = src.read(d)
            body += struct.pack(">I", len(data)) + data
        got = self.rpc.json("POST", project_path(entity, project, "blobs", "batch"), content=bytes(body))["digests"]
        if got != [d for d, _ in batch]:
            raise IntegrityError("the server hashed an uploaded batch differently; nothing was committed")
        task.advance(len(batch), len(body) - 4 * len(batch))

    def send_large(self, entity: str, project: str, digest: str, src: BlobSource, task: Task = NULL_TASK) -> None:
        """One large blob: in parts to presigned URLs of a staging key unique to this upload,
        with the parts' ETags sent back so that the server completes exactly the parts sent;
        the server then reads the bytes back and hashes them before the blob counts (422 when
        they are not ``digest``). Streamed through the server when its store cannot presign."""
        start = self.rpc.json(
            "POST", project_path(entity, project, "blobs", "uploads"), json_body={"digest": digest, "size": src.size}
        )
        if not start.get("direct"):
            self.rpc.call(
                "PUT",
                project_path(entity, project, "blobs", digest),
                content=lambda: src.chunks(digest, task),
                headers={"Content-Length": str(src.size)},
            )
        else:
            etags = self._put_parts(start["urls"], start["part_size"], digest, src, task)
            body = {
                "upload_id": start["upload_id"],
                "digest": digest,
                "parts": [{"number": i, "etag": etag} for i, etag in enumerate(etags, 1)],
            }
            done = self.rpc.json(
                "POST",
                project_path(entity, project, "blobs", "uploads", "complete"),
                json_body=body,
                read_timeout=60 + src.size / COMPLETE_RATE,  # the server reads the bytes back and copies them
            )
            if not done.get("stored", True):  # a server from before every upload was checked
                raise StoreError(f"blob {digest} was not stored by the server; log it again")
        task.advance(1)

    def _put_parts(self, urls: list[str], part_size: int, digest: str, src: BlobSource, task: Task) -> list[str]:
        """PUT the bytes to the presigned URLs, part i to URL i; returns the parts' ETags. The
        source is read once, in order, hashing each part before it is sent (a file changed
        since it was added is caught); up to PARTS_IN_FLIGHT parts are in flight, so memory
        stays at that many."""
        h = hasher()

        def put(url: str, data: bytes) -> str:
            etag = self.presigned.put(url, data)
            task.advance(nbytes=len(data))
            if not etag:
                raise StoreError("the object store answered a part upload without an ETag; cannot complete it")
            return etag

        with src.open() as f, ThreadPoolExecutor(PARTS_IN_FLIGHT) as pool:
            sent: list[Future] = []
            inflight: set[Future] = set()
            for url in urls:
                data = f.read(part_size)
                h.update(data)
                if len(inflight) >= PARTS_IN_FLIGHT:
                    done, inflight = wait(inflight, return_when=FIRST_COMPLETED)
                    for d in done:
                        d.result()
                job = pool.submit(put, url, data)
                inflight.add(job)
                sent.append(job)
            etags = [job.result() for job in sent]
        if digest_of(h) != digest:
            path = getattr(src, "path", "<bytes>")
            raise FileChangedError(path, os.path.basename(path))
        return etags


def _batches(items: list[Pending]) -> list[list[Pending]]:
    """Consecutive runs of about BATCH_BYTES each and at most MAX_BATCH_BLOBS blobs (the
    most a server takes in one batch: 50,000 files of a few bytes go in 25 batches, not one)."""
    out: list[list[Pending]] = []
    cur: list[Pending] = []
    cur_bytes = 0
    for d, src in items:
        cur.append((d, src))
        cur_bytes += src.size
        if cur_bytes >= BATCH_BYTES or len(cur) >= MAX_BATCH_BLOBS:
            out.append(cur)
            cur, cur_bytes = [], 0
    if cur:
        out.append(cur)
    return out
