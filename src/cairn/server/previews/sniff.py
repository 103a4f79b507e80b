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


def media_type(path: str, head: bytes) -> str | None:
    """The content type of audio or video the browsers play, by magic bytes; None otherwise."""
    name = path.lower()
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav"
    if head.startswith(b"fLaC"):
        return "audio/flac"
    if head.startswith(b"OggS"):
        return "video/ogg" if name.endswith(".ogv") else "audio/ogg"
    if head.startswith(b"ID3") or (
        name.endswith(".mp3") and len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0
    ):
        return "audio/mpeg"
    if head[4:8] == b"ftyp":
        return "audio/mp4" if head[8:11] == b"M4A" or name.endswith(".m4a") else "video/mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "audio/webm" if name.endswith(".weba") else "video/webm"
    return None
