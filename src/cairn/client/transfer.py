"""Moving bytes between local files and a blob store: ingest (hash + store in one read) and
download (verify every byte, write nothing outside the root, skip files that already match)."""

from __future__ import annotations

import itertools
import os
import stat as stat_mod
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple, Protocol, TypeVar

from ..core.digest import digest_of, hasher, is_content_digest
from ..core.errors import BlobNotFoundError, FileChangedError, IntegrityError, InvalidPathError, UsageError
from ..core.manifest import Entry
from ..core.names import all_canonical, normalize_path
from ..core.progress import NULL_TASK, Task, current
from ..storage.base import BlobReader, BlobStore, ChunkedCopies, SmallReads
from .hashing import READ_SIZE, hash_file
from .statcache import WHOLE, Sig, Span, StatCache, signature

T = TypeVar("T")

SMALL = 64 * 1024  # files below this are read whole and stored in batches
BATCH_FILES = 512  # small files per thread task: one task per file costs ~50 µs of pool overhead
# Small-file bytes held before a store write (one transaction of the local store). Each
# write also rewrites every page of the packs' digest index it touches, and digests are
# random: a batch touches index pages everywhere, so fewer, larger batches write less.
# 50,000 x 1 KiB logged: 8 MiB batches wrote 108 MiB, peak RSS 73 MiB; 32 MiB: 85 MiB
# written, 110 MiB RSS. (64 MiB held all of "small", peak 152 MiB.)
BATCH_BYTES = 32 << 20
# Files (or entries) a folder is logged or downloaded by: what is held per file is held for
# one window (two while the walk reads ahead), so memory does not grow with the folder.
# Peak RSS of `cairn artifact put` of 50,000 / 200,000 x 1 KiB files: 67 / 71 MiB (112 MiB
# at 50,000 with the folder held whole); `get` 48 / 49 MiB (99) (bench/extra.py memory).
WINDOW = 8192
# BLAKE3 and file I/O release the GIL. Logging "big" (1,000 x 1 MiB) on 2 cores with early
# writeback: 4 threads 1.03-1.16 s, 8 threads 1.50-1.86 s, 2 threads 0.93-1.36 s (bench/).
WORKERS = max(4, min(16, (os.cpu_count() or 2) * 2))


def _regular(path: str) -> os.stat_result:
    st = os.stat(path)
    if stat_mod.S_ISDIR(st.st_mode):
        raise IsADirectoryError(f"{path!r} is a directory; use add_dir for folders")
    if not stat_mod.S_ISREG(st.st_mode):
        raise UsageError(f"{path!r} is not a regular file (a device, pipe or socket); add regular files only")
    return st


def iter_files(root: str) -> Iterator[tuple[str, str, Sig]]:
    """(full path, '/'-separated relative path, stat signature) of every file below
    ``root``, in relative-path order, one folder listing held at a time.

    Uses the directory entries' types (symlinks to files are followed; broken links,
    sockets and the like are skipped); each signature is taken relative to the open
    folder. A folder sorts as its name plus "/", so that listing folders in that order
    yields every path in str order ("a-b" < "a/x" < "a0"), the order of a manifest.
    """
    stack = [iter(_listing(root, ""))]
    while stack:
        for _, full, rel, sig, is_dir in stack[-1]:
            if is_dir:
                stack.append(iter(_listing(full, rel + "/")))
                break  # into the folder; this listing's iterator resumes after it
            yield full, rel, sig
        else:
            stack.pop()


def _listing(folder: str, rel: str) -> list[tuple]:
    """(sort key, full path, relative path, signature, is a folder) of each entry of
    ``folder``, in walk order."""
    head = folder if folder.endswith("/") else folder + "/"
    found: list[tuple[str, str, str, tuple[int, int, int] | None, bool]] = []
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        with os.scandir(fd) as it:
            for d in it:
                name = d.name
                if d.is_dir():
                    found.append((name + "/", head + name, rel + name, None, True))
                elif d.is_file():
                    st = d.stat()
                    found.append((name, head + name, rel + name, (st.st_size, st.st_mtime_ns, st.st_ino), False))
    finally:
        os.close(fd)
    found.sort(key=lambda t: t[0])
    return found


