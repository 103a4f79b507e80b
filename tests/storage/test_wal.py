"""Several processes opening a new SQLite store at once all get WAL mode, none fails.

SQLite answers "database is locked" at once (no busy timeout) to a connection switching a
new database to WAL while another process holds a lock; ``storage.wal.enable_wal`` waits
that out. Before it, about 1 opening in 40 failed this way with 6 processes starting together.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

import cairn.storage.wal as wal

# Each child loads wal.py on its own (no cairn import: it starts in milliseconds), says it is
# ready (a file of its own), waits for the go file, then opens the database the way the blob
# store and stat cache do and writes. The parent touches go once every child is ready.
CHILD = r"""
import importlib.util, os, sqlite3, sys, time
spec = importlib.util.spec_from_file_location("wal", sys.argv[1])
wal = importlib.util.module_from_spec(spec)
spec.loader.exec_module(wal)
db, go, ready = sys.argv[2], sys.argv[3], sys.argv[4]
open(ready, "w").close()
while not os.path.exists(go):
    time.sleep(0.0005)
conn = sqlite3.connect(db, timeout=60, isolation_level=None)
wal.enable_wal(conn)
conn.execute("CREATE TABLE IF NOT EXISTS blobs (digest TEXT PRIMARY KEY, data BLOB NOT NULL)")
for n in range(20):
    list(conn.execute("SELECT digest FROM blobs WHERE digest = ?", (str(n),)))
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT OR IGNORE INTO blobs VALUES (?, ?)", (f"{os.getpid()}-{n}", b"x"))
    conn.execute("COMMIT")
print(conn.execute("PRAGMA journal_mode").fetchone()[0])
"""


@pytest.mark.slow  # 120 processes
@pytest.mark.timeout(300)  # every child ends on its own; the guard is against one waiting forever
def test_many_processes_open_a_new_database_together(tmp_path):
    for trial in range(20):
        folder = tmp_path / f"t{trial}"
        folder.mkdir()
        db, go = folder / "packs.sqlite", folder / "go"
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", CHILD, wal.__file__, str(db), str(go), str(folder / f"ready{i}")],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for i in range(6)
        ]
        while sum(1 for _ in folder.glob("ready*")) < len(procs):  # the barrier: all six are waiting
            assert all(p.poll() is None for p in procs), [p.communicate() for p in procs if p.poll() is not None]
            time.sleep(0.001)
        go.touch()
        for p in procs:
            out, err = p.communicate(timeout=60)
            assert p.returncode == 0, f"trial {trial}: {err}"
            assert out.strip() == "wal"


def test_other_errors_are_not_retried(tmp_path):
    import sqlite3

    conn = sqlite3.connect(tmp_path / "x.sqlite")
    conn.close()
    try:
        wal.enable_wal(conn)
    except sqlite3.ProgrammingError as e:
        assert "closed" in str(e)
    else:
        raise AssertionError("a closed connection must fail")


class _Counting:
    """A connection that counts the statements run on it."""

    def __init__(self, conn) -> None:  # noqa: ANN001
        self.conn, self.calls = conn, 0

    def execute(self, sql: str):  # noqa: ANN201
        self.calls += 1
        return self.conn.execute(sql)


@pytest.mark.timeout(60)  # "bounded": the call returns (with the error) instead of waiting forever
def test_waiting_is_bounded(tmp_path):
    import sqlite3

    db = Path(tmp_path / "held.sqlite")
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN EXCLUSIVE")
    other = sqlite3.connect(db, timeout=0, isolation_level=None)
    counting = _Counting(other)
    try:
        wal.enable_wal(counting, timeout=0.2)  # type: ignore[arg-type]
    except sqlite3.OperationalError as e:
        assert "locked" in str(e)
    else:
        raise AssertionError("a database held exclusively cannot switch to WAL")
    assert counting.calls > 1  # it waited (tried again) before giving up
    holder.execute("COMMIT")
    wal.enable_wal(other, timeout=5)
    assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
