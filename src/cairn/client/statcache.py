"""The stat cache: (path, size, mtime_ns, inode) -> digest, so unchanged files are not re-hashed.

A row is trusted only when all four match. Files modified less than ``RACY_S`` before they
were hashed are not cached: a write in the same filesystem clock tick could leave the
mtime unchanged (git's "racy" problem).

Single files get a row each. A whole folder (``add_dir``, a download root) is kept as one
snapshot row instead: reading 50,000 rows back cost ~0.10-0.13 s (SQLite builds a tuple a
row, by IN lists or a range scan alike), looking a folder up in its snapshot ~0.035 s, and
a folder that has not changed is not written again.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from array import array
from pathlib import Path

from ..storage.wal import enable_wal

RACY_S = 1.0
Sig = tuple[int, int, int]


def signature(st: os.stat_result) -> tuple[int, int, int]:
    return (st.st_size, st.st_mtime_ns, st.st_ino)


class StatCache:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._local = threading.local()
        # per folder looked up: the signatures asked about, the digests found, and whether
        # the stored snapshot already says exactly that
        self._folders: dict[str, tuple[dict[str, Sig], dict[str, str], bool]] = {}

    def _db(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            enable_wal(conn)
            conn.execute("PRAGMA synchronous=NORMAL")  # a cache: losing the tail is harmless
            conn.execute(
                "CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER,"
                " ino INTEGER, digest TEXT)"
            )
            conn.execute(
                "CREATE TABLE IF NOT EXISTS folders (root TEXT PRIMARY KEY, n INTEGER, paths BLOB, sigs BLOB,"
                " digests TEXT)"
            )
            self._local.conn = conn
        return conn

    def lookup(self, items: dict[str, Sig], folder: str | None = None) -> dict[str, str]:
        """Digests of the paths whose recorded signature equals the given one. With
        ``folder`` (the paths are that folder's files), its snapshot is read first."""
        out: dict[str, str] = {}
        rest = items
        unchanged = False
        if folder is not None:
            raw = self._folder_raw(folder)
            paths, sigs, digests = raw if raw else ([], array("q"), [])
            if len(paths) == len(items) and list(items) == paths and _flat(items.values()) == sigs:
                # the folder as it was: one comparison of the whole snapshot (50,000 files:
                # the lookup takes ~0.035 s; building a dict to compare one by one took 0.12 s)
                out = dict(zip(paths, digests))
                rest, unchanged = {}, True
            else:
                get = _by_path(paths, sigs, digests).get
                rest = {}
                for p, sig in items.items():
                    v = get(p)
                    if v is not None and v[0] == sig:
                        out[p] = v[1]
                    else:
                        rest[p] = sig
        out.update(self._lookup_rows(rest))
        if folder is not None:
            self._folders[folder] = (items, out, unchanged)
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
            for p, size, mtime, ino, digest in db.execute(q, part):
                if items[p] == (size, mtime, ino):
                    out[p] = digest
        return out

    def record(
        self, rows: list[tuple[str, Sig, str]], written_by_us: bool = False, folder: str | None = None
    ) -> None:
        """Remember digests. Files just modified are skipped (racy), except files cairn has
        just written itself with verified bytes (downloads): only another writer within the
        same clock tick could make those stale, and a re-download of a folder that matches
        would otherwise re-hash every file (1 GiB: ~0.6 s).

        With ``folder``, after a ``lookup`` of it: its snapshot becomes what that lookup
        matched plus ``rows``, and is written only if that differs from the stored one."""
        now_ns = time.time_ns()
        keep = [(p, sig, d) for p, sig, d in rows if written_by_us or now_ns - sig[1] > RACY_S * 1e9]
        if folder is not None:
            items, found, unchanged = self._folders.pop(folder, ({}, {}, False))
            if unchanged and not keep:
                return
            matched = {p: (items[p], d) for p, d in found.items()}
            matched.update((p, (sig, d)) for p, sig, d in keep)
            self._write(self._folder_row, folder, matched)
            return
        if keep:
            self._write(lambda db, rows: db.executemany("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?)", rows),
                        [(p, *sig, d) for p, sig, d in keep])

    def _write(self, fn, *args) -> None:  # noqa: ANN001
        db = self._db()
        try:
            db.execute("BEGIN IMMEDIATE")
            fn(db, *args)
            db.execute("COMMIT")
        except sqlite3.OperationalError:
            # the cache is an optimisation: a locked or broken cache never fails a log
            try:
                db.execute("ROLLBACK")
            except sqlite3.OperationalError:
                pass

    @staticmethod
    def _folder_row(db: sqlite3.Connection, folder: str, files: dict[str, tuple[Sig, str]]) -> None:
        # in path order (a folder walk's and a manifest's order, so that an unchanged folder
        # compares in one go); paths joined by NUL (no path holds one), signatures as
        # 64-bit integers
        order = sorted(files)
        paths = "\0".join(order).encode("utf-8", "surrogateescape")
        sigs = _flat(files[p][0] for p in order)
        digests = "\0".join(files[p][1] for p in order)
        db.execute("INSERT OR REPLACE INTO folders VALUES (?, ?, ?, ?, ?)", (folder, len(files), paths, sigs.tobytes(), digests))

    def _folder_raw(self, folder: str) -> tuple[list[str], array, list[str]] | None:
        """The stored snapshot of ``folder``: paths, flat signatures, digests; None if
        there is none or it is damaged."""
        row = self._db().execute("SELECT n, paths, sigs, digests FROM folders WHERE root = ?", (folder,)).fetchone()
        if row is None or not row[0]:
            return None
        n, paths_b, sigs_b, digests_t = row
        try:
            paths = paths_b.decode("utf-8", "surrogateescape").split("\0")
            sigs = array("q")
            sigs.frombytes(sigs_b)
            digests = digests_t.split("\0")
        except (AttributeError, ValueError, UnicodeDecodeError):
            return None
        if not (len(paths) == len(digests) == n and len(sigs) == 3 * n):
            return None
        return paths, sigs, digests

    def _read_folder(self, folder: str) -> dict[str, tuple[Sig, str]]:
        raw = self._folder_raw(folder)
        return {} if raw is None else _by_path(*raw)


def _by_path(paths: list[str], sigs: array, digests: list[str]) -> dict[str, tuple[Sig, str]]:
    it = iter(sigs)
    return dict(zip(paths, zip(zip(it, it, it), digests)))


def _flat(sigs) -> array:  # noqa: ANN001
    return array("q", [x for sig in sigs for x in sig])
