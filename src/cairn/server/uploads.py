"""Staged uploads: bytes a client PUTs to a fresh staging key with presigned URLs, which
count only once the server has hashed them.

Each staging key is recorded with the project (and digest) that asked for it; only a
request for that project and digest can complete it, and the record goes on completion.
An upload id of another project, or one never handed out, answers the same 404. Sizes
above the server's largest blob are refused before any multipart upload is opened.

Direct uploads of small blobs use staging too, where the project may not write the final
object unchecked (another project holds or is writing it): the client is handed a URL just
like any other, so its answer never tells whether someone else has that content.
"""

from __future__ import annotations

from ..core.errors import IntegrityError, NotFoundError, UsageError
from ..engine import blobs_index, staged_uploads
from ..storage.base import Presigner
from .context import ServerContext
from .errors import TooLarge


def _missing(entity: str, project: str, upload_id: str) -> NotFoundError:
    return NotFoundError(f"project {entity}/{project} has no staged upload {upload_id[:300]!r}; start one again")


def _presigner(c: ServerContext) -> Presigner:
    if not isinstance(c.blobs, Presigner):
        raise UsageError("this server's blob store takes uploads through the server, not direct ones")
    return c.blobs


PARTS = "parts/"  # upload ids of multipart uploads to a blob's own key (the rest are staging keys)


def start(c: ServerContext, entity: str, project: str, digest: str, size: int, checked: bool = False) -> dict:
    """Presigned part URLs for ``size`` bytes of ``digest``, bound to the project.

    On a store that can (``presign_put_parts``) the parts go *to the blob's own key*, and
    every caller gets the same kind of answer: whether another project holds or is writing
    that blob decides only what ``complete`` does (complete it unread under this project's
    claim, or refuse and ask for a checked upload), never what the client sees here. With
    ``checked`` (asked after such a refusal), or on a store without that power, the parts go
    to a fresh staging key whose bytes the server hashes on completion."""
    blobs_index.check_content_digest(digest)
    if size > c.max_blob_bytes:
        raise TooLarge(f"a blob of {size} bytes is larger than this server accepts ({c.max_blob_bytes} bytes)")
    presign = getattr(c.blobs, "presign_put_staging", None)
    if presign is None:
        return {"direct": False}
    parts = getattr(c.blobs, "presign_put_parts", None)
    if parts is not None and size > 0 and not checked:
        blobs_index.grant_direct(c.meta, c.blobs, entity, project, [digest])  # claims it if free
        up = parts(digest, size)
        upload_id = PARTS + up.key
        checked = False
    else:
        up = presign(size)
        upload_id = up.key
        checked = True
    staged_uploads.record(c.meta, entity, project, upload_id, digest, size)
    return {
        "direct": True,
        "checked": checked,
        "upload_id": upload_id,
        "urls": list(up.urls),
        "part_size": up.part_size,
    }


def complete(
    c: ServerContext, entity: str, project: str, upload_id: str, digest: str, parts: list[tuple[int, str]] | None = None
) -> bool:
    """Finish this project's upload of ``digest``; 404 for an upload id this project did not
    start for that digest (or already finished). Returns whether the project now holds the
    blob; False: start again with ``checked`` (see below).

    A multipart upload to the blob's own key is checked by its parts: the object store's
    list must be the announced size, cut as handed out, and (when sent) exactly ``parts``
    (number, ETag); otherwise UsageError and the upload is aborted. It is then completed,
    its bytes unread, if this project holds the claim on the digest (no other project
    holds or is writing it: ``blobs_index``), and recorded if the claim still stands then.
    Without the claim the upload is aborted and False returned: those bytes must be
    checked. A staging upload is hashed by the server and stored only if it matches."""
    size = staged_uploads.take(c.meta, entity, project, upload_id, digest)
    if size is None:
        raise _missing(entity, project, upload_id)
    if upload_id.startswith(PARTS):

        def claimed() -> bool:
            return staged_uploads.split_by_claim(c.meta, entity, project, [digest])[0] == [digest]

        there = _presigner(c).complete_parts(digest, upload_id[len(PARTS) :], size, parts, claimed)
        return there and not blobs_index.record_direct(c.meta, entity, project, [digest], c.blobs)
    if parts is not None:
        raise UsageError("a staged upload is completed without a part list (the server reads and checks its bytes)")
    complete_staging = getattr(c.blobs, "complete_staging", None)
    if complete_staging is None:
        raise UsageError("this server's blob store takes uploads through the server, not direct ones")

    def write(digests: list[str]) -> None:
        if not complete_staging(upload_id, digest):
            raise IntegrityError(f"the uploaded bytes do not match {digest}; nothing was stored", digest=digest)

    # the staged copy is gone once completed: an existing object found wrong cannot be rewritten here
    blobs_index.store_checked(c.meta, c.blobs, entity, project, [digest], write, rewritable=False)
    return True


