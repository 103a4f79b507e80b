"""The route of a folder's thumbnails (made by ``folder_view``), role-checked as the folder's page."""

from __future__ import annotations

import logging

from fastapi import Request
from fastapi.responses import Response

from ..core.errors import NotFoundError
from . import browse, previews
from .blob_reads import read_at
from .folder_view import PLACEHOLDER, THUMB_MAX_BYTES, ThumbCache, make_thumb
from .previews import sniff
from .ui_request import manifest_cache, page_router, readable_version

log = logging.getLogger("cairn.server.ui")

router = page_router()


def _thumb_cache(request: Request) -> ThumbCache:
    state = request.app.state
    if getattr(state, "ui_thumbs", None) is None:
        state.ui_thumbs = ThumbCache()
    return state.ui_thumbs


@router.get("/{entity}/{project}/{name}/{alias}/thumb")
def thumbnail(entity: str, project: str, name: str, alias: str, request: Request) -> Response:
    """A small image of a PNG, JPEG, GIF or WebP file of the version; a grey "no preview"
    tile for any other file, an image larger than ``THUMB_MAX_BYTES`` or one Pillow cannot
    read. 404 for a path the version does not hold."""
    c, _, v = readable_version(request, entity, project, name, alias)
    path = request.query_params.get("path", "").lstrip("/")
    entry = browse.Tree(c.engine.manifest(v.manifest_key), manifest_cache(request)).get(path) if path else None
    if entry is None or entry.ref:
        raise NotFoundError(f"{v.qualified_name} has no stored file {path!r}")
    cache = _thumb_cache(request)
    hit = cache.get(entry.digest)
    if hit is None:
        head = read_at(c.blobs, entry.digest, 0, min(previews.SNIFF, entry.size))
        made = None
        if sniff.raster_type(head) is not None and entry.size <= THUMB_MAX_BYTES:
            made = make_thumb(read_at(c.blobs, entry.digest, 0, entry.size))
        hit = made or (PLACEHOLDER, "image/svg+xml")
        cache.put(entry.digest, hit)
    data, kind = hit
    return Response(
        data,
        media_type=kind,
        headers={
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox; default-src 'none'",
            "Cache-Control": "private, max-age=86400",
            "Cross-Origin-Resource-Policy": "same-origin",
        },
    )
