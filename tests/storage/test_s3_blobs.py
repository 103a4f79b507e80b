"""What the S3 adapter promises beyond the BlobStore contract: no upload of what is stored,
no unverified bytes at a blob's key, presigned staging with server-side verification, and
errors that say what is wrong with the endpoint or bucket."""

from __future__ import annotations

import os
import time
from collections import Counter
from pathlib import Path

import blake3
import httpx
import pytest

from cairn.core.errors import FileChangedError, IntegrityError, StoreError, UsageError
from cairn.storage.base import Presigner
from cairn.storage.blobs.s3 import MiB, S3BlobStore, s3_client_factory
from cairn.storage.registry import open_blobs

THRESHOLD, PART = 8 * MiB, 5 * MiB


def digest_of(data: bytes) -> str:
    return "blake3:" + blake3.blake3(data).hexdigest()


def counting_factory(calls: Counter, **hooks):
    """A default client that counts the S3 operations it sends; ``hooks`` run before some."""

    def make():
        client = s3_client_factory()()

        def count(model, **_):
            calls[model.name] += 1
            if model.name in hooks:
                hooks[model.name]()

        client.meta.events.register("before-call.s3", count)
        return client

    return make


def keys(s3_env, bucket: str) -> list[str]:
    return [o["Key"] for o in s3_env.client().list_objects_v2(Bucket=bucket).get("Contents", [])]


def test_is_a_presigner():
    for name in ("presign_get", "presign_put_staging", "complete_staging"):
        assert callable(getattr(S3BlobStore("bkt"), name)) and name in Presigner.__dict__


def test_layout_under_prefix(s3_env, bucket, tmp_path: Path):
    store = S3BlobStore(bucket, "/a/b/", multipart_threshold=THRESHOLD, part_size=PART)
    small, large = b"x", os.urandom(THRESHOLD + 1)
    (tmp_path / "l").write_bytes(large)
    store.put_bytes(small)
    store.put_file(tmp_path / "l")
    hexes = [digest_of(small)[7:], digest_of(large)[7:]]
    assert sorted(keys(s3_env, bucket)) == sorted(f"a/b/blobs/{h[:2]}/{h}" for h in hexes)
    assert sorted(S3BlobStore(bucket, "a/b").iter_digests()) == sorted("blake3:" + h for h in hexes)
    assert list(S3BlobStore(bucket, "other").iter_digests()) == []


def test_stored_blobs_are_never_uploaded_again(s3_env, bucket, tmp_path: Path):
    calls: Counter = Counter()
    store = S3BlobStore(bucket, "p", counting_factory(calls), multipart_threshold=THRESHOLD, part_size=PART)
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(3 * PART + 7))
    small = b"small" * 100
    store.put_file(big)
    store.put_bytes(small)
    assert calls["UploadPart"] == 4 and calls["PutObject"] == 1
    calls.clear()
    copy = tmp_path / "copy.bin"  # same bytes, another file: not in any stat cache
    copy.write_bytes(big.read_bytes())
    store.put_file(copy)
    store.put_bytes(small)
    assert calls["UploadPart"] == calls["PutObject"] == calls["CreateMultipartUpload"] == 0
    assert calls["HeadObject"] == 2


def test_default_sizes_multipart(s3_env, bucket, tmp_path: Path):
    calls: Counter = Counter()
    store = S3BlobStore(bucket, "", counting_factory(calls))
    data = os.urandom(64 * MiB + 5)
    (tmp_path / "f").write_bytes(data)
    t0 = time.perf_counter()
    assert store.put_file(tmp_path / "f") == (digest_of(data), len(data))
    print(f"64 MiB multipart put_file: {time.perf_counter() - t0:.2f}s")
    assert calls["UploadPart"] == 5  # 4 x 16 MiB + 5 bytes
    with store.open(digest_of(data)) as f:
        assert digest_of(f.read()) == digest_of(data)


def test_file_changing_between_reads_stores_nothing(s3_env, bucket, tmp_path: Path):
    """Large files are hashed, then sent; if the bytes sent differ, the upload is never completed."""
    path = tmp_path / "moving.bin"
    path.write_bytes(os.urandom(2 * PART + 1))

    def change():
        path.write_bytes(os.urandom(2 * PART + 1))

    store = S3BlobStore(
        bucket,
        "",
        counting_factory(Counter(), CreateMultipartUpload=change),
        multipart_threshold=THRESHOLD,
        part_size=PART,
    )
    with pytest.raises(FileChangedError):
        store.put_file(path)
    assert keys(s3_env, bucket) == []
    assert s3_env.client().list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_put_blobs_refuses_a_wrong_digest(s3_env, bucket):
    store = S3BlobStore(bucket)
    with pytest.raises(IntegrityError):
        store.put_blobs([(digest_of(b"a"), b"b")])
    with pytest.raises(IntegrityError):
        store.put_blobs([("uri:x", b"b")])
    assert keys(s3_env, bucket) == []


