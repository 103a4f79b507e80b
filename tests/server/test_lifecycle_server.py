"""Delete, TTL, retention and gc through real server replicas on PostgreSQL + SeaweedFS,
with `cairn admin gc` as a real process: the bucket and the database return to their
baseline once the versions that held the bytes are gone; roles gate deleting; and gc racing
writers under SIGKILLs leaves every committed version whole and nothing unreferenced."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from datetime import timedelta

import httpx
import pytest
from gc_race import Race, child_env, referenced
from helpers import write

import cairn
from cairn.client import reset_clients
from cairn.core.errors import ArtifactNotFoundError, UsageError

GRACE = 1.0


class Stack:
    def __init__(self, urls: list[str], meta: str, prefix: str, s3) -> None:  # noqa: ANN001
        self.urls, self.meta, self.prefix, self.s3 = urls, meta, prefix, s3

    @property
    def blobs(self) -> str:
        return f"s3://cairn/{self.prefix}"

    def gc(self, *args: str) -> str:
        """`cairn admin gc` on the stores, as its own process; its output."""
        out = subprocess.run(
            [sys.executable, "-m", "cairn.cli", "admin", "gc", "--meta", self.meta, "--blobs", self.blobs, *args],
            env={**os.environ, **self.s3.env()},
            capture_output=True,
            text=True,
        )
        assert out.returncode == 0, out.stderr
        return out.stdout

    def gc_past_grace(self) -> str:
        self.gc()
        time.sleep(GRACE * 1.2)
        return self.gc()

    def bucket(self) -> dict[str, int]:
        """{key: size} of everything under the prefix (blobs, staging)."""
        client = self.s3.client()
        out: dict[str, int] = {}
        for page in client.get_paginator("list_objects_v2").paginate(Bucket="cairn", Prefix=self.prefix + "/"):
            out.update({o["Key"]: o["Size"] for o in page.get("Contents", [])})
        return out

    def rows(self, sql: str) -> int:
        from cairn.storage.registry import open_meta

        ms = open_meta(self.meta)
        try:
            with ms.read() as tx:
                return tx.scalar(sql)
        finally:
            ms.dispose()


@pytest.fixture(scope="module")
def stack(server_stack, tmp_path_factory):
    """Two replicas on a database and bucket prefix of their own (gc's grace period and
    this module's users do not reach the session's other servers)."""
    from services import create_database
    from servers import cairn_server

    name = f"lc{uuid.uuid4().hex[:10]}"
    meta = "postgresql://" + create_database(server_stack.meta_url, name).partition("://")[2]
    work = tmp_path_factory.mktemp("lifecycle-stack")
    env = {**server_stack.s3_env, "CAIRN_DIR": str(work / "unused-home")}
    args = ("--meta", meta, "--blobs", f"s3://cairn/{name}", "--no-ui")
    with cairn_server(work / "a", env, *args) as a, cairn_server(work / "b", env, *args) as b:
        s = Stack([a, b], meta, name, server_stack.seaweed)
        s.gc("--grace", f"{GRACE}s")
        yield s


@pytest.fixture
def on_server(stack, monkeypatch, tmp_path):
    monkeypatch.setenv("CAIRN_BASE_URL", stack.urls[0])
    monkeypatch.setenv("CAIRN_ENTITY", "team")
    reset_clients()
    return stack


def _log(name: str, files: dict[str, bytes], project: str = "p", ttl: timedelta | None = None) -> cairn.Artifact:
    with cairn.init(project=project) as run:
        a = cairn.Artifact(name, "dataset")
        for path, data in files.items():
            a.add_file(str(write(f"src-{uuid.uuid4().hex[:6]}/{path}", data)), name=path)
        if ttl is not None:
            a.ttl = ttl
        run.log_artifact(a)
    return a


def test_delete_ttl_and_retention_return_the_bucket_to_its_baseline(on_server, tmp_path):
    stack = on_server
    _log("kept", {"k.bin": os.urandom(50_000), "small.txt": b"kept"})
    stack.gc_past_grace()
    base_bucket = stack.bucket()
    base_chunks = stack.rows("SELECT count(*) FROM chunks")
    base_held = stack.rows("SELECT count(*) FROM project_blobs")
    assert base_bucket and all("/blobs/" in k for k in base_bucket)

    big = os.urandom(9 << 20)  # through a staged, verified upload
    _log("d", {"big.bin": big, "a.txt": b"a"})
    _log("d", {"b.bin": os.urandom(60_000)})
    _log("coll", {"c.bin": os.urandom(70_000)})
    _log("t", {"t.bin": os.urandom(40_000)}, ttl=timedelta(seconds=1))
    for i in range(3):
        _log("r", {"r.bin": os.urandom(30_000 + i)})
    _log("gone", {"g.bin": os.urandom(20_000)}, project="doomed")
    api = cairn.Api()
    assert len(stack.bucket()) > len(base_bucket) + 6

    with pytest.raises(UsageError):
        v = api.artifact("p/d:v1")
        v.aliases.append("best")
        v.save()
        api.artifact("p/d:v1").delete()
    api.artifact("p/d:v1").delete(delete_aliases=True)
    api.artifact("p/d:v0").delete()
    with pytest.raises(ArtifactNotFoundError):
        api.artifact("p/d:latest")
    api.artifact_collection("dataset", "p/coll").delete()
    api.artifact_collection("dataset", "p/r").set_retention(keep_last=1)
    assert api.artifact_collection("dataset", "p/r").retention.keep_last == 1
    api.delete_project("doomed")
    time.sleep(1.1)  # t's ttl passes
    report = stack.gc("--dry-run")
    assert "would remove" in report and "ttl" in report
    stack.gc_past_grace()
    api.artifact_collection("dataset", "p/r").set_retention()
    assert [a.version for a in api.artifacts("dataset", "p/r")] == ["v2"]
    with pytest.raises(ArtifactNotFoundError):
        api.artifact("p/t:v0")
    api.artifact("p/r:v2").delete()
    stack.gc_past_grace()
    assert stack.bucket() == base_bucket
    assert stack.rows("SELECT count(*) FROM chunks") == base_chunks
    assert stack.rows("SELECT count(*) FROM project_blobs") == base_held
    assert api.artifact("p/kept:v0").download(root=str(tmp_path / "kept"))


def test_stale_staged_and_multipart_uploads_go(on_server):
    stack = on_server
    client = stack.s3.client()
    client.put_object(Bucket="cairn", Key=f"{stack.prefix}/staging/{'a' * 32}", Body=b"abandoned" * 100)
    up = client.create_multipart_upload(Bucket="cairn", Key=f"{stack.prefix}/staging/{'b' * 32}")
    client.upload_part(
        Bucket="cairn",
        Key=f"{stack.prefix}/staging/{'b' * 32}",
        UploadId=up["UploadId"],
        PartNumber=1,
        Body=b"x" * 1000,
    )
    client.put_object(
        Bucket="cairn", Key=f"{stack.prefix}/quarantine/{'c' * 64}.20261127T000000.abcd", Body=b"bad" * 10
    )
    time.sleep(GRACE * 1.5)  # older than the grace period by the store's clock
    out = stack.gc()  # the quarantine ttl (7 days) keeps what was set aside
    assert "2 (900 B) temporary files and uploads, 0 (0 B) set-aside damaged blobs" in out
    assert not [k for k in stack.bucket() if "/staging/" in k]
    assert [k for k in stack.bucket() if "/quarantine/" in k]
    out = stack.gc("--quarantine-ttl", "1s")
    assert "1 (30 B) set-aside damaged blobs" in out
    assert not [k for k in stack.bucket() if "/quarantine/" in k]
    uploads = client.list_multipart_uploads(Bucket="cairn", Prefix=stack.prefix).get("Uploads", [])
    assert uploads == []


@pytest.mark.timeout(1800)  # the race waits on its processes' progress, never on the clock: a guard against a hang
def test_gc_racing_writers_and_sigkills_through_server_replicas(on_server, tmp_path, monkeypatch):
    """Three writer processes (alternating replicas) and a `gc` loop on PostgreSQL + S3 with
    a 1 s grace period, SIGKILLed at seeded random moments; then every committed version
    downloads and verifies, and after one more gc past the grace period the bucket holds
    exactly the blobs versions and drafts reference, and no project is said to hold any other."""
    from cairn.engine import gc
    from cairn.storage.registry import open_blobs, open_meta

    stack = on_server
    env = child_env({**stack.s3.env(), "CAIRN_ENTITY": "racers", "GC_META": stack.meta, "GC_BLOBS": stack.blobs})
    race = Race(tmp_path, env, writers=3, seed=4242)
    race.env_for = lambda slot: {"CAIRN_BASE_URL": stack.urls[slot % 2]}
    race.run(min_ok=100, min_gc_runs=15, writer_kills=10, gc_kills=3)  # on observed progress, not a time window
    counts = race.outcomes()
    assert not race.errors, race.errors[:3]
    assert counts["ok"] >= 100 and counts["gc"] >= 15, counts
    assert race.kills["gc"] >= 3 and race.kills["writer"] >= 10, race.kills
    stack.gc()
    time.sleep(GRACE * 1.2)
    stack.gc()
    for k, v in stack.s3.env().items():
        monkeypatch.setenv(k, v)
    meta, blobs = open_meta(stack.meta), open_blobs(stack.blobs)
    with meta.read() as tx:
        rows = tx.tuples(
            "SELECT a.name, v.idx FROM versions v JOIN artifacts a ON a.id = v.artifact_id "
            "JOIN projects p ON p.id = a.project_id WHERE p.entity = 'racers' AND v.state = 'COMMITTED'"
        )
        held = set(tx.scalars("SELECT DISTINCT digest FROM project_blobs"))
    monkeypatch.setenv("CAIRN_ENTITY", "racers")
    reset_clients()
    api = cairn.Api()
    for name, idx in rows:
        api.artifact(f"{name}:v{idx}").download(root=str(tmp_path / "check" / f"{name}-v{idx}"))
    assert len(rows) >= 5
    live, live_chunks = referenced(meta, blobs)
    stored = {d for d, _ in gc._iter_stored(blobs)}
    assert live <= stored and stored == live, f"{len(stored - live)} unreferenced blobs left"
    assert held <= live, "a project is said to hold a blob gc removed"
    with meta.read() as tx:
        assert set(tx.scalars("SELECT key FROM chunks")) == live_chunks


def test_roles_gate_deleting(on_server):
    stack = on_server

    def admin(*args: str) -> str:
        out = subprocess.run(
            [sys.executable, "-m", "cairn.cli", "admin", *args, "--meta", stack.meta],
            env={**os.environ, **stack.s3.env()},
            capture_output=True,
            text=True,
        )
        assert out.returncode == 0, out.stderr
        return out.stdout.strip().splitlines()[-1]

    _log("x", {"x.txt": b"x"}, project="roles")
    owner = admin("create-user", "owner").split()[-1]
    reader = admin("create-user", "reader").split()[-1]
    writer = admin("create-user", "writer").split()[-1]
    admin("add-member", "team", "owner", "--role", "admin")
    admin("add-member", "team", "reader", "--role", "read")
    admin("add-member", "team", "writer", "--role", "write")
    url = stack.urls[1]

    def call(key: str, method: str, path: str, **kw) -> httpx.Response:
        return httpx.request(method, url + path, headers={"Authorization": f"Bearer {key}"}, **kw)

    coll = "/api/v1/projects/team/roles/artifacts/x"
    assert call(reader, "DELETE", coll).status_code == 403
    assert call(reader, "PUT", coll + "/retention", json={"keep_last": 1}).status_code == 403
    assert call(writer, "PUT", "/api/v1/projects/team/roles/retention", json={"keep_last": 1}).status_code == 403
    assert call(writer, "DELETE", "/api/v1/projects/team/roles").status_code == 403
    assert call(writer, "PUT", coll + "/retention", json={"keep_last": -1}).status_code in (400, 422)
    assert call(writer, "PUT", coll + "/retention", json={"keep_last": 2}).json()["retention"]["keep_last"] == 2
    assert call(reader, "GET", coll + "/retention").json()["retention"]["keep_last"] == 2
    assert call(writer, "DELETE", coll).json() == {"deleted_versions": 1}
    assert call(writer, "DELETE", coll).status_code == 404
    assert call(owner, "DELETE", "/api/v1/projects/team/roles").json() == {"deleted_versions": 0}
    assert call(owner, "DELETE", "/api/v1/projects/team/roles").status_code == 404
