"""A ``wandb.Table`` as W&B (and cairn) store it, ``<name>.table.json``:
``{"_type": "table", "columns": [...], "data": [[...], ...], "ncols", "nrows"}``, and from newer
W&B SDKs a ``column_types`` typed dict (``{"params": {"type_map": {col: {"wb_type": ...}}}}``).
One JSON document: it is parsed whole when it fits the preview's read (``LIMIT``), else the
page says so."""

from __future__ import annotations

import json

from . import tabular
from .sniff import decode_text

KIND = "table"
LIMIT = 8 * 1024 * 1024
TYPES = {"number": "float", "string": "string", "boolean": "bool", "none": "empty"}


def accepts(path: str, head: bytes) -> bool:
    text = decode_text(head, truncated=True)
    return path.lower().endswith(".table.json") and text is not None and '"_type"' in text[:4096]


def _wb_types(obj: dict) -> dict[str, str]:
    """Column name -> type from W&B's ``column_types`` (absent or odd: empty)."""
    try:
        type_map = obj["column_types"]["params"]["type_map"]
        out = {}
        for name, t in type_map.items():
            wb = t.get("wb_type", "") if isinstance(t, dict) else ""
            if wb == "union":  # optional columns: [none, x]
                inner = [x.get("wb_type") for x in t.get("params", {}).get("allowed_types", []) if isinstance(x, dict)]
                wb = next((x for x in inner if x != "none"), "none")
            out[str(name)] = TYPES.get(wb, wb or "mixed")
        return out
    except (KeyError, TypeError, AttributeError):
        return {}


def build(path: str, data: bytes, size: int, truncated: bool, raw_url: str) -> dict:
    if truncated:
        return tabular.error(
            f"this table file is {size:,} bytes, more than the preview parses "
            f"({LIMIT // (1024 * 1024)} MiB); download it to see its rows",
            raw_url,
        )
    try:
        obj = json.loads(decode_text(data, truncated) or "")
    except ValueError as e:
        return tabular.error(f"not valid JSON ({e})", raw_url)
    if not isinstance(obj, dict) or obj.get("_type") not in (
        "table",
        "partitioned-table",
        "joined-table",
        "table-file",
    ):
        return tabular.error('not a wandb.Table (its _type is not "table")', raw_url)
    columns, rows = obj.get("columns"), obj.get("data")
    if not isinstance(columns, list) or not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
        return tabular.error('a wandb.Table needs a list of columns and a list of rows ("data")', raw_url)
    names = [str(c) for c in columns]
    shown = rows[: tabular.ROWS]
    wb = _wb_types(obj)
    types = [wb.get(n) or tabular.json_type([r[i] if i < len(r) else None for r in shown]) for i, n in enumerate(names)]
    cells = [[tabular.cell(v) for v in r[: len(names)]] for r in shown]
    return tabular.ctx(list(zip(names, types)), cells, len(rows), True, raw_url, note="wandb.Table")
