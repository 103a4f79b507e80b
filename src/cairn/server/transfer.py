"""Receiving blob bytes through the server (stores without presigned URLs)."""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import tempfile
import time
from pathlib import Path

from fastapi import Request

from ..core.digest import Digest, digest_of, hasher
from ..core.errors import IntegrityError, UsageError
from ..engine import blobs_index
from ..storage.blobs.local import UPLOAD_TEMP_PREFIX as PREFIX  # gc removes those a killed server left
from .context import ServerContext

PIECE = 1 << 20  # bytes handed to a worker thread at a time

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
    matches ``digest``. Only the receiving runs on the event loop: writing, hashing (in
    1 MiB pieces) and storing run in worker threads, so a 2 GiB upload stalls no request."""
    from starlette.concurrency import run_in_threadpool

    try:
        want = Digest.parse(digest)
    except ValueError as e:
        raise UsageError(str(e)) from None
    if not want.is_content:
        raise UsageError(f"blobs are addressed by blake3 digests, got {digest!r}")
    global _swept
    if not _swept:
        _swept = True
        await run_in_threadpool(sweep_stale_uploads)
    h = hasher()
    size = 0
    fd, tmp = tempfile.mkstemp(prefix=PREFIX)
    out = os.fdopen(fd, "wb")

    def take(data: bytes) -> None:
        h.update(data)
        out.write(data)

    def discard() -> None:  # closing and unlinking a 2 GiB file can take a second: not on the loop
        out.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)

    try:
        pending: list[bytes] = []
        held = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > c.max_blob_bytes:
                raise UsageError(f"blob larger than this server accepts ({c.max_blob_bytes} bytes)")
            pending.append(chunk)
            held += len(chunk)
            if held >= PIECE:
                await run_in_threadpool(take, b"".join(pending))
                pending, held = [], 0
        if pending:
            await run_in_threadpool(take, b"".join(pending))
        await run_in_threadpool(out.close)
        got = digest_of(h)
        if got != digest:
            raise IntegrityError(f"uploaded bytes hash to {got}, not {digest}; nothing was stored", digest=digest)

        def write(digests: list[str]) -> None:
            # written even where the store holds the digest: the time taken must not tell
            # whether another project holds the file (rewrite: the same work either way)
            # digest: hashed above as it arrived, so a store that hashes before sending need not
            stored, _ = c.blobs.put_file(Path(tmp), size, rewrite=True, digest=digest)
            assert stored == digest
            c.blobs.flush()

        await run_in_threadpool(blobs_index.store_checked, c.meta, c.blobs, entity, project, [digest], write)
        return size
    finally:
        await run_in_threadpool(discard)
