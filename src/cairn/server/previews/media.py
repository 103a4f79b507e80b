"""Audio and video, played by the browser's own ``<audio>`` / ``<video>`` from the raw URL
(which serves these types as themselves: a media type never runs as a page)."""

from __future__ import annotations

from .sniff import media_type

KIND = "media"
LIMIT = 64  # its magic bytes; the browser fetches the file itself


def accepts(path: str, head: bytes) -> bool:
    return media_type(path, head) is not None


def build(path: str, data: bytes, size: int, truncated: bool, raw_url: str) -> dict:
    kind = media_type(path, data) or ""
    return {"src": raw_url, "type": kind, "tag": "video" if kind.startswith("video/") else "audio"}