def windows(items: Iterable[T], key: Callable[[T], str], size: int | None = None) -> Iterator[tuple[Span, list[T]]]:
    """``items`` (sorted by ``key``) in lists of ``size``, each with its span: [its first
    key, the next list's first key), the first one from "" and the last one open. The
    stat cache keeps a folder span by span, so a window's files are all it looks at."""
    size = size or WINDOW
    it = iter(items)
    cur = list(itertools.islice(it, size))
    lo = ""
    while True:
        nxt = list(itertools.islice(it, size))
        if not nxt:
            yield (lo, None), cur
            return
        hi = key(nxt[0])
        yield (lo, hi), cur
        cur, lo = nxt, hi


def stat_all(paths: list[str], taken: dict[str, tuple[int, int, int]] | None = None) -> dict[str, tuple[int, int, int]]:
    """The stat signature of each path (regular files only), reusing ``taken`` ones."""
    if taken:
        if len(taken) == len(paths) and list(taken) == paths:
            return taken  # a walk's window: already these paths, in this order
        try:
            return {p: taken[p] for p in paths}  # in the order of ``paths``
        except KeyError:
            pass
    taken = taken or {}
    sigs: dict[str, tuple[int, int, int]] = {}
    stat, is_reg = os.stat, stat_mod.S_ISREG
    for p in paths:  # inlined _regular + signature: 50,000 files, 0.23 s -> 0.17 s
        sig = taken.get(p)
        if sig is None:
            st = stat(p)
            if not is_reg(st.st_mode):
                _regular(p)  # raises the right error
            sig = (st.st_size, st.st_mtime_ns, st.st_ino)
        sigs[p] = sig
    return sigs


class Window(NamedTuple):
    """A window of a folder's files as stored, in columns (relative-path order)."""

    rels: list[str]
    fulls: list[str]
    digests: list[str]
    sizes: list[int]

    @classmethod
    def of(cls, files: list[tuple[str, str, Sig]], stored: dict[str, tuple[str, int]]) -> "Window":
        """From a window of ``iter_files`` and what storing it gave."""
        got = [stored[full] for full, _, _ in files]
        return cls(
            [rel for _, rel, _ in files], [full for full, _, _ in files], [g[0] for g in got], [g[1] for g in got]
        )


def ingest_windows(
    root: str, ingest: Callable[..., dict[str, tuple[str, int]]], label: str = "storing"
) -> Iterator[Window]:
    """The files of the folder ``root``, window by window, each window stored through
    ``ingest(paths, folder, sigs, span, task)`` (a client's own), reported as the
    progress task ``label``."""
    with current().task(label) as task:
        for span, files in windows(iter_files(root), lambda f: f[0]):
            sigs = {full: sig for full, _, sig in files}
            task.add_total(len(files), sum(sig[0] for sig in sigs.values()))
            yield Window.of(files, ingest(list(sigs), root, sigs, span, task))


def compare_tree(root: Path, entries: Iterable[Entry]) -> Iterator[tuple[str, Entry | None, str | None]]:
    """The files below ``root`` beside ``entries`` (in path order), both streamed, one
    folder listing held at a time: (relative path, its entry or None, its full path or
    None) for each path either has, in path order. No folder: every entry, without a file."""
    files = iter_files(str(root)) if os.path.isdir(root) else iter(())
    ents = iter(entries)
    f, e = next(files, None), next(ents, None)
    while f is not None or e is not None:
        if e is None or (f is not None and f[1] < e.path):
            assert f is not None
            yield f[1], None, f[0]
            f = next(files, None)
        elif f is None or e.path < f[1]:
            yield e.path, e, None
            e = next(ents, None)
        else:
            yield e.path, e, f[0]
            f, e = next(files, None), next(ents, None)


def _chunks(items: list, n: int) -> list[list]:
    return [items[i : i + n] for i in range(0, len(items), n)]


