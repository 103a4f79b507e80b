"""What every table preview hands its template (``previews/table.html``): column names and
types, the first rows as display strings, and the row count (exact, or at least)."""

from __future__ import annotations

import json
import math
from typing import Any

ROWS = 1000  # rows sent to the page; its script shows them 50 at a time, sortable
MAX_COLUMNS = 200
MAX_CELL = 500  # characters of one cell


def ctx(
    columns: list[tuple[str, str]],
    rows: list[list[str]],
    count: int,
    exact: bool,
    raw_url: str,
    note: str | None = None,
) -> dict:
    width = min(len(columns), MAX_COLUMNS)
    rows = [(r + [""] * (width - len(r)))[:width] for r in rows[:ROWS]]
    return {
        "error": None,
        "columns": columns[:width],
        "rows": rows,
        "count": count,
        "exact": exact,
        "raw": raw_url,
        "note": note,
    }


def error(message: str, raw_url: str) -> dict:
    return {"error": message, "raw": raw_url}


def cell(value: Any) -> str:
    """A JSON-like value as the text of a cell (never markup: the template escapes it)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else str(value)
    if isinstance(value, (bytes, bytearray)):
        text = bytes(value[:32]).hex(" ")
        return text + (" …" if len(value) > 32 else "")
    if isinstance(value, str):
        text = value
    elif isinstance(value, (int,)):
        return str(value)
    else:
        try:
            text = json.dumps(value, ensure_ascii=False, default=str)
        except (TypeError, ValueError):
            text = str(value)
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def json_type(values: list[Any]) -> str:
    """The type of a column of JSON values: int, float, bool, string, object, array, empty or mixed."""
    kinds = set()
    for v in values:
        if v is None:
            continue
        if isinstance(v, bool):
            kinds.add("bool")
        elif isinstance(v, int):
            kinds.add("int")
        elif isinstance(v, float):
            kinds.add("float")
        elif isinstance(v, str):
            kinds.add("string")
        elif isinstance(v, dict):
            kinds.add("object")
        elif isinstance(v, list):
            kinds.add("array")
        else:
            kinds.add(type(v).__name__)
    if kinds == {"int", "float"}:
        return "float"
    return kinds.pop() if len(kinds) == 1 else ("empty" if not kinds else "mixed")
