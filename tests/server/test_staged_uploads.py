"""Staged uploads that go wrong: a completion retried while the first still runs (its
answer lost, or slow), and retried after the server that ran the first died: the retry
answers as the first does, the blob is stored once, and a dead completion does not hold
the upload. And uploads never completed (the client died): `cairn admin gc` removes
their records and bytes past the upload ttl, and keeps a fresh one, which still completes.

The server runs in process (SQLite, and the session's SeaweedFS as its blob store) so that
the test can hold a completion inside the blob store: ``complete_staging`` waits for the
test, which lets it go once the retry has been seen waiting (``uploads._sleep``)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from datetime import timedelta

import blake3
import httpx
import pytest
from fastapi.testclient import TestClient

from cairn.engine import gcmarks, staged_uploads
from cairn.server import uploads
from cairn.server.app import create_app
from cairn.storage.blobs.s3 import S3BlobStore
from cairn.storage.meta.sql import MetaStore

WAIT = 120  # seconds: a guard against a hang, never reached when the code is right
API = "/api/v1/projects/e/p"


class GatedStore(S3BlobStore):
    """An S3 store whose completions wait until the test opens the gate."""

    def __init__(self, *a, **kw) -> None:  # noqa: ANN002, ANN003
        super().__init__(*a, **kw)
        self.entered = threading.Event()
        self.gate = threading.Event()
        self.gate.set()
        self.completions = 0

    def complete_staging(self, *a, **kw) -> bool:  # noqa: ANN002, ANN003
        self.completions += 1
        self.entered.set()
        assert self.gate.wait(WAIT), "the test never opened the gate"
        return super().complete_staging(*a, **kw)


@pytest.fixture
def served(server_stack, monkeypatch, tmp_path):  # noqa: ANN001, ANN201
    for k, v in server_stack.s3_env.items():
        monkeypatch.setenv(k, v)
    meta = MetaStore.sqlite(tmp_path / "meta.sqlite")
    blobs = GatedStore("cairn", f"staged-{uuid.uuid4().hex[:8]}")
    with TestClient(create_app(meta, blobs)) as client:
        client.stores = (f"sqlite:///{tmp_path / 'meta.sqlite'}", f"s3://cairn/{blobs.prefix}")
        client.s3 = server_stack.seaweed.client()
        yield client, meta, blobs
    meta.dispose()
    blobs.close()


def _upload(client, data: bytes) -> tuple[dict, str]:  # noqa: ANN001
    digest = "blake3:" + blake3.blake3(data).hexdigest()
    up = client.post(f"{API}/blobs/uploads", json={"digest": digest, "size": len(data)}).json()
    assert up["direct"] and len(up["urls"]) == 1
    assert httpx.put(up["urls"][0], content=data, timeout=60).status_code == 200
    return {"upload_id": up["upload_id"], "digest": digest}, digest


def _holds(client, digest: str) -> bool:  # noqa: ANN001
    return client.post(f"{API}/blobs/missing", json={"digests": [digest]}).json()["missing"] == []


def _rows(meta: MetaStore) -> list:
    with meta.read() as tx:
        return tx.tuples("SELECT key FROM staged_uploads") + tx.tuples("SELECT digest FROM blob_claims")


def test_a_retry_during_the_first_completion_waits_for_it(served, monkeypatch) -> None:
    client, meta, blobs = served
    body, digest = _upload(client, b"retried while running " * 1000)
    waiting = threading.Event()

    def sleep(seconds: float) -> None:  # the retry, seen waiting for the first completion
        waiting.set()
        threading.Event().wait(seconds)

    monkeypatch.setattr(uploads, "_sleep", sleep)
    blobs.gate.clear()
    answers: dict[str, httpx.Response] = {}

    def complete(name: str) -> None:
        answers[name] = client.post(f"{API}/blobs/uploads/complete", json=body)

    first = threading.Thread(target=complete, args=("first",))
    first.start()
    assert blobs.entered.wait(WAIT)  # the first completion is inside the store
    retry = threading.Thread(target=complete, args=("retry",))
    retry.start()
    assert waiting.wait(WAIT)  # the retry found it running and waits
    assert "retry" not in answers and blobs.completions == 1
    blobs.gate.set()
    first.join(WAIT)
    retry.join(WAIT)
    for name in ("first", "retry"):
        assert answers[name].status_code == 201, answers[name].text
        assert answers[name].json() == {"digest": digest, "stored": True}
    assert blobs.completions == 1  # read and stored once
    assert blobs.open(digest).read() == b"retried while running " * 1000
    assert _holds(client, digest) and _rows(meta) == []


def test_a_retry_after_the_completing_server_died_completes_from_the_staged_bytes(served, monkeypatch) -> None:
    """A server died inside a completion: the upload's lease (and a claim) stay behind. Its
    lease is not refreshed any more; a retry once it has lapsed does the completion again,
    from the bytes still staged, at once (it does not wait out RETRY_WAITS to answer 404)."""
    client, meta, blobs = served
    data = b"the server died " * 1000
    body, digest = _upload(client, data)
    key = body["upload_id"]
    # what the dead server left: the upload leased to its completion, and its claim
    assert staged_uploads.take(meta, "e", "p", key, digest) is not None
    with meta.write() as tx:
        pid = tx.scalar("SELECT id FROM projects WHERE entity = 'e' AND name = 'p'")
        tx.execute(
            "INSERT INTO blob_claims (digest, project_id, created_at) VALUES (:d, :p, :t)",
            {"d": digest, "p": pid, "t": tx.now()},
        )
    # a live lease: the retry waits for it (watched here: it is not taken over)
    assert staged_uploads.being_completed(meta, "e", "p", key, digest)
    assert staged_uploads.take(meta, "e", "p", key, digest) is None
    # the lease as its last refresh left it, LEASE_SECONDS and more ago
    with meta.write() as tx:
        lapsed = gcmarks.store_now(tx) - timedelta(seconds=staged_uploads.LEASE_SECONDS + 1)
        tx.execute(
            "UPDATE staged_uploads SET completing_at = :t WHERE key = :k", {"t": gcmarks.ts(tx, lapsed), "k": key}
        )
    slept: list[float] = []
    monkeypatch.setattr(uploads, "_sleep", slept.append)
    r = client.post(f"{API}/blobs/uploads/complete", json=body)
    assert r.status_code == 201, r.text
    assert r.json() == {"digest": digest, "stored": True} and slept == []
    assert blobs.completions == 1 and blobs.open(digest).read() == data
    assert _holds(client, digest) and _rows(meta) == []
    # and a retry of that answer, lost too: stored already
    assert client.post(f"{API}/blobs/uploads/complete", json=body).json() == {"digest": digest, "stored": True}


def test_a_completion_that_fails_midway_gives_its_lease_back(served, monkeypatch) -> None:
    """The store fails inside the completion: the upload is leased to no one, and the next
    retry completes it without waiting for a lease to lapse."""
    client, meta, blobs = served
    data = b"flaky store " * 1000
    body, digest = _upload(client, data)
    real = S3BlobStore.complete_staging

    def failing(self, *a, **kw):  # noqa: ANN001, ANN002, ANN003, ANN202
        from cairn.core.errors import StoreError

        raise StoreError("the object store did not answer")

    monkeypatch.setattr(S3BlobStore, "complete_staging", failing)
    assert client.post(f"{API}/blobs/uploads/complete", json=body).status_code == 503
    assert not staged_uploads.being_completed(meta, "e", "p", body["upload_id"], digest)
    monkeypatch.setattr(S3BlobStore, "complete_staging", real)
    slept: list[float] = []
    monkeypatch.setattr(uploads, "_sleep", slept.append)
    r = client.post(f"{API}/blobs/uploads/complete", json=body)
    assert r.status_code == 201 and slept == []
    assert blobs.open(digest).read() == data and _rows(meta) == []


def _gc(client, *args: str) -> str:  # noqa: ANN001
    """`cairn admin gc` on the in-process server's stores, as its own process; its output."""
    meta_url, blobs_url = client.stores
    out = subprocess.run(
        [sys.executable, "-m", "cairn.cli", "admin", "gc", "--meta", meta_url, "--blobs", blobs_url, *args],
        env=dict(os.environ),
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def _staged(client, key: str) -> tuple[bool, list]:  # noqa: ANN001
    """Whether an object is at the staging ``key``, and its open multipart uploads."""
    s3 = client.s3
    there = s3.list_objects_v2(Bucket="cairn", Prefix=key).get("KeyCount", 0) > 0
    ups = [u for u in s3.list_multipart_uploads(Bucket="cairn", Prefix=key).get("Uploads", []) if u["Key"] == key]
    return there, ups


def test_uploads_never_completed_go_with_gc_past_the_upload_ttl(served) -> None:
    client, meta, blobs = served
    # abandoned a day ago: a single PUT, and a multipart upload with one of its parts sent
    old_body, old_digest = _upload(client, b"abandoned " * 100)
    big = os.urandom(1000)
    big_digest = "blake3:" + blake3.blake3(big).hexdigest()
    size = 40 << 20  # in parts
    up = client.post(f"{API}/blobs/uploads", json={"digest": big_digest, "size": size}).json()
    assert len(up["urls"]) > 1
    part = os.urandom(up["part_size"])  # its URL admits exactly the part's size
    assert httpx.put(up["urls"][0], content=part, timeout=60).status_code == 200
    old_keys = [old_body["upload_id"], up["upload_id"]]
    assert _staged(client, old_keys[0])[0] and _staged(client, old_keys[1])[1]
    with meta.write() as tx:
        day_ago = gcmarks.store_now(tx) - timedelta(hours=25)
        for key in old_keys:
            tx.execute(
                "UPDATE staged_uploads SET created_at = :t WHERE key = :k", {"t": gcmarks.ts(tx, day_ago), "k": key}
            )
    # and a fresh one, its bytes sent, not completed yet
    fresh_body, fresh_digest = _upload(client, b"fresh " * 100)

    out = _gc(client, "--dry-run")
    assert "would remove 2 (" in out and "staged uploads never completed" in out
    assert _staged(client, old_keys[0])[0] and _staged(client, old_keys[1])[1]  # a dry run changes nothing
    out = _gc(client)
    assert "removed 2 (" in out and "staged uploads never completed" in out
    with meta.read() as tx:
        assert tx.scalars("SELECT key FROM staged_uploads") == [fresh_body["upload_id"]]
    assert _staged(client, old_keys[0]) == (False, [])
    assert _staged(client, old_keys[1]) == (False, [])  # its multipart upload aborted
    assert _staged(client, fresh_body["upload_id"])[0]
    # the abandoned one is gone for good; the fresh one completes
    r = client.post(f"{API}/blobs/uploads/complete", json=old_body)
    assert r.status_code == 404 and "start one again" in r.json()["error"]["message"]
    r = client.post(f"{API}/blobs/uploads/complete", json=fresh_body)
    assert r.status_code == 201 and r.json() == {"digest": fresh_digest, "stored": True}
    assert blobs.open(fresh_digest).read() == b"fresh " * 100 and not _holds(client, old_digest)
    # past the default ttl (24 h) only: a gc now keeps what is left
    _upload(client, b"kept " * 100)
    assert "staged uploads never completed" not in _gc(client)
    with meta.read() as tx:
        assert len(tx.scalars("SELECT key FROM staged_uploads")) == 1
