"""Many real processes on one embedded store (one CAIRN_DIR): distributed drafts merge,
version numbers stay dense, conflicts are named, finishing is atomic, a killed writer
leaves nothing half-made.

Every child is a fresh Python (``concurrency_worker.py``) whose store settings are passed
explicitly in its environment; processes that must race wait on a file barrier first.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import write

import cairn

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]  # processes racing and killed mid-commit

WORKER = Path(__file__).with_name("concurrency_worker.py")
PROJECT = "race"


class Children:
    """Start worker processes on the test's store and collect their one-line JSON reports."""

    def __init__(self, tmp: Path, store: Path) -> None:
        self.tmp = tmp
        self.store = store
        self.go = tmp / "go"
        self.procs: list[subprocess.Popen] = []
        self._ready: list[Path] = []

    def env(self, i: int) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CAIRN_")}
        env.update(
            CAIRN_DIR=str(self.store),
            CAIRN_CACHE_DIR=str(self.tmp / f"cache-{i}"),  # each child its own machine-local cache
            CAIRN_SILENT="1",
        )
        return env

    def start(self, mode: str, args: dict, barrier: bool = True) -> subprocess.Popen:
        i = len(self.procs)
        if barrier:
            ready = self.tmp / f"ready-{i}"
            self._ready.append(ready)
            args = {**args, "ready": str(ready), "go": str(self.go)}
        p = subprocess.Popen(
            [sys.executable, str(WORKER), mode, json.dumps(args)],
            env=self.env(i),
            cwd=self.tmp,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.procs.append(p)
        return p

    def release(self) -> None:
        """Wait until every barrier child is ready, then let them all go at once (the
        module's pytest-timeout, not a deadline here, ends a wait that never finishes)."""
        while not all(r.exists() for r in self._ready):
            dead = [p for p in self.procs if p.poll() not in (None, 0)]
            if dead:
                out, err = dead[0].communicate()
                pytest.fail(f"a child died before the barrier:\n{err}")
            time.sleep(0.005)
        self.go.touch()

    def results(self, procs: list[subprocess.Popen] | None = None) -> list[dict]:
        out = []
        for p in procs if procs is not None else self.procs:
            stdout, stderr = p.communicate(timeout=120)
            assert p.returncode == 0, f"child failed ({p.returncode}):\n{stderr}"
            out.append(json.loads(stdout.strip().splitlines()[-1]))
        return out

    def kill_all(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()


@pytest.fixture
def children(tmp_path: Path, cairn_home: Path):
    c = Children(tmp_path, cairn_home)
    yield c
    c.kill_all()


def committed_files(ref: str) -> dict[str, bytes]:
    """name -> bytes of a committed version, read back through a verified download."""
    a = cairn.Api().artifact(ref)
    root = Path(a.download(f"dl-{ref.replace('/', '_').replace(':', '_')}"))
    return {p: (root / p).read_bytes() for p in a.manifest}


def test_eight_processes_upsert_into_one_distributed_version(children, tmp_path):
    n_procs, n_files = 8, 50
    for i in range(n_procs):
        files = {f"part{i}/f{j:03d}.txt": f"process {i} file {j}" for j in range(n_files)}
        children.start(
            "upsert",
            {
                "src": str(tmp_path / f"src{i}"),
                "files": files,
                "name": "shards",
                "project": PROJECT,
                "distributed_id": "d1",
            },
        )
    children.release()
    reports = children.results()
    assert all(r["ok"] for r in reports), reports
    with cairn.init(project=PROJECT) as run:
        done = run.finish_artifact(cairn.Artifact("shards", "dataset"), distributed_id="d1")
    assert done.version == "v0"
    assert done.file_count == n_procs * n_files
    files = committed_files(f"{PROJECT}/shards:latest")
    assert files == {
        f"part{i}/f{j:03d}.txt": f"process {i} file {j}".encode() for i in range(n_procs) for j in range(n_files)
    }
    # every contributing run is recorded as a producer of the version
    for r in reports:
        logged = cairn.Api().run(f"{PROJECT}/{r['run']}").logged_artifacts()
        assert [a.name for a in logged] == ["shards:v0"]


def test_six_processes_log_the_same_artifact_at_once(children, tmp_path):
    n = 6
    for i in range(n):
        children.start(
            "log",
            {
                "src": str(tmp_path / f"src{i}"),
                "files": {"data.txt": f"content of process {i}"},
                "name": "model",
                "project": PROJECT,
            },
        )
    children.release()
    reports = children.results()
    versions = sorted((r["version"] for r in reports), key=lambda v: int(v[1:]))
    assert versions == [f"v{i}" for i in range(n)]  # dense and unique
    api = cairn.Api()
    listed = api.artifacts("dataset", f"{PROJECT}/model")
    assert [a.version for a in listed] == [f"v{i}" for i in range(n)]
    latest = api.artifact(f"{PROJECT}/model:latest")
    assert latest.version == f"v{n - 1}"  # latest is on the newest one
    assert sum("latest" in a.aliases for a in listed) == 1
    for i, r in enumerate(reports):  # each process's content is the version it was told
        got = api.artifact(f"{PROJECT}/model:{r['version']}")
        assert got.digest == r["digest"]
        assert committed_files(f"{PROJECT}/model:{r['version']}") == {"data.txt": f"content of process {i}".encode()}


def test_same_path_different_content_from_two_runs_is_a_named_conflict(children, tmp_path):
    for i in range(2):
        children.start(
            "upsert",
            {
                "src": str(tmp_path / f"src{i}"),
                "files": {"shared/config.json": f'{{"who": {i}}}'},
                "name": "clash",
                "project": PROJECT,
                "distributed_id": "d",
            },
        )
    children.release()
    reports = children.results()
    ok = [r for r in reports if r["ok"]]
    failed = [r for r in reports if not r["ok"]]
    assert len(ok) == 1 and len(failed) == 1, reports
    err = failed[0]
    assert err["error"] == "ConflictError"
    assert err["path"] == "shared/config.json"
    assert "shared/config.json" in err["message"]
    assert ok[0]["run"] in err["message"] and err["run"] in err["message"]
    assert set(err["runs"]) == {ok[0]["run"], err["run"]}
    # the refused write changed nothing: finishing gives the winner's file
    with cairn.init(project=PROJECT) as run:
        done = run.finish_artifact(cairn.Artifact("clash", "dataset"), distributed_id="d")
    winner = reports.index(ok[0])
    assert committed_files(done.qualified_name.partition("/")[2]) == {
        "shared/config.json": f'{{"who": {winner}}}'.encode()
    }


def test_same_path_same_content_from_two_runs_is_fine(children, tmp_path):
    for i in range(2):
        children.start(
            "upsert",
            {
                "src": str(tmp_path / f"src{i}"),
                "files": {"shared/vocab.txt": "a b c", f"own{i}.txt": str(i)},
                "name": "agree",
                "project": PROJECT,
                "distributed_id": "d",
            },
        )
    children.release()
    reports = children.results()
    assert all(r["ok"] for r in reports), reports
    with cairn.init(project=PROJECT) as run:
        done = run.finish_artifact(cairn.Artifact("agree", "dataset"), distributed_id="d")
    assert committed_files(f"{PROJECT}/agree:{done.version}") == {
        "shared/vocab.txt": b"a b c",
        "own0.txt": b"0",
        "own1.txt": b"1",
    }


def test_finish_racing_upserts_loses_nothing(children, tmp_path):
    n_upserters = 4
    upserters = [
        children.start(
            "upsert_loop",
            {
                "src": str(tmp_path / f"src{i}"),
                "tag": f"u{i}",
                "name": "stream",
                "project": PROJECT,
                "distributed_id": "live",
            },
        )
        for i in range(n_upserters)
    ]
    finisher = children.start(
        "finish", {"name": "stream", "project": PROJECT, "distributed_id": "live", "after": 3 * n_upserters}
    )
    children.release()
    loops = children.results(upserters)
    (fin,) = children.results([finisher])
    version = cairn.Api().artifact(f"{PROJECT}/stream:{fin['version']}")
    paths = set(version.manifest)
    landed = {p for r in loops for p in r["landed"]}
    refused = {p for r in loops for p in r["refused"]}
    assert all(len(r["refused"]) == 1 for r in loops), "every upserter ends on a refusal"
    assert landed, "some upserts landed before the finish"
    assert landed == paths, "an acknowledged upsert is missing from the finished version, or extra files appeared"
    assert not refused & paths
    assert fin["file_count"] == len(landed)
    for r in loops:
        assert "stream" in r["message"] and "live" in r["message"] and fin["run"] in r["message"]
    # and the content is right
    files = committed_files(f"{PROJECT}/stream:{fin['version']}")
    for p, data in files.items():
        tag, _, i = p.partition("/")
        assert data == f"{tag} {int(i.removesuffix('.txt'))}".encode()


def make_big_source(src: Path, n_small: int = 3000, n_large: int = 3) -> None:
    for i in range(n_small):
        write(src / f"small/{i // 100:02d}/{i:05d}.bin", os.urandom(512))
    for i in range(n_large):
        write(src / f"large/{i}.bin", os.urandom(3 << 20))


def check_no_partial_versions(name: str, expected_count: int) -> list:
    """Every committed version is complete, and the numbering is dense."""
    api = cairn.Api()
    if not api.artifact_exists(name):
        return []
    versions = api.artifacts("dataset", name)
    assert [v.version for v in versions] == [f"v{i}" for i in range(len(versions))]
    for v in versions:
        assert v.file_count == expected_count
        assert len(list(v.manifest)) == expected_count
    return versions


def test_killed_while_logging_leaves_no_partial_version(children, tmp_path):
    src = tmp_path / "big"
    make_big_source(src)
    expected = 3000 + 3 + 1
    name = f"{PROJECT}/bigdata"
    # Kill while files are being added (blobs half-written), then at several points of the commit.
    for trial, (stage, delay) in enumerate(
        [("adding", 0.05), ("committing", 0.0), ("committing", 0.01), ("committing", 0.03), ("committing", 0.08)]
    ):
        write(src / "trial.txt", f"trial {trial}")  # new content each time: each log makes a new version
        p = children.start("log_big", {"name": "bigdata", "project": PROJECT, "src": str(src)}, barrier=False)
        while True:
            line = p.stdout.readline()
            assert line, f"child ended early: {p.communicate()[1]}"
            if json.loads(line)["stage"] == stage:
                break
        time.sleep(delay)
        p.send_signal(signal.SIGKILL)
        rest, err = p.communicate()
        if p.returncode != -signal.SIGKILL:  # the commit won the race with the kill
            assert p.returncode == 0, err
            assert '"done"' in rest
        check_no_partial_versions(name, expected)
    # the next log works, from this process, and yields exactly the files
    write(src / "trial.txt", "after the kills")
    with cairn.init(project=PROJECT) as run:
        a = cairn.Artifact("bigdata", "dataset")
        a.add_dir(src)
        run.log_artifact(a)
    versions = check_no_partial_versions(name, expected)
    assert versions[-1].version == a.version
    root = a.download(tmp_path / "check")
    a.verify(root)
    assert (Path(root) / "trial.txt").read_text() == "after the kills"
