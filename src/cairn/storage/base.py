"""The storage ports. Each method's docstring is its contract; every adapter passes
the contract suites in ``tests/storage``."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self, runtime_checkable

from ..core.progress import NULL_TASK, Task


class BlobReader(Protocol):
    """What ``BlobStore.open`` returns: a binary stream read front to back and closed by the
    caller (an open file, a blob's chunks one after another, an S3 body)."""

    def read(self, size: int = -1, /) -> bytes: ...

    def readinto(self, buffer: bytearray | memoryview, /) -> int: ...

    def seek(self, offset: int, whence: int = 0, /) -> int:
        """Files and packed blobs seek; a chained or network stream raises io.UnsupportedOperation."""

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None, /
    ) -> None: ...


class BlobStore(Protocol):
    """Bytes addressed by their content digest (``blake3:<hex>``). Stored blobs never change."""

    def has(self, digests: Iterable[str]) -> set[str]:
        """The subset of ``digests`` that is stored. Never fails for unknown digests."""

    def put_file(
        self,
        path: Path,
        size_hint: int | None = None,
        task: Task = NULL_TASK,
        rewrite: bool = False,
        digest: str | None = None,
    ) -> tuple[str, int]:
        """Read ``path`` once, hashing and storing it in the same pass; return (digest, size).
        Reports the bytes read to ``task`` as it goes (a bar moves during one large file);
        the caller counts the file.

        A blob already stored is not written again, unless the store can see for the price
        of its existence check that the copy is damaged (an object of the wrong size): that
        one is replaced. With ``rewrite``, it is written again all the same (the same bytes
        over it): the same work whether or not the store held the blob, for a server storing
        one project's upload, whose time must not tell whether another project holds it.
        ``digest``: the caller's digest of this very file (a server's own temp file, hashed as
        it arrived); a store that would read the file twice (hash, then send) may skip the
        first read, still storing nothing unless the bytes it writes are ``digest``; others
        ignore it. Raises FileNotFoundError/IsADirectoryError for a bad path; OSError (a full
        disk) leaves no temp file behind. Durable only after ``flush``."""

    def put_bytes(self, data: bytes) -> tuple[str, int]:
        """Store ``data``; return (digest, size). Durable only after ``flush``."""

    def put_blobs(self, items: list[tuple[str, bytes]], hashed: bool = False, rewrite: bool = False) -> None:
        """Store blobs already hashed by the caller as (digest, data), in as few round trips
        as the store allows, skipping those already stored (``rewrite``: writing those too,
        the same work as for new ones; see ``put_file``). Durable only after ``flush``.
        A store shared between writers may hash them again unless ``hashed`` says the
        digests were computed from these very bytes by this process."""

    def flush(self) -> None:
        """Make every blob put so far durable (survives a power cut)."""

    def open(self, digest: str) -> BlobReader:
        """A binary reader of the stored bytes, as stored (callers verify). BlobNotFoundError if absent."""

    def delete(self, digest: str) -> None:
        """Remove a blob (garbage collection only). Missing blobs are ignored."""

    def iter_digests(self) -> Iterator[str]:
        """Every stored digest (garbage collection only)."""


class RangeReader(Protocol):
    """Optional power of a BlobStore: part of a blob without reading what comes before it
    (a preview of a file's head or of a Parquet footer costs the bytes it needs, not the file)."""

    def read_range(self, digest: str, offset: int, length: int) -> bytes:
        """Up to ``length`` bytes of the blob from byte ``offset``: fewer at its end, none
        from past it. BlobNotFoundError if absent; ValueError for a negative offset or length."""


class Quarantine(Protocol):
    """Optional power of a BlobStore: set a damaged blob aside, so that the next ingest of
    the same bytes stores it again (dedup would otherwise keep the damaged copy for ever)."""

    def quarantine(self, digest: str) -> bool:
        """Re-hash the stored copy of ``digest``; if its bytes are wrong (or a part of a
        chunked blob is gone), move it where ``has`` no longer sees it and return True.
        False when it reads right or is absent; a sound copy is never removed. For readers
        that found the blob wrong, not for the ingest path: it reads the whole blob."""


