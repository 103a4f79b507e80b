"""Stores going away under two real replicas: PostgreSQL restarts, the object store stops,
a replica stops. Requests get 503 + Retry-After (never 500), the client rides it out, and
readiness (not liveness) reports it. This module has its own PostgreSQL and SeaweedFS,
so taking them down disturbs no other test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from servers import cairn_server

import cairn
from cairn.client import reset_clients


@dataclass
class Stack:
    work: Path
    pg: object  # services.PostgresProcess
    s3: object  # services.S3Info
    meta: str
    env: dict
    urls: list[str]

    @contextmanager
    def replica(self, name: str, **env: str) -> Iterator[str]:
        """One more replica on this stack's stores, stopped when the block ends."""
        args = ("--meta", self.meta, "--blobs", "s3://cairn/outages", "--no-ui")
        with cairn_server(self.work / name, {**self.env, **env}, *args) as url:
            yield url


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    from services import create_database, postgres_process, seaweed_s3

    work = tmp_path_factory.mktemp("outages")
    with postgres_process(work / "pg") as pg, seaweed_s3(work / "s3") as s3:
        s3.client().create_bucket(Bucket="cairn")
        meta = "postgresql://" + create_database(pg.base_url, "registry").partition("://")[2]
        env = {**s3.env(), "CAIRN_DIR": str(work / "unused-home")}
        st = Stack(work, pg, s3, meta, env, [])
        with st.replica("a") as a, st.replica("b") as b:
            st.urls = [a, b]
            yield st


