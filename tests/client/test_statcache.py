"""The stat cache: single files as rows, whole folders as one snapshot. A digest is only
ever returned for the exact (size, mtime, inode) it was recorded with; a damaged or missing
snapshot only costs re-hashing, never a wrong digest or an error."""

from __future__ import annotations

import os
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


@pytest.mark.parametrize(
    "damage",
    [
        "UPDATE spans SET n = n + 1",
        "UPDATE spans SET sigs = x'0102'",
        "UPDATE spans SET paths = x'ff00ff'",
        "UPDATE spans SET digests = NULL",
    ],
)
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


def _windows(items: dict[str, tuple[int, int, int]], size: int) -> list[tuple[tuple[str, str | None], dict]]:
    """``items`` (in path order) cut into windows of ``size``, each with its span, as a
    caller walking a folder window by window makes them."""
    paths = list(items)
    cuts = list(range(0, len(paths), size))
    out = []
    for k, i in enumerate(cuts):
        lo = "" if k == 0 else paths[i]
        hi = paths[cuts[k + 1]] if k + 1 < len(cuts) else None
        out.append(((lo, hi), {p: items[p] for p in paths[i : i + size]}))
    return out


def _log(cache: StatCache, items: dict, size: int, digest=lambda p: f"blake3:{p}") -> list[dict]:
    """Look each window up, then record the files it did not know; returns the lookups."""
    found = []
    for span, win in _windows(items, size):
        got = cache.lookup(win, "/data", span)
        found.append(got)
        cache.record([(p, s, digest(p)) for p, s in win.items() if p not in got], folder="/data", span=span)
    return found


def sorted_files(n: int) -> dict[str, tuple[int, int, int]]:
    return {f"/data/f{i:04d}": sig(i) for i in range(n)}


def test_a_folder_kept_window_by_window_answers_every_window_and_is_not_rewritten(cache: StatCache, monkeypatch):
    items = sorted_files(100)
    _log(cache, items, 30)
    again = StatCache(cache.path)
    writes = []
    real = again._write
    monkeypatch.setattr(again, "_write", lambda *a: (writes.append(a), real(*a)))
    found = _log(again, items, 30)
    assert [len(f) for f in found] == [30, 30, 30, 10]
    assert writes == []  # every span as it was
    assert again._read_folder("/data") == {p: (s, f"blake3:{p}") for p, s in items.items()}


def test_other_window_sizes_still_find_every_file_and_leave_no_overlap(cache: StatCache):
    items = sorted_files(100)
    _log(cache, items, 30)
    assert [len(f) for f in _log(StatCache(cache.path), items, 7)] == [7] * 14 + [2]
    assert [len(f) for f in _log(StatCache(cache.path), items, 1000)] == [100]
    db = sqlite3.connect(cache.path)
    assert db.execute("SELECT COUNT(*), SUM(n) FROM spans").fetchone() == (1, 100)


def test_a_file_gone_from_one_window_leaves_the_other_spans_alone(cache: StatCache, monkeypatch):
    items = sorted_files(90)
    _log(cache, items, 30)
    fewer = dict(items)
    del fewer["/data/f0045"]
    again = StatCache(cache.path)
    writes = []
    real = again._write
    monkeypatch.setattr(again, "_write", lambda *a: (writes.append(a), real(*a)))
    # the windows shift after the deleted file, so the later spans are rewritten, not lost
    found = _log(again, fewer, 30)
    assert sum(len(f) for f in found) == 89
    assert set(again._read_folder("/data")) == set(fewer)


def test_a_changed_file_is_rehashed_in_its_window_only(cache: StatCache):
    items = sorted_files(60)
    _log(cache, items, 20)
    edited = dict(items)
    edited["/data/f0031"] = (31, OLD + 999, 1031)
    found = _log(StatCache(cache.path), edited, 20, digest=lambda p: "blake3:new")
    assert [len(f) for f in found] == [20, 19, 20]
    assert StatCache(cache.path).lookup(edited, "/data")["/data/f0031"] == "blake3:new"


