"""CSV and TSV as a table, a page at a time, with column names, simple types (of the page's
values) and a row count (exact when the file was read to its end, else "at least")."""

from __future__ import annotations

from typing import TYPE_CHECKING

import csv
import io

from . import stream, tabular
from .sniff import decode_text

if TYPE_CHECKING:
    from . import Source

KIND = "table"
LIMIT = 0  # read as a stream (build_source)
MAX_COLUMNS = tabular.MAX_COLUMNS


def accepts(path: str, head: bytes) -> bool:
    return path.lower().endswith((".csv", ".tsv")) and decode_text(head, truncated=True) is not None


def _type(values: list[str]) -> str:
    seen = [v for v in values if v != ""]
    if not seen:
        return "empty"
    for name, conv in (("int", int), ("float", float)):
        try:
            for v in seen:
                conv(v)
            return name
        except ValueError:
            pass
    if all(v.lower() in ("true", "false") for v in seen):
        return "bool"
    return "string"


def build_source(source: Source, raw_url: str) -> dict:
    """The page of rows from ``source.first_row``, streamed from the file's start (memory: one
    row; time: at most ``SCAN_BUDGET`` bytes), counted on for ``COUNT_BUDGET`` bytes more."""
    tsv = source.path.lower().endswith(".tsv")
    what = "TSV" if tsv else "CSV"
    raw = stream.RangedFile(source, tabular.SCAN_BUDGET)
    text = io.TextIOWrapper(io.BufferedReader(raw, stream.CHUNK), encoding="utf-8", newline="")
    reader = csv.reader(text, delimiter="\t" if tsv else ",")
    first = source.first_row
    header: list[str] = []
    rows: list[list[str]] = []
    count, exact, page_end = 0, True, None
    try:
        header = next(reader, [])
        for row in reader:
            if count >= first and len(rows) < source.page_size:
                rows.append(row[:MAX_COLUMNS])
            count += 1
            if count == first + source.page_size:
                page_end = raw.tell()
            elif page_end is not None and raw.tell() - page_end > tabular.COUNT_BUDGET:
                exact = False  # counting the rest would read the whole file
                break
    except stream.OverBudget:
        exact = False
        if count <= first:
            return tabular.past_budget(first, raw_url)
    except (csv.Error, UnicodeDecodeError) as e:
        if page_end is None:  # the page itself cannot be read
            why = "it is not UTF-8 text" if isinstance(e, UnicodeDecodeError) else str(e)
            return tabular.error(f"not readable as {what}: {why}", raw_url)
        exact = False  # a bad row past the page ends the count, not the page
    if exact and count and first >= count:
        return tabular.past_end(first, count, raw_url)
    width = max([len(header), *(len(r) for r in rows)]) if header or rows else 0
    width = min(width, MAX_COLUMNS)
    columns = [header[i] if i < len(header) else f"column {i + 1}" for i in range(width)]
    rows = [r + [""] * (width - len(r)) for r in rows]
    types = [_type([r[i] for r in rows]) for i in range(width)]
    return tabular.ctx(list(zip(columns, types)), rows, count, exact, raw_url, first=first, page=source.page_size)
