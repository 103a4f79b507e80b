"""JSON Lines (``.jsonl``, ``.ndjson``): one JSON value per line, shown as a table whose columns
are the keys of the objects in the order first seen (a line that is not an object is one
``value`` column), a page at a time."""

from __future__ import annotations

from typing import TYPE_CHECKING

import json

from . import stream, tabular
from .sniff import decode_text

if TYPE_CHECKING:
    from . import Source

KIND = "table"
LIMIT = 0  # read as a stream (build_source)
MAX_LINE = 8 * 1024 * 1024


def accepts(path: str, head: bytes) -> bool:
    return path.lower().endswith((".jsonl", ".ndjson")) and decode_text(head, truncated=True) is not None


def build_source(source: Source, raw_url: str) -> dict:
    """The page of records from ``source.first_row``, streamed line by line from the file's
    start (a line longer than ``MAX_LINE`` is refused; lines off the page are counted, not
    parsed), counted on for ``COUNT_BUDGET`` bytes past the page."""
    f = stream.buffered(source, tabular.SCAN_BUDGET)
    first = source.first_row
    records: list = []
    count, exact, page_end, number = 0, True, None, 0
    try:
        while line := f.readline(MAX_LINE + 1):
            number += 1
            if len(line) > MAX_LINE:
                return tabular.error(f"line {number:,} is longer than {MAX_LINE >> 20} MiB; download the file", raw_url)
            if not line.strip():
                continue
            if count >= first and len(records) < source.page_size:
                try:
                    value = json.loads(line)
                except ValueError as e:
                    return tabular.error(f"line {number:,} is not valid JSON ({e})", raw_url)
                records.append(value if isinstance(value, dict) else {"value": value})
            count += 1
            if count == first + source.page_size:
                page_end = f.tell()
            elif page_end is not None and f.tell() - page_end > tabular.COUNT_BUDGET:
                exact = False
                break
    except stream.OverBudget:
        exact = False
        if count <= first:
            return tabular.past_budget(first, raw_url)
    if exact and count and first >= count:
        return tabular.past_end(first, count, raw_url)
    keys: dict[str, None] = {}
    for r in records:
        for k in r:
            if len(keys) < tabular.MAX_COLUMNS:
                keys.setdefault(str(k), None)
    names = list(keys)
    columns = [(k, tabular.json_type([r.get(k) for r in records])) for k in names]
    rows = [[tabular.cell(r.get(k)) for k in names] for r in records]
    return tabular.ctx(columns, rows, count, exact, raw_url, first=first, page=source.page_size)