class Ingest:
    """Stores files, reading each at most once, window after window (``__call__``), with
    one writer thread storing each 8 MiB batch of small files while the next is read, from
    one window into the next; ``close`` waits until everything is stored.

    Files whose stat signature is cached and whose blob is already stored are not read. A
    large file that changes while it is read raises FileChangedError; a small one is read
    in one call, and what was read is what is stored.
    """

    def __init__(self, blobs: BlobStore, cache: StatCache | None) -> None:
        self.blobs, self.cache = blobs, cache
        self._pool = ThreadPoolExecutor(WORKERS)
        self._writer = ThreadPoolExecutor(1)
        self._batch: list[tuple[str, bytes]] = []
        self._batch_bytes = 0
        self._stored: Future | None = None  # the batch being written while the next one is read

    def __enter__(self) -> "Ingest":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close(store=exc[0] is None)

    def close(self, store: bool = True) -> None:
        try:
            if self._stored is not None:
                self._stored.result()
            if store:
                _put_missing(self.blobs, self._batch)
        finally:
            self._batch, self._stored = [], None
            self._pool.shutdown()
            self._writer.shutdown()

    def __call__(
        self,
        paths: list[str],
        folder: str | None = None,
        sigs: dict[str, tuple[int, int, int]] | None = None,
        span: Span = WHOLE,
        task: Task = NULL_TASK,
    ) -> dict[str, tuple[str, int]]:
        """{path: (digest, size)} of ``paths``. ``folder``: they are the files of that folder
        within ``span`` (the stat cache keeps it span by span); ``sigs``: their stat
        signatures, just taken by the caller's walk of it. Files done are reported to ``task``."""
        blobs, cache = self.blobs, self.cache
        sigs = stat_all(paths, sigs)
        known = cache.lookup(sigs, folder, span) if cache else {}
        present = blobs.has(set(known.values())) if known else set()
        out: dict[str, tuple[str, int]] = {}
        todo: list[str] = []
        for p in paths:
            d = known.get(p)
            if d is not None and d in present:
                out[p] = (d, sigs[p][0])
            else:
                todo.append(p)
        if len(out):
            task.advance(len(out), sum(size for _, size in out.values()))

        def read_small(batch: list[str]) -> list[tuple[str, str, bytes]]:
            got = []
            for p in batch:
                fd = os.open(p, os.O_RDONLY)
                try:
                    data = os.read(fd, SMALL)
                    while len(data) < sigs[p][0] and (more := os.read(fd, SMALL)):  # grew since stat
                        data += more
                finally:
                    os.close(fd)
                h = hasher()
                h.update(data)
                got.append((p, digest_of(h), data))
            return got

        def put_large(p: str) -> tuple[str, str, int]:
            digest, size = blobs.put_file(Path(p), sigs[p][0], task)  # reports its bytes as it reads
            check_unchanged(p, sigs[p])
            task.advance(1)
            return p, digest, size

        small = [p for p in todo if sigs[p][0] < SMALL]
        large = [p for p in todo if sigs[p][0] >= SMALL]
        fresh: list[tuple[str, tuple[int, int, int], str]] = []
        large_jobs = [self._pool.submit(put_large, p) for p in large]
        # Small files are read by this thread while the pool copies large ones: for 1 KiB
        # files, threads only fight over the GIL (50,000 files: 0.41 s on one thread with
        # os.read, 0.72 s on four, 1.46 s on eight with buffered open, on 2 cores).
        for got in map(read_small, _chunks(small, BATCH_FILES)):
            task.advance(len(got), sum(len(data) for _, _, data in got))
            for p, digest, data in got:
                out[p] = (digest, len(data))
                if len(data) == sigs[p][0]:
                    fresh.append((p, sigs[p], digest))
                self._batch.append((digest, data))
                self._batch_bytes += len(data)
            if self._batch_bytes >= BATCH_BYTES:
                # One writer thread stores a full batch (insert and durable commit) while
                # this one reads on; at most two batches are held. Logging "small":
                # 1.84 -> 1.72 s (medians of 4 interleaved CLI runs).
                if self._stored is not None:
                    self._stored.result()
                self._stored = self._writer.submit(_put_missing, blobs, self._batch)
                self._batch, self._batch_bytes = [], 0
        for job in large_jobs:
            p, digest, size = job.result()
            out[p] = (digest, size)
            fresh.append((p, sigs[p], digest))
        if cache:
            # before this window's last batch is stored: a digest the cache gives is used
            # only once the store says it holds the blob (``has`` above)
            cache.record(fresh, folder=folder, span=span)
        return out


def ingest(
    blobs: BlobStore,
    cache: StatCache | None,
    paths: list[str],
    folder: str | None = None,
    sigs: dict[str, tuple[int, int, int]] | None = None,
) -> dict[str, tuple[str, int]]:
    """Store each file, reading it at most once; returns {path: (digest, size)}. One
    window: see ``Ingest``. Reported as the progress task "storing"."""
    with Ingest(blobs, cache) as session, current().task("storing") as task:
        sigs = stat_all(paths, sigs)
        task.add_total(len(paths), sum(sig[0] for sig in sigs.values()))
        return session(paths, folder, sigs, task=task)


