"""Where the bytes of a blob added in this process come from until the server holds them:
``Bytes`` given to the artifact, a ``LocalFile`` hashed when it was added, or a
``HeldFile`` (a local file whose bytes were kept from the read that hashed it).

Every source hands out only the bytes that were hashed: a file that changed since it was
added raises ``FileChangedError`` instead of sending other bytes under the old digest.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from ..core.digest import digest_of, hasher
from ..core.errors import FileChangedError
from ..core.progress import NULL_TASK, Task
from ..storage.base import BlobReader
from .statcache import Sig, signature

READ_SIZE = 1 << 20


class BlobSource(Protocol):
    """The bytes of one pending blob."""

    @property
    def size(self) -> int: ...

    def read(self, digest: str) -> bytes:
        """All of the bytes, checked to be ``digest``'s."""

    def chunks(self, digest: str, task: Task = NULL_TASK) -> Iterator[bytes]:
        """The bytes in pieces of up to 1 MiB, each reported to ``task``; checked to be
        ``digest``'s once the last one is handed out."""

    def open(self) -> BlobReader:
        """A reader of the bytes (unchecked: the caller verifies them)."""

    @property
    def in_memory(self) -> bool:
        """Whether the bytes are held in memory (and count against the hold budget)."""


class _Held:
    """What a source whose bytes are in ``self.data`` does with them (Bytes, HeldFile)."""

    __slots__ = ()
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)

    def read(self, digest: str) -> bytes:
        return self.data

    def chunks(self, digest: str, task: Task = NULL_TASK) -> Iterator[bytes]:
        yield self.data
        task.advance(nbytes=len(self.data))

    def open(self) -> BlobReader:
        return io.BytesIO(self.data)


@dataclass(frozen=True, slots=True)
class Bytes(_Held):
    """Bytes the caller handed over (``ingest_bytes``): nothing can change them."""

    data: bytes

    @property
    def in_memory(self) -> bool:
        return False  # not counted: the artifact holds them anyway


@dataclass(frozen=True, slots=True)
class LocalFile:
    """A file as it was when hashed: its path and stat signature."""

    path: str
    sig: Sig

    @property
    def size(self) -> int:
        return self.sig[0]

    @property
    def in_memory(self) -> bool:
        return False

    def _changed(self) -> FileChangedError:
        return FileChangedError(self.path, os.path.basename(self.path))

    def read(self, digest: str) -> bytes:
        if signature(os.stat(self.path)) != self.sig:
            raise self._changed()
        with open(self.path, "rb") as f:
            data = f.read()
        h = hasher()
        h.update(data)
        if digest_of(h) != digest:
            raise self._changed()
        return data

    def chunks(self, digest: str, task: Task = NULL_TASK) -> Iterator[bytes]:
        h = hasher()
        with open(self.path, "rb") as f:
            while chunk := f.read(READ_SIZE):
                h.update(chunk)
                yield chunk
                task.advance(nbytes=len(chunk))
        if signature(os.stat(self.path)) != self.sig or digest_of(h) != digest:
            raise self._changed()

    def open(self) -> BlobReader:
        return open(self.path, "rb")


@dataclass(frozen=True, slots=True)
class HeldFile(_Held):
    """A local file whose bytes were kept from the read that hashed them: sending it reads
    nothing again (see ``uploader.HOLD_MAX``)."""

    path: str
    data: bytes

    @property
    def in_memory(self) -> bool:
        return True