def test_missing_bucket_is_named(s3_env):
    store = S3BlobStore("no-such-bucket-here")
    for op in (
        lambda: store.has(["blake3:" + "0" * 64]),
        lambda: store.put_bytes(b"x"),
        lambda: list(store.iter_digests()),
    ):
        with pytest.raises(StoreError) as err:
            op()
        msg = str(err.value)
        assert "no-such-bucket-here" in msg and s3_env.endpoint_url in msg and "create it" in msg
    assert "no-such-bucket-here" not in [b["Name"] for b in s3_env.client().list_buckets()["Buckets"]]


@pytest.mark.timeout(60, func_only=True)  # fails fast: bounded retries, not read timeouts or a hang
def test_unreachable_endpoint_fails_fast(monkeypatch):
    from services import free_ports

    endpoint = f"http://127.0.0.1:{free_ports()[0]}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "k")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s")
    store = S3BlobStore("bkt")
    with pytest.raises(StoreError) as err:
        store.put_bytes(b"x")
    assert endpoint in str(err.value) and "'bkt'" in str(err.value) and "AWS_ENDPOINT_URL" in str(err.value)


def test_bad_credentials_are_explained(s3_env, bucket, monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong")
    with pytest.raises(StoreError) as err:
        S3BlobStore(bucket).put_bytes(b"x")
    assert "AWS_ACCESS_KEY_ID" in str(err.value)


def test_registry_opens_s3(s3_env, bucket):
    store = open_blobs(f"s3://{bucket}/some/prefix")
    assert isinstance(store, S3BlobStore) and (store.bucket, store.prefix) == (bucket, "some/prefix")
    d, _ = store.put_bytes(b"via registry")
    assert keys(s3_env, bucket) == [f"some/prefix/blobs/{d[7:9]}/{d[7:]}"]


# -- presigned staging ---------------------------------------------------------


def presigned_upload(store: S3BlobStore, data: bytes) -> str:
    up = store.presign_put_staging(len(data))
    assert up.key.startswith(f"{store.prefix}/staging/")
    for i, url in enumerate(up.urls):
        r = httpx.put(url, content=data[i * up.part_size : (i + 1) * up.part_size], timeout=60)
        assert r.status_code == 200, r.text
    return up.key


@pytest.mark.parametrize("size", [0, 1000, THRESHOLD + PART + 3])
def test_presigned_staging_roundtrip(s3_env, bucket, size):
    store = S3BlobStore(bucket, "srv", multipart_threshold=THRESHOLD, part_size=PART)
    data = os.urandom(size)
    key = presigned_upload(store, data)
    assert len(store.presign_put_staging(size).urls) == (1 if size < THRESHOLD else 3)
    assert store.complete_staging(key, digest_of(data)) is True
    assert store.has([digest_of(data)]) == {digest_of(data)}
    assert httpx.get(store.presign_get(digest_of(data))).content == data
    assert key not in keys(s3_env, bucket)
    # the same bytes again: verified, kept once
    key2 = presigned_upload(store, data)
    assert store.complete_staging(key2, digest_of(data)) is True
    assert [k for k in keys(s3_env, bucket) if "/blobs/" in k] == [
        f"srv/blobs/{digest_of(data)[7:9]}/{digest_of(data)[7:]}"
    ]


def test_presigned_staging_with_wrong_digest_stores_nothing(s3_env, bucket):
    store = S3BlobStore(bucket, "srv", multipart_threshold=THRESHOLD, part_size=PART)
    for data in (b"claimed", os.urandom(THRESHOLD + 1)):
        key = presigned_upload(store, data)
        assert store.complete_staging(key, digest_of(b"something else")) is False
        assert store.complete_staging(key, digest_of(data)) is False  # the staged object is gone
    assert keys(s3_env, bucket) == []
    assert s3_env.client().list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_presigned_staging_refuses_bytes_swapped_after_the_check(s3_env, bucket):
    """A still-valid URL lets the client PUT again between the hash and the copy: refused."""
    good, evil = b"good bytes", b"evil bytes"
    urls = {}

    def swap():
        httpx.put(urls["put"], content=evil).raise_for_status()

    store = S3BlobStore(bucket, "srv", counting_factory(Counter(), CopyObject=swap))
    up = store.presign_put_staging(len(good))
    urls["put"] = up.urls[0]
    httpx.put(up.urls[0], content=good).raise_for_status()
    assert store.complete_staging(up.key, digest_of(good)) is False
    assert store.has([digest_of(good), digest_of(evil)]) == set()


def test_staging_keys_are_checked(s3_env, bucket):
    store = S3BlobStore(bucket, "srv")
    for bad in ("srv/blobs/ab/" + "a" * 64, "srv/staging/../blobs/x", "other/staging/" + "a" * 32):
        with pytest.raises(UsageError):
            store.complete_staging(bad, digest_of(b""))


def test_a_large_file_with_its_digest_is_read_once(s3_env, bucket, tmp_path: Path, monkeypatch):
    """What a server sends after hashing the upload itself: not hashed again before the parts go."""
    from cairn.storage.blobs import s3 as s3_mod

    made = []
    real = s3_mod.hasher

    def counting():  # noqa: ANN202
        made.append(1)
        return real()

    monkeypatch.setattr(s3_mod, "hasher", counting)
    store = S3BlobStore(bucket, "srv", multipart_threshold=THRESHOLD, part_size=PART)
    data = os.urandom(2 * PART + 3)
    (tmp_path / "a").write_bytes(data)
    assert store.put_file(tmp_path / "a", rewrite=True, digest=digest_of(data)) == (digest_of(data), len(data))
    assert len(made) == 1  # the parts' own check, no pass before it
    made.clear()
    assert store.put_file(tmp_path / "a", rewrite=True) == (digest_of(data), len(data))
    assert len(made) == 2
    with store.open(digest_of(data)) as f:
        assert f.read() == data


@pytest.mark.parametrize("rewrite", [True, False])
def test_a_large_file_with_a_wrong_digest_stores_nothing(s3_env, bucket, tmp_path: Path, rewrite: bool):
    store = S3BlobStore(bucket, "srv", multipart_threshold=THRESHOLD, part_size=PART)
    data, other = os.urandom(2 * PART + 3), os.urandom(10)
    (tmp_path / "a").write_bytes(data)
    with pytest.raises((FileChangedError, IntegrityError)):
        store.put_file(tmp_path / "a", rewrite=rewrite, digest=digest_of(other))
    assert store.has([digest_of(data), digest_of(other)]) == set()
    assert keys(s3_env, bucket) == []


def test_a_staging_put_url_admits_only_its_size(s3_env, bucket):
    """A single PUT's URL signs its Content-Length: SeaweedFS refuses any other size."""
    store = S3BlobStore(bucket, "srv", multipart_threshold=THRESHOLD, part_size=PART)
    data = os.urandom(1000)
    up = store.presign_put_staging(len(data))
    for other in (b"", data[:-1], data + b"!", os.urandom(4 << 20)):
        assert httpx.put(up.urls[0], content=other, timeout=60).status_code == 403, len(other)
    assert keys(s3_env, bucket) == []
    assert httpx.put(up.urls[0], content=data, timeout=60).status_code == 200
    assert store.complete_staging(up.key, digest_of(data), len(data)) is True


def test_staged_bytes_of_another_size_are_refused_unread(s3_env, bucket, monkeypatch):
    """With the announced size, an object of another size (put there past the URL) is
    refused before it is read, and deleted; the check holds on the GET itself too."""
    store = S3BlobStore(bucket, "srv", multipart_threshold=THRESHOLD, part_size=PART)
    data = os.urandom(1000)
    read: list[int] = []
    real = S3BlobStore._object_digest

    def counting(self, client, key, size=None):  # noqa: ANN001, ANN202
        got = real(self, client, key, size)
        read.append(got[1]["ContentLength"])
        return got

    monkeypatch.setattr(S3BlobStore, "_object_digest", counting)
    for check_head in (True, False):
        if not check_head:  # bytes swapped between the HEAD and the GET: the GET refuses them
            monkeypatch.setattr(S3BlobStore, "_size_of", lambda self, key: len(data))
        up = store.presign_put_staging(len(data))
        s3_env.client().put_object(Bucket=bucket, Key=up.key, Body=os.urandom(3 << 20))
        with pytest.raises(UsageError, match="where 1000 were announced"):
            store.complete_staging(up.key, digest_of(data), len(data))
        assert read == [] and keys(s3_env, bucket) == []
