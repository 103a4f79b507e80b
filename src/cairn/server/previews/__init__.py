"""File previews for the web UI: one registry keyed by kind, one module per kind.

A preview reads only the head of a file (``HEAD_LIMIT`` bytes at most, and a first sniff of
``SNIFF`` bytes to choose the kind), so a 5 GiB file costs what a small one does. The caller
passes ``read_head(limit) -> bytes`` after its access checks; previews never see the store.
Adding a kind is one module with ``KIND``, ``LIMIT``, ``accepts(path, head)`` and
``build(path, data, size, truncated, raw_url) -> dict``, listed in ``REGISTRY`` below
(first that accepts wins) and a template ``previews/<KIND>.html``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import binary, image, json_, markdown, table, text

SNIFF = 8192
HEAD_LIMIT = 256 * 1024
REGISTRY = (image, markdown, table, json_, text, binary)  # first that accepts wins; binary takes all


@dataclass
class Preview:
    kind: str
    ctx: dict[str, Any] = field(default_factory=dict)
    truncated: bool = False
    shown_bytes: int = 0

    @property
    def template(self) -> str:
        return f"previews/{self.kind}.html"


def build(path: str, size: int, read_head: Callable[[int], bytes], raw_url: str) -> Preview:
    """The preview of the file at ``path`` (``size`` bytes), read through ``read_head``."""
    head = read_head(min(SNIFF, size))
    module = next(m for m in REGISTRY if m.accepts(path, head))
    limit = min(module.LIMIT, HEAD_LIMIT, size)
    data = head[:limit] if limit <= len(head) else read_head(limit)
    truncated = len(data) < size
    return Preview(module.KIND, module.build(path, data, size, truncated, raw_url), truncated, len(data))


def extension(path: str) -> str:
    name = path.rsplit("/", 1)[-1].lower()
    return name.rsplit(".", 1)[-1] if "." in name else ""
