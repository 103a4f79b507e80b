"""Talking to S3 with boto3: client configuration, errors that say what to do, and the
small helpers the S3 blob store shares (a streaming body, a memory budget for uploads)."""

from __future__ import annotations

import io
import os
import threading
from collections.abc import Callable
from typing import Any

from ...core.errors import StoreError, UnavailableError

MiB = 1 << 20
WORKERS = 32  # requests in flight for has() and put_blobs()
PART_WORKERS = 4  # parts in flight per multipart upload

MISSING = {"404", "NoSuchKey", "NotFound"}
TAKEN = {"412", "PreconditionFailed"}
DENIED = {"403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken"}

ClientFactory = Callable[[], Any]


def s3_client_factory(
    *, max_attempts: int | None = None, connect_timeout: float = 5.0, read_timeout: float = 60.0
) -> ClientFactory:
    """Clients configured from the environment (``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, …),
    with path-style addressing, timeouts and standard-mode retries (exponential backoff with
    jitter). ``max_attempts`` defaults to ``AWS_MAX_ATTEMPTS`` or 4 (at most ~7 s of backoff)."""

    def make() -> Any:
        import boto3
        from botocore.config import Config

        attempts = max_attempts or int(os.environ.get("AWS_MAX_ATTEMPTS") or 4)
        session = boto3.session.Session()
        config = Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            retries={"mode": "standard", "max_attempts": attempts},
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            max_pool_connections=WORKERS + PART_WORKERS,
            tcp_keepalive=True,
            # every blob is checked by its BLAKE3 digest on the way in and out; botocore's
            # default CRC32 of every body on top cost ~4% of a server's CPU (py-spy, bench/)
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        return session.client("s3", region_name=session.region_name or "us-east-1", config=config)

    return make


def store_error(e: Exception, what: str, bucket: str, endpoint: str, key: str | None = None) -> StoreError:
    """A botocore failure to ``what`` as a StoreError that names the bucket and endpoint and
    says what to do (botocore has already retried what it could)."""
    from botocore.exceptions import ClientError, NoCredentialsError, PartialCredentialsError

    where = f"bucket {bucket!r} at {endpoint}"
    if isinstance(e, (NoCredentialsError, PartialCredentialsError)):
        return StoreError(
            f"cannot {what} in {where}: no S3 credentials; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        )
    if not isinstance(e, ClientError):  # connection refused/reset, timeouts, broken streams
        return UnavailableError(
            f"cannot reach the S3 endpoint {endpoint} (bucket {bucket!r}) to {what}: {e}; "
            "check that the object store is running and that AWS_ENDPOINT_URL points at it, then retry"
        )
    code = error_code(e)
    if code == "NoSuchBucket" or (code in MISSING and what == "open the bucket"):
        return StoreError(
            f"S3 bucket {bucket!r} does not exist at {endpoint}; create it "
            f"(e.g. `aws s3 mb s3://{bucket} --endpoint-url {endpoint}`) or fix the blob store URL"
        )
    if code in DENIED:
        return StoreError(
            f"S3 refused to {what} in {where} ({code}); check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY "
            "and that they may read, write and list the bucket"
        )
    target = f" ({key})" if key else ""
    detail = f"{code} {e.response['Error'].get('Message', '')}".rstrip()
    if e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) >= 500:  # still failing after retries
        return UnavailableError(
            f"the object store failed to {what}{target} in {where} ({detail}); "
            "check that it is healthy (its logs, disk space) and retry"
        )
    return StoreError(f"S3 could not {what}{target} in {where}: {detail}")


def error_code(e: Exception) -> str:
    return str(getattr(e, "response", {}).get("Error", {}).get("Code", ""))


class Budget:
    """Bytes of upload buffers in flight; ``acquire`` waits while the budget is spent.
    A request larger than the whole budget waits for it to be free and then runs alone."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._used = 0
        self._cond = threading.Condition()

    def acquire(self, n: int) -> int:
        n = min(n, self.limit)
        with self._cond:
            self._cond.wait_for(lambda: self._used + n <= self.limit)
            self._used += n
        return n

    def release(self, n: int) -> None:
        with self._cond:
            self._used -= n
            self._cond.notify_all()


class StreamingBody(io.RawIOBase):
    """A GET's streaming body whose network errors surface as StoreError."""

    def __init__(self, stream: Any, error: Callable[[Exception], StoreError]) -> None:
        self._stream = stream
        self._error = error

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        from botocore.exceptions import BotoCoreError

        try:
            return self._stream.read(None if size is None or size < 0 else size)
        except BotoCoreError as e:
            raise self._error(e) from e

    def readinto(self, b: Any) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)

    def readall(self) -> bytes:
        return self.read()

    def close(self) -> None:
        if not self.closed:
            self._stream.close()
        super().close()
