"""The stat cache: (path, size, mtime_ns, inode) -> digest, so unchanged files are not re-hashed.

A row is trusted only when all four match. Files modified less than ``RACY_S`` before they
were hashed are not cached: a write in the same filesystem clock tick could leave the
mtime unchanged (git's "racy" problem).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path

from ..storage.wal import enable_wal

RACY_S = 1.0


def signature(st: os.stat_result) -> tuple[int, int, int]:
    return (st.st_size, st.st_mtime_ns, st.st_ino)


class StatCache:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._local = threading.local()

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
            self._local.conn = conn
        return conn

    def lookup(self, items: dict[str, tuple[int, int, int]]) -> dict[str, str]:
        """Digests of the paths whose recorded signature equals the given one."""
        out: dict[str, str] = {}
        paths = list(items)
        db = self._db()
        for i in range(0, len(paths), 900):
            part = paths[i : i + 900]
            q = f"SELECT path, size, mtime_ns, ino, digest FROM files WHERE path IN ({','.join('?' * len(part))})"
            for p, size, mtime, ino, digest in db.execute(q, part):
                if items[p] == (size, mtime, ino):
                    out[p] = digest
        return out

    def record(self, rows: list[tuple[str, tuple[int, int, int], str]], written_by_us: bool = False) -> None:
        """Remember digests. Files just modified are skipped (racy), except files cairn has
        just written itself with verified bytes (downloads): only another writer within the
        same clock tick could make those stale, and a re-download of a folder that matches
        would otherwise re-hash every file (1 GiB: ~0.6 s)."""
        now_ns = time.time_ns()
        keep = [(p, *sig, d) for p, sig, d in rows if written_by_us or now_ns - sig[1] > RACY_S * 1e9]
        if not keep:
            return
        db = self._db()
        try:
            db.execute("BEGIN IMMEDIATE")
            db.executemany("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?)", keep)
            db.execute("COMMIT")
        except sqlite3.OperationalError:
            # the cache is an optimisation: a locked or broken cache never fails a log
            try:
                db.execute("ROLLBACK")
            except sqlite3.OperationalError:
                pass
