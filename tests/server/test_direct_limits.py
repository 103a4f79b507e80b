"""What a direct upload can make the server do is bounded: each URL admits only the size
the client announced for it, the server never reads back another size, asking again for
blobs staged earlier reads nothing (their read-back goes through ``direct/done``, within
the caller's heavy-work share), and read-backs run on one bounded pool per process.

The server runs in process (SQLite, and the session's SeaweedFS as its blob store) with a
heavy-work limit of one per caller and one in all, so that the test can hold a read-back
inside the blob store and watch the limiter while it is held."""

from __future__ import annotations

import os
import threading
import uuid
from typing import Any

import blake3
import httpx
import pytest
from fastapi.testclient import TestClient

from cairn.server import reads, uploads
from cairn.server.app import create_app
from cairn.server.limits import Limits
from cairn.storage.blobs.s3 import S3BlobStore
from cairn.storage.meta.sql import MetaStore

WAIT = 120  # seconds: a guard against a hang, never reached when the code is right
API = "/api/v1/projects/e/p"
CALLER = "address testclient"  # whom the limiter counts an open-access test client as


def digest_of(data: bytes) -> str:
    return "blake3:" + blake3.blake3(data).hexdigest()


class WatchedStore(S3BlobStore):
    """An S3 store that counts the bytes it reads back and the completions running at
    once, and whose completions wait while the test holds the gate closed."""

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.lock = threading.Lock()
        self.gate = threading.Event()
        self.gate.set()
        self.arrived = threading.Semaphore(0)  # released by each completion as it starts
        self.completions = self.running = self.peak = self.read = 0

    def complete_staging(self, *a: Any, **kw: Any) -> bool:
        with self.lock:
            self.completions += 1
            self.running += 1
            self.peak = max(self.peak, self.running)
        self.arrived.release()
        try:
            assert self.gate.wait(WAIT), "the test never opened the gate"
            return super().complete_staging(*a, **kw)
        finally:
            with self.lock:
                self.running -= 1

    def _object_digest(self, client: Any, key: str, size: int | None = None) -> Any:
        got = super()._object_digest(client, key, size)
        if got is not None:
            with self.lock:
                self.read += got[1]["ContentLength"]
        return got


@pytest.fixture
def served(server_stack, monkeypatch, tmp_path):  # noqa: ANN001, ANN201
    for k, v in server_stack.s3_env.items():
        monkeypatch.setenv(k, v)
    meta = MetaStore.sqlite(tmp_path / "meta.sqlite")
    blobs = WatchedStore("cairn", f"direct-{uuid.uuid4().hex[:8]}")
    app = create_app(meta, blobs, limits=Limits(per_caller=1, total=1, wait=1.0))
    with TestClient(app) as client:
        client.gate = app.state.cairn.gate
        client.s3 = server_stack.seaweed.client()
        yield client, blobs
    meta.dispose()
    blobs.close()