def test_names_that_are_not_utf8_survive_the_spans(cache: StatCache):
    raw = os.fsdecode(b"/data/caf\xe9")  # a Latin-1 name on a Linux disk
    items = dict(sorted({raw: sig(1), "/data/z": sig(2), "/data/a": sig(3)}.items()))
    _log(cache, items, 2, digest=lambda p: f"blake3:{len(p)}")
    assert StatCache(cache.path).lookup(items, "/data") == {p: f"blake3:{len(p)}" for p in items}
    cache.record([(raw, sig(1), "blake3:one")])  # and as a single file
    assert StatCache(cache.path).lookup({raw: sig(1)}) == {raw: "blake3:one"}


def _filled(path: Path, n: int = 3000) -> dict[str, tuple[int, int, int]]:
    """A stat cache at ``path`` holding ``n`` single-file rows (many pages) and a folder."""
    items = files(n)
    cache = StatCache(path)
    cache.record([(p, s, f"blake3:{p}") for p, s in items.items()])
    cache.lookup(files(5), "/data")
    cache.record([(p, s, "blake3:f") for p, s in files(5).items()], folder="/data")
    assert cache.lookup(items) == {p: f"blake3:{p}" for p in items}
    cache._close()
    return items


def _garbage_over(path: Path, at: int, size: int) -> None:
    with open(path, "r+b") as f:
        f.seek(at)
        f.write(os.urandom(size))


@pytest.mark.parametrize("where", ["whole file", "header", "middle pages"])
def test_a_damaged_stat_cache_is_discarded_and_rebuilt(tmp_path: Path, where: str, caplog: pytest.LogCaptureFixture):
    path = tmp_path / "statcache.sqlite"
    items = _filled(path)
    if where == "whole file":
        path.write_bytes(os.urandom(64 * 1024))
    elif where == "header":
        _garbage_over(path, 0, 100)
    else:  # past the first pages: the schema reads, a lookup of the rows does not
        _garbage_over(path, 8 * 4096, path.stat().st_size - 16 * 4096)
    cache = StatCache(path)
    with caplog.at_level("WARNING", logger="cairn.client.statcache"):
        found = cache.lookup(items)
        cache.record([(p, s, "blake3:new") for p, s in list(items.items())[:10]])
    assert found == {} or set(found.values()) <= {f"blake3:{p}" for p in items}  # never a wrong digest
    warned = [r for r in caplog.records if r.levelname == "WARNING"]
    assert warned and "discarded" in warned[0].getMessage() and str(path) in warned[0].getMessage()
    again = StatCache(path)  # rebuilt: a sound file that answers what was recorded since
    assert again.lookup(dict(list(items.items())[:10])) == {p: "blake3:new" for p in list(items)[:10]}
    assert sqlite3.connect(path).execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_a_stat_cache_that_cannot_be_opened_is_turned_off(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    path = tmp_path / "statcache.sqlite"
    path.mkdir()  # a folder where the file should be: neither opened nor removed
    cache = StatCache(path)
    with caplog.at_level("WARNING", logger="cairn.client.statcache"):
        assert cache.lookup(files(3)) == {}
        cache.record([(p, s, "blake3:x") for p, s in files(3).items()])
        assert cache.lookup(files(3), "/data") == {}
    assert any("cannot be used" in r.getMessage() for r in caplog.records if r.levelname == "WARNING")
    assert path.is_dir()


def test_a_log_succeeds_over_a_garbage_stat_cache(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    import cairn

    cache_file = Path(os.environ["CAIRN_CACHE_DIR"]) / "statcache.sqlite"
    cache_file.parent.mkdir(parents=True, exist_ok=True)
    cache_file.write_bytes(b"this is not a database" * 1000)
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.txt").write_text("hello")
    with caplog.at_level("WARNING", logger="cairn"), cairn.init(project="p") as run:
        art = cairn.Artifact("data", "dataset")
        art.add_dir(str(tmp_path / "d"))
        run.log_artifact(art)
        art.wait()
    assert cairn.Api().artifact("p/data:v0").manifest.entries["a.txt"].size == 5
    assert any("stat cache" in r.getMessage() for r in caplog.records if r.levelname == "WARNING")
    assert sqlite3.connect(cache_file).execute("PRAGMA integrity_check").fetchone() == ("ok",)
