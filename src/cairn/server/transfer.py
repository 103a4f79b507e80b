"""Receiving blob bytes through the server (stores without presigned URLs)."""

from __future__ import annotations

import glob
import logging
import os
import tempfile
import time
from pathlib import Path

from fastapi import Request

from ..core.digest import Digest, hasher
from ..core.errors import IntegrityError, UsageError
from . import blobs_index
from .context import ServerContext


PREFIX = "cairn-upload-"
_swept = False


def sweep_stale_uploads(age: float | None = None) -> int:
    """Remove upload temp files that a killed server left (those untouched for ``age``
    seconds: a live upload writes to its file as its body arrives, so a replica sharing
    this machine keeps its own). Runs before a server's first upload; returns how many."""
    from ..storage.blobs.local import STALE_TMP_AGE

    cutoff = time.time() - (STALE_TMP_AGE if age is None else age)
    removed = 0
    for path in glob.glob(os.path.join(tempfile.gettempdir(), PREFIX + "*")):
        try:
            if os.lstat(path).st_mtime < cutoff:
                os.unlink(path)
                removed += 1
        except FileNotFoundError:
            pass
    if removed:
        logging.getLogger("cairn.server").info("removed %d stale upload temp file(s)", removed)
    return removed


async def receive_blob(c: ServerContext, request: Request, digest: str, entity: str, project: str) -> int:
    """Stream the body to a temp file while hashing; store it, for ``project``, only if it
    matches ``digest``."""
    try:
        want = Digest.parse(digest)
    except ValueError as e:
        raise UsageError(str(e)) from None
    if not want.is_content:
        raise UsageError(f"blobs are addressed by blake3 digests, got {digest!r}")
    global _swept
    if not _swept:
        _swept = True
        sweep_stale_uploads()
    h = hasher()
    size = 0
    fd, tmp = tempfile.mkstemp(prefix=PREFIX)
    try:
        with os.fdopen(fd, "wb") as out:
            async for chunk in request.stream():
                size += len(chunk)
                if size > c.max_blob_bytes:
                    raise UsageError(f"blob larger than this server accepts ({c.max_blob_bytes} bytes)")
                h.update(chunk)
                out.write(chunk)
        got = "blake3:" + h.hexdigest()
        if got != digest:
            raise IntegrityError(f"uploaded bytes hash to {got}, not {digest}; nothing was stored", digest=digest)
        def write(digests: list[str]) -> None:
            stored, _ = c.blobs.put_file(Path(tmp), size)
            assert stored == digest
            c.blobs.flush()

        blobs_index.store_checked(c.meta, c.blobs, entity, project, [digest], write)
        return size
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
