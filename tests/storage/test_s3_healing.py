"""The S3 store heals too (real SeaweedFS): an ingest replaces an object of the wrong size for
the price of the HEAD it made anyway, and ``quarantine`` sets a damaged object aside."""

from __future__ import annotations

import os
from pathlib import Path

import blake3
import pytest

from cairn.storage.base import Quarantine
from cairn.storage.blobs.local import LocalBlobStore
from cairn.storage.blobs.s3 import MiB, S3BlobStore

THRESHOLD, PART = 8 * MiB, 5 * MiB


def digest_of(data: bytes) -> str:
    return "blake3:" + blake3.blake3(data).hexdigest()


def test_both_stores_can_quarantine():
    for store in (S3BlobStore("bkt"), LocalBlobStore(Path("unused"))):
        assert callable(store.quarantine) and "quarantine" in Quarantine.__dict__


def key(digest: str) -> str:
    return f"p/blobs/{digest[7:9]}/{digest[7:]}"


def stored(s3_env, bucket: str, digest: str) -> bytes:  # noqa: ANN001
    return s3_env.client().get_object(Bucket=bucket, Key=key(digest))["Body"].read()


@pytest.mark.parametrize("how", ["put_bytes", "put_blobs", "put_file small", "put_file multipart"])
def test_an_ingest_replaces_an_object_of_the_wrong_size(s3_env, bucket, tmp_path, how):
    store = S3BlobStore(bucket, "p", multipart_threshold=THRESHOLD, part_size=PART)
    data = os.urandom(THRESHOLD + 10 if how.endswith("multipart") else 100_000)
    d = digest_of(data)
    src = tmp_path / "f"
    src.write_bytes(data)
    s3 = s3_env.client()
    s3.put_object(Bucket=bucket, Key=key(d), Body=data[:-1])  # truncated
    if how == "put_bytes":
        store.put_bytes(data)
    elif how == "put_blobs":
        store.put_blobs([(d, data)])
    else:
        store.put_file(src)
    assert stored(s3_env, bucket, d) == data


def test_a_same_size_damaged_object_stays_until_quarantined(s3_env, bucket):
    store = S3BlobStore(bucket, "p")
    data = os.urandom(50_000)
    d = digest_of(data)
    flipped = bytes([data[0] ^ 1]) + data[1:]
    s3_env.client().put_object(Bucket=bucket, Key=key(d), Body=flipped)
    store.put_bytes(data)  # the ingest reads no stored bytes: it cannot see this damage
    assert stored(s3_env, bucket, d) == flipped
    assert store.quarantine(d) is True
    assert store.has([d]) == set()
    listed = s3_env.client().list_objects_v2(Bucket=bucket, Prefix="p/quarantine/")["Contents"]
    (aside,) = [o["Key"] for o in listed]
    assert aside.startswith(f"p/quarantine/{d[7:]}.")
    assert s3_env.client().get_object(Bucket=bucket, Key=aside)["Body"].read() == flipped
    store.put_bytes(data)
    assert stored(s3_env, bucket, d) == data
    assert store.quarantine(d) is False  # sound: left alone
    assert store.quarantine(digest_of(b"never stored")) is False
    assert stored(s3_env, bucket, d) == data
