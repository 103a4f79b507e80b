"""Digests that name their algorithm: ``blake3:<64 hex>``.

Content digests are BLAKE3-256 of the bytes. Reference entries whose provider gives a
checksum use ``etag:`` or ``version:``; unchecksummed references use ``uri:`` with the URI.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import blake3

CONTENT_ALGO = "blake3"
CONTENT_PREFIX = CONTENT_ALGO + ":"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_KNOWN = {"blake3", "etag", "version", "uri"}


@dataclass(frozen=True, slots=True, order=True)
class Digest:
    algo: str
    value: str

    def __post_init__(self) -> None:
        if self.algo not in _KNOWN:
            raise ValueError(f"unknown digest algorithm {self.algo!r}; known: {sorted(_KNOWN)}")
        if self.algo == CONTENT_ALGO and not _HEX64.match(self.value):
            raise ValueError(f"malformed blake3 digest value {self.value!r}: want 64 lowercase hex digits")

    def __str__(self) -> str:
        return f"{self.algo}:{self.value}"

    @property
    def is_content(self) -> bool:
        """True when the digest addresses bytes held in a blob store."""
        return self.algo == CONTENT_ALGO

    @classmethod
    def parse(cls, text: str) -> "Digest":
        algo, sep, value = str(text).partition(":")
        if not sep:
            raise ValueError(f"digest {text!r} does not name its algorithm (want e.g. 'blake3:<hex>')")
        return cls(algo, value)

    @classmethod
    def of_bytes(cls, data: bytes) -> "Digest":
        return cls(CONTENT_ALGO, blake3.blake3(data).hexdigest())


# The digest text of content is built here and nowhere else (``"blake3:" + hex``), so that
# the algorithm's name lives in one place.


def content_digest(hexdigest: str) -> str:
    """The digest text of content whose BLAKE3-256 is ``hexdigest``: ``blake3:<64 hex>``."""
    return CONTENT_PREFIX + hexdigest


def digest_of(h: "blake3.blake3") -> str:
    """The digest text of what the hasher ``h`` (from ``hasher()``) has been fed."""
    return CONTENT_PREFIX + h.hexdigest()


def digest_bytes(data: bytes) -> str:
    """The digest text of ``data``."""
    h = hasher()
    h.update(data)
    return digest_of(h)


def is_content_digest(text: str) -> bool:
    """Whether ``text`` names stored content (``blake3:``) rather than a reference's checksum
    (``etag:``, ``version:``, ``uri:``)."""
    return text.startswith(CONTENT_PREFIX)


def hasher() -> "blake3.blake3":
    """A streaming BLAKE3 hasher; ``update`` releases the GIL for large buffers."""
    return blake3.blake3(max_threads=1)