@pytest.fixture
def on(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Stack:
    monkeypatch.setenv("CAIRN_ENTITY", f"t{uuid.uuid4().hex[:12]}")
    monkeypatch.setenv("CAIRN_BASE_URL", stack.urls[0])
    reset_clients()
    return stack


@contextmanager
def database_down(stack: Stack) -> Iterator[None]:
    stack.pg.stop()
    try:
        yield
    finally:
        stack.pg.start()


def ready_answer(url: str, status: int) -> httpx.Response:
    """/api/ready once it answers ``status``: a replica reuses its answer for up to
    ``probes.READY_TTL`` seconds, so a change of the stores shows a moment later."""
    deadline = time.monotonic() + 60
    while True:
        r = httpx.get(f"{url}/api/ready", timeout=30)
        if r.status_code == status or time.monotonic() > deadline:
            return r
        time.sleep(0.2)


def test_database_down_is_503_with_retry_after_never_500(on):
    url = on.urls[0]
    for r in (httpx.get(f"{url}/api/health"), httpx.get(f"{url}/api/ready")):
        assert r.status_code == 200
    assert httpx.get(f"{url}/api/ready").json() == {"ready": True, "metadata": "ok", "blobs": "ok"}
    entity = os.environ["CAIRN_ENTITY"]
    calls = [
        ("GET", "/api/v1/projects", None),
        ("GET", "/api/v1/whoami", None),
        ("GET", f"/api/v1/projects/{entity}/p/artifacts/a/resolve/latest", None),
        ("POST", f"/api/v1/projects/{entity}/p/artifacts/a/versions", {"type": "dataset", "entries": []}),
        ("POST", f"/api/v1/projects/{entity}/p/runs", {"id": "r1"}),
        ("POST", f"/api/v1/projects/{entity}/p/blobs/missing", {"digests": ["blake3:" + "a" * 64]}),
        ("GET", "/api/v1/versions/1", None),
    ]
    with database_down(on):
        live = httpx.get(f"{url}/api/health", timeout=5)
        assert live.status_code == 200 and live.json() == {"ok": True}  # liveness needs no database
        ready = ready_answer(url, 503)
        assert ready.status_code == 503 and int(ready.headers["retry-after"]) >= 1
        assert ready.json() == {"ready": False, "metadata": "unavailable", "blobs": "ok"}
        for method, path, body in calls:
            r = httpx.request(method, url + path, json=body, timeout=30)
            assert r.status_code == 503, (path, r.status_code, r.text)
            assert int(r.headers["retry-after"]) >= 1
            err = r.json()["error"]
            assert err["type"] == "UnavailableError" and "metadata store" in err["message"], err
            assert "cairn:cairn@" not in err["message"]  # the password is not shown
    assert ready_answer(url, 200).status_code == 200
    r = httpx.post(url + calls[3][1], json=calls[3][2], timeout=30)
    assert r.status_code == 200 and r.json()["index"] == 0


def test_object_store_down_is_not_ready(on):
    url = on.urls[1]
    proc = on.s3.process
    proc.stop(timeout=2)
    try:
        assert httpx.get(f"{url}/api/health", timeout=5).status_code == 200
        ready = ready_answer(url, 503)
        assert ready.status_code == 503 and ready.headers["retry-after"]
        assert ready.json()["metadata"] == "ok" and ready.json()["blobs"] in ("unavailable", "timeout")
        digest = "blake3:" + "b" * 64
        r = httpx.get(
            f"{url}/api/v1/projects/{os.environ['CAIRN_ENTITY']}/p/blobs/{digest}",
            params={"direct": "false"},
            timeout=60,
        )
        assert r.status_code == 503 and r.headers["retry-after"], r.text
    finally:
        proc.start()
    assert ready_answer(url, 200).status_code == 200


CHILD = textwrap.dedent(
    """
    import json, logging, os, sys, time
    import cairn
    logging.basicConfig(level=logging.INFO)  # the retries are logged at INFO
    spec = json.loads(sys.argv[1])
    os.chdir(spec["dir"])
    logged = []

    def log(i):
        with open("data.txt", "w") as f:
            f.write(f"process {spec['n']} version {i}")
        a = cairn.Artifact(f"c{spec['n']}", "dataset")
        a.add_file("data.txt")
        a.save()
        a.wait()
        logged.append(a.version)

    log(0)
    open(spec["ready"], "w").close()
    i = 1
    while not os.path.exists(spec["go"]):  # logging the whole time the database restarts
        log(i)
        i += 1
    log(i)
    print(json.dumps(logged))
    """
)


def test_postgres_restart_during_16_concurrent_logs(on, tmp_path):
    """The issue's case: 16 processes log over both replicas while PostgreSQL restarts.
    Every log succeeds, and no version is made twice (a retried commit finds its own)."""
    marks = tmp_path / "marks"
    marks.mkdir()
    go = marks / "go"
    procs = []
    for n in range(16):
        d = tmp_path / f"p{n}"
        d.mkdir()
        env = {**os.environ, "CAIRN_BASE_URL": on.urls[n % 2], "CAIRN_CACHE_DIR": str(tmp_path / f"cache{n}")}
        spec = {"n": n, "dir": str(d), "ready": str(marks / f"ready{n}"), "go": str(go)}
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", CHILD, json.dumps(spec)],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    deadline = time.monotonic() + 180
    while len(list(marks.glob("ready*"))) < 16:  # every process has logged once
        assert all(p.poll() is None for p in procs), [p.communicate() for p in procs if p.poll() is not None]
        assert time.monotonic() < deadline, "the processes did not start logging"
        time.sleep(0.05)
    on.pg.stop()
    time.sleep(2.0)  # the outage: the restart took 3.4 s, stop and start included
    on.pg.start()
    go.touch()
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err[-3000:]
    retried = [err for _, err in outs if "HTTP 503" in err and "retry" in err]
    assert retried, "no log met the outage: the test did not test anything"
    assert not any("giving up" in err for _, err in outs)
    reset_clients()
    api = cairn.Api()
    entity = os.environ["CAIRN_ENTITY"]
    for n, (out, _) in enumerate(outs):
        logged = json.loads(out.strip().splitlines()[-1])
        assert logged == [f"v{i}" for i in range(len(logged))]
        versions = api.artifacts("dataset", f"{entity}/uncategorized/c{n}")
        assert sorted(v.version for v in versions) == sorted(logged)  # dense, none made twice


def test_fail_over_between_replicas(on, tmp_path, monkeypatch, caplog):
    from helpers import write

    with on.replica("c") as c:
        monkeypatch.setenv("CAIRN_BASE_URL", f"{c},{on.urls[1]}")
        reset_clients()
        write("a.txt", "first")
        with cairn.init(project="fo") as run:
            a = cairn.Artifact("ds", "dataset")
            a.add_file("a.txt")
            run.log_artifact(a)
        assert a.version == "v0"
    # replica c is stopped: the same client goes on through the other one
    caplog.set_level("WARNING", logger="cairn.client.retry")
    write("a.txt", "second")
    with cairn.init(project="fo") as run:
        b = cairn.Artifact("ds", "dataset")
        b.add_file("a.txt")
        run.log_artifact(b)
    assert b.version == "v1"
    assert any(f"{c} is not answering; now using {on.urls[1]}" in m for m in caplog.messages), caplog.messages
    got = cairn.Api().artifact("fo/ds:v0").download(tmp_path / "dl")
    assert open(os.path.join(got, "a.txt")).read() == "first"


def test_fail_over_is_not_for_errors_of_the_request(on, monkeypatch, caplog):
    """A 4xx is the caller's: raised at once, neither retried nor sent to the next replica."""
    from cairn.core.errors import NotFoundError

    monkeypatch.setenv("CAIRN_BASE_URL", ",".join(on.urls))
    reset_clients()
    caplog.set_level("INFO", logger="cairn.client.retry")
    with pytest.raises(NotFoundError, match="not found"):
        cairn.Api().artifact("nowhere/nothing:latest")
    assert caplog.messages == []


def test_bad_base_url_list_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("CAIRN_BASE_URL", "http://a:1, ftp://b")
    reset_clients()
    with pytest.raises(cairn.UsageError, match="CAIRN_BASE_URL: 'ftp://b' is not an http"):
        cairn.Api().artifact("x:latest")


def test_busy_caller_waits_429_then_the_client_retries(on, monkeypatch, caplog):
    """A caller at its limit of heavy requests gets 429 + Retry-After; the SDK waits and
    retries, and gets through once its earlier request is done."""
    import http.client
    import select
    import threading
    from urllib.parse import urlsplit

    from cairn.core.digest import Digest

    data = b"x" * (3 << 20)
    digest = str(Digest.of_bytes(data))
    release = threading.Event()
    first: list = []

    def slow_upload(host: str, port: int, path: str) -> None:
        """PUT whose body stops after 1 MiB until ``release``: it holds the caller's one
        slot meanwhile. Refused early (429: a probe held the slot), it starts again."""
        while True:
            conn = http.client.HTTPConnection(host, port, timeout=120)
            conn.putrequest("PUT", path)
            conn.putheader("Content-Length", str(len(data)))
            conn.endheaders(data[: 1 << 20])
            while not release.is_set():
                if select.select([conn.sock], [], [], 0.05)[0]:  # answered before the body ended
                    r = conn.getresponse()
                    r.read()
                    conn.close()
                    if r.status == 429:
                        break
                    first.append((r.status, "early"))
                    return
            else:
                conn.send(data[1 << 20 :])
                r = conn.getresponse()
                first.append((r.status, r.read()))
                conn.close()
                return

    env = {"CAIRN_SERVER_HEAVY_PER_CALLER": "1", "CAIRN_SERVER_HEAVY_WAIT": "0"}
    with on.replica("busy", **env) as url:
        entity = os.environ["CAIRN_ENTITY"]
        u = urlsplit(url)
        t = threading.Thread(
            target=slow_upload, args=(u.hostname, u.port, f"/api/v1/projects/{entity}/p/blobs/{digest}")
        )
        t.start()
        try:
            deadline = time.monotonic() + 60
            while True:  # a probe is refused only while the slow upload holds the slot
                r = httpx.post(
                    f"{url}/api/v1/projects/{entity}/p/artifacts/x/versions",
                    json={"type": "dataset", "entries": []},
                    timeout=30,
                )
                if r.status_code == 429:
                    break
                assert r.status_code == 200 and time.monotonic() < deadline and not first, (r.text, first)
                time.sleep(0.1)  # leave the slot free for the upload to take
            assert r.headers["retry-after"] == "2" and r.json()["error"]["type"] == "BusyError"
            assert "heavy requests" in r.json()["error"]["message"]
            assert httpx.get(f"{url}/api/v1/projects", timeout=30).status_code == 200  # light requests pass

            monkeypatch.setenv("CAIRN_BASE_URL", url)
            reset_clients()
            caplog.set_level("INFO", logger="cairn.client.retry")
            done: list = []
            sdk = threading.Thread(target=lambda: done.append(cairn.Artifact("busy", "dataset").save().version))
            sdk.start()
            deadline = time.monotonic() + 60
            while not any("HTTP 429" in m for m in caplog.messages):  # the SDK was refused once
                assert time.monotonic() < deadline and sdk.is_alive(), caplog.messages
                time.sleep(0.05)
        finally:
            release.set()
            t.join(120)
        sdk.join(120)
        assert done == ["v0"]
        assert first[0][0] == 201, first
