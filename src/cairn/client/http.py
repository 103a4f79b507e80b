"""The HTTP client: the same ``Client`` calls, spoken to a ``cairn server``.

Files are hashed when added (stat cache honoured) and sent when a version is committed:
the server is asked which digests its project lacks and only those travel — directly to
the object store with presigned URLs when it has one, else streamed through the server.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import logging
import os
import struct
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote

import httpx
import urllib3

from ..core.digest import hasher
from ..core.errors import BlobNotFoundError, FileChangedError, IntegrityError, NotFoundError, StoreError
from ..core.manifest import Entry, Manifest
from ..core.names import ArtifactRef, check_distributed_id
from ..core.progress import NULL_TASK, Task, current
from ..core.sizes import parse_size
from ..core.versions import CollectionInfo, CommitRequest, RunInfo, VersionInfo, check_commit
from . import retry, transfer, wire
from .cache import BlobCache
from .references import open_reference
from .retry import RETRY_STATUS, Retry, Servers, retry_after
from .settings import Settings
from .statcache import WHOLE, Span, StatCache, signature

log = logging.getLogger(__name__)

SLOW_SECONDS = 10.0  # a server call slower than this is logged as slow
# Blobs under DIRECT_MIN are PUT straight to the object store with create-only presigned
# URLs, granted 5,000 per call, and the server does not read them back (see
# server/blobs_index.py for why that is safe across projects). 1,000 x 1 MiB to SeaweedFS,
# same run: 6.7-7.3 s, 88-98% of raw boto3 puts; through the server in 8 MiB batches (each
# byte over HTTP twice, hashed twice) it was 10.2-10.8 s, 56-65%; and staged with a read-back
# per blob, 20.7 s. Larger blobs go in parts to a staging key that the server hashes before
# the blob counts. Batches through the server remain for stores that cannot presign and
# for objects another project holds or is writing.
DIRECT_MIN = 8 << 20
BATCH_BYTES = 8 << 20
HOLD_MAX = 16 << 20  # files up to this size are kept in memory between hashing and sending
HOLD_BUDGET = 256 << 20
SEND_WORKERS = 16  # network transfers wait on latency, not on the CPU: more than the disk pool


class _Refused(Exception):
    """A presigned URL the store no longer accepts (expired, or signed by an old key)."""


HISTORY_PAGE = 10_000  # history rows per GET when the caller wants them all


class HttpClient:
    def __init__(self, settings: Settings, transport: httpx.BaseTransport | None = None) -> None:
        self.settings = settings
        self.servers = Servers(settings.base_url or "")
        headers = {"User-Agent": "cairn-sdk"}
        key = settings.api_key or next((k for u in self.servers.urls if (k := _stored_key(u))), None)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        self._http = httpx.Client(
            headers=headers, transport=transport, timeout=httpx.Timeout(60.0, connect=10.0), follow_redirects=False,
        )
        # Presigned object-store URLs go through urllib3: httpx's connection pool takes one
        # lock that 16 transfer threads queue on (300 x 1 MiB GETs from SeaweedFS: 0.93 s
        # with httpx, 0.39 s with urllib3, same threads). Retries are ours, below.
        self._direct = urllib3.PoolManager(
            maxsize=SEND_WORKERS, retries=False, timeout=urllib3.Timeout(connect=10.0, read=300.0)
        )
        self._entity = settings.entity
        self.statcache = StatCache(settings.cache_dir / "statcache.sqlite")
        cap = os.environ.get("CAIRN_CACHE_MAX")
        self.cache = BlobCache(settings.cache_dir, parse_size(cap) if cap else None)
        self._pending: dict[str, Any] = {}  # digest -> bytes or (path, stat signature)
        self._held: dict[str, bytes] = {}  # bytes of added files, read once to hash, until sent
        self._held_bytes = 0
        self._lock = threading.Lock()
        self._chunks: dict[str, bytes] = {}
        self._urls: dict[str, str] = {}  # digest -> presigned GET URL, asked for in batches
        # manifest root key -> the id of a version with that manifest: the server hands out a
        # manifest's chunks only to a caller naming a version it can read
        self._roots: dict[str, int] = {}

    # -- plumbing ----------------------------------------------------------------
    @property
    def base_url(self) -> str:
        """The server calls go to now (the next one of CAIRN_BASE_URL's after a failure)."""
        return self.servers.current

    def _call(self, method: str, url: str, **kw: Any) -> httpx.Response:
        """One API call under the retry policy, failing over between the servers. A
        ``content`` given as a function is called for each attempt (a stream is read once)."""
        content = kw.pop("content", None)

        def attempt(n: int) -> httpx.Response:
            base = self.servers.current
            body = content() if callable(content) else content
            started = time.monotonic()
            try:
                r = self._http.request(method, base + url, content=body, **kw)
            except httpx.TransportError as e:
                other = self.servers.failed(base)
                err = StoreError(
                    f"cannot reach the cairn server at {self.servers} ({type(e).__name__}: {e}); "
                    "check CAIRN_BASE_URL and that the server is running"
                )
                raise Retry(f"{type(e).__name__} from {base}", err, after=0.05 if other else None,
                            unreachable=isinstance(e, httpx.ConnectError)) from None
            took = time.monotonic() - started
            if took > SLOW_SECONDS:
                log.warning("slow server call: %s %s%s took %.1f s (HTTP %d)", method, base, url, took, r.status_code)
            if r.status_code < 400:
                return r
            try:
                body_json = r.json()
            except ValueError:
                body_json = None
            err = wire.error_in(body_json, r.status_code)
            if r.status_code in RETRY_STATUS:
                if r.status_code != 429:
                    self.servers.failed(base)
                raise Retry(f"HTTP {r.status_code} from {base}: {str(err)[:200]}", err,
                            after=retry_after(r.headers.get("retry-after")))
            raise err

        return retry.POLICY.call(attempt, f"{method} {url}")

    def _json(self, method: str, url: str, **kw: Any) -> Any:
        return self._call(method, url, **kw).json()

    @property
    def entity(self) -> str:
        if self._entity is None:
            self._entity = self._json("GET", api_path("whoami"))["entity"]
        return self._entity

    @staticmethod
    def _p(entity: str, project: str, *rest: Any) -> str:
        return api_path("projects", entity, project, *rest)

    # -- bytes -------------------------------------------------------------------
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
                return p, "blake3:" + h.hexdigest(), data
            return p, transfer._hash_file(Path(p)), None

        with ThreadPoolExecutor(transfer.WORKERS) as pool:
            for p, digest, data in pool.map(one, paths):
                transfer._check_same(p, sigs[p])
                out[p] = (digest, sigs[p][0])
                with self._lock:
                    self._pending[digest] = (p, sigs[p])
                    if data is not None:
                        if digest in self._held:
                            self._held_bytes -= len(data)
                        self._held[digest] = data
                if p not in known:
                    fresh.append((p, sigs[p], digest))
                task.advance(1, sigs[p][0])
        self.statcache.record(fresh, folder=folder, span=span)
        return out

    def _reserve(self, n: int) -> bool:
        with self._lock:
            if self._held_bytes + n > HOLD_BUDGET:
                return False
            self._held_bytes += n
            return True

    def _release(self, digests: list[str]) -> None:
        """Forget the local sources of blobs the server now holds (after a commit): the
        server serves them from then on, and a source may go (a new_file's temp folder)."""
        with self._lock:
            for d in digests:
                self._pending.pop(d, None)
                data = self._held.pop(d, None)
                if data is not None:
                    self._held_bytes -= len(data)

    def ingest_bytes(self, data: bytes) -> tuple[str, int]:
        h = hasher()
        h.update(data)
        digest = "blake3:" + h.hexdigest()
        with self._lock:
            self._pending[digest] = bytes(data)
        return digest, len(data)

    def missing_blobs(self, entity: str, project: str, digests: list[str]) -> set[str]:
        missing: list[str] = []
        for i in range(0, len(digests), 50_000):
            body = {"digests": digests[i : i + 50_000]}
            missing += self._json("POST", self._p(entity, project, "blobs", "missing"), json=body)["missing"]
        return set(missing)

    def _upload(self, entity: str, project: str, entries: list[Entry]) -> None:
        digests = list(dict.fromkeys(e.digest for e in entries if e.ref is None))
        missing = sorted(self.missing_blobs(entity, project, digests))
        if not missing:
            return
        small, large = [], []
        for d in missing:
            src = self._held.get(d) or self._pending.get(d)
            if src is None:
                raise StoreError(
                    f"blob {d} is not on the server and this process does not have its file; add the file again"
                )
            size = len(src) if isinstance(src, bytes) else src[1][0]
            (small if size < DIRECT_MIN else large).append((d, src))
        with ThreadPoolExecutor(SEND_WORKERS) as pool, current().task("uploading") as task:
            task.add_total(len(missing), sum(_size(src) for _, src in small + large))
            jobs = [pool.submit(self._send_large, entity, project, d, src, task) for d, src in large]
            through = self._send_direct(entity, project, small, pool, task)
            jobs += [pool.submit(self._send_batch, entity, project, b, task) for b in _batches(through)]
            for j in jobs:
                j.result()

    def _send_direct(self, entity: str, project: str, small: list[tuple[str, Any]], pool: ThreadPoolExecutor,
                     task: Task = NULL_TASK) -> list:
        """PUT small blobs straight to the object store where the server grants it; returns
        those that must go through the server instead (no presigning store, or another
        project holds or is writing that object).

        A PUT answered 412 found the object there already. Under this project's claim that is
        its own earlier upload (one that failed before the server heard of it), so it is
        reported like a created one, and the server records it only if the claim is still
        this project's."""
        if not small:
            return []
        src = dict(small)
        through: list[str] = []
        puts = []
        for i in range(0, len(small), 5_000):
            part = [d for d, _ in small[i : i + 5_000]]
            r = self._json("POST", self._p(entity, project, "blobs", "direct"), json={"digests": part})
            if not r["direct"]:
                return small
            through += r["through_server"]
            puts += [(d, url, r["headers"]) for d, url in r["urls"].items()]
        def put(d: str, url: str, headers: dict[str, str]) -> None:
            data = self._read_source(d, src[d])
            self._put_create_only(url, data, headers)
            task.advance(1, len(data))

        jobs = [pool.submit(put, d, url, headers) for d, url, headers in puts]
        for job in jobs:
            job.result()
        done = [d for d, _, _ in puts]
        for i in range(0, len(done), 50_000):
            part = done[i : i + 50_000]
            through += self._json("POST", self._p(entity, project, "blobs", "direct", "done"),
                                  json={"digests": part})["through_server"]
        return [(d, src[d]) for d in through]

    def _put_create_only(self, url: str, data: bytes, headers: dict[str, str]) -> None:
        """PUT to a presigned URL that may only create; 412 (the object exists) is fine."""
        self._store_put(url, data, headers, ok=frozenset({412}))

    def _store_put(self, url: str, data: bytes, headers: dict[str, str] | None = None, ok: frozenset[int] = frozenset()) -> None:
        """PUT bytes to a presigned object-store URL under the retry policy (5xx and
        connection failures are retried; 4xx other than ``ok`` are final)."""

        def attempt(n: int) -> None:
            try:
                r = self._direct.request("PUT", url, body=data, headers=headers)
            except urllib3.exceptions.HTTPError as e:
                err = StoreError(f"cannot reach the object store for a direct upload: {e}")
                raise Retry(f"direct upload: {type(e).__name__}", err) from None
            if r.status >= 400 and r.status not in ok:
                text = r.data[:200].decode(errors="replace")
                err = StoreError(f"the object store refused an upload (HTTP {r.status}): {text}")
                if r.status >= 500:
                    raise Retry(f"direct upload: HTTP {r.status}", err, after=retry_after(r.headers.get("retry-after")))
                raise err

        retry.POLICY.call(attempt, "direct upload")

    def _read_source(self, digest: str, src: Any) -> bytes:
        if isinstance(src, bytes):
            return src
        path, sig = src
        if signature(os.stat(path)) != sig:
            raise FileChangedError(path, os.path.basename(path))
        with open(path, "rb") as f:
            data = f.read()
        h = hasher()
        h.update(data)
        if "blake3:" + h.hexdigest() != digest:
            raise FileChangedError(path, os.path.basename(path))
        return data

    def _send_batch(self, entity: str, project: str, batch: list[tuple[str, Any]], task: Task = NULL_TASK) -> None:
        body = bytearray()
        for d, src in batch:
            data = self._read_source(d, src)
            body += struct.pack(">I", len(data)) + data
        got = self._json("POST", self._p(entity, project, "blobs", "batch"), content=bytes(body))["digests"]
        if got != [d for d, _ in batch]:
            raise IntegrityError("the server hashed an uploaded batch differently; nothing was committed")
        task.advance(len(batch), len(body) - 4 * len(batch))

    def _send_large(self, entity: str, project: str, digest: str, src: Any, task: Task = NULL_TASK) -> None:
        path, sig = src if not isinstance(src, bytes) else (None, None)
        size = len(src) if isinstance(src, bytes) else sig[0]
        start = self._json("POST", self._p(entity, project, "blobs", "uploads"), json={"digest": digest, "size": size})
        if start.get("direct"):
            self._put_direct(start, path, src, digest, task)
            self._json("POST", self._p(entity, project, "blobs", "uploads", "complete"),
                       json={"upload_id": start["upload_id"], "digest": digest})
        else:
            self._call("PUT", self._p(entity, project, "blobs", digest),
                       content=lambda: self._stream(path, src, sig, digest, task), headers={"Content-Length": str(size)})
        task.advance(1)

    def _stream(self, path: str | None, src: Any, sig: Any, digest: str, task: Task = NULL_TASK):  # noqa: ANN202
        if path is None:
            yield src
            task.advance(nbytes=len(src))
            return
        h = hasher()
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
                yield chunk
                task.advance(nbytes=len(chunk))
        if signature(os.stat(path)) != sig or "blake3:" + h.hexdigest() != digest:
            raise FileChangedError(path, os.path.basename(path))

    def _put_direct(self, start: dict, path: str | None, src: Any, digest: str, task: Task = NULL_TASK) -> None:
        """PUT the bytes to the presigned URL(s), part i to URL i. The file is read once, in
        order, hashing each part before it is sent (a file changed since it was added is
        caught); up to 4 parts are in flight, so memory stays at 4 parts."""
        from concurrent.futures import FIRST_COMPLETED, wait

        urls: list[str] = start["urls"]
        part_size: int = start["part_size"]
        h = hasher()
        f: BinaryIO = io.BytesIO(src) if path is None else open(path, "rb")
        with f, ThreadPoolExecutor(4) as pool:
            inflight: set = set()
            for url in urls:
                data = f.read(part_size)
                h.update(data)
                if len(inflight) >= 4:
                    done, inflight = wait(inflight, return_when=FIRST_COMPLETED)
                    for d in done:
                        d.result()
                inflight.add(pool.submit(self._direct_put, url, data, task))
            for d in inflight:
                d.result()
        if "blake3:" + h.hexdigest() != digest:
            raise FileChangedError(path or "<bytes>", os.path.basename(path or "bytes"))

    def _direct_put(self, url: str, data: bytes, task: Task = NULL_TASK) -> None:
        self._store_put(url, data)
        task.advance(nbytes=len(data))

    def open_entry(self, entry: Entry, version: VersionInfo | None = None) -> BinaryIO:
        if entry.ref is not None:
            return open_reference(entry)
        cached = self.cache.get(entry.digest)
        if cached is not None:
            # a cached blob may be a link to a downloaded file that was since edited in
            # place: check it, and fetch it again rather than hand out other bytes
            if transfer._hash_file(cached) == entry.digest or version is None:
                return open(cached, "rb")
            log.info("download cache: blob %s no longer matches its digest (a linked file was edited); fetching it again",
                     entry.digest)
            self.cache.evict(entry.digest)
        src = self._pending.get(entry.digest)
        if src is not None:
            try:
                return io.BytesIO(src) if isinstance(src, bytes) else open(src[0], "rb")
            except FileNotFoundError:
                if version is None:
                    raise
        if version is None:
            raise StoreError(f"entry {entry.path!r} is not logged yet and its bytes are not in this process")
        self._fetch_to_cache(entry.digest, version)
        return open(self.cache.path(entry.digest), "rb")

    def _presign(self, entries: list[Entry], version: VersionInfo | None) -> None:
        """Ask for the download URLs of the blobs about to be fetched, 5,000 a call (one
        redirect per file cost a server round trip each: 1,000 x 1 MiB from SeaweedFS took
        10.5 s, see bench/). URLs live for an hour; an expired one falls back to a redirect."""
        if version is None:
            return
        want = [e.digest for e in entries if e.ref is None and self.cache.get(e.digest) is None]
        want = [d for d in dict.fromkeys(want) if d not in self._urls and d not in self._pending]
        for i in range(0, len(want), 5_000):
            got = self._json("POST", self._p(*version.content_project, "blobs", "urls"),
                             json={"digests": want[i : i + 5_000]})
            if not got.get("direct"):
                return
            self._urls.update(got["urls"])

    def _fetch_to_cache(self, digest: str, version: VersionInfo) -> Path:
        tmp = self.cache.tmp()
        try:
            self._download_blob(digest, version, tmp)
            return self.cache.put_from(tmp, digest)
        finally:
            tmp.unlink(missing_ok=True)

    def _download_blob(self, digest: str, version: VersionInfo, dest: str | Path, task: Task = NULL_TASK) -> None:
        """Write the blob's verified bytes to ``dest`` (presigned URL when one was handed out)."""
        presigned = self._urls.pop(digest, None)
        if presigned is not None:
            try:
                return self._stream_to(digest, self._get_direct(presigned), dest, task)
            except _Refused:  # expired or revoked: ask the server again
                log.info("presigned URL for blob %s refused (expired?); fetching it through the server", digest)
        try:
            self._stream_to(digest, self._get_server(self._p(*version.content_project, "blobs", digest)), dest, task)
        except _Refused:
            raise StoreError(f"the object store refused to send blob {digest} from a fresh URL; "
                             "check the server's object-store credentials and clock") from None

    @contextlib.contextmanager
    def _get_direct(self, url: str) -> Iterator[tuple[int, Iterator[bytes]]]:
        r = self._direct.request("GET", url, preload_content=False)
        try:
            yield r.status, r.stream(1 << 20)
        finally:
            r.release_conn()

    @contextlib.contextmanager
    def _get_server(self, url: str) -> Iterator[tuple[int, Iterator[bytes]]]:
        """The blob through the server: its bytes, or the presigned URL it redirects to (one
        request either way; the body of a server that streams is not read twice)."""
        with self._http.stream("GET", self.servers.current + url) as r:
            if r.status_code >= 400:
                r.read()
                try:
                    body = r.json()
                except ValueError:
                    body = None
                raise wire.error_in(body, r.status_code)
            if r.status_code not in (302, 307):
                yield r.status_code, r.iter_bytes()
                return
            location = r.headers["location"]
        with self._get_direct(location) as got:
            yield got

    def _stream_to(self, digest: str, response: Any, dest: str | Path, task: Task = NULL_TASK) -> None:
        """Write a blob's bytes as they arrive (reported to ``task``, less any a cut-off try
        had reported), then check them."""
        h = hasher()
        written = 0
        try:
            with response as (status, chunks), open(dest, "wb") as out:
                if status in (400, 403):
                    raise _Refused()
                if status == 404:
                    raise BlobNotFoundError(digest, "in the server's object store")
                if status >= 400:
                    raise StoreError(f"downloading blob {digest} failed with HTTP {status}")
                for chunk in chunks:
                    h.update(chunk)
                    out.write(chunk)
                    written += len(chunk)
                    task.advance(nbytes=len(chunk))
        except (httpx.TransportError, urllib3.exceptions.HTTPError) as e:
            task.advance(nbytes=-written)
            raise StoreError(f"downloading blob {digest} was cut off ({type(e).__name__}: {e}); try again") from None
        if "blake3:" + h.hexdigest() != digest:
            raise IntegrityError(f"blob {digest} arrived corrupt (hash mismatch); try again", digest=digest)

    def _fetch_into(self, e: Entry, dest: str, version: VersionInfo | None, task: Task = NULL_TASK) -> bool:
        """Download ``e`` straight into ``dest`` (a download root's temp file), then link it
        into the cache: each byte is written once, not once to the cache and again to the
        root (1,000 x 1 MiB from SeaweedFS: 9.0 s with the copy; see bench/). A cached blob
        is copied, and fetched again if it no longer matches (a linked file edited in place)."""
        if e.ref is not None or version is None or e.digest in self._pending:
            return False
        cached = self.cache.get(e.digest)
        if cached is not None:
            try:
                transfer.copy_verified(e, open(cached, "rb"), dest, task)
                return True
            except IntegrityError:
                log.info("download cache: blob %s no longer matches its digest; fetching it again", e.digest)
                self.cache.evict(e.digest)
        self._download_blob(e.digest, version, dest, task)
        self.cache.adopt(Path(dest), e.digest)
        return True

    def download(self, entries: Iterable[Entry], root: Path, version: VersionInfo | None = None) -> int:
        try:
            out = transfer.download(
                entries, root, lambda e: self.open_entry(e, version), self.statcache, workers=SEND_WORKERS,
                prepare=lambda todo: self._presign(todo, version),
                fetch=lambda e, dest, task: self._fetch_into(e, dest, version, task),
            )
        except IntegrityError as err:
            raise transfer.damage_error(err, lambda d: self.report_damaged(d, version)) from err
        self.cache.enforce()
        return out

    def report_damaged(self, digest: str, version: VersionInfo | None = None) -> str:
        """Ask the server to check the blob (it reads the object itself and sets a damaged one
        aside); without a version there is no project to ask about, so nothing is said."""
        self.cache.evict(digest)
        self._urls.pop(digest, None)
        if version is None:
            return transfer.INTACT
        try:
            got = self._json("POST", self._p(*version.content_project, "blobs", digest, "damaged"))
        except NotFoundError:
            return transfer.MISSING
        return got["state"]

    def _version_in(self, d: dict) -> VersionInfo:
        v = wire.version_in(d)
        self._roots[v.manifest_key] = v.id
        return v

    def manifest(self, key: str) -> Manifest:
        version_id = self._roots.get(key)
        if version_id is None:
            raise StoreError(f"manifest {key} is not that of a version this client has read; "
                             "read the version first (Api().artifact(...))")
        return Manifest(key, lambda keys: self._load_chunks(keys, version_id))

    def _load_chunks(self, keys: list[str], version_id: int) -> dict[str, bytes]:
        want = [k for k in keys if k not in self._chunks]
        for i in range(0, len(want), 1000):
            body = {"version_id": version_id, "keys": want[i : i + 1000]}
            got = self._json("POST", api_path("chunks"), json=body)["chunks"]
            for k, v in got.items():
                self._chunks[k] = base64.b64decode(v)
        if len(self._chunks) > 20_000:  # content-addressed: safe to forget any time
            self._chunks = {k: self._chunks[k] for k in keys if k in self._chunks}
        return {k: self._chunks[k] for k in keys if k in self._chunks}

    # -- versions ------------------------------------------------------------------
    def _art(self, req: CommitRequest, *rest: str) -> str:
        return self._p(req.entity, req.project, "artifacts", req.name, *rest)

    def _entries_to_send(self, req: CommitRequest) -> list[Entry]:
        if req.entries is not None:
            return req.entries
        return list(req.edits.upserts.values()) if req.edits else []

    def _send(self, req: CommitRequest, url: str) -> Any:
        check_commit(req)  # a request the server would refuse uploads nothing
        entries = self._entries_to_send(req)
        self._upload(req.entity, req.project, entries)
        out = self._json("POST", url, json=wire.commit_out(req))
        self._release([e.digest for e in entries])
        return out

    def commit(self, req: CommitRequest) -> VersionInfo:
        return self._version_in(self._send(req, self._art(req, "versions")))

    def upsert_draft(self, req: CommitRequest, distributed_id: str) -> None:
        self._send(req, self._art(req, "drafts", check_distributed_id(distributed_id), "upsert"))

    def finish_draft(self, req: CommitRequest, distributed_id: str) -> VersionInfo:
        return self._version_in(self._send(req, self._art(req, "drafts", check_distributed_id(distributed_id), "finish")))

    def resolve(self, ref: ArtifactRef, entity: str, project: str) -> VersionInfo:
        e, p = ref.entity or entity, ref.project or project
        return self._version_in(self._json("GET", self._p(e, p, "artifacts", ref.name, "resolve", ref.alias)))

    def get_version(self, version_id: int) -> VersionInfo:
        return self._version_in(self._json("GET", api_path("versions", version_id)))

    def list_versions(self, entity: str, project: str, name: str, tags: list[str] | None = None) -> list[VersionInfo]:
        got = self._json("GET", self._p(entity, project, "artifacts", name, "versions"), params={"tag": tags or []})
        return [self._version_in(v) for v in got["versions"]]

    def list_collections(self, entity: str, project: str, type_: str | None = None) -> list[CollectionInfo]:
        params = {"type": type_} if type_ else {}
        got = self._json("GET", self._p(entity, project, "artifacts"), params=params)
        return [wire.collection_in(c) for c in got["collections"]]

    def update_collection(self, entity: str, project: str, name: str, **changes: Any) -> CollectionInfo:
        return wire.collection_in(self._json("PATCH", self._p(entity, project, "artifacts", name), json=changes))

    def list_projects(self, entity: str | None = None) -> list[tuple[str, str]]:
        got = self._json("GET", api_path("projects"), params={"entity": entity} if entity else {})
        return [(p["entity"], p["project"]) for p in got["projects"]]

    def update_version(self, version_id: int, **changes: Any) -> VersionInfo:
        return self._version_in(self._json("PATCH", api_path("versions", version_id), json=changes))

    def delete_version(self, version_id: int, delete_aliases: bool = False, run_id: str | None = None) -> None:
        self._json("DELETE", api_path("versions", version_id), params={"delete_aliases": str(delete_aliases).lower()})

    def delete_collection(self, entity: str, project: str, name: str, delete_aliases: bool = False) -> int:
        got = self._json("DELETE", self._p(entity, project, "artifacts", name),
                         params={"delete_aliases": str(delete_aliases).lower()})
        return got["deleted_versions"]

    def delete_project(self, entity: str, project: str, delete_aliases: bool = False) -> int:
        got = self._json("DELETE", self._p(entity, project), params={"delete_aliases": str(delete_aliases).lower()})
        return got["deleted_versions"]

    def set_retention(self, entity: str, project: str, name: str | None, policy: Any) -> None:
        where = ("artifacts", name, "retention") if name is not None else ("retention",)
        self._json("PUT", self._p(entity, project, *where), json={} if policy is None else policy.as_dict())

    def get_retention(self, entity: str, project: str, name: str | None) -> Any:
        from ..engine.retention import Retention

        where = ("artifacts", name, "retention") if name is not None else ("retention",)
        got = self._json("GET", self._p(entity, project, *where))["retention"]
        return None if got is None else Retention(got["keep_last"], got["max_age_seconds"])

    def link_version(
        self, version_id: int, entity: str, project: str, name: str,
        aliases: list[str] | None = None, run_id: str | None = None,
    ) -> VersionInfo:
        body = {"entity": entity, "project": project, "name": name, "aliases": list(aliases or []), "run_id": run_id}
        return wire.version_in(self._json("POST", api_path("versions", version_id, "links"), json=body))

    def unlink_version(self, version_id: int, run_id: str | None = None) -> None:
        self._json("POST", api_path("versions", version_id, "unlink"))

    def version_links(self, version_id: int) -> list[VersionInfo]:
        return [wire.version_in(v) for v in self._json("GET", api_path("versions", version_id, "links"))["versions"]]

    def alias_history(self, entity: str, project: str, name: str) -> list[dict]:
        return self._json("GET", self._p(entity, project, "artifacts", name, "alias-history"))["history"]

    # -- runs ------------------------------------------------------------------------
    def create_run(self, entity: str, project: str, **kw: Any) -> RunInfo:
        from ..engine.runs import new_run_id

        # the id is made here, not by the server, so that a retried create finds the same run
        body = {"id": kw.get("run_id") or new_run_id(), "name": kw.get("name"), "group": kw.get("group"),
                "job_type": kw.get("job_type"), "config": kw.get("config"), "tags": kw.get("tags"),
                "notes": kw.get("notes"), "resume": kw.get("resume")}
        return wire.run_in(self._json("POST", self._p(entity, project, "runs"), json=body))

    def finish_run(self, run_id: str, exit_code: int = 0, config: dict | None = None,
                   summary: dict | None = None) -> None:
        self._post_json(api_path("runs", run_id, "finish"), {"exit_code": exit_code, "config": config, "summary": summary})

    def _post_json(self, url: str, body: dict, method: str = "POST") -> Any:
        # encoded here: httpx refuses NaN and infinities, which a run's values may hold
        content = json.dumps(body, separators=(",", ":"), allow_nan=True, default=str).encode()
        return self._call(method, url, content=content, headers={"Content-Type": "application/json"}).json()

    def log_history(self, run_id: str, rows: list[dict], summary: dict | None = None,
                    config: dict | None = None) -> None:
        """One post per batch the SDK's writer hands over (``sdk/history.py``)."""
        self._post_json(api_path("runs", run_id, "history"), {"rows": rows, "summary": summary, "config": config})

    def run_history(self, run_id: str, keys: list[str] | None = None, min_step: int | None = None,
                    max_step: int | None = None, limit: int | None = None,
                    samples: int | None = None) -> list[str]:
        params: dict[str, Any] = {"keys": keys or []}
        for k, v in (("min_step", min_step), ("max_step", max_step), ("samples", samples)):
            if v is not None:
                params[k] = v
        if limit is not None or samples is not None:
            if limit is not None:
                params["limit"] = limit
            return self._history_page(run_id, params)
        out: list[str] = []  # everything: page by step, as the server caps a page
        while True:
            page = self._history_page(run_id, {**params, "limit": HISTORY_PAGE})
            out += page
            if len(page) < HISTORY_PAGE:
                return out
            params["min_step"] = json.loads(page[-1])["_step"] + 1

    def _history_page(self, run_id: str, params: dict) -> list[str]:
        rows = self._call("GET", api_path("runs", run_id, "history"), params=params).json()["rows"]
        return [json.dumps(r, separators=(",", ":"), allow_nan=True) for r in rows]

    def update_run(self, run_id: str, **changes: Any) -> None:
        self._post_json(api_path("runs", run_id), changes, method="PATCH")

    def get_run(self, run_id: str, entity: str | None = None, project: str | None = None) -> RunInfo:
        params = {k: v for k, v in (("entity", entity), ("project", project)) if v}
        return wire.run_in(self._json("GET", api_path("runs", run_id), params=params))

    def list_runs(self, entity: str, project: str) -> list[RunInfo]:
        return [wire.run_in(r) for r in self._json("GET", self._p(entity, project, "runs"))["runs"]]

    def use_version(self, run_id: str, version_id: int) -> None:
        self._json("POST", api_path("runs", run_id, "uses"), json={"version_id": version_id})

    def run_outputs(self, run_id: str) -> list[VersionInfo]:
        return [self._version_in(v) for v in self._json("GET", api_path("runs", run_id, "outputs"))["versions"]]

    def run_inputs(self, run_id: str) -> list[VersionInfo]:
        return [self._version_in(v) for v in self._json("GET", api_path("runs", run_id, "inputs"))["versions"]]

    def version_users(self, version_id: int) -> list[RunInfo]:
        return [wire.run_in(r) for r in self._json("GET", api_path("versions", version_id, "users"))["runs"]]

    def close(self) -> None:
        self._http.close()
        self._direct.clear()


def _size(src: Any) -> int:
    """The size of a pending blob's source: its bytes, or (path, stat signature)."""
    return len(src) if isinstance(src, bytes) else src[1][0]


def _batches(items: list[tuple[str, Any]]) -> list[list[tuple[str, Any]]]:
    """Consecutive runs of about BATCH_BYTES each."""
    out, cur, cur_bytes = [], [], 0
    for d, src in items:
        cur.append((d, src))
        cur_bytes += len(src) if isinstance(src, bytes) else src[1][0]
        if cur_bytes >= BATCH_BYTES:
            out.append(cur)
            cur, cur_bytes = [], 0
    if cur:
        out.append(cur)
    return out


def api_path(*segments: Any) -> str:
    """``/api/v1/<segment>/...`` with every segment percent-encoded, so that a name, alias or
    id is always one segment: an alias ``rc?1`` is not a query, ``#`` not a fragment, ``%``
    not an escape, and ``..`` not a step up."""
    parts = []
    for seg in segments:
        text = quote(str(seg), safe="")
        parts.append(text.replace(".", "%2E") if text in (".", "..") else text)
    return "/api/v1/" + "/".join(parts)


def _stored_key(base_url: str) -> str | None:
    """The key saved by ``cairn login`` for this server, if any."""
    from .login import load_key

    return load_key(base_url)
