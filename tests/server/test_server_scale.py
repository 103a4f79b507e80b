"""Many processes, two server replicas, one PostgreSQL and one SeaweedFS."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time

import pytest

import cairn
from cairn.client import reset_clients
from cairn.client.retry import RetryPolicy

CHILD = textwrap.dedent(
    """
    import json, os, sys, time
    import cairn
    spec = json.loads(sys.argv[1])
    open(spec["ready"], "w").close()  # imported and about to start: the parent counts these
    while not os.path.exists(spec["go"]):
        time.sleep(0.001)
    os.chdir(spec["dir"])
    if spec["mode"] == "upsert":
        for i in range(spec["files"]):
            with open(f"f{spec['n']}_{i}.txt", "w") as f:
                f.write(f"process {spec['n']} file {i}")
        with cairn.init(project="scale", group="dist-1") as run:
            a = cairn.Artifact("shards", "predictions")
            a.add_dir(".", name=f"proc{spec['n']}")
            run.upsert_artifact(a)
    else:
        with open("data.txt", "w") as f:
            f.write(f"content of process {spec['n']}")
        with cairn.init(project="scale") as run:
            a = cairn.Artifact("contended", "dataset")
            a.add_file("data.txt")
            run.log_artifact(a)
        print(a.version)
    """
)


def spawn(tmp_path, stack, n, mode, files=0):
    d = tmp_path / f"p{n}"
    d.mkdir()
    env = {
        **os.environ,
        "CAIRN_BASE_URL": stack.urls[n % 2],  # spread over both replicas
        "CAIRN_CACHE_DIR": str(tmp_path / f"cache{n}"),
    }
    spec = {
        "n": n,
        "mode": mode,
        "dir": str(d),
        "files": files,
        "ready": str(tmp_path / f"ready{n}"),
        "go": str(tmp_path / "go"),
    }
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, json.dumps(spec)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def release(tmp_path, procs) -> None:
    """The start barrier: once every child has imported cairn and said so (its ready file),
    the go file lets them all start together."""
    while sum(1 for _ in tmp_path.glob("ready*")) < len(procs):
        dead = [p for p in procs if p.poll() is not None]
        assert not dead, [p.communicate() for p in dead]
        time.sleep(0.005)
    (tmp_path / "go").touch()


def wait_all(procs, timeout=120):
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=timeout)
        assert p.returncode == 0, err
        outs.append(out.strip())
    return outs


def test_distributed_version_from_8_processes_over_two_replicas(tmp_path, on_stack):
    procs = [spawn(tmp_path, on_stack, n, "upsert", files=50) for n in range(8)]
    release(tmp_path, procs)
    wait_all(procs)
    with cairn.init(project="scale", group="dist-1") as run:
        done = run.finish_artifact(cairn.Artifact("shards", "predictions"))
    assert done.version == "v0"
    assert done.file_count == 400
    paths = set(done.manifest.entries)
    assert paths == {f"proc{n}/f{n}_{i}.txt" for n in range(8) for i in range(50)}
    logged = {r.id for r in cairn.Api().runs("scale") if any(a.name == "shards:v0" for a in r.logged_artifacts())}
    assert len(logged) == 9  # 8 contributors and the finisher
    out = done.download(tmp_path / "dl")
    assert open(os.path.join(out, "proc3/f3_7.txt")).read() == "process 3 file 7"


def test_concurrent_logging_through_both_replicas_is_dense(tmp_path, on_stack):
    procs = [spawn(tmp_path, on_stack, n, "log") for n in range(6)]
    release(tmp_path, procs)
    versions = wait_all(procs)
    assert sorted(versions) == [f"v{i}" for i in range(6)]
    got = cairn.Api().artifacts("dataset", "scale/contended")
    assert [a.version for a in got] == [f"v{i}" for i in range(6)]
    assert len({a.digest for a in got}) == 6


@pytest.mark.timeout(600, func_only=True)  # the refusal comes after bounded retries, not a hang
def test_object_store_down_then_back(tmp_path, on_stack, monkeypatch):
    from helpers import write

    write("big.bin", os.urandom(9 << 20))  # large: goes directly to the object store
    write("small.txt", "small")
    a = cairn.Artifact("resilient", "model")
    a.add_file("big.bin")
    a.add_file("small.txt")
    on_stack.seaweed.process.stop()
    try:
        with cairn.init(project="scale") as run:
            with pytest.raises(cairn.StoreError) as err:
                run.log_artifact(a)
        assert "object store" in str(err.value) or "unreachable" in str(err.value) or "reach" in str(err.value)
        assert not cairn.Api().artifact_exists("scale/resilient:latest")
    finally:
        on_stack.seaweed.process.start()
    with cairn.init(project="scale") as run:
        run.log_artifact(a)
    assert a.version == "v0"
    assert open(a.download(tmp_path / "dl2") + "/small.txt").read() == "small"


@pytest.mark.parametrize("way", ["direct", "staged", "batched"])
def test_interrupted_log_resends_only_what_did_not_arrive(tmp_path, on_stack, monkeypatch, way):
    """The object store fails after the first blob arrived; the retry sends only the rest,
    whether blobs go straight to the store (direct PUTs of small blobs, or staged multipart
    uploads of large ones) or through the server in batches."""
    from helpers import write

    from cairn.client import get_client

    for i in range(3):
        write(f"d/part{i}.bin", os.urandom(2 << 20))
    a = cairn.Artifact("resumable", "dataset")
    a.add_dir("d")
    client = get_client()
    sent: list[str] = []
    stopped = []
    uploader = client.uploader
    if way == "staged":
        monkeypatch.setattr("cairn.client.uploader.DIRECT_MIN", 1 << 20)  # 2 MiB files are large
        method, key = "send_large", lambda args: args[2]  # (entity, project, digest, src)
    elif way == "direct":
        method, key = "put_create_only", lambda args: args[0].split("?")[0]  # (url, data, headers)
    else:
        monkeypatch.setattr("cairn.client.uploader.BATCH_BYTES", 1)  # one blob a batch
        monkeypatch.setattr(
            type(uploader), "send_direct", lambda self, e, p, small, pool, *task: small
        )  # no direct URLs
        method, key = "send_batch", lambda args: " ".join(d for d, _ in args[2])
    original = getattr(type(uploader), method)

    def counting(self, *args):  # noqa: ANN001
        if len(sent) == 1 and not stopped:
            stopped.append(True)
            on_stack.seaweed.process.stop(timeout=2)
        sent.append(key(args))
        return original(self, *args)

    monkeypatch.setattr(type(uploader), method, counting)
    monkeypatch.setattr("cairn.client.rpc.SEND_WORKERS", 1)  # one upload at a time: a clear "first"
    monkeypatch.setattr("cairn.client.retry.POLICY", RetryPolicy(attempts=2))
    with cairn.init(project="scale") as run:
        try:
            with pytest.raises(cairn.StoreError):
                run.log_artifact(a)
        finally:
            on_stack.seaweed.process.start()
        first_try = list(sent)
        sent.clear()
        run.log_artifact(a)
    assert a.version == "v0" and a.file_count == 3
    assert len(sent) == 2 and first_try[0] not in sent  # the blob that arrived was not sent again
    reset_clients()
    out = cairn.Api().artifact("scale/resumable:v0").download(tmp_path / "dl")
    assert sorted(os.listdir(os.path.join(out))) == ["part0.bin", "part1.bin", "part2.bin"]


def test_multipart_upload_and_presigned_download(tmp_path, on_stack):
    from helpers import write

    data = os.urandom(70 << 20)  # above the store's 64 MiB multipart threshold
    write("huge.bin", data)
    with cairn.init(project="scale") as run:
        a = cairn.Artifact("huge", "model")
        a.add_file("huge.bin")
        run.log_artifact(a)
    reset_clients()
    got = cairn.Api().artifact("scale/huge:latest").file(tmp_path / "dl")
    assert open(got, "rb").read() == data


def test_presigned_download_keeps_the_file_name(on_stack):
    import httpx

    from helpers import write

    write("report.csv", "a,b\n1,2\n")
    with cairn.init(project="scale") as run:
        a = cairn.Artifact("named", "dataset")
        a.add_file("report.csv")
        run.log_artifact(a)
    entry = a.get_entry("report.csv")
    url = f"{on_stack.urls[0]}/api/v1/projects/{a.entity}/scale/blobs/{entry.digest}"
    r = httpx.get(url, params={"filename": "report.csv"}, follow_redirects=True)
    assert r.status_code == 200 and r.content == b"a,b\n1,2\n"
    assert 'filename="report.csv"' in r.headers["content-disposition"]


def test_download_asks_for_urls_in_one_call_and_survives_a_refused_one(tmp_path, on_stack, monkeypatch):
    """Files are fetched from presigned URLs handed out in batches; a URL the store refuses
    (expired, say) falls back to asking the server for that blob."""
    from helpers import write

    from cairn.client import get_client, reset_clients

    for i in range(4):
        write(f"u/{i}.bin", os.urandom(300_000))
    with cairn.init(project="scale") as run:
        a = cairn.Artifact("urls", "dataset")
        a.add_dir("u")
        run.log_artifact(a)
    reset_clients()
    monkeypatch.setenv("CAIRN_CACHE_DIR", str(tmp_path / "fresh-cache"))
    client = get_client()
    calls: list[int] = []
    downloader = type(client.downloader)
    original = downloader.presign

    def presign(self, entries, version):  # noqa: ANN001
        original(self, entries, version)
        calls.append(len(entries))
        first = sorted(self._urls)[0]
        self._urls[first] = self._urls[first].replace("Signature=", "Signature=0")  # now refused

    asked: list[str] = []
    original_get = downloader.get_server

    def get_server(self, url):  # noqa: ANN001
        asked.append(url)
        return original_get(self, url)

    monkeypatch.setattr(downloader, "presign", presign)
    monkeypatch.setattr(downloader, "get_server", get_server)
    got = cairn.Api().artifact("scale/urls:latest")
    out = got.download(tmp_path / "dl")
    assert calls == [4]
    assert len(asked) == 1  # only the refused URL's blob was asked of the server
    for i in range(4):
        assert open(os.path.join(out, f"{i}.bin"), "rb").read() == open(f"u/{i}.bin", "rb").read()
