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


def byte_range(header: str | None, size: int) -> tuple[int, int] | str | None:
    """The one range of a ``Range: bytes=a-b`` / ``a-`` / ``-n`` header as inclusive (start,
    end) within ``size``; None when absent, malformed or several ranges (the whole file is
    sent, as RFC 9110 allows); "unsatisfiable" when it starts past the end."""
    if not header or not header.startswith("bytes=") or "," in header:
        return None
    first, sep, last = header[6:].strip().partition("-")
    if not sep or not (first + last).isascii() or not (first or last).isdigit() or len(first + last) > 19:
        return None
    if first and not first.isdigit() or last and not last.isdigit():
        return None
    if not first:  # the last n bytes
        n = int(last)
        return (max(size - n, 0), size - 1) if n and size else "unsatisfiable"
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size:
        return "unsatisfiable"
    return None if end < start else (start, end)
