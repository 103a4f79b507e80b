"""Images: PNG, JPEG, GIF and WebP by their magic bytes, SVG by name; shown with ``<img>``
from the raw URL (an SVG's scripts never run in an image, and its markup is never inlined)."""

from __future__ import annotations

from .sniff import is_svg, raster_type

KIND = "image"
LIMIT = 0  # the browser fetches the image itself


def accepts(path: str, head: bytes) -> bool:
    return raster_type(head) is not None or is_svg(path, head)


def build(path: str, data: bytes, size: int, truncated: bool, raw_url: str) -> dict:
    return {"src": raw_url, "alt": path.rsplit("/", 1)[-1]}