def direct_start(c: ServerContext, entity: str, project: str, digests: list[str]) -> dict[str, str]:
    """A presigned PUT URL to a fresh staging key for each digest, bound to the project.

    Every digest gets the same kind of URL: whether another project holds or is writing
    that blob decides only what ``direct_done`` does with the bytes (moved into place
    unread under this project's claim, or hashed first), never what the client sees."""
    wanted = list(dict.fromkeys(digests))
    # bytes staged by an earlier attempt that failed before reporting them are taken now,
    # not sent again (the project's own uploads: this tells nothing about other projects)
    resumed = staged_uploads.keys_of(c.meta, entity, project, wanted)
    if resumed:
        left = set(direct_done(c, entity, project, list(resumed)))
        wanted = [d for d in wanted if d not in resumed or d in left]
    blobs_index.grant_direct(c.meta, c.blobs, entity, project, wanted)  # claims what is free
    presigner = _presigner(c)
    ups = {d: presigner.presign_put_staging(1) for d in wanted}
    staged_uploads.record_many(c.meta, entity, project, {d: up.key for d, up in ups.items()})
    return {d: up.urls[0] for d, up in ups.items()}


def direct_done(c: ServerContext, entity: str, project: str, digests: list[str]) -> list[str]:
    """Take this project's staged direct uploads of ``digests`` into the store; returns the
    digests that must still come through the server.

    Under this project's claim the staged object is moved into place unread (create-only,
    as a direct PUT to the blob's key would; ``blobs_index`` says why a project may trust
    its own writers). Without the claim — another project holds or is writing the blob —
    the staged bytes are hashed first and count only if they match."""
    from concurrent.futures import ThreadPoolExecutor

    wanted = list(dict.fromkeys(digests))
    staged = staged_uploads.keys_of(c.meta, entity, project, wanted)
    left = [d for d in wanted if d not in staged]
    ours, others = staged_uploads.split_by_claim(c.meta, entity, project, list(staged))
    # one transaction, not one per blob
    taken = staged_uploads.take_many(c.meta, entity, project, [(k, d) for d in ours for k in staged[d]])

    def promote(d: str) -> str | None:
        arrived = False
        for key in taken.get(d, []):
            arrived = _presigner(c).promote_staging(key, d) or arrived
        return d if arrived else None

    with ThreadPoolExecutor(16) as pool:
        promoted = [d for d in pool.map(promote, ours) if d is not None]
    left += [d for d in ours if d not in set(promoted)]
    left += blobs_index.record_direct(c.meta, entity, project, promoted) if promoted else []
    for d in others:
        if not _complete_checked(c, entity, project, d, staged[d]):
            left.append(d)
    return left


def _complete_checked(c: ServerContext, entity: str, project: str, digest: str, keys: list[str]) -> bool:
    """Hash the staged bytes and store them for the project if they match ``digest``."""
    for key in keys:
        if staged_uploads.take(c.meta, entity, project, key, digest) is None:
            continue  # completed by a concurrent call

        def write(digests: list[str], key: str = key) -> None:
            if not _presigner(c).complete_staging(key, digest):
                raise IntegrityError(f"the uploaded bytes do not match {digest}", digest=digest)

        try:
            blobs_index.store_checked(c.meta, c.blobs, entity, project, [digest], write, rewritable=False)
            return True
        except IntegrityError:
            continue
    return False
