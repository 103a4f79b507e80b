"""CSV and TSV: the first rows as a table, with column names, simple types and a row count
(counted in the first MiB when the file is larger)."""

from __future__ import annotations

import csv
import io

from . import tabular
from .sniff import decode_text

KIND = "table"
LIMIT = 1024 * 1024
ROWS = tabular.ROWS
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


def build(path: str, data: bytes, size: int, truncated: bool, raw_url: str) -> dict:
    source = decode_text(data, truncated) or ""
    if truncated and "\n" in source:  # the last line may be cut
        source = source[: source.rindex("\n") + 1]
    delimiter = "\t" if path.lower().endswith(".tsv") else ","
    reader = csv.reader(io.StringIO(source, newline=""), delimiter=delimiter)
    try:
        header = next(reader, [])
        rows, count = [], 0
        for row in reader:
            count += 1
            if len(rows) < ROWS:
                rows.append(row[:MAX_COLUMNS])
    except csv.Error as e:
        return tabular.error(f"not readable as {'TSV' if delimiter == chr(9) else 'CSV'}: {e}", raw_url)
    width = max([len(header), *(len(r) for r in rows)]) if header or rows else 0
    width = min(width, MAX_COLUMNS)
    columns = [header[i] if i < len(header) else f"column {i + 1}" for i in range(width)]
    rows = [r + [""] * (width - len(r)) for r in rows]
    types = [_type([r[i] for r in rows]) for i in range(width)]
    return tabular.ctx(list(zip(columns, types)), rows, count, not truncated, raw_url)
