"""The download pipeline of the HTTP client: blobs come from presigned object-store URLs
asked for in batches (else through the server), are verified as they arrive, and are kept
in the download cache (``cache.py``) as hard links to the files they were written to.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from urllib3.exceptions import HTTPError

from ..core.digest import digest_of, hasher
from ..core.errors import BlobNotFoundError, IntegrityError, NotFoundError, StoreError
from ..core.manifest import Entry
from ..core.progress import NULL_TASK, Task
from ..core.versions import VersionInfo
from ..storage.base import BlobReader
from . import rpc as rpc_mod
from . import transfer
from .cache import BlobCache
from .references import open_reference
from .rpc import Presigned, Refused, Rpc, project_path
from .sources import BlobSource
from .hashing import hash_file
from .statcache import StatCache

log = logging.getLogger(__name__)

URL_BATCH = 5_000  # presigned GET URLs asked for per call

Chunks = tuple[int, Iterator[bytes]]  # an answer's status and its body as it arrives


class Downloader:
    """Reads blobs of the server's versions for the HTTP client; ``pending`` tells it of
    blobs added in this process and not yet sent (read from their local source)."""

    def __init__(
        self,
        rpc: Rpc,
        presigned: Presigned,
        cache: BlobCache,
        statcache: StatCache,
        pending: Callable[[str], BlobSource | None],
    ) -> None:
        self.rpc, self.presigned, self.cache, self.statcache = rpc, presigned, cache, statcache
        self.pending = pending
        self._urls: dict[str, str] = {}  # digest -> presigned GET URL, asked for in batches

    def open_entry(self, entry: Entry, version: VersionInfo | None = None) -> BlobReader:
        if entry.ref is not None:
            return open_reference(entry)
        cached = self.cache.get(entry.digest)
        if cached is not None:
            # a cached blob may be a link to a downloaded file that was since edited in
            # place: check it, and fetch it again rather than hand out other bytes
            if hash_file(cached) == entry.digest or version is None:
                return open(cached, "rb")
            log.info(
                "download cache: blob %s no longer matches its digest (a linked file was edited); fetching it again",
                entry.digest,
            )
            self.cache.evict(entry.digest)
        src = self.pending(entry.digest)
        if src is not None:
            try:
                return src.open()
            except FileNotFoundError:
                if version is None:
                    raise
        if version is None:
            raise StoreError(f"entry {entry.path!r} is not logged yet and its bytes are not in this process")
        self._fetch_to_cache(entry.digest, version)
        return open(self.cache.path(entry.digest), "rb")

    def download(self, entries: Iterable[Entry], root: Path, version: VersionInfo | None = None) -> int:
        try:
            out = transfer.download(entries, root, VersionReader(self, version), self.statcache)
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
            got = self.rpc.json("POST", project_path(*version.content_project, "blobs", digest, "damaged"))
        except NotFoundError:
            return transfer.MISSING
        return got["state"]

    def presign(self, entries: list[Entry], version: VersionInfo | None) -> None:
        """Ask for the download URLs of the blobs about to be fetched, URL_BATCH a call (one
        redirect per file cost a server round trip each: 1,000 x 1 MiB from SeaweedFS took
        10.5 s, see bench/). URLs live for an hour; an expired one falls back to a redirect."""
        if version is None:
            return
        want = [e.digest for e in entries if e.ref is None and self.cache.get(e.digest) is None]
        want = [d for d in dict.fromkeys(want) if d not in self._urls and self.pending(d) is None]
        for i in range(0, len(want), URL_BATCH):
            got = self.rpc.json(
                "POST",
                project_path(*version.content_project, "blobs", "urls"),
                json_body={"digests": want[i : i + URL_BATCH]},
            )
            if not got.get("direct"):
                return
            self._urls.update(got["urls"])

    def fetch_into(self, e: Entry, dest: str, version: VersionInfo | None, task: Task = NULL_TASK) -> bool:
        """Download ``e`` straight into ``dest`` (a download root's temp file), then link it
        into the cache: each byte is written once, not once to the cache and again to the
        root (1,000 x 1 MiB from SeaweedFS: 9.0 s with the copy; see bench/). A cached blob
        is copied, and fetched again if it no longer matches (a linked file edited in place)."""
        if e.ref is not None or version is None or self.pending(e.digest) is not None:
            return False
        cached = self.cache.get(e.digest)
        if cached is not None:
            try:
                transfer.copy_verified(e, open(cached, "rb"), dest, task)
                return True
            except IntegrityError:
                log.info("download cache: blob %s no longer matches its digest; fetching it again", e.digest)
                self.cache.evict(e.digest)
        self.download_blob(e.digest, version, dest, task)
        self.cache.adopt(Path(dest), e.digest)
        return True

    def _fetch_to_cache(self, digest: str, version: VersionInfo) -> Path:
        tmp = self.cache.tmp()
        try:
            self.download_blob(digest, version, tmp)
            return self.cache.put_from(tmp, digest)
        finally:
            tmp.unlink(missing_ok=True)

    def download_blob(self, digest: str, version: VersionInfo, dest: str | Path, task: Task = NULL_TASK) -> None:
        """Write the blob's verified bytes to ``dest`` (presigned URL when one was handed out)."""
        presigned = self._urls.pop(digest, None)
        if presigned is not None:
            try:
                return self._stream_to(digest, self.get_direct(presigned), dest, task)
            except Refused:  # expired or revoked: ask the server again
                log.info("presigned URL for blob %s refused (expired?); fetching it through the server", digest)
        try:
            self._stream_to(
                digest, self.get_server(project_path(*version.content_project, "blobs", digest)), dest, task
            )
        except Refused:
            raise StoreError(
                f"the object store refused to send blob {digest} from a fresh URL; "
                "check the server's object-store credentials and clock"
            ) from None

    @contextlib.contextmanager
    def get_direct(self, url: str) -> Iterator[Chunks]:
        with self.presigned.get(url) as r:
            yield r.status, r.stream(1 << 20)

    @contextlib.contextmanager
    def get_server(self, path: str) -> Iterator[Chunks]:
        """The blob through the server: its bytes, or the presigned URL it redirects to (one
        request either way; the body of a server that streams is not read twice)."""
        with self.rpc.stream(path) as r:
            if r.status not in (302, 307):
                yield r.status, r.stream(1 << 20)
                return
            location = r.headers["location"]
        with self.get_direct(location) as got:
            yield got

    def _stream_to(
        self, digest: str, response: contextlib.AbstractContextManager[Chunks], dest: str | Path, task: Task = NULL_TASK
    ) -> None:
        """Write a blob's bytes as they arrive (reported to ``task``, less any a cut-off try
        had reported), then check them."""
        h = hasher()
        written = 0
        try:
            with response as (status, chunks), open(dest, "wb") as out:
                if status == 404:
                    raise BlobNotFoundError(digest, "in the server's object store")
                if status >= 400:
                    raise StoreError(f"downloading blob {digest} failed with HTTP {status}")
                for chunk in chunks:
                    h.update(chunk)
                    out.write(chunk)
                    written += len(chunk)
                    task.advance(nbytes=len(chunk))
        except HTTPError as e:
            task.advance(nbytes=-written)
            raise StoreError(f"downloading blob {digest} was cut off ({type(e).__name__}: {e}); try again") from None
        if digest_of(h) != digest:
            raise IntegrityError(f"blob {digest} arrived corrupt (hash mismatch); try again", digest=digest)


class VersionReader:
    """``transfer.Reader`` of one version's blobs through a ``Downloader``."""

    small_batches = False  # no batch read over HTTP: each blob is its own GET
    workers = rpc_mod.SEND_WORKERS

    def __init__(self, downloader: Downloader, version: VersionInfo | None) -> None:
        self.downloader, self.version = downloader, version

    def open(self, e: Entry) -> BlobReader:
        return self.downloader.open_entry(e, self.version)

    def prepare(self, entries: list[Entry]) -> None:
        self.downloader.presign(entries, self.version)

    def fetch(self, e: Entry, dest: str, task: Task) -> bool:
        return self.downloader.fetch_into(e, dest, self.version, task)

    def read_small(self, digests: list[str]) -> dict[str, bytes]:
        return {}
