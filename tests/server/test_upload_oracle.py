"""Bytes sent through the server (a single PUT, or a batch) cost the same store work whether
or not another project holds the blob: otherwise the time an upload takes (a 2 GiB part
upload skipped, a file rename and a disk sync skipped) tells a caller that someone else
has the same file. Checked on the work itself, not on timings: the S3 operations the server
sends (SeaweedFS, counted by botocore's event hook) and the writes a local store makes (a
new inode for an object file, a change of the packs database) are the same for a digest
held by another project as for a new one."""

from __future__ import annotations

import os
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import blake3
import pytest
from fastapi.testclient import TestClient
from counted_s3 import counted_s3_store
from services import seaweed_s3

from cairn.server.app import create_app
from cairn.storage.blobs.local import PACK_LIMIT, LocalBlobStore
from cairn.storage.blobs.s3 import MiB
from cairn.storage.meta.sql import MetaStore

THRESHOLD, PART = 8 * MiB, 5 * MiB
SIZES = {"small": 1000, "file": PACK_LIMIT + 10, "multipart": 2 * PART + 7}


def digest_of(data: bytes) -> str:
    return "blake3:" + blake3.blake3(data).hexdigest()


def batch(*blobs: bytes) -> bytes:
    return b"".join(len(b).to_bytes(4, "big") + b for b in blobs)


def put(client: TestClient, project: str, data: bytes) -> None:
    r = client.put(f"/api/v1/projects/e/{project}/blobs/{digest_of(data)}", content=data)
    assert r.status_code == 201, r.text


def put_batch(client: TestClient, project: str, *blobs: bytes) -> None:
    r = client.post(f"/api/v1/projects/e/{project}/blobs/batch", content=batch(*blobs))
    assert r.status_code == 201, r.text
    assert r.json()["digests"] == [digest_of(b) for b in blobs]


def held(client: TestClient, project: str, data: bytes) -> bool:
    r = client.post(f"/api/v1/projects/e/{project}/blobs/missing", json={"digests": [digest_of(data)]})
    assert r.status_code == 200, r.text
    return r.json()["missing"] == []


# -- S3 (SeaweedFS) ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    with seaweed_s3(tmp_path_factory.mktemp("seaweed")) as s3:
        yield s3
        s3.process.stop(timeout=2)


@pytest.fixture
def s3_app(seaweed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[TestClient, Counter]]:
    """The API on a fresh bucket, every S3 operation the store sends counted by name."""
    blobs, calls = counted_s3_store(seaweed, monkeypatch, multipart_threshold=THRESHOLD, part_size=PART)
    with TestClient(create_app(MetaStore.sqlite(tmp_path / "meta.sqlite"), blobs, ui=False)) as client:
        yield client, calls


def s3_work(client: TestClient, calls: Counter, send: Callable[[], None]) -> Counter:
    calls.clear()
    send()
    return Counter(calls)


@pytest.mark.parametrize("size", list(SIZES))
def test_a_put_sends_the_store_the_same_work_whoever_holds_the_blob(s3_app, size: str) -> None:
    client, calls = s3_app
    theirs, new = os.urandom(SIZES[size]), os.urandom(SIZES[size])
    put(client, "theirs", theirs)
    over_theirs = s3_work(client, calls, lambda: put(client, "mine", theirs))
    fresh = s3_work(client, calls, lambda: put(client, "mine", new))
    assert over_theirs == fresh
    assert fresh["UploadPart" if size == "multipart" else "PutObject"] >= 1  # the bytes were sent both times
    assert held(client, "mine", theirs) and held(client, "mine", new)


def test_a_batch_sends_the_store_the_same_work_whoever_holds_its_blobs(s3_app) -> None:
    client, calls = s3_app
    theirs = [os.urandom(100), os.urandom(PACK_LIMIT + 1)]
    new = [os.urandom(100), os.urandom(PACK_LIMIT + 1)]
    put_batch(client, "theirs", *theirs)
    over_theirs = s3_work(client, calls, lambda: put_batch(client, "mine", *theirs))
    fresh = s3_work(client, calls, lambda: put_batch(client, "mine", *new))
    assert over_theirs == fresh
    assert fresh["PutObject"] == 2
    assert all(held(client, "mine", b) for b in theirs + new)


def test_a_put_while_another_project_writes_the_blob_does_the_same_work(s3_app, tmp_path: Path) -> None:
    """Another project's upload of the digest in flight (its claim) does not make this one
    read the object back: the time taken does not tell that someone is writing it now."""
    from cairn.engine import records
    from cairn.storage.meta.tx import insert

    client, calls = s3_app
    theirs, new = os.urandom(SIZES["file"]), os.urandom(SIZES["file"])
    put(client, "other", os.urandom(10))  # the store's first call also looks at its bucket
    meta = MetaStore.sqlite(tmp_path / "meta.sqlite")  # the app's database
    try:
        with meta.write() as tx:
            pid = records.project_id(tx, "e", "theirs", create=True)
            insert(tx, "blob_claims", {"digest": digest_of(theirs), "project_id": pid, "created_at": tx.now()})
    finally:
        meta.dispose()
    while_theirs = s3_work(client, calls, lambda: put(client, "mine", theirs))
    fresh = s3_work(client, calls, lambda: put(client, "mine", new))
    assert while_theirs == fresh and fresh["GetObject"] == 0
    assert held(client, "mine", theirs)


