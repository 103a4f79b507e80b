"""The digest of a file on disk, read in large pieces (both the upload and the download side
check files against their digests, and references hash the files they point to)."""

from __future__ import annotations

import os

from ..core.digest import digest_of, hasher

READ_SIZE = 1 << 20


def hash_file(path: str | os.PathLike[str]) -> str:
    """The content digest (``blake3:<hex>``) of the file at ``path``; OSError if it cannot be read."""
    h = hasher()
    with open(path, "rb") as f:
        while chunk := f.read(READ_SIZE):
            h.update(chunk)
    return digest_of(h)
