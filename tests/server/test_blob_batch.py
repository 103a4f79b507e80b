"""A blob batch (POST .../blobs/batch) is bounded by its number of entries as well as its
bytes: a body of millions of zero-length entries (4 bytes each) is refused with a 413
naming the limit before anything is hashed or stored; a batch at exactly the limit is
taken; repeated entries are hashed, stored and answered once; and the client splits its
batches by count, so an upload of 50,000 tiny files still goes through the server."""

from __future__ import annotations

import os
import sqlite3
import struct
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import blake3
import pytest
from fastapi.testclient import TestClient
from counted_s3 import counted_s3_store
from services import seaweed_s3

from cairn.core.limits import MAX_BATCH_BLOBS
from cairn.server.app import create_app
from cairn.server.limits import Limits
from cairn.storage.blobs.local import LocalBlobStore
from cairn.storage.meta.sql import MetaStore

URL = "/api/v1/projects/e/p/blobs/batch"
EMPTY = "blake3:" + blake3.blake3(b"").hexdigest()


def digest_of(data: bytes) -> str:
    return "blake3:" + blake3.blake3(data).hexdigest()


def batch(blobs: list[bytes]) -> bytes:
    return b"".join(struct.pack(">I", len(b)) + b for b in blobs)


def distinct(n: int) -> list[bytes]:
    """``n`` different tiny blobs (4 bytes each)."""
    return [struct.pack(">I", i) for i in range(n)]


def rows(db: Path, table: str) -> int:
    con = sqlite3.connect(db)
    try:
        return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    finally:
        con.close()


@pytest.fixture
def local_app(tmp_path: Path) -> Iterator[tuple[TestClient, LocalBlobStore, Path]]:
    """The API in-process over SQLite and a local blob store."""
    blobs = LocalBlobStore(tmp_path / "blobs")
    db = tmp_path / "meta.sqlite"
    with TestClient(create_app(MetaStore.sqlite(db), blobs, ui=False, limits=Limits())) as client:
        yield client, blobs, db
    blobs.close()


def assert_nothing_stored(blobs: LocalBlobStore, db: Path, digests: list[str]) -> None:
    assert blobs.has(digests) == set()
    assert rows(db, "project_blobs") == 0 and rows(db, "blob_claims") == 0


# -- the attack ----------------------------------------------------------------------------


def test_a_body_of_millions_of_empty_entries_is_refused_before_anything_is_stored(local_app) -> None:
    """The reviewer's body: 32 MiB of zero bytes, i.e. 8,388,608 zero-length entries."""
    client, blobs, db = local_app
    r = client.post(URL, content=bytes(32 << 20))
    assert r.status_code == 413, r.text
    message = r.json()["error"]["message"]
    assert f"more than {MAX_BATCH_BLOBS} blobs" in message and "batch_blobs" in message
    assert f"batches of at most {MAX_BATCH_BLOBS}" in message
    assert_nothing_stored(blobs, db, [EMPTY])


@pytest.mark.parametrize(
    "entries",
    [
        pytest.param([b""] * (MAX_BATCH_BLOBS + 1), id="empty-repeated"),
        pytest.param([b"same"] * (MAX_BATCH_BLOBS + 1), id="duplicates"),
        pytest.param(distinct(MAX_BATCH_BLOBS + 1), id="distinct"),
    ],
)
def test_one_entry_past_the_limit_is_a_413_and_nothing_is_hashed_or_stored(local_app, monkeypatch, entries) -> None:
    client, blobs, db = local_app
    hashed: list[int] = []
    from cairn.core import digest as digest_mod

    original = digest_mod.Digest.of_bytes
    monkeypatch.setattr(
        digest_mod.Digest, "of_bytes", staticmethod(lambda data: (hashed.append(len(data)), original(data))[1])
    )
    r = client.post(URL, content=batch(entries))
    assert r.status_code == 413, r.text
    assert "batch_blobs" in r.json()["error"]["message"]
    assert hashed == []
    assert_nothing_stored(blobs, db, sorted({digest_of(b) for b in entries}))


def test_a_malformed_body_past_the_limit_is_refused_for_its_count_first(local_app) -> None:
    """The count is checked as the framing is read: a body whose entry past the limit is
    truncated is refused for the count, and one truncated earlier as malformed (400)."""
    client, blobs, db = local_app
    body = batch([b""] * MAX_BATCH_BLOBS)
    assert client.post(URL, content=body + b"\x00\x00\x00\x09ab").status_code == 413
    bad = client.post(URL, content=body[:-2])
    assert bad.status_code == 400 and "malformed blob batch" in bad.text
    assert_nothing_stored(blobs, db, [EMPTY])


# -- what is taken --------------------------------------------------------------------------


def test_a_batch_of_exactly_the_limit_is_stored_and_answered_in_order(local_app) -> None:
    client, blobs, db = local_app
    entries = distinct(MAX_BATCH_BLOBS)
    r = client.post(URL, content=batch(entries))
    assert r.status_code == 201, r.text
    want = [digest_of(b) for b in entries]
    assert r.json() == {"digests": want}
    assert blobs.has(want) == set(want)
    assert rows(db, "project_blobs") == MAX_BATCH_BLOBS
    assert client.post("/api/v1/projects/e/p/blobs/missing", json={"digests": want[:3]}).json() == {"missing": []}


