"""The embedded metadata store on the standard sqlite3 module: its bad paths (a file that
is not a database, a lock held past the busy timeout, an error inside a transaction), its
connection reuse across threads and forks, and that the embedded path never imports
SQLAlchemy (~0.19 s of every command's start-up)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from cairn.core.errors import StoreError
from cairn.storage.meta import sql
from cairn.storage.meta.sql import MetaStore
from cairn.storage.meta.tx import as_utc, insert, insert_ignore


def test_a_file_that_is_not_a_database_is_a_store_error_naming_it(tmp_path: Path):
    path = tmp_path / "meta.sqlite"
    path.write_bytes(b"this is not SQLite " * 100)
    with pytest.raises(StoreError) as err:
        MetaStore.sqlite(path).open()
    assert str(path) in str(err.value) and "not a database" in str(err.value)
    assert path.read_bytes() == b"this is not SQLite " * 100  # left as it was


def test_an_unusable_folder_is_a_store_error(tmp_path: Path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError) as err:
        MetaStore.sqlite(blocker / "meta.sqlite").open()
    assert str(blocker) in str(err.value)


def test_a_lock_held_past_the_busy_timeout_is_a_store_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    meta = MetaStore.sqlite(tmp_path / "meta.sqlite")
    meta.open()
    holder = sqlite3.connect(tmp_path / "meta.sqlite", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        monkeypatch.setattr(sql, "BUSY_TIMEOUT_S", 0.2)
        other = MetaStore.sqlite(tmp_path / "meta.sqlite")
        with pytest.raises(StoreError) as err:
            with other.write() as tx:
                tx.execute("DELETE FROM chunks")
        assert "locked" in str(err.value) and "meta.sqlite" in str(err.value)
        other.dispose()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    meta.put_chunks({"k": b"v"})  # the store is fine afterwards
    assert meta.get_chunks(["k"]) == {"k": b"v"}
    meta.dispose()


def test_an_error_inside_a_write_rolls_everything_back(tmp_path: Path):
    meta = MetaStore.sqlite(tmp_path / "meta.sqlite")
    with pytest.raises(RuntimeError):
        with meta.write() as tx:
            insert_ignore(tx, "chunks", [{"key": "a", "data": b"1"}, {"key": "b", "data": b"2"}])
            raise RuntimeError("boom")
    assert meta.get_chunks(["a", "b"]) == {}
    with meta.write() as tx:  # the pooled connection is usable again
        insert_ignore(tx, "chunks", {"key": "a", "data": b"1"})
    assert meta.get_chunks(["a", "b"]) == {"a": b"1"}
    meta.dispose()


def test_reclaim_space_gives_every_free_page_back(tmp_path: Path):
    """gc's last step: the pages of removed rows go back to the disk, all of them (the sqlite3
    module runs incremental_vacuum one page per call)."""
    meta = MetaStore.sqlite(tmp_path / "meta.sqlite")
    sql_rows = [{"key": f"k{i}", "data": os.urandom(3000)} for i in range(200)]
    with meta.write() as tx:
        sql.insert_ignore(tx, "chunks", sql_rows)
    with meta.write() as tx:
        full = tx.scalar("PRAGMA page_count")
        tx.execute("DELETE FROM chunks")
        freed = tx.scalar("PRAGMA freelist_count")
        assert freed >= 150
    meta.reclaim_space()
    with meta.read() as tx:
        assert tx.scalar("PRAGMA freelist_count") == 0 and tx.scalar("PRAGMA page_count") == full - freed
        page = tx.scalar("PRAGMA page_size")
    assert (tmp_path / "meta.sqlite").stat().st_size == (full - freed) * page  # the log was checkpointed
    meta.dispose()


def test_rows_have_names_and_times_come_back_utc(tmp_path: Path):
    meta = MetaStore.sqlite(tmp_path / "meta.sqlite")
    with meta.write() as tx:
        insert(tx, "projects", {"entity": "e", "name": "p", "created_at": tx.now()})
        row = tx.first("SELECT id, entity, name AS project, created_at FROM projects")
    assert (row.entity, row.project, row[1]) == ("e", "p", "e")
    when = as_utc(row.created_at)
    assert when.tzinfo is not None and when.utcoffset().total_seconds() == 0
    meta.dispose()


def test_threads_share_the_store_without_sharing_a_transaction(tmp_path: Path):
    meta = MetaStore.sqlite(tmp_path / "meta.sqlite")
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            for n in range(20):
                meta.put_chunks({f"{i}-{n}": b"x"})
                assert meta.get_chunks([f"{i}-{n}"]) == {f"{i}-{n}": b"x"}
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(meta.get_chunks([f"{i}-{n}" for i in range(8) for n in range(20)])) == 160
    meta.dispose()


def test_a_forked_child_opens_its_own_connections(tmp_path: Path):
    meta = MetaStore.sqlite(tmp_path / "meta.sqlite")
    meta.put_chunks({"parent": b"1"})  # leaves an idle connection in the pool
    pid = os.fork()
    if pid == 0:  # child: must not touch the parent's connection
        code = 1
        try:
            meta.put_chunks({"child": b"2"})
            code = 0 if meta.get_chunks(["parent", "child"]) == {"parent": b"1", "child": b"2"} else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert meta.get_chunks(["child"]) == {"child": b"2"}
    meta.dispose()


def test_the_embedded_store_never_imports_sqlalchemy(tmp_path: Path):
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "a.txt").write_text("hello")
    script = (
        "import sys, cairn\n"
        "run = cairn.init(project='p')\n"
        "art = cairn.Artifact('d', type='dataset')\n"
        f"art.add_dir({str(folder)!r})\n"
        "run.log_artifact(art)\n"
        "run.finish()\n"
        f"cairn.Api().artifact('p/d:latest').download({str(tmp_path / 'out')!r})\n"
        "print('sqlalchemy' in sys.modules)\n"
    )
    env = {**os.environ, "CAIRN_DIR": str(tmp_path / "home"), "CAIRN_CACHE_DIR": str(tmp_path / "cache")}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    assert (tmp_path / "out" / "a.txt").read_text() == "hello"