def _put_missing(blobs: BlobStore, batch: list[tuple[str, bytes]]) -> None:
    if batch:
        blobs.put_blobs(list(dict(batch).items()))  # the store skips what it holds, its own cheapest way


def check_unchanged(path: str, sig: tuple[int, int, int]) -> None:
    """``FileChangedError`` if the file at ``path`` no longer has the stat signature ``sig``."""
    if signature(os.stat(path)) != sig:
        raise FileChangedError(path, os.path.basename(path))


class _Dests:
    """Maps entry paths to files under ``root``, refusing any that would land outside it
    (``..``, absolute paths, or a symlinked folder inside the root)."""

    def __init__(self, root: Path) -> None:
        self.root = str(root)
        self.prefix = self.root if self.root.endswith(os.sep) else self.root + os.sep
        self.real_root = os.path.realpath(root)
        self._ok_dirs: dict[str, bool] = {"": True}

    def __call__(self, path: str) -> str:
        if normalize_path(path) != path:
            raise InvalidPathError(path, "not in canonical form")
        return self._place(path)

    def many(self, paths: list[str]) -> list[str]:
        """``[self(p) for p in paths]``, the canonical form checked in bulk."""
        if all_canonical(paths):
            return [self._place(p) for p in paths]
        return [self(p) for p in paths]

    def _place(self, path: str) -> str:
        parent = path.rpartition("/")[0]
        ok = self._ok_dirs.get(parent)
        if ok is None:
            real = os.path.realpath(os.path.join(self.root, parent))
            ok = real == self.real_root or real.startswith(self.real_root + os.sep)
            self._ok_dirs[parent] = ok
        if not ok:
            raise InvalidPathError(path, f"it would be written outside {self.root} (through a symlink)")
        return self.prefix + path  # a canonical path never starts with "/": same as os.path.join


def safe_dest(root: Path, path: str) -> Path:
    """Where ``path`` goes under ``root``; refuses anything that would land outside it."""
    return Path(_Dests(root)(path))


class Reader(Protocol):
    """Where the bytes of a download come from: the one object ``download`` is handed (the
    embedded store's ``StoreReader``, or the HTTP client's reader of one version).

    Progress goes to the ``Task`` that ``download`` opened ("downloading") and hands to
    ``fetch``; a reader reports the bytes it writes there, and nothing else."""

    workers: int  # files fetched at once (a network store waits on latency: more threads)
    small_batches: bool  # whether ``read_small`` serves many small blobs in one read

    def open(self, e: Entry) -> BlobReader:
        """A reader of the entry's bytes (blob or reference); the caller verifies them."""

    def prepare(self, entries: list[Entry]) -> None:
        """These entries are about to be fetched one by one (a client asks for all their
        URLs in one call)."""

    def fetch(self, e: Entry, dest: str, task: Task) -> bool:
        """Write the entry's verified bytes to ``dest``, reporting bytes to ``task``; False
        when this reader has no faster way than copying what ``open`` gives."""

    def read_small(self, digests: list[str]) -> dict[str, bytes]:
        """The bytes of those of ``digests`` the store holds, in one read (only called when
        ``small_batches``)."""


class StoreReader:
    """``Reader`` of a blob store the process opens itself (the embedded client's)."""

    def __init__(self, blobs: BlobStore, workers: int = WORKERS) -> None:
        self.blobs, self.workers = blobs, workers
        self.small_batches = isinstance(blobs, SmallReads)

    def open(self, e: Entry) -> BlobReader:
        if e.ref is not None:
            from .references import open_reference

            return open_reference(e)
        return self.blobs.open(e.digest)

    def prepare(self, entries: list[Entry]) -> None:
        pass

    def fetch(self, e: Entry, dest: str, task: Task) -> bool:
        # a large file the store keeps as chunks: copied from them on several threads
        return (
            e.ref is None
            and isinstance(self.blobs, ChunkedCopies)
            and self.blobs.copy_chunked(e.digest, e.size, dest, task)
        )

    def read_small(self, digests: list[str]) -> dict[str, bytes]:
        assert isinstance(self.blobs, SmallReads)
        return self.blobs.read_small(digests)


