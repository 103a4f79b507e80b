"""Reading part of a blob for the web UI: a ranged read where the store has one
(``storage.base.RangeReader``: a seek locally, a ranged GET on S3), else the stream up to it."""

from __future__ import annotations

from ..storage.base import BlobStore


def read_at(blobs: BlobStore, digest: str, offset: int, length: int) -> bytes:
    """Up to ``length`` bytes of the blob from ``offset`` (fewer at its end)."""
    if length <= 0:
        return b""
    reader = getattr(blobs, "read_range", None)
    if reader is not None:
        return reader(digest, offset, length)
    parts, got, skip = [], 0, offset
    with blobs.open(digest) as f:
        while skip and (chunk := f.read(min(skip, 1 << 20))):
            skip -= len(chunk)
        while got < length and (chunk := f.read(min(length - got, 1 << 20))):
            parts.append(chunk)
            got += len(chunk)
    return b"".join(parts)
