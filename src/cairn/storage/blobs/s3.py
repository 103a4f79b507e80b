"""Blobs in any S3-compatible object store (AWS S3, SeaweedFS, MinIO…), through boto3.

Layout under ``s3://{bucket}/{prefix}``::

    blobs/ab/abcdef…   one object per blob, named by the full BLAKE3 hex
    staging/<uuid>     bytes a client uploaded with a presigned URL, not yet verified

How bytes reach ``blobs/``:

* below ``multipart_threshold`` a file is read once into memory, hashed, and those very
  bytes are PUT (after a HEAD, with ``If-None-Match: *`` as the race guard);
* above it the file is hashed first, then — only if that digest is not stored yet — read
  again and sent as a parallel multipart upload *to the final key*, hashing the parts as
  they go; ``CompleteMultipartUpload`` (which is what makes the object appear) is sent only
  when that second hash equals the first, otherwise the upload is aborted.
  We measured the alternative the brief suggested, one read to a staging key followed by a
  server-side copy, against this on SeaweedFS (2 cores, 256 MiB): hashing again from the
  page cache costs 0.08 s, the server-side copy 1.2 s on top of a 2.6 s upload, and the
  staging design uploads a blob that is already stored again because its digest is only
  known at the end. Two local reads are the cheaper price.
* presigned uploads (small in one PUT, large in parts) go to ``staging/``, a key unique to
  the upload; ``complete_staging`` completes a multipart one only as announced (size, cut
  as handed out, the client's part list), reads the staged object back, hashes it, and
  copies it into place with ``CopySourceIf-Match`` on the ETag it hashed, so bytes swapped
  in after the check are refused. The server reads every uploaded byte once: a 2 GiB
  upload costs more than boto3's ``upload_file`` (bench/RESULTS.md), the price of never
  letting unread bytes sit at a blob's key;
* ``presign_put`` can hand a URL that creates one blob's object, never replacing it
  (``If-None-Match: *`` is signed); the server does not hand it to clients;
* ``rewrite`` (``put_file``/``put_blobs``: what the server uses for bytes sent through it)
  drops the existence check: the PUT or multipart upload is sent, unconditional, whether or
  not the object exists, so the time a server-side write takes tells nothing about who else
  holds the blob (the bytes were hashed by the server, so the same bytes are rewritten).

Errors are ``StoreError``s that name the endpoint and bucket and say what to do. boto3
reads the endpoint and credentials from the usual ``AWS_*`` variables; connect/read
timeouts and a bounded, backed-off retry budget keep a dead endpoint from hanging a commit.
Aborted multipart uploads and abandoned ``staging/`` objects are garbage: ``cairn admin gc``
removes them once older than its grace period (``stale_uploads``), by the store's own clock.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ...core.digest import content_digest, digest_of, hasher
from ...core.errors import BlobNotFoundError, CairnError, FileChangedError, IntegrityError, StoreError, UsageError
from ...core.progress import NULL_TASK, Task
from ..base import BlobReader, StagingUpload
from .s3_client import (
    MISSING,
    PART_WORKERS,
    TAKEN,
    WORKERS,
    Budget,
    ClientFactory,
    MiB,
    StreamingBody,
    error_code,
    s3_client_factory,
    store_error,
)

MULTIPART_THRESHOLD = 64 * MiB
PART_SIZE = 16 * MiB
MAX_PARTS = 10_000  # S3's limit; parts grow past PART_SIZE for files over 156 GiB
MAX_COPY = 5 << 30  # CopyObject's limit; larger staged blobs are copied in parts
READ_SIZE = 1 * MiB
BUFFER_BUDGET = 256 * MiB  # upload buffers in flight per store, whatever the callers' concurrency

_BLOB = re.compile(r"^blake3:([0-9a-f]{64})$")

log = logging.getLogger("cairn.storage.blobs")


class S3BlobStore:
    """The BlobStore port (and the Presigner power) on one bucket and key prefix.

    Constructing does no I/O; the client is made on first use, and the bucket is checked
    once (a HEAD) before the first operation, so a missing bucket is reported as such
    instead of as a missing blob — some stores (SeaweedFS) even create buckets on PUT.
    """

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        client_factory: ClientFactory | None = None,
        *,
        multipart_threshold: int = MULTIPART_THRESHOLD,
        part_size: int = PART_SIZE,
        part_workers: int = PART_WORKERS,
        workers: int = WORKERS,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self._factory = client_factory or s3_client_factory()
        self.multipart_threshold = multipart_threshold
        self.part_size = part_size
        self.part_workers = part_workers
        self.workers = workers
        self._base = f"{self.prefix}/" if self.prefix else ""
        self._client_obj: Any = None
        self._lock = threading.Lock()
        self._bucket_ok = False
        self._budget = Budget(max(BUFFER_BUDGET, multipart_threshold))

    def __repr__(self) -> str:
        return f"S3BlobStore(s3://{self.bucket}/{self.prefix})"

    # -- plumbing --------------------------------------------------------------
    @property
    def _client(self) -> Any:
        if self._client_obj is None:
            with self._lock:
                if self._client_obj is None:
                    try:
                        self._client_obj = self._factory()
                    except ImportError:
                        raise StoreError("the S3 blob store needs boto3: pip install 'cairn[s3]'") from None
        return self._client_obj

    @property
    def endpoint(self) -> str:
        return self._client.meta.endpoint_url

    def _ready(self) -> Any:
        """The client, once the bucket is known to exist."""
        client = self._client
        if not self._bucket_ok:
            with self._errors("open the bucket"):
                client.head_bucket(Bucket=self.bucket)
            self._bucket_ok = True
        return client

    def _key(self, digest: str) -> str | None:
        m = _BLOB.match(digest)
        return f"{self._base}blobs/{m[1][:2]}/{m[1]}" if m else None

    def _own_key(self, digest: str) -> str:
        """The key of a digest this store computed itself (always a content digest)."""
        key = self._key(digest)
        assert key is not None, digest
        return key

    @contextlib.contextmanager
    def _errors(self, what: str, key: str | None = None) -> Iterator[None]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            yield
        except (BotoCoreError, ClientError) as e:
            raise self._store_error(e, what, key) from e

    def _store_error(self, e: Exception, what: str, key: str | None) -> StoreError:
        return store_error(e, what, self.bucket, self.endpoint, key)

    def _parallel(self, fn: Callable, items: list, workers: int) -> list:
        """``[fn(x) for x in items]`` on a bounded pool; the first failure cancels what has not started."""
        if len(items) <= 1:
            return [fn(x) for x in items]
        pool = ThreadPoolExecutor(min(workers, len(items)))
        try:
            return [f.result() for f in [pool.submit(fn, x) for x in items]]
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _exists(self, key: str) -> bool:
        return self._size_of(key) is not None

    def _size_of(self, key: str) -> int | None:
        """The object's size (one HEAD), or None when it does not exist."""
        from botocore.exceptions import ClientError

        with self._errors("look up", key):
            try:
                return int(self._client.head_object(Bucket=self.bucket, Key=key)["ContentLength"])
            except ClientError as e:
                if error_code(e) in MISSING:
                    return None
                raise

    def _object_digest(
        self, client: Any, key: str, size: int | None = None
    ) -> tuple[str, dict] | None:  # client: boto3's, untyped
        """The BLAKE3 digest of the object under ``key`` (one full read) with its GET answer
        (its body consumed), or None when there is no such object. With ``size``, an object
        of another size is refused (UsageError) before a byte of it is read."""
        from botocore.exceptions import ClientError

        try:
            obj = client.get_object(Bucket=self.bucket, Key=key)
        except ClientError as e:
            if error_code(e) in MISSING:
                return None
            raise
        if size is not None and int(obj["ContentLength"]) != size:
            obj["Body"].close()
            raise UsageError(
                f"the staged object holds {obj['ContentLength']} bytes where {size} were announced; start the upload again"
            )
        h = hasher()
        with obj["Body"] as body:
            while chunk := body.read(READ_SIZE):
                h.update(chunk)
        return digest_of(h), obj

    def _clear_wrong_size(self, key: str, size: int) -> bool:
        """Whether ``key`` holds an object of ``size`` bytes; one of another size is damaged
        (a blob's size is part of what its digest names) and is deleted, so that the write
        in progress replaces it. The HEAD that an existence check costs, nothing more."""
        there = self._size_of(key)
        if there is None or there == size:
            return there is not None
        log.warning("s3://%s/%s held %d bytes instead of %d: replacing it", self.bucket, key, there, size)
        with self._errors("delete a damaged blob", key):
            self._client.delete_object(Bucket=self.bucket, Key=key)
        return False

    def ping(self) -> None:
        """Raise StoreError unless the bucket answers (a readiness check: one HEAD)."""
        with self._errors("open the bucket"):
            self._client.head_bucket(Bucket=self.bucket)

    # -- queries ---------------------------------------------------------------
    def has(self, digests: Iterable[str]) -> set[str]:
        """One HEAD per digest, ``workers`` at a time.

        Cost: botocore spends ~1 ms of CPU per request, so on a local SeaweedFS 500 HEADs take
        ~0.6 s whatever the pool size (2 cores); against a remote store the pool hides the
        round trip (N/32 RTTs). A LIST of the 2-hex shards would be ~10× cheaper per key, but
        its cost grows with the whole store, not with the question."""
        keys = {d: k for d in dict.fromkeys(digests) if (k := self._key(d))}
        if not keys:
            return set()
        self._ready()
        found = self._parallel(self._exists, list(keys.values()), self.workers)
        return {d for d, ok in zip(keys, found, strict=True) if ok}

    def open(self, digest: str) -> BlobReader:
        """The object's streaming body; read errors become StoreError."""
        from botocore.exceptions import ClientError

        key = self._key(digest)
        if key is None:
            raise BlobNotFoundError(digest, f"in {self!r} (not a content digest)")
        client = self._ready()
        with self._errors("read", key):
            try:
                body = client.get_object(Bucket=self.bucket, Key=key)["Body"]
            except ClientError as e:
                if error_code(e) in MISSING:
                    raise BlobNotFoundError(digest, f"in s3://{self.bucket}/{self.prefix}") from None
                raise
        return StreamingBody(body, lambda e: self._store_error(e, "read", key))

    def read_range(self, digest: str, offset: int, length: int) -> bytes:
        """RangeReader: one ranged GET (``Range: bytes=offset-end``); past the end is empty."""
        from botocore.exceptions import ClientError

        if offset < 0 or length < 0:
            raise ValueError(f"read_range of {digest}: offset and length must be >= 0, got {offset}, {length}")
        key = self._key(digest)
        if key is None:
            raise BlobNotFoundError(digest, f"in {self!r} (not a content digest)")
        client = self._ready()
        if length == 0:
            if digest not in self.has([digest]):
                raise BlobNotFoundError(digest, f"in s3://{self.bucket}/{self.prefix}")
            return b""
        with self._errors("read", key):
            try:
                body = client.get_object(Bucket=self.bucket, Key=key, Range=f"bytes={offset}-{offset + length - 1}")[
                    "Body"
                ]
            except ClientError as e:
                if error_code(e) in MISSING:
                    raise BlobNotFoundError(digest, f"in s3://{self.bucket}/{self.prefix}") from None
                if error_code(e) == "InvalidRange":  # the offset is at or past the end
                    return b""
                raise
            with contextlib.closing(body):
                return body.read()

    def iter_digests(self) -> Iterator[str]:
        client = self._ready()
        with self._errors("list the blobs"):
            for page in client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=f"{self._base}blobs/"
            ):
                for obj in page.get("Contents", []):
                    digest = content_digest(obj["Key"].rpartition("/")[2])
                    if self._key(digest) == obj["Key"]:
                        yield digest

    # -- garbage collection ----------------------------------------------------
    def iter_stored(self) -> Iterator[tuple[str, int]]:
        """Every stored blob with its size in bytes (garbage collection only)."""
        client = self._ready()
        with self._errors("list the blobs"):
            for page in client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=f"{self._base}blobs/"
            ):
                for obj in page.get("Contents", []):
                    digest = content_digest(obj["Key"].rpartition("/")[2])
                    if self._key(digest) == obj["Key"]:
                        yield digest, obj["Size"]

    def delete_many(self, digests: list[str]) -> None:
        """Remove blobs, 1,000 per request (garbage collection only). Missing ones are ignored."""
        keys = [k for d in digests if (k := self._key(d))]
        client = self._ready()
        for i in range(0, len(keys), 1000):
            part = keys[i : i + 1000]
            with self._errors("delete blobs", part[0]):
                got = client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in part], "Quiet": True}
                )
            failed = [e for e in got.get("Errors", []) if e.get("Code") not in MISSING]
            if failed:
                raise StoreError(
                    f"the object store refused to delete {failed[0].get('Key')} in {self!r}: "
                    f"{failed[0].get('Code')} {failed[0].get('Message')}"
                )

    def stale_uploads(self, older_than: float) -> Iterator[tuple[tuple, int]]:
        """Staged objects and incomplete multipart uploads older than ``older_than`` seconds
        by the store's own clock (the Date of its answers): ``(handle, bytes)``, a handle
        for ``remove_upload``. Garbage collection only."""
        from email.utils import parsedate_to_datetime

        client = self._ready()
        with self._errors("list staged uploads"):
            first = client.list_objects_v2(Bucket=self.bucket, Prefix=f"{self._base}staging/", MaxKeys=1)
            now = parsedate_to_datetime(first["ResponseMetadata"]["HTTPHeaders"]["date"])
            for page in client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=f"{self._base}staging/"
            ):
                for obj in page.get("Contents", []):
                    if (now - obj["LastModified"]).total_seconds() > older_than:
                        yield ("object", obj["Key"]), obj["Size"]
            for page in client.get_paginator("list_multipart_uploads").paginate(Bucket=self.bucket, Prefix=self._base):
                for up in page.get("Uploads", []):
                    if (now - up["Initiated"]).total_seconds() > older_than:
                        yield ("multipart", up["Key"], up["UploadId"]), 0

    def set_aside(self, older_than: float) -> Iterator[tuple[tuple, int]]:
        """Objects in ``quarantine/`` (damaged blobs set aside) older than ``older_than``
        seconds by the store's own clock: ``(handle, bytes)`` for ``remove_set_aside``.
        Garbage collection only."""
        from email.utils import parsedate_to_datetime

        client = self._ready()
        prefix = f"{self._base}quarantine/"
        with self._errors("list quarantined objects"):
            first = client.list_objects_v2(Bucket=self.bucket, Prefix=prefix, MaxKeys=1)
            now = parsedate_to_datetime(first["ResponseMetadata"]["HTTPHeaders"]["date"])
            for page in client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
                for obj in page.get("Contents", []):
                    if (now - obj["LastModified"]).total_seconds() > older_than:
                        yield ("object", obj["Key"]), obj["Size"]

    def remove_set_aside(self, handle: tuple) -> None:
        self.remove_upload(handle)

    def remove_upload(self, handle: tuple) -> None:
        """Delete a staged object or abort a multipart upload that ``stale_uploads`` named."""
        from botocore.exceptions import ClientError

        client = self._ready()
        with self._errors("remove a stale upload", handle[1]):
            try:
                if handle[0] == "object":
                    client.delete_object(Bucket=self.bucket, Key=handle[1])
                else:
                    client.abort_multipart_upload(Bucket=self.bucket, Key=handle[1], UploadId=handle[2])
            except ClientError as e:
                if error_code(e) not in MISSING | {"NoSuchUpload"}:
                    raise

    # -- writes ----------------------------------------------------------------
    def put_bytes(self, data: bytes, rewrite: bool = False) -> tuple[str, int]:
        digest = _digest(data)
        key = self._own_key(digest)
        self._ready()
        if rewrite:
            self._put_object(key, data, rewrite=True)
        elif not self._clear_wrong_size(key, len(data)):
            self._put_object(key, data)
        return digest, len(data)

    def put_blobs(self, items: list[tuple[str, bytes]], hashed: bool = False, rewrite: bool = False) -> None:
        """Parallel conditional PUTs (``rewrite``: unconditional, the same PUT whether or not
        the object exists); each blob is hashed again first (IntegrityError on a mismatch:
        the caller's digest never names other bytes) unless ``hashed`` says the caller
        computed the digests from these very bytes. Callers check ``has`` first."""
        todo = list(dict(items).items())
        if not todo:
            return
        self._ready()

        def one(item: tuple[str, bytes]) -> None:
            digest, data = item
            key = self._key(digest)
            if key is None or (not hashed and _digest(data) != digest):
                raise IntegrityError(
                    f"blob listed as {digest} hashes to {_digest(data)}; nothing was stored", digest=digest
                )
            self._put_object(key, data, rewrite)

        self._parallel(one, todo, self.workers)

    def put_file(
        self,
        path: Path,
        size_hint: int | None = None,
        task: Task = NULL_TASK,
        rewrite: bool = False,
        digest: str | None = None,
    ) -> tuple[str, int]:
        """See ``BlobStore.put_file``. With ``digest`` (the caller hashed this very file) and
        ``rewrite``, a large file is not hashed before it is sent: its parts are hashed as they
        go, and the upload is completed only if they are ``digest`` (one read, not two)."""
        with open(path, "rb") as f:
            size = size_hint if size_hint is not None else os.fstat(f.fileno()).st_size
            if size < self.multipart_threshold:
                held = self._budget.acquire(size)
                try:
                    data = f.read(self.multipart_threshold)
                    if len(data) < self.multipart_threshold:
                        task.advance(nbytes=len(data))
                        return self.put_bytes(data, rewrite)
                finally:
                    self._budget.release(held)
                f.seek(0)  # it grew past the threshold under us
            return self._put_large(f, Path(path), task, rewrite, digest)

    def _put_object(self, key: str, data: bytes, rewrite: bool = False) -> None:
        """PUT unless the key exists; ``If-None-Match`` makes the check atomic with the write.
        ``rewrite``: PUT whether or not it exists (the caller hashed ``data`` as the key's blob)."""
        from botocore.exceptions import ClientError

        for attempt in range(5):
            with self._errors("store", key):
                try:
                    if rewrite:
                        self._client.put_object(Bucket=self.bucket, Key=key, Body=data)
                    else:
                        self._client.put_object(Bucket=self.bucket, Key=key, Body=data, IfNoneMatch="*")
                    return
                except ClientError as e:
                    if error_code(e) in TAKEN:  # already stored: identical bytes, unless damaged
                        if self._clear_wrong_size(key, len(data)):
                            return
                        continue
                    if error_code(e) != "ConditionalRequestConflict" or attempt == 4:
                        raise
            time.sleep(0.1 * 2**attempt)  # another writer of the same blob is in flight (AWS 409)
        raise StoreError(
            f"s3://{self.bucket}/{key} kept holding bytes of the wrong size while it was "
            "replaced five times; another writer is damaging it: check who writes to the bucket"
        )

    def _put_large(
        self, f: BlobReader, path: Path, task: Task = NULL_TASK, rewrite: bool = False, known: str | None = None
    ) -> tuple[str, int]:
        if known is not None and rewrite:  # sent whatever is stored: _upload_parts checks the bytes
            if self._key(known) is None:
                raise UsageError(f"{known[:100]!r} is not a content digest (blake3:<64 hex>); nothing was stored")
            digest, size = known, os.stat(path).st_size
            task.advance(nbytes=size)
        else:
            h = hasher()
            size = 0
            buf = bytearray(READ_SIZE)
            while n := f.readinto(buf):
                h.update(memoryview(buf)[:n])
                size += n
                task.advance(nbytes=n)
            digest = digest_of(h)
            if known is not None and digest != known:
                raise IntegrityError(f"{path.name} hashes to {digest}, not {known}; nothing was stored", digest=known)
        key = self._own_key(digest)
        self._ready()
        if rewrite or not self._clear_wrong_size(key, size):
            f.seek(0)
            self._upload_parts(f, key, digest, size, path, rewrite)
        return digest, size

    def part_size_for(self, size: int) -> int:
        """``part_size``, grown in whole MiB when ``size`` would need more than 10 000 parts."""
        return max(self.part_size, math.ceil(size / MAX_PARTS / MiB) * MiB)

    def _upload_parts(self, f: BlobReader, key: str, digest: str, size: int, path: Path, rewrite: bool = False) -> None:
        """Multipart upload to ``key``, completed only if the bytes sent hash to ``digest``
        (``rewrite``: over an object already there as well)."""
        from botocore.exceptions import ClientError

        client = self._client
        part = self.part_size_for(size)
        with self._errors("start a multipart upload", key):
            upload_id = client.create_multipart_upload(Bucket=self.bucket, Key=key, ChecksumAlgorithm="CRC32")[
                "UploadId"
            ]
        done = False
        failed = threading.Event()  # stop reading as soon as one part fails

        def send(number: int, data: bytes, held: int) -> dict:
            try:
                with self._errors(f"upload part {number}", key):
                    r = client.upload_part(
                        Bucket=self.bucket,
                        Key=key,
                        UploadId=upload_id,
                        PartNumber=number,
                        Body=data,
                        ChecksumAlgorithm="CRC32",
                    )
                return {"PartNumber": number, "ETag": r["ETag"], "ChecksumCRC32": r.get("ChecksumCRC32")}
            except BaseException:
                failed.set()
                raise
            finally:
                self._budget.release(held)

        try:
            h = hasher()
            futures: list[tuple[Future[dict], int]] = []
            with ThreadPoolExecutor(self.part_workers) as pool:
                try:
                    while not failed.is_set():
                        held = self._budget.acquire(part)
                        try:
                            data = f.read(part)
                        except BaseException:
                            self._budget.release(held)
                            raise
                        if not data:
                            self._budget.release(held)
                            break
                        h.update(data)
                        futures.append((pool.submit(send, len(futures) + 1, data, held), held))
                    parts = [fu.result() for fu, _ in futures]
                except BaseException:
                    for fu, held in futures:
                        if fu.cancel():  # never started: its buffer is ours to give back
                            self._budget.release(held)
                    raise
            if not parts or digest_of(h) != digest:
                raise FileChangedError(str(path), path.name)
            parts = [{k: v for k, v in p.items() if v is not None} for p in parts]
            with self._errors("complete a multipart upload", key):
                try:
                    client.complete_multipart_upload(
                        Bucket=self.bucket,
                        Key=key,
                        UploadId=upload_id,
                        MultipartUpload={"Parts": parts},
                        **({} if rewrite else {"IfNoneMatch": "*"}),
                    )
                    done = True
                except ClientError as e:
                    if error_code(e) not in TAKEN:  # taken: stored meanwhile by another writer
                        raise
        finally:
            if not done:
                with contextlib.suppress(Exception):  # the store may be gone; gc/lifecycle clean up
                    client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)

    def flush(self) -> None:
        """Nothing to do: S3 writes are durable when acknowledged."""

    def delete(self, digest: str) -> None:
        key = self._key(digest)
        if key is None:
            return
        client = self._ready()
        with self._errors("delete", key):
            client.delete_object(Bucket=self.bucket, Key=key)

    def quarantine(self, digest: str) -> bool:
        """Set the object aside if its bytes do not hash to ``digest``; returns whether it was
        damaged (False: it reads right, or is absent). One full read. The damaged bytes are
        copied to ``quarantine/<hex>.<time>`` (only the version that was hashed: If-Match on
        its ETag) and the object is deleted, so the next write of the blob creates it again.
        ``quarantine/`` is kept for inspection only: give it a lifecycle rule or empty it."""
        from botocore.exceptions import ClientError

        key = self._key(digest)
        if key is None:
            return False
        client = self._ready()
        with self._errors("check a damaged blob", key):
            got = self._object_digest(client, key)
            if got is None or got[0] == digest:
                return False
            obj = got[1]
            aside = f"{self._base}quarantine/{digest[7:]}.{time.strftime('%Y%m%dT%H%M%S')}.{uuid.uuid4().hex[:8]}"
            source = {"Bucket": self.bucket, "Key": key}
            try:
                if obj["ContentLength"] <= MAX_COPY:
                    client.copy_object(Bucket=self.bucket, Key=aside, CopySource=source, CopySourceIfMatch=obj["ETag"])
                else:
                    client.copy(source, self.bucket, aside, ExtraArgs={"CopySourceIfMatch": obj["ETag"]})
            except ClientError as e:
                if error_code(e) in TAKEN or error_code(e) in MISSING:
                    return False  # replaced or removed since it was hashed: not ours to set aside
                raise
            client.delete_object(Bucket=self.bucket, Key=key)
        return True

    def close(self) -> None:
        if self._client_obj is not None:
            self._client_obj.close()
            self._client_obj = None

    # -- Presigner -------------------------------------------------------------
    def presign_get(self, digest: str, expires: int = 3600, disposition: str | None = None) -> str:
        key = self._key(digest)
        if key is None:
            raise BlobNotFoundError(digest, f"in {self!r} (not a content digest)")
        params = {"Bucket": self.bucket, "Key": key}
        if disposition:
            params["ResponseContentDisposition"] = disposition
        with self._errors("presign a download", key):
            return self._client.generate_presigned_url("get_object", Params=params, ExpiresIn=expires)

    def presign_put(self, digest: str, expires: int = 3600) -> str:
        """A URL that can create the blob's object but never replace one: ``If-None-Match: *``
        is in its signature, so the PUT must carry that header (the store answers 412 when
        the object exists). Whoever hands it out decides whether to trust the bytes."""
        key = self._key(digest)
        if key is None:
            raise UsageError(f"blobs are addressed by blake3 digests, got {digest!r}")
        params = {"Bucket": self.bucket, "Key": key, "IfNoneMatch": "*"}
        with self._errors("presign an upload", key):
            return self._ready().generate_presigned_url("put_object", Params=params, ExpiresIn=expires)

    def presign_put_staging(self, size: int, expires: int = 3600) -> StagingUpload:
        key = f"{self._base}staging/{uuid.uuid4().hex}"
        client = self._ready()
        params = {"Bucket": self.bucket, "Key": key}
        with self._errors("presign an upload", key):
            if not self._staged_in_parts(size):
                # Content-Length is signed: the store refuses a PUT of any other size (403)
                url = client.generate_presigned_url(
                    "put_object", Params={**params, "ContentLength": size}, ExpiresIn=expires
                )
                return StagingUpload(key, (url,), max(size, 1))
            part = self.part_size_for(size)
            upload_id = client.create_multipart_upload(**params)["UploadId"]
            # each part's URL signs its Content-Length, as cut here: other sizes are refused (403)
            urls = tuple(
                client.generate_presigned_url(
                    "upload_part",
                    Params={
                        **params,
                        "UploadId": upload_id,
                        "PartNumber": n,
                        "ContentLength": min(part, size - (n - 1) * part),
                    },
                    ExpiresIn=expires,
                )
                for n in range(1, math.ceil(size / part) + 1)
            )
            return StagingUpload(key, urls, part)

    def _abort(self, key: str, upload_id: str) -> None:
        with contextlib.suppress(Exception):  # gc aborts what is left (stale_uploads)
            self._client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)

    def complete_staging(
        self, staging_key: str, digest: str, size: int | None = None, parts: list[tuple[int, str]] | None = None
    ) -> bool:
        """Hash the staged bytes (one full read by this process: ~0.45 s per 256 MiB from a
        local SeaweedFS), copy them into place if they match (server-side, ~1.2 s per 256 MiB
        there), and delete the staged object either way. Returns whether the blob's object now
        holds them. The copy is made even where the object exists (it then writes the same
        verified bytes over it, or heals a damaged one), so that how long a completion takes
        never tells whether someone else holds the blob; only verified bytes reach the key.

        With ``size`` (the size announced when the upload was handed out), a multipart upload
        is completed only when the store's own list of its parts is exactly those bytes, cut
        as handed out (``part_size_for(size)``), and, when ``parts`` (number, ETag) is sent,
        exactly those parts; a single PUT must be ``size`` bytes (its URL signs that length,
        and the object's size is checked by a HEAD and again on the GET, before any byte is
        read). Anything else: UsageError, the staged bytes deleted unread. A failure to reach the store (StoreError) leaves
        the staged upload in place, so that the same completion can be tried again."""
        from botocore.exceptions import ClientError

        if not re.fullmatch(re.escape(self._base) + r"staging/[0-9a-f]{32}", staging_key):
            raise UsageError(f"{staging_key!r} is not a staging key of {self!r}")
        client = self._ready()
        key = self._key(digest)
        try:
            with self._errors("verify a staged upload", staging_key):
                if size is not None and self._staged_in_parts(size):
                    self._complete_announced(staging_key, digest, size, parts)
                else:
                    self._complete_multipart(staging_key)
                if size is not None:
                    there = self._size_of(staging_key)
                    if there is not None and there != size:
                        raise UsageError(
                            f"the upload of {digest} holds {there} bytes where {size} were announced; "
                            "start the upload again"
                        )
                # the size again on the GET itself: bytes PUT since the HEAD are not read either
                got = self._object_digest(client, staging_key, size)
                if got is None or key is None or got[0] != digest:
                    self._drop_staged(staging_key)
                    return False
                obj = got[1]
                # copied whether or not the blob's object exists (then with the same bytes): the
                # time a completion takes must not tell whether another project holds the blob
                source = {"Bucket": self.bucket, "Key": staging_key}
                try:  # If-Match: the bytes we hashed, not whatever a still-valid URL put there since
                    if obj["ContentLength"] <= MAX_COPY:
                        client.copy_object(
                            Bucket=self.bucket, Key=key, CopySource=source, CopySourceIfMatch=obj["ETag"]
                        )
                    else:
                        client.copy(source, self.bucket, key, ExtraArgs={"CopySourceIfMatch": obj["ETag"]})
                except ClientError as e:
                    if error_code(e) in TAKEN:
                        self._drop_staged(staging_key)
                        return False
                    raise
                self._drop_staged(staging_key)
                return True
        except UsageError:
            self._drop_staged(staging_key)
            raise

    def remove_staging(self, staging_key: str) -> None:
        if not re.fullmatch(re.escape(self._base) + r"staging/[0-9a-f]{32}", staging_key):
            raise UsageError(f"{staging_key!r} is not a staging key of {self!r}")
        self._drop_staged(staging_key)

    def _staged_in_parts(self, size: int) -> bool:
        """Whether ``presign_put_staging(size)`` hands out a multipart upload (more than one
        part's worth) rather than one PUT: a client holds at most a part per request."""
        return size > self.part_size_for(size)

    def _drop_staged(self, staging_key: str) -> None:
        with contextlib.suppress(CairnError):
            with self._errors("delete a staged upload", staging_key):
                self._client.delete_object(Bucket=self.bucket, Key=staging_key)
        for up in self._open_uploads(staging_key):
            self._abort(staging_key, up)

    def _open_uploads(self, key: str) -> list[str]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            got = self._client.list_multipart_uploads(Bucket=self.bucket, Prefix=key).get("Uploads", [])
        except (BotoCoreError, ClientError):
            return []  # gc aborts what is left (stale_uploads)
        return [u["UploadId"] for u in got if u["Key"] == key]

    def _complete_announced(self, key: str, digest: str, size: int, parts: list[tuple[int, str]] | None) -> None:
        """Complete the client's multipart upload to the staging ``key`` once the store's own
        list of its parts is exactly the ``size`` bytes announced, cut as they were handed
        out (parts 1..n, each ``part_size_for(size)`` bytes but the last), and, when the
        client sends ``parts``, exactly those; UsageError otherwise. No upload open: the
        bytes may be complete already (an earlier completion that lost its answer)."""
        from botocore.exceptions import ClientError

        client = self._client
        part = self.part_size_for(size)
        n = math.ceil(size / part)
        for upload_id in self._open_uploads(key):
            held = {
                p["PartNumber"]: (p["ETag"], p["Size"])
                for page in client.get_paginator("list_parts").paginate(Bucket=self.bucket, Key=key, UploadId=upload_id)
                for p in page.get("Parts", [])
            }
            for i in range(1, n + 1):
                want = part if i < n else size - (n - 1) * part
                if i not in held:
                    raise UsageError(f"part {i} of {n} of the upload of {digest} never arrived; start the upload again")
                if held[i][1] != want:
                    raise UsageError(
                        f"part {i} of the upload of {digest} holds {held[i][1]} bytes where {want} were due "
                        f"({size} bytes announced, in parts of {part}); start the upload again"
                    )
            if len(held) != n:
                extra = sorted(set(held) - set(range(1, n + 1)))[0]
                raise UsageError(
                    f"the upload of {digest} has a part {extra} beyond the {n} handed out; start the upload again"
                )
            if parts is not None:
                sent = {number: etag.strip('"') for number, etag in parts}
                if len(parts) != n or sent != {i: held[i][0].strip('"') for i in held}:
                    raise UsageError(
                        f"the part list sent for the upload of {digest} does not match the parts the object store "
                        "holds (other bytes, or parts missing); start the upload again"
                    )
            done = {"Parts": [{"PartNumber": i, "ETag": held[i][0]} for i in range(1, n + 1)]}
            try:
                client.complete_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id, MultipartUpload=done)
            except ClientError as e:
                if error_code(e) not in {"NoSuchUpload"} | MISSING:
                    raise

    def _complete_multipart(self, key: str) -> None:
        """Complete the client's multipart upload to ``key``, if it made one, from the parts S3 holds."""
        from botocore.exceptions import ClientError

        client = self._client
        uploads = client.list_multipart_uploads(Bucket=self.bucket, Prefix=key).get("Uploads", [])
        for up in (u for u in uploads if u["Key"] == key):
            parts = [
                {"PartNumber": p["PartNumber"], "ETag": p["ETag"]}
                for page in client.get_paginator("list_parts").paginate(
                    Bucket=self.bucket, Key=key, UploadId=up["UploadId"]
                )
                for p in page.get("Parts", [])
            ]
            try:
                if parts:
                    client.complete_multipart_upload(
                        Bucket=self.bucket, Key=key, UploadId=up["UploadId"], MultipartUpload={"Parts": parts}
                    )
                    continue
            except ClientError as e:  # missing or undersized parts: the client's upload is unusable
                if error_code(e) not in {"InvalidPart", "InvalidPartOrder", "EntityTooSmall", "NoSuchUpload"}:
                    raise
            with contextlib.suppress(ClientError):
                client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=up["UploadId"])


def _digest(data: bytes) -> str:
    h = hasher()
    h.update(data)
    return digest_of(h)