def download(entries: Iterable[Entry], root: Path, reader: Reader, cache: StatCache | None) -> int:
    """Materialise ``entries`` (sorted by path) under ``root``, window by window; returns
    how many files were written or found matching.

    Files already there with the right content (stat cache, else size + hash) are left
    alone. Small blobs are read many at once where the reader can; ``reader.workers``
    threads fetch the others, after ``reader.prepare`` has seen the list of them. Reported
    as the progress task "downloading": files when each is in place, bytes as they are
    written (files already there count as done).
    """
    root = Path(root)
    new_root = not root.exists()
    if not new_root and not root.is_dir():
        raise UsageError(f"cannot download into {root}: it is a file, not a folder; choose a folder (or a new path)")
    root.mkdir(parents=True, exist_ok=True)
    count = 0
    with ThreadPoolExecutor(reader.workers) as pool, current().task("downloading") as task:
        run = _Download(root, new_root, reader, cache, pool, task)
        for span, window in windows(entries, lambda e: run.dests.prefix + e.path):
            count += len(window)
            task.add_total(len(window), sum(e.size for e in window))
            run.window(window, span)
    return count


class _Download:
    """One download's state across its windows: where files go, the folders made, the
    reader, the stat cache, the fetching threads and the progress task."""

    def __init__(
        self, root: Path, new_root: bool, reader: Reader, cache: StatCache | None, pool: ThreadPoolExecutor, task: Task
    ) -> None:
        self.dests = _Dests(root)
        self.new_root = new_root  # a folder made just now holds nothing to compare
        self.reader, self.cache, self.pool, self.task = reader, cache, pool, task
        self.made_dirs: set[str] = set()

    def window(self, entries: list[Entry], span: Span) -> None:
        paths = [e.path for e in entries]
        dests = dict(zip(paths, self.dests.many(paths)))
        sigs: dict[str, tuple[int, int, int]] = {}
        for e in () if self.new_root else entries:
            d = dests[e.path]
            try:
                st = os.stat(d)
            except (FileNotFoundError, NotADirectoryError):
                continue
            if stat_mod.S_ISREG(st.st_mode):
                sigs[d] = (st.st_size, st.st_mtime_ns, st.st_ino)  # signature(), inlined
        folder = self.dests.root
        known = self.cache.lookup(sigs, folder, span) if self.cache else {}
        fresh: list[tuple[str, tuple[int, int, int], str]] = []
        todo: list[Entry] = []
        for e in entries:
            d = dests[e.path]
            if d in sigs and is_content_digest(e.digest):
                if known.get(d) == e.digest:
                    continue
                if sigs[d][0] == e.size and hash_file(Path(d)) == e.digest:
                    fresh.append((d, sigs[d], e.digest))
                    continue
            todo.append(e)
        if len(todo) < len(entries):
            self.task.advance(len(entries) - len(todo), sum(e.size for e in entries) - sum(e.size for e in todo))

        batched = self.reader.small_batches
        small = [e for e in todo if batched and e.ref is None and e.size < SMALL]
        rest = [e for e in todo if not (batched and e.ref is None and e.size < SMALL)]
        if rest:
            self.reader.prepare(rest)
        jobs = [self.pool.submit(self._one, e, dests[e.path]) for e in rest]
        for b in _chunks(small, BATCH_FILES):  # on this thread: for tiny files threads only add GIL contention
            fresh += self._small_batch(b, dests, sigs)
        for j in jobs:
            fresh += j.result()
        if self.cache:
            self.cache.record(fresh, written_by_us=True, folder=folder, span=span)

    def _ensure_dir(self, d: str) -> None:
        parent = d.rpartition(os.sep)[0]  # d is root + "/" + a canonical path
        if parent not in self.made_dirs:
            if os.path.isdir(d):
                raise IsADirectoryError(f"cannot write artifact file {d!r}: a folder is in the way")
            os.makedirs(parent, exist_ok=True)
            self.made_dirs.add(parent)

    def _small_batch(
        self, batch: list[Entry], dests: dict[str, str], sigs: dict[str, tuple[int, int, int]]
    ) -> list[tuple[str, tuple[int, int, int], str]]:
        datas = self.reader.read_small([e.digest for e in batch])
        done = []
        for e in batch:
            data = datas.get(e.digest)
            d = dests[e.path]
            if data is None:
                done += self._one(e, d)
                continue
            h = hasher()
            h.update(data)
            _verify(e, digest_of(h), len(data))
            self._ensure_dir(d)
            done.append((d, _write_new(d, data, exists=d in sigs), e.digest))
            self.task.advance(1, len(data))
        return done

    def _one(self, e: Entry, d: str) -> list[tuple[str, tuple[int, int, int], str]]:
        self._ensure_dir(d)
        _fetch(e, Path(d), self.reader, self.task)
        self.task.advance(1)
        return [(d, signature(os.stat(d)), e.digest)] if is_content_digest(e.digest) else []