def test_the_empty_blob_is_a_blob_and_repeats_are_stored_and_answered_once(local_app, monkeypatch) -> None:
    client, blobs, db = local_app
    from cairn.core import digest as digest_mod

    hashed: list[int] = []
    original = digest_mod.Digest.of_bytes
    monkeypatch.setattr(
        digest_mod.Digest, "of_bytes", staticmethod(lambda data: (hashed.append(len(data)), original(data))[1])
    )
    entries = [b"", b"a", b""] + [b"a"] * (MAX_BATCH_BLOBS - 4) + [b"bc"]
    r = client.post(URL, content=batch(entries))
    assert r.status_code == 201, r.text
    assert r.json() == {"digests": [EMPTY, digest_of(b"a"), digest_of(b"bc")]}  # first appearances, in order
    assert sorted(hashed) == [0, 1, 2]  # each distinct blob hashed once
    assert blobs.has([EMPTY, digest_of(b"a")]) == {EMPTY, digest_of(b"a")}
    assert rows(db, "project_blobs") == 3
    one = client.post(URL, content=batch([b""]))  # the empty file alone
    assert one.status_code == 201 and one.json() == {"digests": [EMPTY]}


def test_a_server_with_a_lower_limit_names_its_own(tmp_path) -> None:
    blobs = LocalBlobStore(tmp_path / "blobs")
    app = create_app(MetaStore.sqlite(tmp_path / "meta.sqlite"), blobs, ui=False, limits=Limits(batch_blobs=3))
    with TestClient(app) as client:
        assert client.post(URL, content=batch(distinct(3))).status_code == 201
        r = client.post(URL, content=batch(distinct(4)))
        assert r.status_code == 413 and "more than 3 blobs" in r.json()["error"]["message"]
    blobs.close()


# -- on S3 (SeaweedFS): each distinct blob one PUT -------------------------------------------


@pytest.fixture(scope="module")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    with seaweed_s3(tmp_path_factory.mktemp("seaweed")) as s3:
        yield s3
        s3.process.stop(timeout=2)


@pytest.fixture
def s3_app(seaweed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[TestClient, Counter, Path]]:
    """The API on a fresh SeaweedFS bucket, every S3 operation the store sends counted."""
    blobs, calls = counted_s3_store(seaweed, monkeypatch)
    db = tmp_path / "meta.sqlite"
    with TestClient(create_app(MetaStore.sqlite(db), blobs, ui=False, limits=Limits())) as client:
        yield client, calls, db


@pytest.mark.services
def test_on_s3_the_attack_sends_the_store_nothing(s3_app) -> None:
    client, calls, db = s3_app
    calls.clear()
    r = client.post(URL, content=batch([b""] * (MAX_BATCH_BLOBS + 1)))
    assert r.status_code == 413, r.text
    assert calls["PutObject"] == 0
    assert rows(db, "project_blobs") == 0 and rows(db, "blob_claims") == 0


@pytest.mark.services
def test_on_s3_repeats_are_one_put_each_and_the_limit_is_taken(s3_app) -> None:
    client, calls, db = s3_app
    calls.clear()
    r = client.post(URL, content=batch([b""] * (MAX_BATCH_BLOBS // 2) + [b"x"] * (MAX_BATCH_BLOBS // 2)))
    assert r.status_code == 201 and r.json() == {"digests": [EMPTY, digest_of(b"x")]}
    assert calls["PutObject"] == 2
    calls.clear()
    entries = distinct(MAX_BATCH_BLOBS)
    r = client.post(URL, content=batch(entries))
    assert r.status_code == 201 and r.json()["digests"] == [digest_of(b) for b in entries]
    assert calls["PutObject"] == MAX_BATCH_BLOBS
    assert rows(db, "project_blobs") == MAX_BATCH_BLOBS + 2


# -- the client splits by count --------------------------------------------------------------


def test_the_uploader_cuts_batches_at_the_count_as_well_as_the_bytes() -> None:
    from cairn.client.sources import Bytes
    from cairn.client.uploader import BATCH_BYTES, _batches

    tiny = [(digest_of(b), Bytes(b)) for b in distinct(2 * MAX_BATCH_BLOBS + 5)]
    assert [len(b) for b in _batches(tiny)] == [MAX_BATCH_BLOBS, MAX_BATCH_BLOBS, 5]
    big = [(digest_of(b), Bytes(b)) for b in (os.urandom(BATCH_BYTES // 2 + 1) for _ in range(3))]
    assert [len(b) for b in _batches(big)] == [2, 1]  # still cut at the bytes
    assert [d for b in _batches(tiny) for d, _ in b] == [d for d, _ in tiny]  # all of them, in order, once


@pytest.mark.services
def test_an_upload_of_more_tiny_files_than_a_batch_holds_goes_through_the_server(tmp_path, on_stack, monkeypatch):
    """Through the real server (two replicas on PostgreSQL and SeaweedFS): more tiny files
    than one batch may hold, in one log, go up in batches of at most the limit and read back."""
    import cairn
    from cairn.client import get_client, reset_clients

    kind = type(get_client().uploader)
    sizes: list[int] = []
    send_batch = kind.send_batch
    monkeypatch.setattr(
        kind, "send_batch", lambda self, e, p, b, *task: (sizes.append(len(b)), send_batch(self, e, p, b, *task))
    )
    n = 2 * MAX_BATCH_BLOBS + 7
    (tmp_path / "d").mkdir()
    files = {f"f{i:05d}.txt": b"%d\n" % i for i in range(n)}
    for name, data in files.items():
        (tmp_path / "d" / name).write_bytes(data)
    with cairn.init(project="tinyfiles") as run:
        a = cairn.Artifact("many", "dataset")
        a.add_dir(str(tmp_path / "d"))
        run.log_artifact(a)
    assert sorted(sizes) == [7, MAX_BATCH_BLOBS, MAX_BATCH_BLOBS]
    reset_clients()
    out = cairn.Api().artifact("tinyfiles/many:v0").download(tmp_path / "dl")
    assert {name: (Path(out) / name).read_bytes() for name in files} == files
