"""Ingest stores small files in batches on a writer thread while it reads the next ones:
every file ends up stored, and a store failure in that thread reaches the caller."""

from __future__ import annotations

from pathlib import Path

import pytest

from cairn.client import transfer
from cairn.client.statcache import StatCache
from cairn.core.errors import StoreError
from cairn.storage.blobs.local import LocalBlobStore


@pytest.fixture
def small_files(tmp_path: Path) -> list[str]:
    paths = []
    for i in range(300):
        p = tmp_path / "src" / f"d{i % 3}" / f"f{i}.txt"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(f"file {i}\n".encode() * 50)
        paths.append(str(p))
    return paths


def test_every_batch_is_stored(tmp_path: Path, small_files: list[str], monkeypatch):
    monkeypatch.setattr(transfer, "BATCH_BYTES", 4096)  # many batches
    monkeypatch.setattr(transfer, "BATCH_FILES", 7)
    store = LocalBlobStore(tmp_path / "blobs")
    out = transfer.ingest(store, None, small_files)
    store.flush()
    digests = {d for d, _ in out.values()}
    assert len(digests) == 300 and store.has(digests) == digests
    for p, (d, _) in out.items():
        assert store.read_small([d])[d] == Path(p).read_bytes()
    store.close()


def test_a_failing_store_write_reaches_the_caller(tmp_path: Path, small_files: list[str], monkeypatch):
    monkeypatch.setattr(transfer, "BATCH_BYTES", 4096)
    monkeypatch.setattr(transfer, "BATCH_FILES", 7)
    store = LocalBlobStore(tmp_path / "blobs")
    calls = []

    def put_blobs(items, hashed=False):  # noqa: ANN001
        calls.append(len(items))
        if len(calls) == 2:
            raise StoreError("disk full (simulated)")

    monkeypatch.setattr(store, "put_blobs", put_blobs)
    cache = StatCache(tmp_path / "statcache.sqlite")
    with pytest.raises(StoreError, match="disk full"):
        transfer.ingest(store, cache, small_files, folder=str(tmp_path / "src"))
    assert len(calls) >= 2
    # nothing was remembered as stored
    assert cache.lookup({p: (0, 0, 0) for p in small_files[:1]}, str(tmp_path / "src")) == {}
    assert cache._read_folder(str(tmp_path / "src")) == {}
    store.close()
