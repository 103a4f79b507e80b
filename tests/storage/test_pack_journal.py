"""packs.sqlite and the stat cache in rollback-journal mode (``storage.wal.rollback_journal``).

Small blobs are appended to packs.sqlite; in WAL mode each was written twice (WAL, then the
checkpoint). A new pack file is made in TRUNCATE mode with 8 KiB pages; a pack file made in
WAL mode by an earlier version switches when its opener is alone and stays in WAL mode,
without waiting, when another connection holds it. Either way every blob reads back.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import blake3
import pytest

from together import run_together
from cairn.client.statcache import StatCache
from cairn.storage.blobs.local import PACK_PAGE, LocalBlobStore


def _digest(data: bytes) -> str:
    return "blake3:" + blake3.blake3(data).hexdigest()


def _blobs(n: int, size: int = 1024, seed: int = 0) -> list[tuple[str, bytes]]:
    out = []
    for i in range(n):
        data = (f"{seed}-{i}-".encode() * size)[:size]
        out.append((_digest(data), data))
    return out


def _is_wal(path: Path) -> bool:
    """Bytes 18 and 19 of a SQLite file are 2 in WAL mode, 1 in rollback-journal mode."""
    with open(path, "rb") as f:
        header = f.read(20)
    return header[18:20] == b"\x02\x02"


def _written_once_setup(root: Path) -> tuple[LocalBlobStore, list[tuple[str, bytes]]]:
    store = LocalBlobStore(root)
    items = _blobs(3000)
    store.put_blobs(items[:1500])
    store.put_blobs(items[1500:])
    return store, items


def test_a_new_pack_file_keeps_no_wal_and_reads_back(tmp_path):
    store, items = _written_once_setup(tmp_path / "blobs")
    pack = tmp_path / "blobs" / "packs.sqlite"
    assert not _is_wal(pack)
    assert not (tmp_path / "blobs" / "packs.sqlite-wal").exists()
    conn = sqlite3.connect(pack)
    assert conn.execute("PRAGMA page_size").fetchone()[0] == PACK_PAGE
    assert conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # incremental, as before
    conn.close()
    # 3,000 x 1 KiB: rows (7 a page) and the digest index in 1.25x the data; with 4 KiB
    # pages (3 rows a page) it was 1.45x
    assert pack.stat().st_size < 1.3 * 3000 * 1024
    store.close()
    again = LocalBlobStore(tmp_path / "blobs")
    assert again.read_small([d for d, _ in items]) == dict(items)
    assert again.has(d for d, _ in items) == {d for d, _ in items}


def test_a_commit_that_returned_is_in_the_file(tmp_path):
    """Durability: after put_blobs returns, the rows are in packs.sqlite itself (no WAL to
    replay) and the journal is empty, so a copy of the file alone (what survives a crash
    once the commit's fsync returned) holds them."""
    store, items = _written_once_setup(tmp_path / "blobs")
    journal = tmp_path / "blobs" / "packs.sqlite-journal"
    assert not journal.exists() or journal.stat().st_size == 0
    copy = tmp_path / "copy.sqlite"
    copy.write_bytes((tmp_path / "blobs" / "packs.sqlite").read_bytes())
    conn = sqlite3.connect(copy)
    assert conn.execute("SELECT count(*) FROM blobs").fetchone()[0] == len(items)
    assert conn.execute("PRAGMA synchronous").fetchone()[0] in (1, 2)  # a fresh connection's own
    conn.close()
    conn = store._db()
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL on the store's connection
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "truncate"


def _old_wal_pack(root: Path, items: list[tuple[str, bytes]]) -> Path:
    """A pack file the way earlier versions made it: WAL mode, 4 KiB pages."""
    root.mkdir(parents=True)
    pack = root / "packs.sqlite"
    conn = sqlite3.connect(pack, isolation_level=None)
    conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE blobs (digest TEXT PRIMARY KEY, data BLOB NOT NULL)")
    conn.execute("CREATE TABLE recipes (digest TEXT PRIMARY KEY, size INTEGER NOT NULL, chunks TEXT NOT NULL)")
    conn.executemany("INSERT INTO blobs VALUES (?, ?)", items)
    conn.close()
    assert _is_wal(pack)
    return pack


def test_a_wal_pack_file_switches_when_alone(tmp_path):
    old = _blobs(500, seed=1)
    pack = _old_wal_pack(tmp_path / "blobs", old)
    store = LocalBlobStore(tmp_path / "blobs")
    new = _blobs(500, seed=2)
    store.put_blobs(new)
    assert not _is_wal(pack)
    assert store.read_small([d for d, _ in old + new]) == dict(old + new)


@pytest.mark.timeout(30)  # the switch must not wait for the holder (the busy timeout is 60 s)
def test_a_wal_pack_file_held_by_another_connection_stays_wal(tmp_path):
    old = _blobs(500, seed=1)
    pack = _old_wal_pack(tmp_path / "blobs", old)
    holder = sqlite3.connect(pack, isolation_level=None)
    assert holder.execute("SELECT count(*) FROM blobs").fetchone()[0] == 500  # open, in WAL mode
    store = LocalBlobStore(tmp_path / "blobs")
    new = _blobs(500, seed=2)
    store.put_blobs(new)
    assert _is_wal(pack)
    assert store._db().execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert holder.execute("SELECT count(*) FROM blobs").fetchone()[0] == 1000  # each sees the other's rows
    assert store.read_small([d for d, _ in old + new]) == dict(old + new)
    holder.close()


def test_the_stat_cache_keeps_no_wal(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.bin").write_bytes(b"a" * 10)
    st = os.stat(data / "a.bin")
    sig = (st.st_size, st.st_mtime_ns, st.st_ino)
    cache = StatCache(tmp_path / "cache" / "statcache.sqlite")
    cache.record([(str(data / "a.bin"), sig, _digest(b"a" * 10))], written_by_us=True)
    assert not _is_wal(tmp_path / "cache" / "statcache.sqlite")
    again = StatCache(tmp_path / "cache" / "statcache.sqlite")
    assert again.lookup({str(data / "a.bin"): sig}) == {str(data / "a.bin"): _digest(b"a" * 10)}


# Each child opens the database the way the blob store does (rollback_journal on a new file)
# and writes, once every child is ready (tests/together.py).
BODY = r"""
conn = sqlite3.connect(db, timeout=60, isolation_level=None)
if conn.execute("PRAGMA page_count").fetchone()[0] == 0:
    conn.execute("PRAGMA page_size=8192")
    conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
conn = wal.rollback_journal(conn, db)
conn.execute("PRAGMA synchronous=FULL")
conn.execute("CREATE TABLE IF NOT EXISTS blobs (digest TEXT PRIMARY KEY, data BLOB NOT NULL)")
for n in range(20):
    list(conn.execute("SELECT digest FROM blobs WHERE digest = ?", (str(n),)))
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT OR IGNORE INTO blobs VALUES (?, ?)", (f"{os.getpid()}-{n}", b"x" * 1000))
    conn.execute("COMMIT")
print(conn.execute("PRAGMA journal_mode").fetchone()[0])
"""


@pytest.mark.slow  # 60 processes
@pytest.mark.timeout(300)  # every child ends on its own; the guard is against one waiting forever
def test_many_processes_open_and_write_a_new_pack_file_together(tmp_path):
    for trial in range(10):
        folder = tmp_path / f"t{trial}"
        folder.mkdir()
        db = folder / "packs.sqlite"
        for rc, out, err in run_together(folder, BODY, db, timeout=120):
            assert rc == 0, f"trial {trial}: {err}"
            assert out.strip() == "truncate"
        conn = sqlite3.connect(db)
        assert conn.execute("SELECT count(*) FROM blobs").fetchone()[0] == 6 * 20
        assert conn.execute("PRAGMA page_size").fetchone()[0] == 8192
        conn.close()
