"""Staged uploads: bytes a client PUTs to a fresh staging key with presigned URLs, which
count only once the server has read them back and hashed them.

Each staging key is recorded with the project (and digest) that asked for it; only a
request for that project and digest can complete it. An upload id of another project, or
one never handed out, answers the same 404. Sizes above the server's largest blob are
refused before any multipart upload is opened.

Every upload, small or large, goes to a staging key unique to it, and every completion
reads the staged bytes back and hashes them, whoever else holds or is writing that blob:
right bytes are copied into place (over an existing object too) and granted to the project, wrong ones are
deleted and refused. So the answer never depends on what other projects hold (a client
never learns whether anyone else has a file), no unread bytes ever sit at a blob's own
key, and an object already at that key grants nothing without this project's verified
upload. The cost: the server reads each uploaded byte once.

A completion leases its upload while it runs (engine/staged_uploads.py): a retry of it
(the first answer lost) waits for it and answers as it did; a retry after the completing
server died takes the upload over once the lease lapses, from the bytes still staged. An
upload never completed is removed by garbage collection past its upload ttl.

Small blobs (``direct_start``/``direct_done``) are recorded with the size the client
announced; their URL admits only that size, and a completion reads back no other. Only
``direct_done`` and ``complete`` read staged bytes, both as heavy work within the caller's
share (server/api.py ``heavy``), ``direct_done`` on the process's one bounded pool (``reads``).
"""

from __future__ import annotations

import time

from ..core.errors import IntegrityError, NotFoundError, UsageError
from ..engine import blobs_index, staged_uploads
from ..storage.base import Presigner
from .context import ServerContext
from . import reads
from .errors import TooLarge


# The largest blob a direct upload takes (one signed PUT, read back whole on direct/done);
# the client sends blobs under its DIRECT_MIN (the same 8 MiB) this way, larger ones in parts.
DIRECT_MAX = 8 << 20
RETRY_WAITS = (0.1, 0.2, 0.5) + (1.0,) * 300  # a retried completion waits for the first (a 10 GiB read: ~2 min)
_sleep = time.sleep  # between a retry's looks at the first completion (a test watches it wait)


def _missing(entity: str, project: str, upload_id: str) -> NotFoundError:
    return NotFoundError(f"project {entity}/{project} has no staged upload {upload_id[:300]!r}; start one again")


def _presigner(c: ServerContext) -> Presigner:
    if not isinstance(c.blobs, Presigner):
        raise UsageError("this server's blob store takes uploads through the server, not direct ones")
    return c.blobs


def start(c: ServerContext, entity: str, project: str, digest: str, size: int, checked: bool = True) -> dict:
    """Presigned URL(s) for ``size`` bytes of ``digest`` to a fresh staging key, bound to
    the project; the server hashes them on completion (``checked`` is always true now:
    accepted from older clients, and ignored)."""
    blobs_index.check_content_digest(digest)
    if size > c.max_blob_bytes:
        raise TooLarge(f"a blob of {size} bytes is larger than this server accepts ({c.max_blob_bytes} bytes)")
    presign = getattr(c.blobs, "presign_put_staging", None)
    if presign is None:
        return {"direct": False}
    up = presign(size)
    staged_uploads.record(c.meta, entity, project, up.key, digest, size)
    return {"direct": True, "checked": True, "upload_id": up.key, "urls": list(up.urls), "part_size": up.part_size}


def complete(
    c: ServerContext, entity: str, project: str, upload_id: str, digest: str, parts: list[tuple[int, str]] | None = None
) -> bool:
    """Finish this project's upload of ``digest``: the staged bytes are read back and
    hashed, always; if they are ``digest`` they are copied into place (always) and the
    project holds the blob (True). Otherwise they are deleted and an IntegrityError (422)
    says so, the same whoever holds ``digest``. A multipart upload is completed only as
    announced (its size, cut as handed out, and ``parts`` (number, ETag) when sent;
    UsageError otherwise). 404 for an upload id this project did not start for that
    digest, unless the project holds ``digest`` already: a retried completion (its answer
    lost) answers True again. A retry that finds the first completion still running waits
    for it; one whose server died (its lease not refreshed: engine/staged_uploads.py) is
    done again from the staged bytes. A failure to reach the store leaves the upload to be
    tried again."""
    for wait in (*RETRY_WAITS, None):
        size = staged_uploads.take(c.meta, entity, project, upload_id, digest)
        if size is not None:
            return _complete_leased(c, entity, project, upload_id, digest, size, parts)
        # a retry (its first answer lost): this project's own completion may still be reading
        # the bytes; its own uploads and holdings tell nothing of other projects
        if blobs_index.project_has(c.meta, entity, project, [digest]):
            return True
        if wait is None or not staged_uploads.being_completed(c.meta, entity, project, upload_id, digest):
            break
        _sleep(wait)
    raise _missing(entity, project, upload_id)