@runtime_checkable
class SmallReads(Protocol):
    """Optional power of a BlobStore: many small blobs in one read (a download of 50,000
    small files reads them in batches, not one open per file)."""

    def read_small(self, digests: list[str]) -> dict[str, bytes]:
        """The bytes of those of ``digests`` stored small enough to batch; others are left out."""


@runtime_checkable
class ChunkedCopies(Protocol):
    """Optional power of a BlobStore: write a blob it keeps as chunks straight to a file,
    verified, faster than reading it as one stream (a download of a large file)."""

    def copy_chunked(self, digest: str, size: int, dest: str, task: Task = NULL_TASK) -> bool:
        """Write blob ``digest`` (``size`` bytes) to the new file ``dest``, every byte checked
        against a digest, reporting bytes to ``task``; False (nothing written) when the store
        does not keep it as chunks. IntegrityError when a piece reads wrong."""


@runtime_checkable
class Recipes(Protocol):
    """Optional power of a BlobStore that keeps blobs of ``chunked_min`` bytes or more as
    chunks: which chunks those blobs are made of (what relies on a blob relies on them too)."""

    chunked_min: int

    def recipe_parts(self, digests: Iterable[str]) -> dict[str, list[str]]:
        """{digest: its chunks' digests} for those of ``digests`` stored as chunks."""


@dataclass(frozen=True, slots=True)
class StagingUpload:
    """Where a client sends the bytes of a new blob, for the server to verify before use.

    One URL: PUT the whole body to it. Several: PUT bytes ``[(i-1)*part_size, i*part_size)``
    to ``urls[i-1]`` (the last part is shorter); the server completes the multipart upload."""

    key: str
    urls: tuple[str, ...]
    part_size: int


@runtime_checkable
class Presigner(Protocol):
    """Optional power of a BlobStore: direct client <-> store transfers with presigned URLs.

    Up: ``presign_put_staging`` takes bytes to a staging key, which ``complete_staging``
    moves into place only after reading them back and hashing them. (``presign_put``,
    create-only to a blob's own key, is not handed to clients by the server.)"""

    def presign_get(self, digest: str, expires: int = 3600, disposition: str | None = None) -> str:
        """A URL that GETs the blob's bytes for ``expires`` seconds, answered with the given
        Content-Disposition if any. Does not check that the blob exists."""

    def presign_put(self, digest: str, expires: int = 3600) -> str:
        """A URL that PUTs the blob's object if it does not exist yet, and can never replace
        it (the request must carry ``If-None-Match: *``; 412 when the object exists)."""

    def presign_put_staging(self, size: int, expires: int = 3600) -> StagingUpload:
        """A fresh staging key and the URL(s) to upload ``size`` bytes to it (each URL, a
        single PUT or a part, admits only its own size where the store can sign a length). StoreError if unreachable."""

    def complete_staging(
        self, staging_key: str, digest: str, size: int | None = None, parts: list[tuple[int, str]] | None = None
    ) -> bool:
        """Read the staged bytes, hash them, and store them as ``digest`` if they match (written
        over an existing object too, so that the time taken tells nothing); delete the staged object either way, except on a StoreError (then it
        may be tried again). False when they do not match or nothing was staged; UsageError for
        a key this store did not hand out, or (with ``size``) bytes other than announced."""

    def remove_staging(self, staging_key: str) -> None:
        """Delete what an upload never completed left at ``staging_key`` (its object, and its
        multipart uploads, aborted). Garbage collection only; what it cannot reach now goes
        with ``stale_uploads`` later. UsageError for a key this store did not hand out."""


class ChunkStore(Protocol):
    """Manifest chunks addressed by the digest of their encoding."""

    def get_chunks(self, keys: list[str]) -> dict[str, bytes]:
        """The chunks found among ``keys``; missing ones are absent from the result."""

    def put_chunks(self, chunks: dict[str, bytes]) -> None:
        """Store chunks; keys already stored are skipped. Idempotent."""
