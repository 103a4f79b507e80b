"""Several processes opening a new SQLite store at once all get WAL mode, none fails.

SQLite answers "database is locked" at once (no busy timeout) to a connection switching a
new database to WAL while another process holds a lock; ``storage.wal.enable_wal`` waits
that out. Before it, about 1 opening in 40 failed this way with 6 processes starting together.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import cairn.storage.wal as wal
from together import run_together

# Each child opens the database the way the blob store and stat cache do and writes, once
# every child is ready (tests/together.py).
BODY = r"""
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
        for rc, out, err in run_together(folder, BODY, folder / "packs.sqlite"):
            assert rc == 0, f"trial {trial}: {err}"
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
