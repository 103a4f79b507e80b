"""File previews for the web UI: one registry keyed by kind, one module per kind.

A preview reads only what it needs of a file: a first sniff of ``SNIFF`` bytes to choose the
kind, then the head (``LIMIT`` bytes at most, never more than ``HEAD_LIMIT``), or, for a
format whose index is elsewhere (Parquet's footer), ranged reads within a byte budget. So a
5 GiB file costs what a small one does. The caller passes ``read_at(offset, length) -> bytes``
after its access checks; previews never see the store.

Adding a kind is one module with ``KIND`` (its template is ``previews/<KIND>.html``), ``LIMIT``,
``accepts(path, head)`` and either ``build(path, data, size, truncated, raw_url) -> dict``
(given the head) or ``build_source(source, raw_url) -> dict`` (given ranged reads; a table
reads the page of rows from ``source.first_row``), listed in
``REGISTRY`` below, where the first module that accepts a file wins.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import binary, image, json_, jsonl, markdown, media, parquet, table, tabular, text, wandb_table

SNIFF = 8192
HEAD_LIMIT = 1024 * 1024
# first that accepts wins; binary takes all
REGISTRY = (image, media, markdown, wandb_table, table, jsonl, parquet, json_, text, binary)

ReadAt = Callable[[int, int], bytes]


@dataclass(frozen=True)
class Source:
    """A file as a preview may read it: its path, its size and ranged reads of its bytes."""

    path: str
    size: int
    read_at: ReadAt
    first_row: int = 0  # the first row of the page a table preview shows
    page_size: int = tabular.PAGE  # rows of that page

    def head(self, limit: int) -> bytes:
        return self.read_at(0, min(limit, self.size)) if limit > 0 else b""


@dataclass
class Preview:
    kind: str
    ctx: dict[str, Any] = field(default_factory=dict)
    truncated: bool = False
    shown_bytes: int = 0

    @property
    def template(self) -> str:
        return f"previews/{self.kind}.html"


def build(path: str, size: int, read_at: ReadAt, raw_url: str, first_row: int = 0) -> Preview:
    """The preview of the file at ``path`` (``size`` bytes), read through ``read_at``; a table
    shows the page of rows that holds row ``first_row`` (0-based)."""
    source = Source(path, size, read_at, tabular.page_start(first_row))
    head = source.head(SNIFF)
    module = next(m for m in REGISTRY if m.accepts(path, head))
    if hasattr(module, "build_source"):
        return Preview(module.KIND, module.build_source(source, raw_url), False, 0)
    limit = min(module.LIMIT, HEAD_LIMIT, size)
    data = head[:limit] if limit <= len(head) else source.head(limit)
    truncated = len(data) < size
    return Preview(module.KIND, module.build(path, data, size, truncated, raw_url), truncated, len(data))


def extension(path: str) -> str:
    name = path.rsplit("/", 1)[-1].lower()
    return name.rsplit(".", 1)[-1] if "." in name else ""


def table_rows(path: str, size: int, read_at: ReadAt, limit: int) -> tuple[list[str], list[list[str]], bool] | None:
    """The column names and first ``limit`` rows (as display strings) of a file the table
    previews read (CSV/TSV, JSON Lines, Parquet, ``wandb.Table``), and whether those are all its
    rows; None for any other file, or one they cannot read. What the row diff compares."""
    source = Source(path, size, read_at, 0, limit)
    module = next(m for m in REGISTRY if m.accepts(path, source.head(SNIFF)))
    if getattr(module, "KIND", "") != "table":
        return None
    ctx = module.build_source(source, "")
    if ctx.get("error"):
        return None
    return [name for name, _ in ctx["columns"]], ctx["rows"], not ctx["more"]
