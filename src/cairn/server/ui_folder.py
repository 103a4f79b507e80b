"""What a folder's page shows under its listing: its README.md rendered (sanitized, as on the
Hub) and a grid of thumbnails when the folder holds images. Thumbnails are made on the
server by Pillow from images of at most ``THUMB_MAX_BYTES``, cached by digest, and served
by a route with the same role check as the page."""

from __future__ import annotations

import io
import logging
from collections import OrderedDict
from dataclasses import dataclass

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from ..core.errors import NotFoundError, StoreError
from ..core.manifest import Entry
from . import browse, previews
from .blob_reads import read_at
from .previews import markdown, sniff
from .render import href, raw_href
from .ui import _cache, _names, _not_api, _readable_version

log = logging.getLogger("cairn.server.ui")

router = APIRouter(include_in_schema=False, dependencies=[Depends(_not_api), Depends(_names)])

README_NAMES = ("readme.md", "readme.markdown")
IMAGE_EXTENSIONS = ("png", "jpg", "jpeg", "gif", "webp", "svg")
THUMB_PX = 240
THUMB_MAX_BYTES = 32 * 1024 * 1024
THUMB_MAX_PIXELS = 64_000_000
THUMB_CACHE = 1024  # thumbnails of ~5-15 KB each
PLACEHOLDER = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="120" height="90" viewBox="0 0 120 90">'
    b'<rect width="120" height="90" fill="#eceff2"/><path d="M45 30h30v30H45z" fill="none" '
    b'stroke="#a4adb7" stroke-width="3"/><path d="M45 60l30-30" stroke="#a4adb7" stroke-width="3"/></svg>'
)


@dataclass
class Thumb:
    name: str
    page: str  # the file's page
    src: str  # the thumbnail (an SVG: the file itself, shown as an <img>)


def readme(c, v, listing: browse.Listing) -> previews.Preview | None:  # noqa: ANN001
    """The folder's README.md (a file of this listing page) rendered, or None."""
    entry = next(
        (
            r
            for r in listing.rows
            if isinstance(r, Entry) and not r.ref and browse.child_name(r, listing.path).lower() in README_NAMES
        ),
        None,
    )
    if entry is None:
        return None
    try:
        data = read_at(c.blobs, entry.digest, 0, min(markdown.LIMIT, entry.size))
    except (NotFoundError, StoreError) as e:
        log.warning("no README preview of %s in %s: %s", entry.path, v.qualified_name, e)
        return None
    truncated = len(data) < entry.size
    ctx = markdown.build(entry.path, data, entry.size, truncated, raw_href(v, entry.path))
    return previews.Preview(markdown.KIND, ctx, truncated, len(data))


def thumbs(v, listing: browse.Listing) -> list[Thumb]:  # noqa: ANN001
    """A tile per image file of this listing page, when the page is mostly images (two or
    more, or every file). Chosen by name: the listing reads no file."""
    files = [r for r in listing.rows if isinstance(r, Entry) and not r.ref]
    images = [e for e in files if previews.extension(e.path) in IMAGE_EXTENSIONS]
    if not (len(images) >= 2 or (images and len(images) == len(files))):
        return []
    out = []
    for e in images:
        page = href(v.entity, v.project, v.name, v.version, path=e.path) + "#files"
        if previews.extension(e.path) == "svg":
            src = raw_href(v, e.path)
        else:
            src = href(v.entity, v.project, v.name, v.version, "thumb", path=e.path)
        out.append(Thumb(browse.child_name(e, listing.path), page, src))
    return out


class ThumbCache:
    """Thumbnails by blob digest: content-addressed, so an entry never goes stale, and any
    caller that reaches one has passed the role check of a version holding that blob."""

    def __init__(self, cap: int = THUMB_CACHE) -> None:
        self._items: OrderedDict[str, tuple[bytes, str]] = OrderedDict()
        self._cap = cap

    def get(self, digest: str) -> tuple[bytes, str] | None:
        if digest in self._items:
            self._items.move_to_end(digest)
            return self._items[digest]
        return None

    def put(self, digest: str, value: tuple[bytes, str]) -> None:
        self._items[digest] = value
        while len(self._items) > self._cap:
            self._items.popitem(last=False)


def make_thumb(data: bytes) -> tuple[bytes, str] | None:
    """A WebP (PNG without WebP support) of at most THUMB_PX a side; None if Pillow cannot
    read the image or it has more than THUMB_MAX_PIXELS (a decompression bomb)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.width * im.height > THUMB_MAX_PIXELS:
                return None
            im.draft("RGB", (THUMB_PX, THUMB_PX))  # JPEG: decode at a reduced scale
            im.seek(0)
            frame = im.convert("RGBA")
            frame.thumbnail((THUMB_PX, THUMB_PX))
            out = io.BytesIO()
            try:
                frame.save(out, format="WEBP", quality=80)
                return out.getvalue(), "image/webp"
            except (OSError, KeyError):
                out = io.BytesIO()
                frame.save(out, format="PNG")
                return out.getvalue(), "image/png"
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as e:
        log.info("no thumbnail: %s", e)
        return None


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
    c, _, v = _readable_version(request, entity, project, name, alias)
    path = request.query_params.get("path", "").lstrip("/")
    entry = browse.Tree(c.engine.manifest(v.manifest_key), _cache(request)).get(path) if path else None
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
