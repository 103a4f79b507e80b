"""Journal modes of SQLite databases: WAL when several processes open one at once, a
rollback journal for files that mostly grow at their end."""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path

log = logging.getLogger(__name__)


def enable_wal(conn: sqlite3.Connection, timeout: float = 60.0) -> None:
    """``PRAGMA journal_mode=WAL`` on ``conn``, waiting out other processes doing the same.

    Switching a new database to WAL needs an exclusive lock, and SQLite answers "database is
    locked" at once — without waiting for the busy timeout — when another connection holds a
    lock at that moment. That happens when several processes open a new store together
    (measured: 4 of 150 openings failed with 6 processes starting at once). WAL mode is
    stored in the file, so only the first openings ever wait here.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(0.005)


def rollback_journal(conn: sqlite3.Connection, path: Path, timeout: float = 60.0) -> sqlite3.Connection:
    """``conn`` (or a new connection replacing it, with the same busy timeout of 60 s) with
    the database in rollback-journal mode (TRUNCATE) when it can be: for files that mostly
    grow at their end (packed blobs, the stat cache).

    In WAL mode every byte is written twice (to the WAL, then by the checkpoint into the
    file): 50,000 x 1 KiB logged wrote 164 MiB to packs.sqlite and its WAL for 49 MiB. A
    rollback journal holds only the pages a transaction changes that were already in the file
    (index pages, the last page), never the appended ones, so those are written once. A
    commit is as durable as before when it returns: with ``synchronous=FULL`` the journal is
    synced before the file is written and the file is synced before the journal is cleared.

    A file in WAL mode (made by an earlier version) switches when no other connection has it
    open; the switch is tried without waiting (another connection holding the file keeps it
    in WAL mode, which is just as correct, only writes more). In rollback mode readers wait
    (the busy timeout) for a commit to finish instead of reading past it, and a writer's
    commit waits for open read statements: readers must not keep a cursor open for long.
    """
    if conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
        conn.close()  # this connection alone would keep the file in WAL mode
        probe = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            probe.execute("PRAGMA journal_mode=TRUNCATE")
        except sqlite3.OperationalError as e:
            if "locked" not in str(e):
                raise
            log.debug("%s stays in WAL mode: another connection has it open", path)
        finally:
            probe.close()
        conn = sqlite3.connect(path, timeout=timeout, isolation_level=None)
        if conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
            return conn
    conn.execute("PRAGMA journal_mode=TRUNCATE")  # per connection: no lock taken
    return conn