def _write_new(dest: str, data: bytes, exists: bool) -> tuple[int, int, int]:
    """Write verified bytes to ``dest``; returns the written file's stat signature. A new
    file is written in place (a rename per file doubles the metadata work of downloading
    50,000 small files; a crash leaves a short file that the next download sees does not
    match); an existing one is replaced through a temp name so it is never seen half-written."""
    if not exists:
        try:
            fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            pass
        else:
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                return signature(os.fstat(fd))  # no second path lookup per file
            finally:
                os.close(fd)
    tmp = f"{dest}.cairn-{os.urandom(4).hex()}"
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, dest)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return signature(os.stat(dest))


def _verify(e: Entry, got: str, size: int) -> None:
    if is_content_digest(e.digest) and got != e.digest:
        raise IntegrityError(
            f"artifact file {e.path!r} is corrupt: expected {e.digest}, got {got} ({size} bytes)",
            path=e.path,
            digest=e.digest,
        )


# What a store says of a blob that a reader found wrong (``Client.report_damaged``).
SET_ASIDE, MISSING, INTACT = "set aside", "missing", "intact"


def damage_error(err: IntegrityError, report: Callable[[str], str]) -> IntegrityError:
    """The error to raise for ``err`` (a stored file that read wrong or not at all) once the
    store has been told: it re-checks its copy and sets a damaged one aside, so that the
    next ingest of the same bytes stores them again. Errors about references (not bytes of
    the store) are returned as they are."""
    digest, path = err.digest, err.path
    if path is None or digest is None or not is_content_digest(digest):
        return err
    state = report(digest)
    if state == INTACT:
        msg = f"artifact file {path!r} arrived corrupt (blob {digest}) but the store's copy checks out: try again"
    else:
        what = (
            "is corrupt in the store: its stored copy (blob {d}) was damaged and has been set aside"
            if state == SET_ASIDE
            else "is missing from the store (blob {d})"
        ).format(d=digest)
        msg = (
            f"artifact file {path!r} {what}. Log the same file again (from any run, in any "
            "artifact): its bytes are stored anew and this version reads right again. Or restore "
            "the store from a backup"
        )
    return IntegrityError(msg, path=path, digest=digest)


def copy_verified(e: Entry, src: BlobReader, dest: str | Path, task: Task = NULL_TASK) -> None:
    """Copy ``src`` to ``dest`` while hashing (bytes reported to ``task``); IntegrityError
    unless it is ``e``'s content."""
    h = hasher()
    size = 0
    with src, open(dest, "wb") as out:
        while chunk := src.read(READ_SIZE):
            h.update(chunk)
            out.write(chunk)
            size += len(chunk)
            task.advance(nbytes=len(chunk))
    try:
        _verify(e, digest_of(h), size)
    except IntegrityError:
        task.advance(nbytes=-size)  # a caller may fetch it again; count its bytes once
        raise


def _fetch(e: Entry, dest: Path, reader: Reader, task: Task = NULL_TASK) -> None:
    if dest.is_dir():
        raise IsADirectoryError(f"cannot write artifact file {e.path!r}: {dest} is a directory")
    tmp = dest.parent / f".{dest.name}.cairn-{os.urandom(4).hex()}"
    try:
        if not reader.fetch(e, str(tmp), task):
            copy_verified(e, reader.open(e), tmp, task)
        os.replace(tmp, dest)
    except BlobNotFoundError as err:
        if e.ref is not None:
            raise
        # said of the entry, so the client can tell the store which blob it could not read
        raise IntegrityError(
            f"artifact file {e.path!r} is missing from the store: {err}", path=e.path, digest=e.digest
        ) from err
    except IntegrityError as err:
        if err.path is not None or e.ref is not None:
            raise
        raise IntegrityError(f"artifact file {e.path!r}: {err}", path=e.path, digest=e.digest) from err
    finally:
        if tmp.exists():
            tmp.unlink()
