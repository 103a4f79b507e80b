"""The storage ports. Each method's docstring is its contract; every adapter passes
the contract suites in ``tests/storage``."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO, Protocol


class BlobStore(Protocol):
    """Bytes addressed by their content digest (``blake3:<hex>``). Stored blobs never change."""

    def has(self, digests: Iterable[str]) -> set[str]:
        """The subset of ``digests`` that is stored. Never fails for unknown digests."""

    def put_file(self, path: Path, size_hint: int | None = None) -> tuple[str, int]:
        """Read ``path`` once, hashing and storing it in the same pass; return (digest, size).

        A blob already stored is not written again. Raises FileNotFoundError/IsADirectoryError
        for a bad path. Durable only after ``flush``."""

    def put_bytes(self, data: bytes) -> tuple[str, int]:
        """Store ``data``; return (digest, size). Durable only after ``flush``."""

    def put_blobs(self, items: list[tuple[str, bytes]]) -> None:
        """Store blobs already hashed by the caller as (digest, data), in as few round trips
        as the store allows. Durable only after ``flush``."""

    def flush(self) -> None:
        """Make every blob put so far durable (survives a power cut)."""

    def open(self, digest: str) -> BinaryIO:
        """A binary reader of the stored bytes, as stored (callers verify). BlobNotFoundError if absent."""

    def delete(self, digest: str) -> None:
        """Remove a blob (garbage collection only). Missing blobs are ignored."""

    def iter_digests(self) -> Iterator[str]:
        """Every stored digest (garbage collection only)."""


class ChunkStore(Protocol):
    """Manifest chunks addressed by the digest of their encoding."""

    def get_chunks(self, keys: list[str]) -> dict[str, bytes]:
        """The chunks found among ``keys``; missing ones are absent from the result."""

    def put_chunks(self, chunks: dict[str, bytes]) -> None:
        """Store chunks; keys already stored are skipped. Idempotent."""