def _complete_leased(
    c: ServerContext,
    entity: str,
    project: str,
    upload_id: str,
    digest: str,
    size: int | None,
    parts: list[tuple[int, str]] | None,
) -> bool:
    """Complete the upload ``upload_id``, whose lease this call holds: True once stored,
    IntegrityError if its bytes are not ``digest`` (they are gone, and so is its record)."""
    complete_staging = getattr(c.blobs, "complete_staging", None)
    if complete_staging is None:
        staged_uploads.release(c.meta, upload_id)
        raise UsageError("this server's blob store takes uploads through the server, not direct ones")

    def write(digests: list[str]) -> None:
        if not complete_staging(upload_id, digest, size, parts):
            raise IntegrityError(f"the uploaded bytes do not match {digest}; nothing was stored", digest=digest)

    try:
        with staged_uploads.holding(c.meta, upload_id):
            blobs_index.store_checked(c.meta, c.blobs, entity, project, [digest], write)
    except (IntegrityError, UsageError):
        staged_uploads.finish(c.meta, upload_id)  # the staged bytes are gone: a new upload is needed
        raise
    except BaseException:
        # the store or the database failed midway: the staged upload stays, so a retry completes it
        staged_uploads.release(c.meta, upload_id)
        raise
    staged_uploads.finish(c.meta, upload_id)
    return True


def direct_start(
    c: ServerContext, entity: str, project: str, sizes: dict[str, int]
) -> tuple[dict[str, str], list[str]]:
    """A presigned PUT URL to a fresh staging key for each ``{digest: size}``, bound to the
    project and to that size (the URL admits only that many bytes where the store can sign
    a length, and the completion refuses any other size before reading); the same kind of
    URL for every digest, whoever else holds it (``direct_done`` hashes them all). Sizes
    above ``DIRECT_MAX`` are refused (413): larger blobs go through ``start``.

    Digests this project has staged already (an earlier attempt that failed before
    reporting them) get no new URL: they come back in the second list, for the client to
    report to ``direct/done`` without sending them again. Nothing is read here: reading
    staged bytes back is heavy work, done only by ``direct_done`` within the caller's share
    (this project's own uploads: the list tells nothing about other projects)."""
    for d, size in sizes.items():
        if size > DIRECT_MAX:
            raise TooLarge(
                f"blob {d} of {size} bytes is larger than a direct upload takes ({DIRECT_MAX} bytes); "
                "send it with blobs/uploads"
            )
    staged = staged_uploads.keys_of(c.meta, entity, project, list(sizes))
    presigner = _presigner(c)
    ups = {d: presigner.presign_put_staging(size) for d, size in sizes.items() if d not in staged}
    staged_uploads.record_many(c.meta, entity, project, {d: (up.key, sizes[d]) for d, up in ups.items()})
    return {d: up.urls[0] for d, up in ups.items()}, list(staged)


def direct_done(c: ServerContext, entity: str, project: str, digests: list[str]) -> list[str]:
    """Take this project's staged direct uploads of ``digests`` into the store; returns the
    digests that must still come through the server (nothing staged, or staged bytes that do
    not match, or not of the size recorded for them). Every staged object is read back and
    hashed, whoever else holds the blob, on the process's one bounded pool (``reads``): the
    caller holds a heavy slot for the whole call, and however many calls run, no more than
    ``READ_WORKERS`` objects are read at once."""
    wanted = list(dict.fromkeys(digests))
    staged = staged_uploads.keys_of(c.meta, entity, project, wanted)
    left = [d for d in wanted if d not in staged]
    taken = reads.map_bounded(lambda d: _complete_checked(c, entity, project, d, staged[d]), list(staged))
    return left + [d for d, ok in zip(staged, taken, strict=True) if not ok]


def _complete_checked(c: ServerContext, entity: str, project: str, digest: str, keys: list[str]) -> bool:
    """Hash the staged bytes and store them for the project if they match ``digest`` and the
    size recorded with them."""
    for key in keys:
        size = staged_uploads.take(c.meta, entity, project, key, digest)
        if size is None:
            continue  # being completed by a concurrent call
        try:
            if _complete_leased(c, entity, project, key, digest, size, None):
                return True
        except (IntegrityError, UsageError):  # wrong bytes or size: gone, sent through the server
            continue
    return False
