"""The web UI's archive download: a version, or one folder of it, as one streamed tar.

Role-checked exactly as the version's page and raw files are (``ui.readable_version``):
a caller without the read role gets the same 404 as for a missing project.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor

from fastapi import Request
from fastapi.responses import Response, StreamingResponse

from ..core.errors import NotFoundError
from ..core.manifest import Entry
from ..storage.base import BlobReader, BlobStore
from . import archive, browse
from .api import attachment
from .ui_request import manifest_cache, page_router, readable_version

router = page_router()


SMALL = 64 * 1024  # what the local store packs into its SQLite file (storage/blobs/local.PACK_LIMIT)
BATCH_FILES, BATCH_BYTES = 512, 8 * 1024 * 1024
FETCHERS = 16  # small blobs read at once from a store without read_small


def prefetched(entries: Iterable[Entry], blobs: BlobStore) -> tuple[Iterator[Entry], Callable[[str], BlobReader]]:
    """``entries`` again, and an opener that serves their small blobs from one read per batch
    (the store's ``read_small``, where it has one; else ``FETCHERS`` reads at a time, as one GET
    each on S3) instead of one at a time: measured on the 1,000-file folder of
    bench/ui_pages.py. A batch holds at most BATCH_BYTES of small blobs."""
    read_small = getattr(blobs, "read_small", None) or _fetcher(blobs)
    held: dict[str, bytes] = {}

    def open_blob(digest: str) -> BlobReader:
        data = held.get(digest)
        return io.BytesIO(data) if data is not None else blobs.open(digest)

    def release(batch: list[Entry]) -> Iterator[Entry]:
        held.clear()
        held.update(read_small(list({e.digest for e in batch if not e.ref and e.size < SMALL})))
        yield from batch

    def walk() -> Iterator[Entry]:
        batch: list[Entry] = []
        size = 0
        for e in entries:
            batch.append(e)
            size += e.size if e.size < SMALL else 0
            if len(batch) >= BATCH_FILES or size >= BATCH_BYTES:
                yield from release(batch)
                batch, size = [], 0
        yield from release(batch)

    return walk(), open_blob


def _fetcher(blobs: BlobStore) -> Callable[[list[str]], dict[str, bytes]]:
    """Small blobs read ``FETCHERS`` at a time (a store without ``read_small``: S3, one GET
    each; 1,000 of them one after another took 7 s on SeaweedFS, bench/RESULTS.md)."""

    def whole(digest: str) -> bytes:
        with blobs.open(digest) as f:
            return f.read()

    def fetch(digests: list[str]) -> dict[str, bytes]:
        if len(digests) < 2:
            return {d: whole(d) for d in digests}
        with ThreadPoolExecutor(min(FETCHERS, len(digests))) as pool:
            return dict(zip(digests, pool.map(whole, digests)))

    return fetch


def archive_name(name: str, version: str, folder: str) -> str:
    """``images-v3`` or ``images-v3-train-cats`` for the folder ``train/cats/``."""
    tail = folder.strip("/").replace("/", "-")
    return f"{name}-{version}" + (f"-{tail}" if tail else "")


@router.get("/{entity}/{project}/{name}/{alias}/archive")
def version_archive(entity: str, project: str, name: str, alias: str, request: Request) -> Response:
    """Every stored file of the version (or of the folder ``?path=sub/``) as an uncompressed tar,
    streamed from the store as it is sent. Paths inside start with ``<name>-<version>/``."""
    c, _, v = readable_version(request, entity, project, name, alias)
    manifest = c.engine.manifest(v.manifest_key)
    folder = request.query_params.get("path", "").lstrip("/")
    if folder and not folder.endswith("/"):
        folder += "/"
    if folder and not browse.Tree(manifest, manifest_cache(request)).is_folder(folder):
        raise NotFoundError(f"{v.qualified_name} has no folder {folder!r}")
    root = archive_name(v.name, v.version, folder)
    entries, open_blob = prefetched(manifest.prefix(folder), c.blobs)
    stream = archive.tar_stream(
        entries, folder, root, open_blob, mtime=v.created_at.timestamp() if v.created_at else None
    )
    headers = {
        "Content-Disposition": attachment(root + ".tar"),
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, no-store",
    }
    return StreamingResponse(stream, media_type="application/x-tar", headers=headers)
