"""Blobs in a local folder: large ones as read-only files, small ones packed in SQLite,
huge ones as content-defined chunks.

Layout under ``root``::

    objects/ab/cdef…   one file per blob >= PACK_LIMIT bytes, mode 0444
    packs.sqlite       small blobs (< PACK_LIMIT) as rows, one transaction per batch, in
                       rollback-journal mode (see ``storage.wal.rollback_journal``);
                       recipes: a huge blob's digest -> its chunks' digests and sizes
    tmp/               temp files being written: removed on every failure, and those a
                       crashed writer left are removed at start-up once STALE_TMP_AGE old
    quarantine/        damaged blobs set aside by ``quarantine`` (kept for inspection only;
                       safe to delete)

Creating one file per small blob is what dominates logging many small files (about 60 µs
each plus its share of the flush on ext4), so small blobs go into one SQLite file instead.
A file of CHUNKED_MIN bytes or more is cut with FastCDC into ~1 MiB chunks, each stored as
a blob: ten versions of a 1 GiB file that differ by 1 MiB edits store ~1 GiB, not 10.

Healing. Dedup skips writing a blob that is present, and re-reading every present blob to
be sure of it would make re-logging cost a full read of the store. So:

* an ingest of a present blob checks only what is free: the size of a file (one ``stat``,
  as checking its existence was) and a chunked file's recipe (compared whole: a few hundred
  bytes, once per file of 64 MiB or more). A truncated, grown or missing file is replaced by
  the bytes being stored, and a missing packed row is inserted again; a present packed row
  is not read at all (see ``_INSERT_SMALL`` for the measured cost);
* a reader that finds a blob's bytes wrong (a download, ``Artifact.get``) asks
  ``quarantine``, which re-hashes the stored copy and, if it is wrong, moves it to
  ``quarantine/`` and forgets it: the store no longer ``has`` it, so the next ingest of
  the same bytes (any file, any artifact) stores it again and every version naming it
  reads right. ``cairn verify`` only reports; it never sets anything aside.

A server storing bytes sent through it for one project asks for ``rewrite``: present blobs
are written again (a new file renamed over the old, a packed row replaced, a recipe
replaced), so that the time taken never tells whether another project holds the blob.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import logging
import os
import re
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ...core.digest import content_digest, digest_of, hasher
from ...core.errors import BlobNotFoundError, IntegrityError, StoreError, UsageError
from ...core.progress import NULL_TASK, Task
from ..base import BlobReader
from ..wal import rollback_journal

PACK_LIMIT = 64 * 1024
# page size of a new packs.sqlite: 1 KiB blobs filled 4 KiB pages to ~77% (3 rows a page),
# 8 KiB ones to ~94% (7 rows); larger pages fill no better and make every index page a
# transaction rewrites dearer (digests are random: a batch touches index pages everywhere)
PACK_PAGE = 8192
READ_SIZE = 1 << 20
CHUNKED_MIN = 64 << 20  # far above the 1 MiB files of "big": chunking never slows those
CDC_AVG, CDC_MIN, CDC_MAX = 1 << 20, 256 << 10, 4 << 20
# A chunked file is read and cut CHUNK_REGION bytes at a time into CHUNK_BUFFERS buffers
# (read ahead, being cut, being hashed and written), each with CDC_MAX of head room for the
# tail carried from the region before: 60 MiB per chunked file, flat in its size; an ingest
# stores up to WORKERS large files at once.
CHUNK_REGION, CHUNK_BUFFERS = 16 << 20, 3
# Threads that read, verify and write a chunked blob's chunks on a download (``copy_chunked``).
FETCH_WORKERS = 2
_BLOB = re.compile(r"blake3:[0-9a-f]{64}")
# A live writer modifies its temp file with every write and renames it as soon as it is
# whole, so a temp file untouched for an hour belongs to a writer that died (SIGKILL, power
# cut). One that was only paused that long (a suspended laptop) loses its rename and fails
# with an error; nothing stored is lost.
STALE_TMP_AGE = 3600.0
# a server's upload temp files in the system temp folder (server/transfer.py; gc removes a killed server's)
UPLOAD_TEMP_PREFIX = "cairn-upload-"

log = logging.getLogger("cairn.storage.blobs")

# A present packed row is kept as it is, unchecked: comparing even its length reads the row
# (the conflict is found in the digest index alone), and storing 50,000 present 1 KiB blobs
# again took 0.99 s with a length-checking upsert against 0.45 s (bench/integrity.py). A
# damaged row is set aside by ``quarantine`` when a reader finds it; a missing one is
# inserted again by any ingest.
_INSERT_SMALL = "INSERT OR IGNORE INTO blobs (digest, data) VALUES (?, ?)"
# what a server writes for one project: the same row write whether or not the blob is present
# (the time taken must not tell whether another project holds it)
_REPLACE_SMALL = "INSERT OR REPLACE INTO blobs (digest, data) VALUES (?, ?)"
_REPLACE_RECIPES = "INSERT OR REPLACE INTO recipes (digest, size, chunks) VALUES (?, ?, ?)"  # see _REPLACE_SMALL
_UPSERT_RECIPES = (
    "INSERT INTO recipes (digest, size, chunks) VALUES (?, ?, ?) ON CONFLICT (digest) DO UPDATE "
    "SET size = excluded.size, chunks = excluded.chunks "
    "WHERE recipes.size != excluded.size OR recipes.chunks != excluded.chunks"
)


_SYNC_FILE_RANGE_WRITE = 2


@functools.cache
def _libc() -> tuple[Any, Any]:
    """libc and its ``sync_file_range`` (None where there is none: Linux only), loaded on
    first use: ctypes costs milliseconds of start-up to processes that never write."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    sync_file_range = getattr(libc, "sync_file_range", None)
    if sync_file_range is not None:
        sync_file_range.argtypes = [ctypes.c_int, ctypes.c_longlong, ctypes.c_longlong, ctypes.c_uint]
    return libc, sync_file_range


