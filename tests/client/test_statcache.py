"""The stat cache: single files as rows, whole folders as one snapshot. A digest is only
ever returned for the exact (size, mtime, inode) it was recorded with; a damaged or missing
snapshot only costs re-hashing, never a wrong digest or an error."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from cairn.client.statcache import StatCache

OLD = time.time_ns() - 60 * 10**9  # outside the racy window


def sig(n: int) -> tuple[int, int, int]:
    return (n, OLD + n, 1000 + n)


@pytest.fixture
def cache(tmp_path: Path) -> StatCache:
    return StatCache(tmp_path / "statcache.sqlite")


def files(n: int) -> dict[str, tuple[int, int, int]]:
    return {f"/data/f{i}": sig(i) for i in range(n)}


def test_a_folder_snapshot_answers_a_later_lookup(cache: StatCache):
    items = files(50)
    assert cache.lookup(items, "/data") == {}
    cache.record([(p, s, f"blake3:{p}") for p, s in items.items()], folder="/data")
    fresh = StatCache(cache.path)  # another process
    assert fresh.lookup(items, "/data") == {p: f"blake3:{p}" for p in items}


def test_a_changed_signature_is_not_trusted(cache: StatCache):
    items = files(5)
    cache.lookup(items, "/data")
    cache.record([(p, s, f"blake3:{p}") for p, s in items.items()], folder="/data")
    changed = dict(items)
    changed["/data/f2"] = (2, OLD + 99, 1002)  # new mtime
    changed["/data/f3"] = (3, OLD + 3, 7)  # new inode
    got = StatCache(cache.path).lookup(changed, "/data")
    assert set(got) == {"/data/f0", "/data/f1", "/data/f4"}


def test_an_unchanged_folder_is_not_written_again_and_a_changed_one_is(cache: StatCache, monkeypatch):
    items = files(10)
    cache.lookup(items, "/data")
    cache.record([(p, s, "blake3:x") for p, s in items.items()], folder="/data")
    writes = []
    again = StatCache(cache.path)
    real = again._write
    monkeypatch.setattr(again, "_write", lambda *a: (writes.append(a), real(*a)))
    assert len(again.lookup(items, "/data")) == 10
    again.record([], folder="/data")
    assert writes == []
    fewer = dict(items)
    del fewer["/data/f9"]  # a file deleted: the snapshot must drop it
    assert len(again.lookup(fewer, "/data")) == 9
    again.record([], folder="/data")
    assert len(writes) == 1
    assert len(again._read_folder("/data")) == 9


def test_files_just_modified_are_left_out_of_the_snapshot(cache: StatCache):
    now = time.time_ns()
    racy = {"/data/new": (1, now, 5)}
    cache.lookup(racy, "/data")
    cache.record([("/data/new", racy["/data/new"], "blake3:n")], folder="/data")
    assert StatCache(cache.path).lookup(racy, "/data") == {}
    # unless cairn wrote them itself, with verified bytes (a download)
    cache.lookup(racy, "/data")
    cache.record([("/data/new", racy["/data/new"], "blake3:n")], written_by_us=True, folder="/data")
    assert StatCache(cache.path).lookup(racy, "/data") == {"/data/new": "blake3:n"}


def test_single_file_rows_still_answer_inside_a_folder(cache: StatCache):
    cache.record([("/data/f1", sig(1), "blake3:one")])  # e.g. from add_file
    assert cache.lookup(files(3), "/data") == {"/data/f1": "blake3:one"}


@pytest.mark.parametrize("damage", [
    "UPDATE folders SET n = n + 1",
    "UPDATE folders SET sigs = x'0102'",
    "UPDATE folders SET paths = x'ff00ff'",
    "UPDATE folders SET digests = NULL",
])
def test_a_damaged_snapshot_is_ignored(cache: StatCache, damage: str):
    items = files(4)
    cache.lookup(items, "/data")
    cache.record([(p, s, "blake3:x") for p, s in items.items()], folder="/data")
    db = sqlite3.connect(cache.path, isolation_level=None)
    db.execute(damage)
    db.close()
    assert StatCache(cache.path).lookup(items, "/data") == {}  # re-hashed, never misread


def test_odd_file_names_survive_the_snapshot(cache: StatCache):
    names = ["/data/a\nb", "/data/é", "/data/tab\there", "/data/ünï cödé"]
    items = {p: sig(i) for i, p in enumerate(names)}
    cache.lookup(items, "/data")
    cache.record([(p, s, f"blake3:{i}") for i, (p, s) in enumerate(items.items())], folder="/data")
    assert StatCache(cache.path).lookup(items, "/data") == {p: f"blake3:{i}" for i, p in enumerate(names)}