def grant(client, blobs: dict[str, bytes]) -> dict:  # noqa: ANN001
    body = {"digests": list(blobs), "sizes": [len(b) for b in blobs.values()]}
    r = client.post(f"{API}/blobs/direct", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def put(url: str, data: bytes) -> int:
    return httpx.put(url, content=data, timeout=60).status_code


def done(client, digests: list[str]) -> httpx.Response:  # noqa: ANN001
    return client.post(f"{API}/blobs/direct/done", json={"digests": digests})


def holds(client, digest: str) -> bool:  # noqa: ANN001
    return client.post(f"{API}/blobs/missing", json={"digests": [digest]}).json()["missing"] == []


def test_direct_uploads_still_work_end_to_end(served) -> None:
    client, blobs = served
    files = {digest_of(b): b for b in (os.urandom(100_000 + i) for i in range(3))}
    g = grant(client, files)
    assert set(g["urls"]) == set(files) and g["staged"] == [] and g["through_server"] == []
    for d, url in g["urls"].items():
        assert put(url, files[d]) == 200
    r = done(client, list(files))
    assert r.status_code == 201 and r.json() == {"through_server": []}
    for d, data in files.items():
        assert holds(client, d) and blobs.open(d).read() == data
    assert blobs.read == sum(len(b) for b in files.values())  # each byte read back once


def test_a_direct_url_admits_only_the_announced_size(served) -> None:
    """The URL signs its Content-Length: SeaweedFS refuses a PUT of another size (403)."""
    client, blobs = served
    data = os.urandom(1000)
    d = digest_of(data)
    url = grant(client, {d: data})["urls"][d]
    for other in (b"", data[:999], data + b"x", os.urandom(8 << 20)):
        assert put(url, other) == 403, len(other)
    r = done(client, [d])  # nothing arrived: nothing read, sent through the server
    assert r.json() == {"through_server": [d]} and blobs.read == 0
    url = grant(client, {d: data})["urls"][d]
    assert put(url, data) == 200
    assert done(client, [d]).json() == {"through_server": []} and holds(client, d)


def test_an_object_of_another_size_is_never_read_back(served) -> None:
    """Bytes of another size at the staging key (a store that does not check a signed
    length): refused before a byte is read, the staged object deleted, the blob sent
    through the server."""
    client, blobs = served
    data = os.urandom(1000)
    d = digest_of(data)
    url = grant(client, {d: data})["urls"][d]
    key = httpx.URL(url).path.split("/", 2)[2]  # /<bucket>/<key>
    client.s3.put_object(Bucket="cairn", Key=key, Body=os.urandom(8 << 20))
    r = done(client, [d])
    assert r.status_code == 201 and r.json() == {"through_server": [d]}
    assert blobs.read == 0 and blobs.completions == 1
    assert client.s3.list_objects_v2(Bucket="cairn", Prefix=key).get("KeyCount", 0) == 0
    assert not holds(client, d)


def test_sizes_are_required_and_bounded(served) -> None:
    client, _ = served
    d = digest_of(b"x" * 10)
    big = uploads.DIRECT_MAX + 1
    r = client.post(f"{API}/blobs/direct", json={"digests": [d], "sizes": [big]})
    assert r.status_code == 413
    assert d in r.json()["error"]["message"] and "blobs/uploads" in r.json()["error"]["message"]
    assert client.post(f"{API}/blobs/direct", json={"digests": [d], "sizes": [uploads.DIRECT_MAX]}).status_code == 200
    r = client.post(f"{API}/blobs/direct", json={"digests": [d], "sizes": [10, 10]})
    assert r.status_code in (400, 422) and "one size each" in r.text
    for bad in (-1, "10", 1.5, None):
        r = client.post(f"{API}/blobs/direct", json={"digests": [d], "sizes": [bad]})
        assert r.status_code in (400, 422), bad
    # a client from before sizes: no URLs, everything through the server
    r = client.post(f"{API}/blobs/direct", json={"digests": [d]})
    assert r.status_code == 200
    assert r.json() == {"direct": True, "urls": {}, "headers": {}, "through_server": [d], "staged": []}


def test_asking_again_for_staged_blobs_reads_nothing_and_done_waits_for_the_limit(served) -> None:
    """Blobs staged by an earlier attempt come back in ``staged`` (no new URL, nothing read);
    reading them back is ``direct/done``, which takes the caller's one heavy slot: while
    another read-back holds it, a second is refused (429), and none runs beside it."""
    client, blobs = served
    first = {digest_of(b): b for b in (os.urandom(70_000 + i) for i in range(16))}
    resumed = {digest_of(b): b for b in (os.urandom(90_000 + i) for i in range(16))}
    for group in (first, resumed):
        g = grant(client, group)
        for d, url in g["urls"].items():
            assert put(url, group[d]) == 200
    # a read-back holds the caller's only slot, held inside the store
    blobs.gate.clear()
    answers: dict[str, httpx.Response] = {}
    t = threading.Thread(target=lambda: answers.setdefault("first", done(client, list(first))))
    t.start()
    try:
        for _ in range(reads.WINDOW):  # the held request's reads, all started (on the shared pool)
            assert blobs.arrived.acquire(timeout=WAIT)
        assert client.gate.running(CALLER) == 1
        held = blobs.completions
        assert held == reads.WINDOW
        # asking again for the staged blobs: answered at once, nothing completed or read
        again = grant(client, resumed)
        assert sorted(again["staged"]) == sorted(resumed) and again["urls"] == {}
        assert blobs.completions == held and blobs.read == 0
        # their read-back waits for the slot, and is refused when it stays taken
        r = done(client, list(resumed))
        assert r.status_code == 429, r.text
        assert client.gate.running(CALLER) == 1 and blobs.completions == held
        assert blobs.running <= reads.WINDOW  # the held request's reads, on the shared pool
    finally:
        blobs.gate.set()
        t.join(WAIT)
    assert answers["first"].json() == {"through_server": []}
    r = done(client, list(resumed))
    assert r.status_code == 201 and r.json() == {"through_server": []}
    assert all(holds(client, d) for d in [*first, *resumed])
    assert blobs.peak <= reads.WINDOW
    assert blobs.read == sum(len(b) for b in [*first.values(), *resumed.values()])


def test_read_backs_share_one_bounded_pool() -> None:
    """However many requests read back at once, each keeps at most WINDOW reads going, on
    one pool of READ_WORKERS threads per process."""
    release = threading.Event()
    lock = threading.Lock()
    now: dict[int, int] = {}
    peak: dict[int, int] = {}
    threads: set[str] = set()
    started = threading.Semaphore(0)

    def read(item: tuple[int, int]) -> int:
        call, n = item
        with lock:
            now[call] = now.get(call, 0) + 1
            peak[call] = max(peak.get(call, 0), now[call])
            threads.add(threading.current_thread().name)
        started.release()
        assert release.wait(WAIT)
        with lock:
            now[call] -= 1
        return n * 2

    results: dict[int, list[int]] = {}
    calls = [
        threading.Thread(target=lambda c=c: results.setdefault(c, reads.map_bounded(read, [(c, n) for n in range(10)])))
        for c in range(3)
    ]
    for t in calls:
        t.start()
    # reads.READ_WORKERS (8) reads start (3 calls x WINDOW 4 = 12 queued); then they are held
    for _ in range(reads.READ_WORKERS):
        assert started.acquire(timeout=WAIT)
    with lock:
        assert sum(now.values()) == reads.READ_WORKERS and all(v <= reads.WINDOW for v in now.values())
    release.set()
    for t in calls:
        t.join(WAIT)
    assert results == {c: [n * 2 for n in range(10)] for c in range(3)}
    assert all(v <= reads.WINDOW for v in peak.values())
    assert reads.pool() is reads.pool() and len(threads) <= reads.READ_WORKERS
    assert all(name.startswith("cairn-readback") for name in threads)


def test_a_failing_read_back_stops_its_request() -> None:
    def read(n: int) -> int:
        if n == 2:
            raise OSError("store gone")
        return n

    with pytest.raises(OSError, match="store gone"):
        reads.map_bounded(read, list(range(50)))
