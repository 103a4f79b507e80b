"""Commits survive the object store going away: a clear StoreError within seconds (timeouts
and bounded retries, never a hang), no version and no blob at its final key, and the same
commit succeeds once the store is back. SeaweedFS is really stopped (process.stop())."""

from __future__ import annotations

import os
from pathlib import Path

import blake3
import pytest

from cairn.client import transfer
from cairn.core.errors import ArtifactNotFoundError, StoreError
from cairn.core.manifest import Entry
from cairn.core.versions import CommitRequest
from cairn.engine import Engine
from cairn.storage.blobs.s3 import MiB, S3BlobStore, s3_client_factory
from cairn.storage.meta.sql import MetaStore

PART = 5 * MiB
# Each test fails at the outage within two attempts per request with backoff; a hang would be
# read_timeout (60 s) or worse. pytest-timeout guards the whole test (the retry after it too).
GUARD = pytest.mark.timeout(300, func_only=True)


def stop(seaweed) -> None:
    """Stop SeaweedFS; SIGKILL after 2 s (its graceful shutdown sometimes idles ~30 s on open
    connections; what it acknowledged is already on disk)."""
    seaweed.process.stop(timeout=2)


@pytest.fixture
def files(tmp_path: Path) -> dict[str, bytes]:
    src = tmp_path / "src"
    src.mkdir()
    data = {"model.bin": os.urandom(4 * PART + 11), "small.json": b'{"ok": true}', "mid.bin": os.urandom(300_000)}
    for name, b in data.items():
        (src / name).write_bytes(b)
    return data


def stopping_factory(seaweed, on: str, nth: int):
    """Default clients that stop SeaweedFS just before the ``nth`` ``on`` request is sent."""
    seen = {"n": 0}

    def make():
        client = s3_client_factory()()

        def hook(**_):
            seen["n"] += 1
            if seen["n"] == nth:
                stop(seaweed)

        client.meta.events.register(f"before-send.s3.{on}", hook)
        return client

    return make


def log(engine: Engine, store: S3BlobStore, src: Path, names: list[str]):
    stored = transfer.ingest(store, None, [str(src / n) for n in names])
    entries = [Entry(n, *stored[str(src / n)]) for n in names]
    return engine.commit(CommitRequest("ent", "proj", "model", "model", entries=entries))


def assert_nothing_committed(engine: Engine) -> None:
    with pytest.raises(ArtifactNotFoundError):
        engine.list_versions("ent", "proj", "model")


def retry_succeeds(seaweed, bucket: str, engine: Engine, src: Path, files: dict[str, bytes], tmp_path: Path) -> None:
    seaweed.process.start()
    store = S3BlobStore(bucket, "p", multipart_threshold=2 * PART, part_size=PART)
    v = log(engine, store, src, list(files))
    assert v.version == "v0"
    out = tmp_path / "out"
    transfer.download(list(engine.manifest(v.manifest_key)), out, transfer.StoreReader(store), None)
    assert {n: (out / n).read_bytes() for n in files} == files


@GUARD
def test_store_stops_during_a_multipart_upload(s3_env, bucket, files, tmp_path: Path):
    engine = Engine(MetaStore.sqlite(tmp_path / "meta.sqlite"), None)
    store = S3BlobStore(
        bucket, "p", stopping_factory(s3_env, "UploadPart", 2), multipart_threshold=2 * PART, part_size=PART
    )
    engine.blobs = store
    with pytest.raises(StoreError) as err:
        log(engine, store, tmp_path / "src", list(files))
    assert s3_env.endpoint_url in str(err.value) and "retry" in str(err.value)  # refused, or a 500 while it stops
    assert_nothing_committed(engine)
    s3_env.process.start()
    big = "blake3:" + blake3.blake3(files["model.bin"]).hexdigest()
    assert S3BlobStore(bucket, "p").has([big]) == set()  # no unverified or partial bytes at its key
    engine.blobs = S3BlobStore(bucket, "p", multipart_threshold=2 * PART, part_size=PART)
    retry_succeeds(s3_env, bucket, engine, tmp_path / "src", files, tmp_path)


@GUARD
def test_store_stops_between_upload_and_commit(s3_env, bucket, files, tmp_path: Path):
    """The blobs were uploaded; the commit's existence check finds the store gone."""
    store = S3BlobStore(
        bucket, "p", stopping_factory(s3_env, "HeadObject", 10**9), multipart_threshold=2 * PART, part_size=PART
    )
    engine = Engine(MetaStore.sqlite(tmp_path / "meta.sqlite"), store)
    src = tmp_path / "src"
    stored = transfer.ingest(store, None, [str(src / n) for n in files])
    stop(s3_env)
    with pytest.raises(StoreError):
        engine.commit(
            CommitRequest("ent", "proj", "model", "model", entries=[Entry(n, *stored[str(src / n)]) for n in files])
        )
    assert_nothing_committed(engine)
    retry_succeeds(s3_env, bucket, engine, src, files, tmp_path)


@GUARD
def test_store_stops_during_a_download(s3_env, bucket, tmp_path: Path):
    store = S3BlobStore(bucket, "p")
    data = os.urandom(64 * MiB)
    digest, _ = store.put_bytes(data)
    with pytest.raises(StoreError) as err:
        with store.open(digest) as f:
            f.read(MiB)
            stop(s3_env)
            while f.read(MiB):
                pass
    assert s3_env.endpoint_url in str(err.value)
    s3_env.process.start()
    with store.open(digest) as f:
        assert f.read() == data


def test_a_failed_upload_gives_its_memory_back(s3_env, bucket, tmp_path: Path):
    """Parts queued behind a failed one are cancelled; their buffers return to the store's budget."""
    path = tmp_path / "big.bin"
    path.write_bytes(os.urandom(6 * PART))
    store = S3BlobStore(
        bucket,
        "p",
        stopping_factory(s3_env, "UploadPart", 1),
        multipart_threshold=2 * PART,
        part_size=PART,
        part_workers=1,
    )
    with pytest.raises(StoreError):
        store.put_file(path)
    assert store._budget._used == 0
    s3_env.process.start()
    assert store.put_file(path)[1] == 6 * PART
