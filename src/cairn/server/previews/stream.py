"""A file read through ranged reads as a seekable binary file, within a byte budget: what the
table previews stream rows from (CSV, JSON Lines, ``wandb.Table`` JSON through ijson) and what
pyarrow reads Parquet through. Memory stays bounded by the reader's buffer, and time by the
budget: a read that would pass it raises ``OverBudget`` and the preview says how far it got."""

from __future__ import annotations

import io
from typing import Any

CHUNK = 1 << 20  # one ranged read of a streamed file


class OverBudget(Exception):
    """More bytes were wanted than the preview may read."""


class RangedFile(io.RawIOBase):
    """A read-only, seekable file over ``source.read_at`` that refuses to read past ``budget``
    bytes in all (``OverBudget``)."""

    def __init__(self, source: Any, budget: int, strict: bool = False) -> None:
        # strict: a read larger than what is left raises at once (pyarrow must not get short
        # reads); else the budget's last bytes are read first and the next read raises
        self._src, self._pos, self._left, self._strict = source, 0, budget, strict
        self._ahead: tuple[int, bytes] = (0, b"")  # (offset, bytes) read ahead of the caller

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._src.size}[whence]
        self._pos = max(base + offset, 0)
        return self._pos

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = self._src.size - self._pos
        size = max(min(size, self._src.size - self._pos), 0)
        if not size:
            return b""
        if self._strict:  # exactly what is asked (pyarrow seeks and reads its own ranges)
            if size > self._left:
                raise OverBudget(size)
            return self._take(self._fetch(self._pos, size))
        # streamed: read ahead a CHUNK at a time, whatever the caller asks for (a text
        # reader asks 8 KiB at a time, which would be one ranged GET each on S3)
        ahead_at, ahead = self._ahead
        if not (ahead_at <= self._pos < ahead_at + len(ahead)):
            want = max(min(CHUNK, self._src.size - self._pos), size)
            want = min(want, self._left)
            if want <= 0:
                raise OverBudget(size)
            self._ahead = (self._pos, self._fetch(self._pos, want))
            ahead_at, ahead = self._ahead
        start = self._pos - ahead_at
        return self._take(ahead[start : start + size])

    def _fetch(self, at: int, n: int) -> bytes:
        data = self._src.read_at(at, n)
        self._left -= len(data)
        return data

    def _take(self, data: bytes) -> bytes:
        self._pos += len(data)
        return data

    def readinto(self, b: Any) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)


def buffered(source: Any, budget: int) -> io.BufferedReader:
    """``source`` from its start as a buffered binary stream of at most ``budget`` bytes."""
    return io.BufferedReader(RangedFile(source, budget), buffer_size=CHUNK)
