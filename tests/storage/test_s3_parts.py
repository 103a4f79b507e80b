"""S3BlobStore's multipart uploads to a blob's own key (``presign_put_parts`` /
``complete_parts``), on a real SeaweedFS: create-only, and completed only as announced."""

from __future__ import annotations

import os

import blake3
import httpx
import pytest

from cairn.core.errors import UsageError
from cairn.storage.blobs.s3 import MiB, S3BlobStore

PART = 5 * MiB


def digest_of(data: bytes) -> str:
    return "blake3:" + blake3.blake3(data).hexdigest()


def send(store: S3BlobStore, digest: str, data: bytes) -> tuple[str, list[tuple[int, str]]]:
    up = store.presign_put_parts(digest, len(data))
    etags = []
    for i, url in enumerate(up.urls):
        r = httpx.put(url, content=data[i * up.part_size : (i + 1) * up.part_size], timeout=60)
        assert r.status_code == 200, r.text
        etags.append((i + 1, r.headers["etag"]))
    return up.key, etags


def read(store: S3BlobStore, digest: str) -> bytes:
    with store.open(digest) as f:
        return f.read()


def test_parts_complete_in_place_unread(bucket):
    store = S3BlobStore(bucket, "p", part_size=PART)
    data = os.urandom(2 * PART + 123)
    digest = digest_of(data)
    upload_id, etags = send(store, digest, data)
    assert len(etags) == 3 and store.has([digest]) == set()  # nothing shows before completion
    assert store.complete_parts(digest, upload_id, len(data), etags) is True
    assert read(store, digest) == data


def test_an_existing_object_is_never_replaced(bucket, s3_env):
    """Create-only: bytes of the right size already there are kept (a direct upload only ever
    creates); an object of another size is damaged and replaced."""
    store = S3BlobStore(bucket, "p", part_size=PART)
    data = os.urandom(PART + 10)
    digest = digest_of(data)
    key = f"p/blobs/{digest[7:9]}/{digest[7:]}"
    there = os.urandom(len(data))
    s3_env.client().put_object(Bucket=bucket, Key=key, Body=there)
    upload_id, etags = send(store, digest, data)
    assert store.complete_parts(digest, upload_id, len(data), etags) is True
    assert read(store, digest) == there  # kept; a reader's check of the digest heals it (blobs_index)
    assert s3_env.client().list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []

    s3_env.client().put_object(Bucket=bucket, Key=key, Body=b"short")
    upload_id, etags = send(store, digest, data)
    assert store.complete_parts(digest, upload_id, len(data), etags) is True
    assert read(store, digest) == data


def test_keep_false_aborts(bucket, s3_env):
    store = S3BlobStore(bucket, "p", part_size=PART)
    data = os.urandom(PART + 1)
    digest = digest_of(data)
    upload_id, etags = send(store, digest, data)
    assert store.complete_parts(digest, upload_id, len(data), etags, keep=lambda: False) is False
    assert store.has([digest]) == set()
    assert s3_env.client().list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    with pytest.raises(UsageError, match="is gone"):
        store.complete_parts(digest, upload_id, len(data), etags)


def test_a_size_other_than_announced_is_refused(bucket):
    store = S3BlobStore(bucket, "p", part_size=PART)
    data = os.urandom(PART + 1)
    digest = digest_of(data)
    upload_id, etags = send(store, digest, data)
    with pytest.raises(UsageError, match="holds 1 bytes where 2 were due"):
        store.complete_parts(digest, upload_id, len(data) + 1, etags)
    assert store.has([digest]) == set()
    with pytest.raises(UsageError, match="at least one byte"):
        store.presign_put_parts(digest, 0)
    with pytest.raises(UsageError, match="blake3"):
        store.presign_put_parts("sha256:" + "0" * 64, 10)
