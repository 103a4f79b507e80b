"""What a folder's page shows under its listing: its README.md rendered (sanitized, as on the
Hub) and a grid of thumbnails when the folder holds images. Thumbnails are made on the
server by Pillow from images of at most ``THUMB_MAX_BYTES`` and cached by digest; the route
that serves them (with the same role check as the page) is in ``ui_folder``."""

from __future__ import annotations

import io
import logging
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..core.errors import NotFoundError, StoreError
from ..core.manifest import Entry
from ..core.versions import VersionInfo
from . import browse, previews
from .blob_reads import read_at
from .previews import markdown
from .render import href, raw_href

if TYPE_CHECKING:
    from .context import ServerContext

log = logging.getLogger("cairn.server.ui")

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


def readme(c: ServerContext, v: VersionInfo, listing: browse.Listing) -> previews.Preview | None:
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


def thumbs(v: VersionInfo, listing: browse.Listing) -> list[Thumb]:
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
