"""The stat cache: (path, size, mtime_ns, inode) -> digest, so unchanged files are not re-hashed.

A row is trusted only when all four match. Files modified less than ``RACY_S`` before they
were hashed are not cached: a write in the same filesystem clock tick could leave the
mtime unchanged (git's "racy" problem).

Single files get a row each. A folder (``add_dir``, a download root) is kept as snapshot
rows instead, one per *span*: a range [lo, hi) of its paths, which is how a caller that
walks the folder window by window (to hold a window's state, never the whole folder's)
reads and writes it. Reading 50,000 single rows back cost ~0.10-0.13 s (SQLite builds a
tuple a row, by IN lists or a range scan alike), looking them up in a snapshot ~0.035 s,
and a span that has not changed is not written again. The spans of a folder never
overlap: writing one trims the stored spans it overlaps, keeping what lies outside it.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from array import array
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar, TypeVarTuple

from ..storage.wal import rollback_journal

log = logging.getLogger(__name__)

RACY_S = 1.0
Sig = tuple[int, int, int]
Ts = TypeVarTuple("Ts")
T = TypeVar("T")
# [lo, hi) of the paths of a folder, as str order has them: lo "" is the first path,
# hi None runs past the last
Span = tuple[str, "str | None"]
WHOLE: Span = ("", None)


def signature(st: os.stat_result) -> tuple[int, int, int]:
    return (st.st_size, st.st_mtime_ns, st.st_ino)


def _b(s: str) -> bytes:
    # folder and path names as bytes: a Linux name need not be valid UTF-8, and sqlite3
    # refuses such a str
    return s.encode("utf-8", "surrogateescape")


def _s(b: bytes) -> str:
    return b.decode("utf-8", "surrogateescape")


def _overlaps(a: Span, b: Span) -> bool:
    return (a[1] is None or b[0] < a[1]) and (b[1] is None or a[0] < b[1])


class _Snap:
    """One stored span: its paths (sorted), flat signatures and digests."""

    __slots__ = ("span", "paths", "sigs", "digests")

    def __init__(self, span: Span, paths: list[str], sigs: array, digests: list[str]) -> None:
        self.span, self.paths, self.sigs, self.digests = span, paths, sigs, digests


class StatCache:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._local = threading.local()
        # bumped each time a damaged file is discarded: a thread's connection to the old file
        # is reopened rather than taken for damage of its own (which would discard the new one)
        self._generation = 0
        self._disabled = False  # a file that cannot be opened or removed: no cache this process
        self._discard_lock = threading.Lock()
        # per (folder, span) looked up: the signatures asked about, the digests found, and
        # whether the stored span already says exactly that
        self._folders: dict[tuple[str, Span], tuple[dict[str, Sig], dict[str, str], bool]] = {}

    def _db(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is not None and getattr(self._local, "generation", 0) != self._generation:
            conn.close()  # another thread discarded the file this connection has open
            conn = self._local.conn = None
        if conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            generation = self._generation
            conn = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            try:
                # a span is appended as one row: written once with a rollback journal, twice in WAL
                conn = rollback_journal(conn, self.path)
                # a cache: losing the tail is harmless, and a file damaged by a power loss
                # (which NORMAL allows in rollback mode) is discarded (see _guarded)
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER,"
                    " ino INTEGER, digest TEXT)"
                )
                conn.execute("DROP TABLE IF EXISTS folders")  # whole-folder snapshots, before spans
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS spans (root BLOB, lo BLOB, hi BLOB, n INTEGER, paths BLOB,"
                    " sigs BLOB, digests TEXT, PRIMARY KEY (root, lo))"
                )
            except BaseException:
                conn.close()
                raise
            self._local.conn, self._local.generation = conn, generation
        return conn

    def _guarded(self, fn: Callable[[], T], fallback: Callable[[], T]) -> T:
        """``fn()``; when the file turns out damaged (not a database, a malformed page: a
        power loss with ``synchronous=NORMAL`` can leave it so), it is discarded with a
        warning and ``fn()`` runs again on a new, empty one. A file that cannot be opened or
        removed at all turns the cache off for this process (``fallback()``): the cache only
        saves re-hashing, it never fails a command."""
        if self._disabled:
            return fallback()
        for attempt in range(2):
            try:
                return fn()
            except sqlite3.DatabaseError as e:
                if _damaged(e) and attempt == 0 and self._discard(e):
                    continue
                if _damaged(e) or _unusable(e):
                    log.warning("stat cache %s cannot be used (%s): files will be hashed again", self.path, e)
                    self._disabled = True
                    self._close()
                    return fallback()
                raise
        raise AssertionError("unreachable")

    def _discard(self, error: sqlite3.DatabaseError) -> bool:
        """Remove the damaged file (unless another thread already has); False if it cannot be."""
        with self._discard_lock:
            seen = getattr(self._local, "generation", self._generation)
            self._close()
            if seen != self._generation:
                return True  # another thread has replaced it already
            log.warning("stat cache %s is damaged (%s): discarded, it is rebuilt as files are hashed", self.path, error)
            try:
                for suffix in ("", "-journal", "-wal", "-shm"):
                    Path(f"{self.path}{suffix}").unlink(missing_ok=True)
            except OSError as e:
                log.warning("stat cache %s could not be removed (%s)", self.path, e)
                return False
            self._generation += 1
            self._folders.clear()
            return True

    def _close(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            try:
                conn.close()
            except sqlite3.Error:
                pass

    def lookup(self, items: dict[str, Sig], folder: str | None = None, span: Span = WHOLE) -> dict[str, str]:
        """Digests of the paths whose recorded signature equals the given one. With
        ``folder``, ``items`` are all the files of that folder within ``span`` (all of it
        by default), in path order; its snapshot is read first."""
        return self._guarded(lambda: self._lookup(items, folder, span), dict)

    def _lookup(self, items: dict[str, Sig], folder: str | None, span: Span) -> dict[str, str]:
        out: dict[str, str] = {}
        rest = items
        unchanged = False
        if folder is not None:
            snaps = self._snaps(folder, span)
            one = snaps[0] if len(snaps) == 1 else None
            if (
                one is not None
                and one.span == span
                and len(one.paths) == len(items)
                and list(items) == one.paths
                and _flat(items.values()) == one.sigs
            ):
                # the span as it was: one comparison of the whole of it (50,000 files: the
                # lookup takes ~0.035 s; building a dict to compare one by one took 0.12 s)
                out = dict(zip(one.paths, one.digests))
                rest, unchanged = {}, True
            else:
                known: dict[str, tuple[Sig, str]] = {}
                for s in snaps:
                    known.update(_by_path(s.paths, s.sigs, s.digests))
                get = known.get
                rest = {}
                for p, sig in items.items():
                    v = get(p)
                    if v is not None and v[0] == sig:
                        out[p] = v[1]
                    else:
                        rest[p] = sig
        out.update(self._lookup_rows(rest))
        if folder is not None:
            self._folders[(folder, span)] = (items, out, unchanged)
        return out

    def _lookup_rows(self, items: dict[str, Sig]) -> dict[str, str]:
        out: dict[str, str] = {}
        paths = list(items)
        if not paths:
            return out
        db = self._db()
        for i in range(0, len(paths), 900):
            part = paths[i : i + 900]
            q = f"SELECT path, size, mtime_ns, ino, digest FROM files WHERE path IN ({','.join('?' * len(part))})"
            for b, size, mtime, ino, digest in db.execute(q, [_b(p) for p in part]):
                p = _s(b)
                if items.get(p) == (size, mtime, ino):
                    out[p] = digest
        return out

    def record(
        self,
        rows: list[tuple[str, Sig, str]],
        written_by_us: bool = False,
        folder: str | None = None,
        span: Span = WHOLE,
    ) -> None:
        """Remember digests. Files just modified are skipped (racy), except files cairn has
        just written itself with verified bytes (downloads): only another writer within the
        same clock tick could make those stale, and a re-download of a folder that matches
        would otherwise re-hash every file (1 GiB: ~0.6 s).

        With ``folder``, after a ``lookup`` of the same span: the stored span becomes what
        that lookup matched plus ``rows``, written only if that differs from what it was."""
        now_ns = time.time_ns()
        keep = [(p, sig, d) for p, sig, d in rows if written_by_us or now_ns - sig[1] > RACY_S * 1e9]
        if folder is not None:
            items, found, unchanged = self._folders.pop((folder, span), ({}, {}, False))
            if unchanged and not keep:
                return
            matched = {p: (items[p], d) for p, d in found.items()}
            matched.update((p, (sig, d)) for p, sig, d in keep)
            self._write(self._put_span, folder, span, matched)
            return
        if keep:
            self._write(
                lambda db, rows: db.executemany("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?)", rows),
                [(_b(p), *sig, d) for p, sig, d in keep],
            )

    def _write(self, fn: Callable[[sqlite3.Connection, *Ts], object], *args: *Ts) -> None:
        self._guarded(lambda: self._write_once(fn, *args), lambda: None)

    def _write_once(self, fn: Callable[[sqlite3.Connection, *Ts], object], *args: *Ts) -> None:
        db = self._db()
        try:
            db.execute("BEGIN IMMEDIATE")
            fn(db, *args)
            db.execute("COMMIT")
        except sqlite3.OperationalError as e:
            if _unusable(e):
                raise  # _guarded turns the cache off
            # the cache is an optimisation: a locked cache never fails a log
            log.info("stat cache %s not updated (%s); files will be hashed again next time", self.path, e)
            try:
                db.execute("ROLLBACK")
            except sqlite3.OperationalError:
                pass

    def _put_span(self, db: sqlite3.Connection, folder: str, span: Span, files: dict[str, tuple[Sig, str]]) -> None:
        lo, hi = span
        # stored spans this one overlaps keep only what lies outside it
        for old in self._snaps(folder, span, db):
            db.execute("DELETE FROM spans WHERE root = ? AND lo = ?", (_b(folder), _b(old.span[0])))
            if old.span[0] < lo:
                self._insert(db, folder, (old.span[0], lo), _cut(old, old.span[0], lo))
            if hi is not None and (old.span[1] is None or hi < old.span[1]):
                self._insert(db, folder, (hi, old.span[1]), _cut(old, hi, old.span[1]))
        order = sorted(files)
        self._insert(db, folder, span, {p: files[p] for p in order})

    @staticmethod
    def _insert(db: sqlite3.Connection, folder: str, span: Span, files: dict[str, tuple[Sig, str]]) -> None:
        # in path order (a folder walk's and a manifest's order, so that an unchanged span
        # compares in one go); paths joined by NUL (no path holds one), signatures as
        # 64-bit integers
        paths = _b("\0".join(files))
        sigs = _flat(v[0] for v in files.values())
        digests = "\0".join(v[1] for v in files.values())
        db.execute(
            "INSERT OR REPLACE INTO spans VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                _b(folder),
                _b(span[0]),
                None if span[1] is None else _b(span[1]),
                len(files),
                paths,
                sigs.tobytes(),
                digests,
            ),
        )

    def _snaps(self, folder: str, span: Span, db: sqlite3.Connection | None = None) -> list[_Snap]:
        """The stored spans of ``folder`` that overlap ``span``, in order; damaged ones are
        left out (they only cost re-hashing)."""
        db = db or self._db()
        root = _b(folder)
        # the bounds first (a row per span), compared in Python: str order, not SQLite's
        wanted = [
            lo
            for lo, hi in db.execute("SELECT lo, hi FROM spans WHERE root = ?", (root,))
            if _overlaps(span, (_s(lo), None if hi is None else _s(hi)))
        ]
        out = []
        for lo in wanted:
            row = db.execute(
                "SELECT lo, hi, n, paths, sigs, digests FROM spans WHERE root = ? AND lo = ?", (root, lo)
            ).fetchone()
            snap = _decode(row) if row is not None else None
            if snap is not None:
                out.append(snap)
        out.sort(key=lambda s: s.span[0])
        return out

    def _read_folder(self, folder: str) -> dict[str, tuple[Sig, str]]:
        def read() -> dict[str, tuple[Sig, str]]:
            out: dict[str, tuple[Sig, str]] = {}
            for s in self._snaps(folder, WHOLE):
                out.update(_by_path(s.paths, s.sigs, s.digests))
            return out

        return self._guarded(read, dict)


def _damaged(e: sqlite3.DatabaseError) -> bool:
    """The file is not a database, or one with a malformed page."""
    code = getattr(e, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)


def _unusable(e: sqlite3.DatabaseError) -> bool:
    """The file cannot be opened, written or read at all (a folder in its place, no permission)."""
    code = getattr(e, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in (
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_READONLY,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_PERM,
    )


def _decode(row: tuple) -> _Snap | None:
    lo, hi, n, paths_b, sigs_b, digests_t = row
    try:
        paths = _s(paths_b).split("\0") if n else []
        sigs = array("q")
        sigs.frombytes(sigs_b)
        digests = digests_t.split("\0") if n else []
        span = (_s(lo), None if hi is None else _s(hi))
    except (AttributeError, TypeError, ValueError, UnicodeDecodeError):
        log.info("stat cache: skipped a damaged entry (span from %r)", lo)
        return None
    if not (len(paths) == len(digests) == n and len(sigs) == 3 * n):
        log.info("stat cache: skipped a damaged entry (span from %r)", lo)
        return None
    return _Snap(span, paths, sigs, digests)


def _cut(snap: _Snap, lo: str, hi: str | None) -> dict[str, tuple[Sig, str]]:
    """The part of ``snap`` within [lo, hi)."""
    return {
        p: v for p, v in _by_path(snap.paths, snap.sigs, snap.digests).items() if lo <= p and (hi is None or p < hi)
    }


def _by_path(paths: list[str], sigs: array, digests: list[str]) -> dict[str, tuple[Sig, str]]:
    it = iter(sigs)
    return dict(zip(paths, zip(zip(it, it, it), digests)))


def _flat(sigs: Iterable[Sig]) -> array[int]:
    return array("q", [x for sig in sigs for x in sig])