def _syncfs(path: Path) -> None:
    """Flush the filesystem holding ``path`` (one syscall instead of an fsync per file)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        libc = _libc()[0]
        if getattr(libc, "syncfs", None) is None or libc.syncfs(fd) != 0:
            os.sync()
    finally:
        os.close(fd)


def _start_writeback(fd: int) -> None:
    """Start writing a file's dirty pages to disk now, without waiting for them.

    The commit's syncfs then finds them (nearly) written instead of writing 1 GiB after
    the copy: storing "big" (1,000 x 1 MiB) durably took ~1.70 s (copy 1.25 s + syncfs
    0.45 s) and takes ~1.20 s (copy 1.2 s + syncfs 0.005 s), 4 interleaved runs each.
    Not a durability step: syncfs still is."""
    sync_file_range = _libc()[1]
    if sync_file_range is not None:
        sync_file_range(fd, 0, 0, _SYNC_FILE_RANGE_WRITE)


@contextlib.contextmanager
def _pack_errors(path: Path) -> Iterator[None]:
    """SQLite's errors on the pack file (a full disk, a damaged file) as a StoreError that
    names the file and what to check."""
    try:
        yield
    except sqlite3.Error as e:
        raise StoreError(
            f"the blob store's pack file {path} failed: {e}; check the free disk space, and that "
            "the file is cairn's and undamaged"
        ) from e


# Digests of stored blobs a process remembers (~130 bytes each): 65,536 is ~8 MiB, enough
# for a commit to find every blob its ingest of 50,000 files just checked; past that it asks
# the store again (50,000 digests: ~0.03 s of count queries) rather than hold more.
SEEN_MAX = 65_536
# ... and for at most this long: gc may remove a blob nothing references once its grace period
# is over, so what a process remembers must be younger than that (docs/gc.md).
SEEN_TTL_S = 60.0


class _Packs:
    """The pack file's connection, with its errors as StoreError (see ``_pack_errors``)."""

    __slots__ = ("_conn", "_path")

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self._conn, self._path = conn, path

    def execute(self, sql: str, params: Any = ()) -> sqlite3.Cursor:
        with _pack_errors(self._path):
            return self._conn.execute(sql, params)

    def executemany(self, sql: str, rows: Any) -> sqlite3.Cursor:
        with _pack_errors(self._path):
            return self._conn.executemany(sql, rows)

    def rollback(self) -> None:
        """Undo the open transaction, if SQLite has not already (it does on a full disk)."""
        if self._conn.in_transaction:
            self._conn.execute("ROLLBACK")

    def close(self) -> None:
        self._conn.close()


class LocalBlobStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._objects = str(self.root / "objects")
        self._local = threading.local()
        self._dirty = False
        self._ready = False
        self._recipes: dict[str, tuple[int, str]] = {}  # written at flush, once their chunks are durable
        self._rewrite_recipes: set[str] = set()  # of those, the ones written again even if the same
        self._recipes_lock = threading.Lock()
        self._seen: set[str] = set()  # digests this process knows are stored (SEEN_MAX at most)
        self._seen_since = time.monotonic()
        self.seen_ttl = SEEN_TTL_S  # gc lowers it to a fraction of its grace period (limit_seen)
        self.chunked_min = CHUNKED_MIN

    # -- set-up --------------------------------------------------------------
    def _setup(self) -> None:
        if self._ready:
            return
        (self.root / "objects").mkdir(parents=True, exist_ok=True)
        (self.root / "tmp").mkdir(exist_ok=True)
        self.sweep_tmp()
        self._ready = True

    def sweep_tmp(self, age: float = STALE_TMP_AGE) -> int:
        """Remove temp files untouched for ``age`` seconds (left by a writer that died);
        returns how many. Runs when the store is first used; newer ones may be another
        process's writes in progress and are left alone."""
        cutoff = time.time() - age
        removed = 0
        with contextlib.suppress(FileNotFoundError), os.scandir(self.root / "tmp") as it:
            for d in it:
                with contextlib.suppress(FileNotFoundError):
                    if d.stat(follow_symlinks=False).st_mtime < cutoff:
                        os.unlink(d.path)
                        removed += 1
        if removed:
            log.info("removed %d stale temp file(s) from %s", removed, self.root / "tmp")
        return removed

    def _db(self) -> _Packs:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            self._setup()
            path = self.root / "packs.sqlite"
            with _pack_errors(path):
                raw = sqlite3.connect(path, timeout=60, isolation_level=None)
                # a new pack file gives freed pages back to the disk when gc asks
                # (reclaim_space), and takes PACK_PAGE pages; on a file that has tables
                # already both take effect at its next VACUUM
                if raw.execute("PRAGMA page_count").fetchone()[0] == 0:  # only a new file: no lock taken
                    raw.execute(f"PRAGMA page_size={PACK_PAGE}")  # first: auto_vacuum fixes it
                    raw.execute("PRAGMA auto_vacuum=INCREMENTAL")
                raw = rollback_journal(raw, path)
            conn = _Packs(raw, path)
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("CREATE TABLE IF NOT EXISTS blobs (digest TEXT PRIMARY KEY, data BLOB NOT NULL)")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS recipes (digest TEXT PRIMARY KEY, size INTEGER NOT NULL, chunks TEXT NOT NULL)"
            )
            self._local.conn = conn
        return conn

    def _path(self, digest: str) -> Path | None:
        p = self._spath(digest)
        return Path(p) if p is not None else None

    def _spath(self, digest: str) -> str | None:
        # string paths: pathlib costs ~10 µs a join, which shows when checking 50,000 blobs
        if not _BLOB.fullmatch(digest):
            return None  # not a content digest: it would name objects/ or a shard folder itself
        hexd = digest[7:]
        return f"{self._objects}/{hexd[:2]}/{hexd[2:]}"

    # -- queries -------------------------------------------------------------
    def has(self, digests: Iterable[str]) -> set[str]:
        # Blobs never change once stored, so what this process has seen stored it need not
        # ask about again (a commit checks the blobs its ingest just checked: 50,000 rows
        # fetched twice cost ~0.2 s). Only gc removes blobs, and it spares recent ones.
        if time.monotonic() - self._seen_since > self.seen_ttl:
            self._seen, self._seen_since = set(), time.monotonic()
        seen: set[str] = self._seen
        wanted = digests if isinstance(digests, set | frozenset) else set(digests)
        found = seen & wanted  # set operations, not a Python loop per digest (a set, even for a frozenset)
        # in digest order: each query then walks neighbouring index pages (50,000 digests in
        # path order, i.e. random: 0.118 s of queries; sorted: 0.052 s)
        ask = sorted(wanted - found)
        db = self._db()
        for i in range(0, len(ask), 900):
            part = ask[i : i + 900]
            marks = ",".join("?" * len(part))
            # counting first: when all are there (re-logging), no row is materialised
            # (50,000 digests: 0.03 s against 0.06 s)
            if db.execute(f"SELECT count(*) FROM blobs WHERE digest IN ({marks})", part).fetchone()[0] == len(part):
                found.update(part)
            else:
                found.update(r[0] for r in db.execute(f"SELECT digest FROM blobs WHERE digest IN ({marks})", part))
        if len(seen) + len(found) > SEEN_MAX:
            seen.clear()  # bounded: memory must not grow with the files a process logs
        seen.update(found)
        if len(found) == len(wanted):  # the common case when re-logging small files
            return found
        exists = os.path.exists
        rest = list(wanted - found)
        found.update(d for d in rest if (p := self._spath(d)) is not None and exists(p))
        rest = [d for d in rest if d not in found]
        found.update(d for d in rest if d in self._recipes)
        for i in range(0, len(rest), 900):
            part = rest[i : i + 900]
            q = f"SELECT digest FROM recipes WHERE digest IN ({','.join('?' * len(part))})"
            found.update(r[0] for r in db.execute(q, part))
        return found

    def limit_seen(self, seconds: float) -> None:
        """Remember present blobs for at most ``seconds`` from now on (gc's grace period asks)."""
        self.seen_ttl = min(self.seen_ttl, seconds)

    def has_stored(self, digests: Iterable[str]) -> set[str]:
        """``has`` asked of the files and the pack itself, forgetting what this process remembers."""
        wanted = set(digests)
        self._seen -= wanted
        return self.has(wanted)

    def recipe_parts(self, digests: Iterable[str]) -> dict[str, list[str]]:
        """The chunk digests of each chunked blob among ``digests`` (others are absent)."""
        out: dict[str, list[str]] = {}
        rest = list(dict.fromkeys(digests))
        with self._recipes_lock:
            for d in rest:
                if d in self._recipes:
                    out[d] = [c for c, _ in json.loads(self._recipes[d][1])]
        rest = [d for d in rest if d not in out]
        for i in range(0, len(rest), 900):
            part = rest[i : i + 900]
            q = f"SELECT digest, chunks FROM recipes WHERE digest IN ({','.join('?' * len(part))})"
            for d, chunks in self._db().execute(q, part):
                out[d] = [c for c, _ in json.loads(chunks)]
        return out

    def iter_recipes(self) -> Iterator[tuple[str, list[str]]]:
        """Every chunked blob and its chunks' digests (garbage collection only)."""
        # fetched before yielding: an open cursor would hold the pack's read lock, and a
        # rollback journal makes writers wait for readers
        for d, chunks in self._db().execute("SELECT digest, chunks FROM recipes").fetchall():
            yield d, [c for c, _ in json.loads(chunks)]

    def iter_stored(self) -> Iterator[tuple[str, int]]:
        """Every stored blob with the bytes it takes (a chunked blob's recipe: 0; its chunks
        are blobs of their own). Garbage collection only."""
        objects = self.root / "objects"
        if objects.exists():
            for sub in sorted(objects.iterdir()):
                with os.scandir(sub) as it:
                    for f in it:
                        with contextlib.suppress(FileNotFoundError):
                            yield content_digest(sub.name + f.name), f.stat().st_size
        # a page at a time: 1,000,000 packed rows fetched whole held ~150 MiB of gc's peak
        for table, size in (("blobs", "length(data)"), ("recipes", "0")):
            after = ""
            while (
                page := self._db()
                .execute(f"SELECT digest, {size} FROM {table} WHERE digest > ? ORDER BY digest LIMIT 10000", (after,))
                .fetchall()
            ):
                yield from page
                after = page[-1][0]

    def delete_many(self, digests: list[str]) -> None:
        """Remove blobs (garbage collection only); the pack's rows in one transaction."""
        for d in digests:
            p = self._spath(d)
            if p is not None:
                with contextlib.suppress(FileNotFoundError):
                    os.chmod(p, 0o644)
                    os.unlink(p)
        self._seen -= set(digests)
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany("DELETE FROM blobs WHERE digest = ?", [(d,) for d in digests])
            db.executemany("DELETE FROM recipes WHERE digest = ?", [(d,) for d in digests])
            db.execute("COMMIT")
        except BaseException:
            db.rollback()
            raise

    def reclaim_space(self) -> int:
        """Give the pack file's free pages back to the disk (after gc removed rows); returns
        the bytes freed. A pack made before incremental vacuum is rewritten once (VACUUM)
        when at least half of it is free."""
        db = self._db()
        path = self.root / "packs.sqlite"
        before = path.stat().st_size if path.exists() else 0
        page = db.execute("PRAGMA page_size").fetchone()[0]
        free, total = db.execute("PRAGMA freelist_count").fetchone()[0], db.execute("PRAGMA page_count").fetchone()[0]
        if free and db.execute("PRAGMA auto_vacuum").fetchone()[0] == 2:
            db.execute("PRAGMA incremental_vacuum").fetchall()  # each step frees a page
        elif free * 2 >= total and free * page >= 1 << 20:
            db.execute("PRAGMA auto_vacuum=INCREMENTAL")
            db.execute("VACUUM")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return max(0, before - (path.stat().st_size if path.exists() else 0))

    def temp_files(self) -> Iterator[tuple[Path, int, float]]:
        """Files in ``tmp/`` (writes in flight, or left by a crash) with their size and age
        in seconds by this machine's clock (garbage collection only)."""
        tmp = self.root / "tmp"
        if not tmp.exists():
            return
        now = time.time()
        with os.scandir(tmp) as it:
            for f in it:
                with contextlib.suppress(FileNotFoundError):
                    st = f.stat()
                    yield Path(f.path), st.st_size, now - st.st_mtime

    def set_aside(self, older_than: float) -> Iterator[tuple[Path, int]]:
        """Copies in ``quarantine/`` (damaged blobs set aside) kept longer than ``older_than``
        seconds by this machine's clock: ``(handle, bytes)`` for ``remove_set_aside``.
        Garbage collection only."""
        folder = self.root / "quarantine"
        if not folder.exists():
            return
        now = time.time()
        with os.scandir(folder) as it:
            for f in it:
                with contextlib.suppress(FileNotFoundError):
                    st = f.stat()
                    if now - st.st_mtime > older_than:
                        yield Path(f.path), st.st_size

    def remove_set_aside(self, handle: Path) -> None:
        with contextlib.suppress(FileNotFoundError):
            handle.unlink()

    def read_small(self, digests: list[str]) -> dict[str, bytes]:
        """Packed blobs among ``digests`` in one query per 900 (what downloads of many small files use)."""
        out: dict[str, bytes] = {}
        db = self._db()
        for i in range(0, len(digests), 900):
            part = digests[i : i + 900]
            q = f"SELECT digest, data FROM blobs WHERE digest IN ({','.join('?' * len(part))})"
            out.update(db.execute(q, part))
        return out

    def open(self, digest: str) -> BlobReader:
        try:
            if (p := self._path(digest)) is not None:
                return open(p, "rb")
        except FileNotFoundError:
            pass
        row = self._db().execute("SELECT data FROM blobs WHERE digest = ?", (digest,)).fetchone()
        if row is not None:
            return io.BytesIO(row[0])
        recipe = self._recipes.get(digest)
        if recipe is None:
            row = self._db().execute("SELECT size, chunks FROM recipes WHERE digest = ?", (digest,)).fetchone()
            if row is None:
                raise BlobNotFoundError(digest, f"in {self.root}")
            recipe = (row[0], row[1])
        return _Chained(self, [(d, n) for d, n in json.loads(recipe[1])])

    def read_range(self, digest: str, offset: int, length: int) -> bytes:
        """RangeReader: a seek in a file, a slice of a packed blob, or the chunks of a chunked
        blob that hold the range (the ones before it are skipped by their recorded sizes)."""
        if offset < 0 or length < 0:
            raise ValueError(f"read_range of {digest}: offset and length must be >= 0, got {offset}, {length}")
        with self.open(digest) as f:
            if isinstance(f, _Chained):
                f.skip(offset)
            else:
                f.seek(offset)
            parts, got = [], 0
            while got < length and (chunk := f.read(length - got)):
                parts.append(chunk)
                got += len(chunk)
        return b"".join(parts)

    def copy_chunked(self, digest: str, size: int, dest: str, task: Task = NULL_TASK) -> bool:
        """Write chunked blob ``digest`` to the new file ``dest``, verified; False (nothing
        written) when ``digest`` is not a chunked blob of this store, which ``open`` reads
        (a file under CHUNKED_MIN bytes never is: no query is made for it).

        Each chunk is read, checked against its own digest and written at its offset, on
        FETCH_WORKERS threads (BLAKE3 and file I/O release the GIL): every byte is hashed
        once, and the whole file's digest is not computed again, because the recipe that
        maps it to these chunks was written by this store after hashing the whole stream.
        IntegrityError (naming the chunk) when a chunk reads wrong; BlobNotFoundError when
        one is missing. Bytes are reported to ``task`` as each chunk is written."""
        if size < CHUNKED_MIN:
            return False
        recipe = self._recipes.get(digest)
        if recipe is None:
            if not _BLOB.fullmatch(digest):
                return False
            row = self._db().execute("SELECT size, chunks FROM recipes WHERE digest = ?", (digest,)).fetchone()
            if row is None:
                return False
            recipe = (row[0], row[1])
        parts: list[tuple[str, int, int]] = []  # (chunk digest, offset, size)
        at = 0
        for d, n in json.loads(recipe[1]):
            parts.append((d, at, n))
            at += n
        if at != recipe[0]:
            raise IntegrityError(
                f"the recipe of {digest} lists {at} bytes of chunks for a blob of {recipe[0]}", digest=digest
            )
        local = threading.local()
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)

        def one(part: tuple[str, int, int]) -> None:
            d, offset, n = part
            buf = getattr(local, "buf", None)
            if buf is None or len(buf) < n:
                buf = local.buf = bytearray(max(n, CDC_MAX))
            view = memoryview(buf)[:n]
            with self.open(d) as f:
                got = f.readinto(view) if n else 0
                while got < n and (more := f.readinto(view[got:])):
                    got += more
                if got != n or f.read(1):
                    raise IntegrityError(f"chunk {d} of blob {digest} is not {n} bytes long", digest=d)
            if _digest_of(view) != d:
                raise IntegrityError(f"chunk {d} of blob {digest} is damaged (its bytes hash otherwise)", digest=d)
            done = 0
            while done < n:
                done += os.pwrite(fd, view[done:], offset + done)
            task.advance(nbytes=n)

        try:
            with ThreadPoolExecutor(FETCH_WORKERS, "cairn-fetch") as pool:
                jobs = [pool.submit(one, p) for p in parts]
                try:
                    for job in jobs:
                        job.result()
                except BaseException:
                    for job in jobs:
                        job.cancel()
                    raise
        finally:
            os.close(fd)
        return True

    def iter_digests(self) -> Iterator[str]:
        objects = self.root / "objects"
        if objects.exists():
            for sub in sorted(objects.iterdir()):
                for f in sorted(sub.iterdir()):
                    yield content_digest(sub.name + f.name)
        for table in ("blobs", "recipes"):
            # a page at a time, in digest order: memory stays flat in the number of blobs (200,000
            # packed digests held at once were ~24 MiB of a verify's peak), and the caller may
            # write between pages
            after = ""
            while page := [
                r[0]
                for r in self._db().execute(
                    f"SELECT digest FROM {table} WHERE digest > ? ORDER BY digest LIMIT 10000", (after,)
                )
            ]:
                yield from page
                after = page[-1]

    # -- writes --------------------------------------------------------------
    def put_bytes(self, data: bytes, rewrite: bool = False) -> tuple[str, int]:
        h = hasher()
        h.update(data)
        digest = digest_of(h)
        if len(data) < PACK_LIMIT:
            self._store_small(digest, data, rewrite)
        else:
            self._store_large(digest, data, rewrite)
        return digest, len(data)

    def put_file(
        self,
        path: Path,
        size_hint: int | None = None,
        task: Task = NULL_TASK,
        rewrite: bool = False,
        digest: str | None = None,  # hashed in the one pass that writes it anyway: not needed
    ) -> tuple[str, int]:
        with open(path, "rb") as f:
            size = size_hint if size_hint is not None else os.fstat(f.fileno()).st_size
            if size < PACK_LIMIT:
                data = f.read(PACK_LIMIT)
                if len(data) < PACK_LIMIT:
                    task.advance(nbytes=len(data))
                    return self.put_bytes(data, rewrite)
                f.seek(0)  # grew past the limit since its size was taken
            if size >= CHUNKED_MIN:
                if hasattr(os, "posix_fadvise"):  # a larger kernel read-ahead (Linux: twice)
                    os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_SEQUENTIAL)
                return self._put_chunked(f, task, rewrite)
            return self._put_stream(f, task, rewrite)

    def _put_chunked(self, f: BlobReader, task: Task = NULL_TASK, rewrite: bool = False) -> tuple[str, int]:
        """Cut the stream into content-defined chunks and store each as a blob, in one read:
        an edit rewrites only the chunks around it.

        A pipeline over CHUNK_REGION-byte regions, each read into a buffer of its own
        (CHUNK_BUFFERS of them), one job per region on each of these threads, which all
        release the GIL in their C work (``readinto``, FastCDC, BLAKE3, ``os.write``):

        * one thread reads regions ahead, in order, into free buffers;
        * this thread cuts each region (FastCDC is sequential: a cut depends on where its
          chunk starts; ~0.27 s of CPU per GiB here);
        * one thread hashes the region's chunks in order, each into the whole file's hash
          and then into its own while it is in the CPU's cache (~0.5 s per GiB: hashing
          the whole file and the chunks as separate passes over a region, or on more
          threads, cost more CPU, bench/RESULTS.md);
        * one thread writes the region's new chunk files (two writing at once cost more
          system CPU than they saved).

        So a re-log, where every chunk is present and nothing is written, reads (~0.25 s
        per GiB), cuts and hashes on both cores instead of back to back on one. Chunks are
        hashed and written from the same private buffer, so a chunk's bytes are always
        those of its digest, even when the file changes under us (the caller then sees
        its stat change and refuses the file). The cuts are FastCDC's over the whole
        stream: a cut looks at most CDC_MAX bytes ahead, so a region's last chunk is taken
        only once CDC_MAX bytes follow its start (or the file ends there); the rest (under
        CDC_MAX bytes) is copied into the head room in front of the next region's bytes
        (pinned by tests/storage/test_chunk_boundaries.py, against one thread cutting and
        hashing the whole stream)."""
        from pyfastcdc import FastCDC

        self._setup()
        cut_max = CDC_MAX
        cdc = FastCDC(CDC_AVG, min_size=CDC_MIN, max_size=cut_max)
        region = max(CHUNK_REGION, 2 * cut_max)
        head = cut_max  # room for the carried tail of the region before
        whole = hasher()
        bufs = [memoryview(bytearray(head + region)) for _ in range(max(CHUNK_BUFFERS, 3))]
        busy: list[list[Future]] = [[] for _ in bufs]  # the jobs still using each buffer
        small: list[tuple[str, bytes]] = []  # chunks under PACK_LIMIT: packed at the end
        batches: list[tuple[Future, list[int]]] = []  # (a region's digests, its chunks' sizes), in order

        def fill(view: memoryview, deps: list[Future]) -> int:
            for job in deps:  # the buffer's previous region: hashed and written
                job.result()
            n = 0
            while n < region and (got := f.readinto(view[head + n :])):
                n += got
            return n

        def digests(view: memoryview, cuts: list[tuple[int, int]]) -> list[str]:
            out = []
            for start, end in cuts:
                whole.update(view[start:end])  # then the chunk again, from the CPU's cache
                h = hasher()
                h.update(view[start:end])
                out.append(digest_of(h))
                if end - start < PACK_LIMIT:
                    small.append((out[-1], bytes(view[start:end])))
            return out

        def write(view: memoryview, hashed: Future, cuts: list[tuple[int, int]]) -> None:
            for d, (start, end) in zip(hashed.result(), cuts, strict=True):
                if end - start >= PACK_LIMIT:
                    self._store_large(d, view[start:end], rewrite)

        reading = ThreadPoolExecutor(1, "cairn-read")
        hashing = ThreadPoolExecutor(1, "cairn-hash")
        writing = ThreadPoolExecutor(1, "cairn-chunks")
        reads: dict[int, Future] = {}
        try:
            for i in range(len(bufs)):
                reads[i] = reading.submit(fill, bufs[i], [])
            carry = memoryview(b"")  # the region before's tail, not cut yet (in its buffer)
            eof = False
            i = 0
            while not eof or len(carry):
                k = i % len(bufs)
                view = bufs[k]
                n = reads.pop(i).result()
                eof = n < region
                base = head - len(carry)
                view[base:head] = carry
                if i:  # the buffer before is free once its jobs are done: read ahead into it
                    j = (i - 1) % len(bufs)
                    reads[i - 1 + len(bufs)] = reading.submit(fill, bufs[j], busy[j])
                cuts: list[tuple[int, int]] = []
                for c in cdc.cut_buf(view[base : head + n]):
                    if not eof and head + n - (base + c.offset) < cut_max:
                        break  # this cut could depend on bytes not read yet
                    cuts.append((base + c.offset, base + c.offset + c.length))
                end = cuts[-1][1] if cuts else base
                hashed = hashing.submit(digests, view, cuts)
                batches.append((hashed, [e - s for s, e in cuts]))
                busy[k] = [hashed, writing.submit(write, view, hashed, cuts)]
                task.advance(nbytes=end - base)
                carry = view[end : head + n]
                i += 1
            for jobs in busy:
                for job in jobs:
                    job.result()
        except BaseException:
            for job in [*reads.values(), *(job for jobs in busy for job in jobs)]:
                job.cancel()
            raise
        finally:
            for pool in (reading, hashing, writing):
                pool.shutdown(wait=True, cancel_futures=True)
        for d, data in small:
            self._store_small(d, data, rewrite)
        parts = [(d, size) for job, sizes in batches for d, size in zip(job.result(), sizes, strict=True)]
        digest = digest_of(whole)
        size = sum(n for _, n in parts)
        with self._recipes_lock:
            self._recipes[digest] = (size, json.dumps(parts))
            if rewrite:
                self._rewrite_recipes.add(digest)
        self._dirty = True
        return digest, size

    def _put_stream(self, f: BlobReader, task: Task = NULL_TASK, rewrite: bool = False) -> tuple[str, int]:
        self._setup()
        h = hasher()
        tmp = self.root / "tmp" / os.urandom(16).hex()
        size = 0
        # one buffer per thread, reused: a fresh 1 MiB buffer per file costs its page faults
        buf = getattr(self._local, "buf", None) or bytearray(READ_SIZE)
        self._local.buf = buf
        view = memoryview(buf)
        try:
            with open(tmp, "wb", buffering=0) as out:
                while n := f.readinto(buf):
                    h.update(view[:n])
                    part = view[:n]
                    while part:
                        part = part[out.write(part) :]
                    size += n
                    task.advance(nbytes=n)
                _start_writeback(out.fileno())
            digest = digest_of(h)
            if size < PACK_LIMIT:  # file shrank under us; pack what we read
                data = tmp.read_bytes()
                tmp.unlink()
                self._store_small(digest, data, rewrite)
            else:
                self._install(tmp, digest, size, rewrite)
        except BaseException:
            tmp.unlink(missing_ok=True)  # a full disk must not stay full of our partial copy
            raise
        return digest, size

    def _store_large(self, digest: str, data: bytes | memoryview, rewrite: bool = False) -> None:
        dest = self._spath(digest)
        if dest is None:
            raise UsageError(f"{digest!r} is not a content digest (blake3:<64 hex>); nothing was stored")
        if not rewrite and _size_is(dest, len(data)):
            return
        self._setup()
        tmp = f"{self.root}/tmp/{os.urandom(16).hex()}"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                _start_writeback(fd)
            finally:
                os.close(fd)
            self._install(Path(tmp), digest, len(data), rewrite)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    def _install(self, tmp: Path, digest: str, size: int, rewrite: bool = False) -> None:
        """Move a whole temp file into place, unless a copy of the right size is there and
        not ``rewrite`` (the caller removes ``tmp`` if this fails). A copy of another size
        is damaged: replaced."""
        dest = self._spath(digest)
        assert dest is not None
        try:
            there = os.stat(dest).st_size
        except FileNotFoundError:
            there = None
        if there == size and not rewrite:
            tmp.unlink()
            return
        if there is not None and there != size:
            log.warning("blob %s was stored with %d bytes instead of %d: replacing it", digest, there, size)
        os.chmod(tmp, 0o444)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        os.replace(tmp, dest)
        self._dirty = True

    def _store_small(self, digest: str, data: bytes, rewrite: bool = False) -> None:
        self._db().execute(_REPLACE_SMALL if rewrite else _INSERT_SMALL, (digest, data))

    def put_blobs(self, items: list[tuple[str, bytes]], hashed: bool = False, rewrite: bool = False) -> None:
        """Store already-hashed blobs, small ones in one transaction (what batch uploads use).
        This store trusts the digests it is given, ``hashed`` or not: its writers are the
        processes of one machine. ``rewrite``: present ones are written again too."""
        # in digest order: the primary-key index then grows at its end instead of splitting
        # random pages (50,000 x 1 KiB: insert + durable commit 0.48 s instead of 0.69 s)
        small = sorted((d, b) for d, b in items if len(b) < PACK_LIMIT)
        for d, b in items:
            if len(b) >= PACK_LIMIT:
                self._store_large(d, b, rewrite)
        if not small:
            return
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany(_REPLACE_SMALL if rewrite else _INSERT_SMALL, small)
            db.execute("COMMIT")
        except BaseException:
            db.rollback()
            raise

    def flush(self) -> None:
        # packs.sqlite commits are durable on their own (synchronous=FULL); files need a sync,
        # and a recipe is recorded only after the chunks it lists are on disk.
        if self._dirty:
            _syncfs(self.root)
            self._dirty = False
        with self._recipes_lock:
            pending, self._recipes = self._recipes, {}
            rewrite, self._rewrite_recipes = self._rewrite_recipes, set()
        if pending:
            db = self._db()
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany(_UPSERT_RECIPES, [(d, n, c) for d, (n, c) in pending.items() if d not in rewrite])
                db.executemany(_REPLACE_RECIPES, [(d, n, c) for d, (n, c) in pending.items() if d in rewrite])
                db.execute("COMMIT")
            except BaseException:
                db.rollback()
                raise

    def delete(self, digest: str) -> None:
        p = self._path(digest)
        try:
            if p is not None:
                os.chmod(p, 0o644)
                p.unlink()
        except FileNotFoundError:
            pass
        self._db().execute("DELETE FROM blobs WHERE digest = ?", (digest,))
        self._db().execute("DELETE FROM recipes WHERE digest = ?", (digest,))

    def quarantine(self, digest: str) -> bool:
        """Set ``digest`` aside if its stored copy is damaged; returns whether it was.

        For a reader that found the blob's bytes wrong or part of it missing: the stored
        copy is hashed again here (a wrong read alone is not proof), and only if it is wrong
        is it moved to ``quarantine/`` and forgotten, so that ``has`` no longer reports it
        and the next ingest of the same bytes stores them again. A chunked blob's chunks are
        checked one by one (each damaged one is set aside) and its recipe is forgotten when
        a chunk is damaged or missing. A blob that reads right, or is absent, is left as it
        is. Each removal is a compare-and-delete: a copy that a writer healed meanwhile stays.
        """
        if not _BLOB.fullmatch(digest):
            return False
        self._setup()
        self._seen.discard(digest)
        path = self._spath(digest)
        assert path is not None
        if os.path.exists(path):
            return self._quarantine_file(digest, path)
        db = self._db()
        row = db.execute("SELECT data FROM blobs WHERE digest = ?", (digest,)).fetchone()
        if row is not None:
            if _digest_of(row[0]) == digest:
                return False
            self._keep_aside(digest, row[0])
            db.execute("DELETE FROM blobs WHERE digest = ? AND data = ?", (digest, row[0]))
            log.warning(
                "blob %s was damaged in %s: set aside; logging the same bytes again stores it anew", digest, self.root
            )
            return True
        with self._recipes_lock:
            self._recipes.pop(digest, None)
        row = db.execute("SELECT chunks FROM recipes WHERE digest = ?", (digest,)).fetchone()
        if row is None:
            return False
        chunks = [d for d, _ in json.loads(row[0])]
        bad = [d for d in chunks if self.quarantine(d) or not self._holds(d)]
        if not bad and _digest_of_stream(_Chained(self, chunks)) == digest:
            return False
        db.execute("DELETE FROM recipes WHERE digest = ? AND chunks = ?", (digest, row[0]))
        log.warning("chunked blob %s was damaged in %s (%d bad chunk(s)): set aside", digest, self.root, len(bad))
        return True

    def _holds(self, digest: str) -> bool:
        """Whether ``digest`` is stored, asking the store itself (not this process's memory)."""
        path = self._spath(digest)
        if path is not None and os.path.exists(path):
            return True
        db = self._db()
        return any(
            db.execute(f"SELECT 1 FROM {table} WHERE digest = ?", (digest,)).fetchone() is not None
            for table in ("blobs", "recipes")
        )

    def _quarantine_file(self, digest: str, path: str) -> bool:
        with open(path, "rb") as f:
            if _digest_of_stream(f) == digest:
                return False
        aside = self._aside_path(digest)
        try:
            os.replace(path, aside)
        except FileNotFoundError:
            return False  # removed meanwhile (gc, another reader): nothing left to set aside
        with open(aside, "rb") as f:
            healed = _digest_of_stream(f) == digest
        if healed:  # a writer replaced it between our check and the move: put it back
            with contextlib.suppress(FileExistsError):
                os.link(aside, path)
            os.unlink(aside)
            return False
        log.warning(
            "blob %s was damaged in %s: moved to %s; logging the same bytes again stores it anew",
            digest,
            self.root,
            aside,
        )
        return True

    def _aside_path(self, digest: str) -> str:
        folder = self.root / "quarantine"
        folder.mkdir(exist_ok=True)
        return f"{folder}/{digest[7:]}.{time.strftime('%Y%m%dT%H%M%S')}.{os.urandom(4).hex()}"

    def _keep_aside(self, digest: str, data: bytes) -> None:
        with contextlib.suppress(OSError):  # keeping a copy for inspection is a courtesy, not a duty
            with open(self._aside_path(digest), "xb") as f:
                f.write(data)

    def ping(self) -> None:
        """Raise StoreError unless the store's folder can be written (a readiness check)."""
        try:
            self._setup()
        except OSError as e:
            raise StoreError(f"the blob store folder {self.root} cannot be used: {e}") from None
        if not os.access(self._objects, os.W_OK | os.X_OK):
            raise StoreError(f"the blob store folder {self._objects} is not writable")

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


