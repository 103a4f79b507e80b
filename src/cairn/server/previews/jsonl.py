"""JSON Lines (``.jsonl``, ``.ndjson``): one JSON value per line, shown as a table whose columns
are the keys of the objects in the order first seen (a line that is not an object is one
``value`` column)."""

from __future__ import annotations

import json

from . import tabular
from .sniff import decode_text

KIND = "table"
LIMIT = 1024 * 1024


def accepts(path: str, head: bytes) -> bool:
    return path.lower().endswith((".jsonl", ".ndjson")) and decode_text(head, truncated=True) is not None


def build(path: str, data: bytes, size: int, truncated: bool, raw_url: str) -> dict:
    source = decode_text(data, truncated) or ""
    if truncated and "\n" in source:  # the last line may be cut
        source = source[: source.rindex("\n") + 1]
    records, count = [], 0
    for number, line in enumerate(source.splitlines(), 1):
        if not line.strip():
            continue
        count += 1
        if len(records) >= tabular.ROWS:
            continue  # counted, not kept
        try:
            value = json.loads(line)
        except ValueError as e:
            return tabular.error(f"line {number} is not valid JSON ({e})", raw_url)
        records.append(value if isinstance(value, dict) else {"value": value})
    keys: dict[str, None] = {}
    for r in records:
        for k in r:
            if len(keys) < tabular.MAX_COLUMNS:
                keys.setdefault(str(k), None)
    names = list(keys)
    columns = [(k, tabular.json_type([r.get(k) for r in records])) for k in names]
    rows = [[tabular.cell(r.get(k)) for k in names] for r in records]
    return tabular.ctx(columns, rows, count, not truncated, raw_url)