# -- local store ----------------------------------------------------------------------------


@pytest.fixture
def local_app(tmp_path: Path) -> Iterator[tuple[TestClient, Path]]:
    blobs = LocalBlobStore(tmp_path / "blobs")
    with TestClient(create_app(MetaStore.sqlite(tmp_path / "meta.sqlite"), blobs, ui=False)) as client:
        yield client, tmp_path / "blobs"
    blobs.close()


def local_writes(root: Path, data: bytes, send: Callable[[], None]) -> tuple[bool, bool]:
    """(whether the blob's object file is a new one, whether the packs database changed)
    across ``send()``; a database changed by another connection has a new data_version."""
    hexd = digest_of(data)[7:]
    path = root / "objects" / hexd[:2] / hexd[2:]
    inode = path.stat().st_ino if path.exists() else None
    watcher = sqlite3.connect(root / "packs.sqlite")
    try:
        version = watcher.execute("PRAGMA data_version").fetchone()[0]
        send()
        changed = watcher.execute("PRAGMA data_version").fetchone()[0] != version
    finally:
        watcher.close()
    return (path.exists() and path.stat().st_ino != inode), changed


@pytest.mark.parametrize("size", ["small", "file"])
def test_a_put_writes_the_local_store_alike_whoever_holds_the_blob(local_app, size: str) -> None:
    client, root = local_app
    theirs, new = os.urandom(SIZES[size]), os.urandom(SIZES[size])
    put(client, "theirs", theirs)
    over_theirs = local_writes(root, theirs, lambda: put(client, "mine", theirs))
    fresh = local_writes(root, new, lambda: put(client, "mine", new))
    assert over_theirs == fresh
    assert fresh == ((False, True) if size == "small" else (True, False))  # a packed row / an object file
    assert held(client, "mine", theirs) and held(client, "mine", new)


def test_a_batch_writes_the_local_store_alike_whoever_holds_its_blobs(local_app) -> None:
    client, root = local_app
    theirs = [os.urandom(100), os.urandom(PACK_LIMIT + 1)]
    new = [os.urandom(100), os.urandom(PACK_LIMIT + 1)]
    put_batch(client, "theirs", *theirs)
    over_theirs = local_writes(root, theirs[1], lambda: put_batch(client, "mine", *theirs))
    fresh = local_writes(root, new[1], lambda: put_batch(client, "mine", *new))
    assert over_theirs == fresh == (True, True)
    assert all(held(client, "mine", b) for b in theirs + new)


def chunk_files(root: Path, digest: str) -> dict[str, int | None]:
    """{chunk digest: inode of its object file, None when packed or absent} of a chunked blob."""
    import json

    db = sqlite3.connect(root / "packs.sqlite")
    try:
        (chunks,) = db.execute("SELECT chunks FROM recipes WHERE digest = ?", (digest,)).fetchone()
    finally:
        db.close()
    out: dict[str, int | None] = {}
    for d, _size in json.loads(chunks):
        path = root / "objects" / d[7:9] / d[9:]
        out[d] = path.stat().st_ino if path.exists() else None
    return out


def test_a_chunked_put_writes_every_chunk_again_whoever_holds_the_blob(local_app, monkeypatch) -> None:
    """A blob large enough to be kept as chunks: each chunk file is written again, and its
    recipe, for a digest another project holds, as for a new one."""
    from cairn.storage.blobs import local

    monkeypatch.setattr(local, "CHUNKED_MIN", 1 << 20)  # small chunks: a 2 MiB blob makes ~30
    monkeypatch.setattr(local, "CDC_AVG", 64 << 10)
    monkeypatch.setattr(local, "CDC_MIN", 16 << 10)
    monkeypatch.setattr(local, "CDC_MAX", 256 << 10)
    client, root = local_app
    theirs, new = os.urandom(2 << 20), os.urandom(2 << 20)
    put(client, "theirs", theirs)
    before = chunk_files(root, digest_of(theirs))
    _, recipe_changed = local_writes(root, theirs, lambda: put(client, "mine", theirs))
    after = chunk_files(root, digest_of(theirs))
    rewritten = [d for d, ino in before.items() if ino is not None and after[d] != ino]
    assert recipe_changed and rewritten and len(rewritten) == sum(ino is not None for ino in before.values())
    _, fresh_changed = local_writes(root, new, lambda: put(client, "mine", new))
    created = [d for d, ino in chunk_files(root, digest_of(new)).items() if ino is not None]
    assert fresh_changed and len(created) > 0
    assert held(client, "mine", theirs) and held(client, "mine", new)
