"""S3BlobStore's checked staging uploads in parts (``presign_put_staging`` /
``complete_staging`` with the announced size), on a real SeaweedFS: completed only as
announced, always read back and hashed, and never replacing a right object."""

from __future__ import annotations

import os

import blake3
import httpx
import pytest

from cairn.core.errors import UsageError
from cairn.storage.base import StagingUpload
from cairn.storage.blobs.s3 import MiB, S3BlobStore

PART = 5 * MiB


def digest_of(data: bytes) -> str:
    return "blake3:" + blake3.blake3(data).hexdigest()


def send(up: StagingUpload, data: bytes) -> list[tuple[int, str]]:
    etags = []
    for i, url in enumerate(up.urls):
        r = httpx.put(url, content=data[i * up.part_size : (i + 1) * up.part_size], timeout=60)
        assert r.status_code == 200, r.text
        etags.append((i + 1, r.headers["etag"]))
    return etags


def part_past_the_url(s3_env, bucket: str, key: str, number: int, body: bytes) -> str:  # noqa: ANN001
    """Upload part ``number`` with the store's own credentials (not the signed URL, which
    admits only its size): what a store that does not check a signed length would take."""
    s3 = s3_env.client()
    (upload_id,) = [u["UploadId"] for u in s3.list_multipart_uploads(Bucket=bucket, Prefix=key)["Uploads"]]
    return s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=body)["ETag"]


def test_each_part_url_admits_only_its_size(bucket, s3_env):
    store = S3BlobStore(bucket, "p", part_size=PART)
    data = os.urandom(2 * PART + 10)
    up = store.presign_put_staging(len(data))
    assert len(up.urls) == 3
    for url, wrong in zip(up.urls, (data[: PART - 1], data[: PART + 1], data[-11:]), strict=True):
        assert httpx.put(url, content=wrong, timeout=60).status_code == 403, len(wrong)
    etags = send(up, data)
    assert store.complete_staging(up.key, digest_of(data), len(data), etags) is True
    assert read(store, digest_of(data)) == data


def read(store: S3BlobStore, digest: str) -> bytes:
    with store.open(digest) as f:
        return f.read()


def leftovers(s3_env, bucket: str) -> tuple[list, list]:  # noqa: ANN001
    s3 = s3_env.client()
    staged = s3.list_objects_v2(Bucket=bucket, Prefix="p/staging/").get("Contents", [])
    return staged, s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])


def test_parts_are_read_back_and_copied_into_place(bucket, s3_env):
    store = S3BlobStore(bucket, "p", part_size=PART)
    data = os.urandom(2 * PART + 123)
    digest = digest_of(data)
    up = store.presign_put_staging(len(data))
    assert len(up.urls) == 3 and "/staging/" in up.urls[0]
    etags = send(up, data)
    assert store.has([digest]) == set()  # nothing at the blob's key before the check
    assert store.complete_staging(up.key, digest, len(data), etags) is True
    assert read(store, digest) == data
    assert leftovers(s3_env, bucket) == ([], [])
    one = store.presign_put_staging(PART)  # a part's worth or less: one PUT
    assert len(one.urls) == 1


def test_wrong_bytes_are_deleted_and_never_reach_the_key(bucket, s3_env):
    store = S3BlobStore(bucket, "p", part_size=PART)
    data = os.urandom(PART + 10)
    digest = digest_of(data)
    up = store.presign_put_staging(len(data))
    etags = send(up, os.urandom(len(data)))
    assert store.complete_staging(up.key, digest, len(data), etags) is False
    assert store.has([digest]) == set()
    assert leftovers(s3_env, bucket) == ([], [])


def test_a_right_object_is_never_replaced_and_a_damaged_one_only_by_checked_bytes(bucket, s3_env):
    store = S3BlobStore(bucket, "p", part_size=PART)
    data = os.urandom(PART + 10)
    digest = digest_of(data)
    key = f"p/blobs/{digest[7:9]}/{digest[7:]}"
    store.put_bytes(data)
    for garbage in (os.urandom(len(data)), b"x"):  # same size, or another
        up = store.presign_put_staging(len(garbage))
        assert store.complete_staging(up.key, digest, len(garbage), send(up, garbage)) is False
        assert read(store, digest) == data
    s3_env.client().put_object(Bucket=bucket, Key=key, Body=b"short")  # damaged: another size
    up = store.presign_put_staging(len(data))
    assert store.complete_staging(up.key, digest, len(data), send(up, data)) is True
    assert read(store, digest) == data
    assert leftovers(s3_env, bucket) == ([], [])


@pytest.mark.parametrize("how", ["short part", "part missing", "other etags", "size"])
def test_parts_other_than_announced_are_refused_unread(bucket, s3_env, how):
    store = S3BlobStore(bucket, "p", part_size=PART)
    data = os.urandom(PART + 1)
    digest = digest_of(data)
    up = store.presign_put_staging(len(data))
    if how == "short part":
        # its URL signs the part's length: refused; sent past the URL, the completion refuses it
        assert httpx.put(up.urls[0], content=data[: PART - 1], timeout=60).status_code == 403
        etags = [
            (1, part_past_the_url(s3_env, bucket, up.key, 1, data[: PART - 1])),
            (2, httpx.put(up.urls[1], content=data[PART:], timeout=60).headers["etag"]),
        ]
        why = "holds 5242879 bytes where 5242880 were due"
    elif how == "part missing":
        etags = send(StagingUpload(up.key, up.urls[:1], up.part_size), data)
        why = "part 2 of 2 of the upload of .* never arrived"
    elif how == "other etags":
        etags = [(1, send(up, data)[0][1]), (2, '"' + "0" * 32 + '"')]
        why = "does not match the parts"
    else:
        etags = send(up, data)
        why = "holds 1 bytes where 2 were due"
    with pytest.raises(UsageError, match=why):
        store.complete_staging(up.key, digest, len(data) + (how == "size"), etags)
    assert store.has([digest]) == set()
    assert leftovers(s3_env, bucket) == ([], [])


def test_a_single_put_of_another_size_is_refused(bucket, s3_env):
    store = S3BlobStore(bucket, "p", part_size=PART)
    data = os.urandom(1000)
    up = store.presign_put_staging(len(data))
    # the URL signs its length: the store refuses other sizes; bytes put there past the URL
    # (a store that does not check a signed length) are refused by the completion
    assert httpx.put(up.urls[0], content=data + b"more", timeout=60).status_code == 403
    s3_env.client().put_object(Bucket=bucket, Key=up.key, Body=data + b"more")
    with pytest.raises(UsageError, match="holds 1004 bytes where 1000 were announced"):
        store.complete_staging(up.key, digest_of(data), len(data), None)
    assert leftovers(s3_env, bucket) == ([], [])
    with pytest.raises(UsageError, match="not a staging key"):
        store.complete_staging("p/blobs/aa/" + "a" * 64, digest_of(data), len(data), None)