def _size_is(path: str, size: int) -> bool:
    """Whether ``path`` is a file of ``size`` bytes: one ``stat``, what an existence check
    costs, so the ingest of a present blob notices a truncated or missing copy for free."""
    try:
        return os.stat(path).st_size == size
    except FileNotFoundError:
        return False


def _digest_of(data: bytes | memoryview) -> str:
    h = hasher()
    h.update(data)
    return digest_of(h)


def _digest_of_stream(f: BlobReader) -> str:
    h = hasher()
    try:
        with f:
            while chunk := f.read(READ_SIZE):
                h.update(chunk)
    except BlobNotFoundError:
        return ""  # a chunk is missing: not the blob
    return digest_of(h)


class _Chained(io.RawIOBase):
    """Reads a chunked blob as one stream, opening its chunks one after another."""

    def __init__(self, store: LocalBlobStore, chunks: list[tuple[str, int]]) -> None:
        self._store = store
        self._chunks = iter(chunks)
        self._cur: BlobReader | None = None

    def skip(self, n: int) -> None:
        """Move ``n`` bytes on before the first read: whole chunks unopened, then a seek."""
        for digest, size in self._chunks:
            if n < size:
                self._cur = self._store.open(digest)
                self._cur.seek(n)
                return
            n -= size

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:  # any writable buffer, as RawIOBase.readinto takes
        while True:
            if self._cur is None:
                nxt = next(self._chunks, None)
                if nxt is None:
                    return 0
                self._cur = self._store.open(nxt[0])
            n = self._cur.readinto(b)
            if n:
                return n
            self._cur.close()
            self._cur = None

    def close(self) -> None:
        if self._cur is not None:
            self._cur.close()
        super().close()
