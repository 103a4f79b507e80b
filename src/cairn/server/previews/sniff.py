"""What a file's first bytes say it is: the image formats browsers show, and text or not."""

from __future__ import annotations

IMAGE_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


def raster_type(head: bytes) -> str | None:
    """The content type of a PNG, JPEG, GIF or WebP by its magic bytes; None for anything else."""
    for magic, kind in IMAGE_MAGIC:
        if head.startswith(magic):
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def is_svg(path: str, head: bytes) -> bool:
    if not path.lower().endswith(".svg"):
        return False
    start = head.lstrip()[:256].lower()
    return start.startswith((b"<svg", b"<?xml", b"<!--", b"<!doctype svg"))


def decode_text(data: bytes, truncated: bool) -> str | None:
    """``data`` as UTF-8 text, or None when it is not text (a NUL byte, or invalid UTF-8 other
    than a character cut by the end of a truncated head)."""
    if b"\x00" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        if truncated and e.start >= len(data) - 3:  # a multi-byte character cut at the end
            try:
                return data[: e.start].decode("utf-8")
            except UnicodeDecodeError:
                return None
        return None
