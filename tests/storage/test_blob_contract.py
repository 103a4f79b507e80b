"""The BlobStore contract (storage/base.py), run against every adapter: a local folder and
a real S3 store (SeaweedFS). Adapter-specific behaviour lives in test_s3_blobs.py."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import blake3
import pytest

from cairn.client import transfer
from cairn.core.errors import BlobNotFoundError
from cairn.core.manifest import Entry
from cairn.storage.blobs.local import PACK_LIMIT, LocalBlobStore
from cairn.storage.blobs.s3 import MiB, S3BlobStore

# Small multipart sizes so "large" files are multi-part without being slow (S3's minimum part is 5 MiB).
S3_THRESHOLD, S3_PART = 6 * MiB, 5 * MiB
LARGE = 2 * S3_PART + 3  # > threshold: three parts, the last one 3 bytes


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path):
    if request.param == "local":
        s = LocalBlobStore(tmp_path / "blobs")
    else:
        bucket = request.getfixturevalue("bucket")
        s = S3BlobStore(bucket, "team/cairn", multipart_threshold=S3_THRESHOLD, part_size=S3_PART)
    yield s
    s.close()


def digest_of(data: bytes) -> str:
    return "blake3:" + blake3.blake3(data).hexdigest()


def read_all(store, digest: str) -> bytes:
    with store.open(digest) as f:
        return f.read()


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


UNKNOWN = ["blake3:" + "0" * 64, "blake3:" + "f" * 64, "blake3:not-hex", "etag:abc", "uri:s3://x/y", "garbage"]


def test_put_bytes_has_open(store):
    data = b"hello cairn"
    assert store.put_bytes(data) == (digest_of(data), len(data))
    assert store.has([digest_of(data), *UNKNOWN]) == {digest_of(data)}
    assert read_all(store, digest_of(data)) == data


def test_has_of_nothing_and_of_unknown_digests(store):
    assert store.has([]) == set()
    assert store.has(iter(UNKNOWN)) == set()


@pytest.mark.parametrize("kind", [list, set, frozenset])
def test_has_of_any_collection_answers_a_set(store, kind):
    data = b"asked for in a frozenset"
    digest, _ = store.put_bytes(data)
    store.flush()
    found = store.has(kind([digest, *UNKNOWN]))
    assert found == {digest} and isinstance(found, set)
    found.add("callers may add to the answer")


@pytest.mark.parametrize("size", [0, 1, 1000, PACK_LIMIT - 1, PACK_LIMIT, LARGE])
def test_put_file_small_and_large(store, tmp_path: Path, size: int):
    data = os.urandom(size)
    digest, n = store.put_file(write(tmp_path / "f.bin", data))
    assert (digest, n) == (digest_of(data), size)
    store.flush()
    assert store.has([digest]) == {digest}
    assert digest_of(read_all(store, digest)) == digest  # what is stored hashes to its name


def test_put_file_with_size_hint(store, tmp_path: Path):
    data = os.urandom(LARGE)
    assert store.put_file(write(tmp_path / "f.bin", data), size_hint=LARGE) == (digest_of(data), LARGE)


def test_puts_are_idempotent(store, tmp_path: Path):
    small, large = b"same", os.urandom(LARGE)
    for _ in range(2):
        assert store.put_bytes(small) == (digest_of(small), 4)
        assert store.put_file(write(tmp_path / "large.bin", large)) == (digest_of(large), LARGE)
        store.put_blobs([(digest_of(small), small), (digest_of(large), large)])
    store.flush()
    assert sorted(store.iter_digests()) == sorted({digest_of(small), digest_of(large)})
    assert read_all(store, digest_of(large)) == large


def test_concurrent_puts_of_one_blob(store, tmp_path: Path):
    data = os.urandom(LARGE)
    path = write(tmp_path / "same.bin", data)
    results, start = [], threading.Barrier(4)

    def put() -> None:
        start.wait()
        results.append(store.put_file(path))

    threads = [threading.Thread(target=put) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [(digest_of(data), LARGE)] * 4
    assert list(store.iter_digests()) == [digest_of(data)]
    assert read_all(store, digest_of(data)) == data


def test_put_blobs_many_small_and_some_large(store):
    items = [(digest_of(b), b) for b in (f"blob {i}".encode() * (i + 1) for i in range(200))]
    big = os.urandom(PACK_LIMIT + 10)
    items.append((digest_of(big), big))
    store.put_blobs(items)
    store.put_blobs([])
    store.flush()
    assert store.has(d for d, _ in items) == {d for d, _ in items}
    for d, b in items[::37] + items[-1:]:
        assert read_all(store, d) == b


def test_open_missing_blob(store):
    missing = "blake3:" + "a" * 64
    with pytest.raises(BlobNotFoundError) as err:
        store.open(missing)
    assert err.value.digest == missing


def test_open_reads_in_pieces(store, tmp_path: Path):
    data = os.urandom(LARGE)
    digest, _ = store.put_file(write(tmp_path / "f.bin", data))
    got = bytearray()
    with store.open(digest) as f:
        while chunk := f.read(1 << 20):
            got += chunk
    assert bytes(got) == data


def test_delete_and_iter_digests(store, tmp_path: Path):
    assert list(store.iter_digests()) == []
    a, b = b"a" * 10, os.urandom(LARGE)
    da, _ = store.put_bytes(a)
    db, _ = store.put_file(write(tmp_path / "b.bin", b))
    store.flush()
    assert sorted(store.iter_digests()) == sorted([da, db])
    store.delete(db)
    store.delete(db)  # missing blobs are ignored
    store.delete("blake3:" + "1" * 64)
    assert list(store.iter_digests()) == [da]
    assert store.has([da, db]) == {da}
    with pytest.raises(BlobNotFoundError):
        store.open(db)
    store.delete(da)
    assert list(store.iter_digests()) == []


def test_bad_paths(store, tmp_path: Path):
    with pytest.raises(FileNotFoundError):
        store.put_file(tmp_path / "nope.bin")
    with pytest.raises(IsADirectoryError):
        store.put_file(tmp_path)


def test_ingest_and_verified_download(store, tmp_path: Path):
    """The store through its real callers: transfer.ingest stores, transfer.download verifies."""
    src = tmp_path / "src"
    files = {f"f{i}.bin": os.urandom(n) for i, n in enumerate([0, 10, PACK_LIMIT + 1, LARGE, 3000])}
    files["dup.bin"] = files["f1.bin"]
    for name, data in files.items():
        (src / name).parent.mkdir(exist_ok=True)
        (src / name).write_bytes(data)
    stored = transfer.ingest(store, None, [str(src / n) for n in files])
    store.flush()
    entries = [Entry(n, stored[str(src / n)][0], stored[str(src / n)][1]) for n in files]
    assert all(e.digest == digest_of(files[e.path]) for e in entries)
    out = tmp_path / "out"
    transfer.download(entries, out, transfer.StoreReader(store), None)
    assert {n: (out / n).read_bytes() for n in files} == files


@pytest.mark.parametrize("kind", ["packed", "single", "large"])
def test_read_range(store, tmp_path: Path, kind: str):
    """RangeReader: any slice of a small, a whole-object and a multi-part (S3) / chunked
    (local) blob, the end clipped, past the end empty, bad arguments refused."""
    size = {"packed": 100, "single": PACK_LIMIT + 5000, "large": LARGE}[kind]
    data = os.urandom(size)
    digest, _ = store.put_file(write(tmp_path / "f.bin", data))
    store.flush()
    for offset, length in (
        (0, 10),
        (0, size),
        (size - 7, 7),
        (size // 2, 4096),
        (size - 3, 100),
        (size, 10),
        (size + 50, 10),
        (5, 0),
        (S3_PART - 2, 5) if size > S3_PART else (1, 1),
    ):
        assert store.read_range(digest, offset, length) == data[offset : offset + length], (offset, length)
    with pytest.raises(ValueError):
        store.read_range(digest, -1, 5)
    with pytest.raises(ValueError):
        store.read_range(digest, 0, -5)
    with pytest.raises(BlobNotFoundError):
        store.read_range("blake3:" + "b" * 64, 0, 10)


def test_read_range_of_a_chunked_local_blob_skips_whole_chunks(tmp_path: Path):
    from cairn.storage.blobs import local

    s = LocalBlobStore(tmp_path / "blobs")
    try:
        data = os.urandom(local.CHUNKED_MIN + 3 * local.CDC_MAX)
        digest, _ = s.put_file(write(tmp_path / "f.bin", data))
        s.flush()
        opened: list[str] = []
        real_open = s.open
        s.open = lambda d: (opened.append(d), real_open(d))[1]  # type: ignore[method-assign]
        tail = len(data) - 10
        assert s.read_range(digest, tail, 100) == data[tail:]
        assert opened[0] == digest and len(opened) <= 3  # the recipe, then the last chunk or two
    finally:
        s.close()
