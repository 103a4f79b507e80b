"""Logging and downloading hold a window of files, not the folder: the walk, the stat cache,
the store's checks and the download go window by window, and a new artifact's entries move
to a temporary table beyond a threshold. Tiny windows and threshold here, so that every
seam between windows is crossed; the results must equal those of one big window."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest
from helpers import write

import cairn
from cairn.client import transfer
from cairn.core.errors import BlobNotFoundError, UsageError
from cairn.sdk import staged

# names whose order trips a walk that sorts folders by bare name: "a-b" < "a/x" < "a0"
FILES = {
    "a-b": "1",
    "a/x": "2",
    "a/y/z.txt": "3",
    "a0": "4",
    "b/é.csv": "5",
    "b/c/d/e": "6",
    "c": "7",
    "d d/1": "8",
    "d d/2": "9",
    "z/last.bin": b"\x00" * 70_000,  # above the small-file size: stored through the pool
}


@pytest.fixture
def tiny(monkeypatch):
    monkeypatch.setattr(transfer, "WINDOW", 3)
    monkeypatch.setattr(staged, "SPILL", 4)


def _src(root: Path) -> Path:
    for rel, data in FILES.items():
        write(root / rel, data)
    return root


def _log(name: str, src: Path) -> cairn.Artifact:
    with cairn.init(job_type="test") as run:
        a = cairn.Artifact(name, "dataset")
        a.add_dir(src, name="data")
        a.add_file(str(src / "c"), "extra/c-again")
        with a.new_file("notes.txt", "w") as f:
            f.write("hello")
        a.remove("data/a/y/")  # a folder
        a.remove("data/c")  # a file
        with pytest.raises(UsageError, match="already has a different file"):
            a.add_file(str(src / "a0"), "data/a-b")  # different content at a taken path
        a.add_file(str(src / "a0"), "data/a-b", overwrite=True)
        assert a.get_entry("data/b/é.csv").local_path == str(src / "b/é.csv")
        assert a.get_entry("notes.txt").local_path is None
        entries = {p: (e.digest, e.size) for p, e in a.manifest.entries.items()}
        run.log_artifact(a)
    return a, entries


def test_iter_files_walks_in_manifest_order(tmp_path):
    src = _src(tmp_path / "src")
    rels = [rel for _, rel, _ in transfer.iter_files(str(src))]
    assert rels == sorted(FILES)
    spans = [span for span, _ in transfer.windows(rels, lambda r: r, 3)]
    assert spans[0][0] == "" and spans[-1][1] is None
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:]))  # they tile the key space


def test_tiny_windows_and_a_spilled_artifact_log_what_one_window_logs(backend, tmp_path, monkeypatch):
    src = _src(tmp_path / "src")
    whole, whole_entries = _log("whole", src)
    monkeypatch.setattr(transfer, "WINDOW", 3)
    monkeypatch.setattr(staged, "SPILL", 4)
    windowed, windowed_entries = _log("windowed", src)
    assert windowed_entries == whole_entries
    assert windowed.digest == whole.digest
    assert "data/a/y/z.txt" not in windowed_entries and "data/c" not in windowed_entries
    assert windowed_entries["data/a-b"] == whole_entries["data/a0"]
    # logging it again, unchanged, through the stat cache's spans: the same version
    again, _ = _log("windowed", src)
    assert again.version == windowed.version == "v0"


def test_tiny_windows_download_and_repair(backend, tmp_path, tiny):
    src = _src(tmp_path / "src")
    _log("dl", src)
    got = cairn.Api().artifact("dl:v0")
    root = Path(got.download(tmp_path / "out"))
    want = {p: e.digest for p, e in got.manifest.entries.items()}
    on_disk = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    assert on_disk == sorted(want)
    # a matching folder is left alone; a damaged file is put right, whatever its window
    before = {p: os.stat(root / p).st_mtime_ns for p in want}
    (root / "data/b/c/d/e").write_text("damaged")
    os.remove(root / "data/d d/2")
    got.download(root)
    assert (root / "data/b/c/d/e").read_text() == "6"
    assert (root / "data/d d/2").read_text() == "9"
    after = {p: os.stat(root / p).st_mtime_ns for p in want}
    changed = {p for p in want if before[p] != after[p]}
    assert changed == {"data/b/c/d/e", "data/d d/2"}
    # only a prefix
    part = Path(got.download(tmp_path / "part", path_prefix="data/b/"))
    assert sorted(str(p.relative_to(part)) for p in part.rglob("*") if p.is_file()) == ["data/b/c/d/e", "data/b/é.csv"]


def test_a_spilled_commit_still_refuses_a_missing_blob(tmp_path, tiny):
    from cairn.client import get_client
    from cairn.core.manifest import Entry

    a = cairn.Artifact("ghost", "dataset")
    for i in range(6):  # past the threshold: on disk
        a._state.put(Entry(f"f{i}", "blake3:" + f"{i:064x}", 1), None)
    assert a._state.staged._db is not None  # type: ignore[attr-defined]
    client = get_client()
    with cairn.init(job_type="test") as run:
        with pytest.raises(BlobNotFoundError, match="f0"):
            run.log_artifact(a)
    with pytest.raises(cairn.core.errors.ArtifactNotFoundError):  # nothing was committed
        client.list_versions(client.entity, "uncategorized", "ghost")


def test_staged_entries_behave_alike_in_memory_and_on_disk():
    from cairn.core.manifest import Entry

    def scenario(spill: int) -> list:
        s = staged.StagedEntries(spill)
        s.put_many([(Entry(p, "blake3:" + p, 1), f"/src/{p}") for p in ["b/1", "a", "b/2", "c"]])
        s.put(Entry("ref", "md5:x", 0, "s3://b/k", {"etag": "e"}))
        s.put(Entry(os.fsdecode(b"caf\xe9"), "blake3:z", 2))  # not valid UTF-8
        s.put(Entry("a", "blake3:new", 5), "/other/a")  # replaces
        out = [
            len(s),
            "a" in s,
            s.any_of(["zz", "c"]),
            s.any_of(["zz"]),
            s.local_path("a"),
            s.get("ref"),
            s.remove_prefix("b/"),
            s.pop("c"),
            s.pop("c"),
            list(s.sorted()),
        ]
        s.close()
        return out

    on_disk = scenario(0)
    assert on_disk == scenario(1000)
    assert [e.path for e in on_disk[-1]] == sorted(e.path for e in on_disk[-1])


def test_windows_kept_as_runs_answer_like_rows():
    from cairn.core.manifest import Entry

    def win(*paths: str) -> list:
        return [(Entry(p, "blake3:" + p, len(p)), f"/src/{p}") for p in paths]

    def scenario(spill: int) -> list:
        s = staged.StagedEntries(spill)
        s.put_many(win("a", "b"))
        s.put_many(win("c", "d/1"))  # after everything: a run when on disk
        out: list = [len(s), s.any_of(["e", "f"]), list(s.sorted())]
        s.put_many(win("b0", "e"))  # not after everything: rows
        out += [s.any_of(["e"]), s.get("c"), s.local_path("d/1"), len(s)]
        s.put_many(win("f", "g"))  # a run again, after the rows
        out += [s.remove_prefix("d/"), s.pop("a"), len(s), list(s.sorted()), s.local_path("g")]
        s.close()
        return out

    assert scenario(0) == scenario(1000)
    runs = staged.StagedEntries(0)
    runs.put_many(win("a", "b"))
    runs.put_many(win("c"))
    assert runs._runs == 3 and runs._db.execute("SELECT count(*) FROM e").fetchone()[0] == 0


def test_a_full_temporary_folder_is_a_clear_error():
    from cairn.core.errors import StoreError
    from cairn.core.manifest import Entry

    class Full:
        def execute(self, *a):
            raise sqlite3.OperationalError("database or disk is full")

        executemany = execute

    s = staged.StagedEntries(0)
    s.put(Entry("a", "blake3:a", 1))
    s._db = Full()
    with pytest.raises(StoreError, match="TMPDIR"):
        s.put_files(["b", "c"], ["blake3:b", "blake3:c"], [1, 1], ["/b", "/c"])
    with pytest.raises(StoreError, match="temporary folder"):
        s._insert([("x",)])
