"""Transfer code reports files and bytes to the progress reporter in force, on the embedded
store and through a server (upload included), and nothing at all without one."""

from __future__ import annotations

import os

import cairn
from cairn.core import progress
from cairn.core.progress import NULL, Recorder


def _folder(root: str, sizes: list[int]) -> int:
    os.makedirs(root, exist_ok=True)
    for i, n in enumerate(sizes):
        with open(os.path.join(root, f"f{i:03d}.bin"), "wb") as f:
            f.write(os.urandom(n))
    return sum(sizes)


def _by_label(rec: Recorder) -> dict[str, progress.Tally]:
    out = {}
    for t in rec.tasks:
        assert t.label not in out, f"two {t.label!r} tasks"
        assert t.ended is not None, f"task {t.label!r} left open"
        out[t.label] = t
    return out


def _done(t: progress.Tally, files: int, nbytes: int) -> None:
    assert (t.files_total, t.bytes_total) == (files, nbytes), t
    assert (t.files_done, t.bytes_done) == (files, nbytes), t


def test_log_and_download_report_every_file_and_byte(backend, tmp_path):
    # small files (read in batches), large ones (own thread, over 64 KiB) and one over 8 MiB
    # (sent in parts through a server)
    sizes = [100] * 40 + [200_000] * 5 + [9 << 20]
    total = _folder(str(tmp_path / "data"), sizes)
    rec = Recorder()
    with progress.reporting(rec), cairn.init(project="prog") as run:
        a = cairn.Artifact("d", "dataset")
        a.add_dir(str(tmp_path / "data"))
        run.log_artifact(a)
    tasks = _by_label(rec)
    if backend == "server":
        assert set(tasks) == {"hashing", "uploading"}
        _done(tasks["hashing"], len(sizes), total)
        _done(tasks["uploading"], len(sizes), total)
    else:
        assert set(tasks) == {"storing"}
        _done(tasks["storing"], len(sizes), total)

    rec = Recorder()
    with progress.reporting(rec):
        cairn.Api().artifact("prog/d:latest").download(str(tmp_path / "out"))
    _done(_by_label(rec)["downloading"], len(sizes), total)

    # again into the same folder: every file is already there and counts as done
    rec = Recorder()
    with progress.reporting(rec):
        cairn.Api().artifact("prog/d:latest").download(str(tmp_path / "out"))
    _done(_by_label(rec)["downloading"], len(sizes), total)


def test_logging_again_uploads_nothing_and_says_so(backend, tmp_path):
    _folder(str(tmp_path / "data"), [1000] * 3)
    for _ in range(2):
        rec = Recorder()
        with progress.reporting(rec), cairn.init(project="prog2") as run:
            a = cairn.Artifact("d", "dataset")
            a.add_dir(str(tmp_path / "data"))
            run.log_artifact(a)
    tasks = _by_label(rec)
    assert "uploading" not in tasks  # the server had every blob
    ingest = tasks["hashing" if backend == "server" else "storing"]
    _done(ingest, 3, 3000)  # cached files count as done too


def test_no_reporter_means_the_null_one():
    assert progress.current() is NULL
    with progress.reporting(Recorder()) as rec:
        assert progress.current() is rec
    assert progress.current() is NULL
    with NULL.task("x") as t:
        t.add_total(1, 2)
        t.advance(1, 2)


def test_one_large_file_is_reported_too(backend, tmp_path):
    """``add_file`` (what ``cairn artifact put FILE`` does) reports its file like a folder's."""
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(3 << 20))
    rec = Recorder()
    with progress.reporting(rec), cairn.init(project="prog3") as run:
        a = cairn.Artifact("one", "model")
        a.add_file(str(big))
        run.log_artifact(a)
    tasks = _by_label(rec)
    _done(tasks["hashing" if backend == "server" else "storing"], 1, 3 << 20)
    if backend == "server":
        _done(tasks["uploading"], 1, 3 << 20)


class _Steps:
    """A reporter whose tasks keep every byte advance, to see a bar move within one file."""

    def __init__(self) -> None:
        self.steps: dict[str, list[int]] = {}

    def task(self, label: str) -> progress.Task:
        steps = self.steps.setdefault(label, [])

        class T(progress.CountingTask):
            def advance(self, files: int = 0, nbytes: int = 0) -> None:
                super().advance(files, nbytes)
                if nbytes:
                    steps.append(nbytes)

        return T(label)


def test_one_chunked_file_moves_the_bar_while_it_is_stored_and_downloaded(tmp_path, monkeypatch):
    """A single file over the chunking threshold reports its bytes region by region when
    logged, and chunk by chunk when downloaded (embedded store), not once at its end."""
    from cairn.storage.blobs import local

    monkeypatch.setattr(local, "CHUNKED_MIN", 4 << 20)
    monkeypatch.setattr(local, "CDC_AVG", 64 << 10)
    monkeypatch.setattr(local, "CDC_MIN", 16 << 10)
    monkeypatch.setattr(local, "CDC_MAX", 256 << 10)
    monkeypatch.setattr(local, "CHUNK_REGION", 1 << 20)
    big = tmp_path / "ckpt.bin"
    big.write_bytes(os.urandom(6 << 20))
    rec = _Steps()
    with progress.reporting(rec), cairn.init(project="prog4") as run:
        a = cairn.Artifact("ckpt", "model")
        a.add_file(str(big))
        run.log_artifact(a)
    assert sum(rec.steps["storing"]) == 6 << 20 and len(rec.steps["storing"]) >= 5
    rec = _Steps()
    with progress.reporting(rec):
        out = cairn.Api().artifact("prog4/ckpt:latest").download(str(tmp_path / "out"))
    assert sum(rec.steps["downloading"]) == 6 << 20 and len(rec.steps["downloading"]) >= 20
    assert (tmp_path / "out" / "ckpt.bin").read_bytes() == big.read_bytes() and out == str(tmp_path / "out")
