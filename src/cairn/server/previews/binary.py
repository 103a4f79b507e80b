"""Anything else: its size, a type guess (by name) and a hex dump of the first bytes."""

from __future__ import annotations

import mimetypes

KIND = "binary"
LIMIT = 512
WIDTH = 16


def accepts(path: str, head: bytes) -> bool:
    return True


def hexdump(data: bytes) -> list[tuple[str, str, str]]:
    out = []
    for off in range(0, len(data), WIDTH):
        chunk = data[off : off + WIDTH]
        out.append(
            (
                f"{off:08x}",
                " ".join(f"{b:02x}" for b in chunk),
                "".join(chr(b) if 32 <= b < 127 else "." for b in chunk),
            )
        )
    return out


def build(path: str, data: bytes, size: int, truncated: bool, raw_url: str) -> dict:
    guess = mimetypes.guess_type(path.rsplit("/", 1)[-1], strict=False)[0] or "unknown (binary data)"
    return {"guess": guess, "rows": hexdump(data)}
