"""What every table preview hands its template (``previews/table.html``): column names and
types, one page of rows as display strings (``PAGE`` rows from row ``first``, chosen by the
page's ``row`` parameter), and the row count (exact, or "at least" when only part of the file
was read). The server reads the page from the store; the page's script sorts the shown rows
only."""

from __future__ import annotations

import json
import math
from typing import Any

PAGE = 100  # rows of one page
ROWS = PAGE
SCAN_BUDGET = 256 * 1024 * 1024  # bytes a streamed format (CSV, JSONL, wandb.Table) is read to reach a page
COUNT_BUDGET = 4 * 1024 * 1024  # bytes read past a page's end, only to count the rows
MAX_COLUMNS = 200
MAX_CELL = 500  # characters of one cell


def ctx(
    columns: list[tuple[str, str]],
    rows: list[list[str]],
    count: int,
    exact: bool,
    raw_url: str,
    note: str | None = None,
    first: int = 0,
    page: int = PAGE,
) -> dict:
    """``rows`` are the page's, from row ``first`` (0-based) of ``count`` (exact or at least)."""
    width = min(len(columns), MAX_COLUMNS)
    rows = [(r + [""] * (width - len(r)))[:width] for r in rows[:page]]
    return {
        "error": None,
        "columns": columns[:width],
        "rows": rows,
        "count": count,
        "exact": exact,
        "raw": raw_url,
        "note": note,
        "first": first,
        "more": first + len(rows) < count or (not exact and len(rows) == page),
        "page": page,
    }


def page_start(first: int) -> int:
    """``first`` rounded down to the start of its page (a hand-written offset lands on a page)."""
    return max(first, 0) // PAGE * PAGE


def past_end(first: int, count: int, raw_url: str) -> dict:
    return error(f"there is no row {first + 1:,}: the table has {count:,} rows", raw_url)


def past_budget(first: int, raw_url: str) -> dict:
    """The page of row ``first`` starts past what a preview reads of a file (``SCAN_BUDGET``)."""
    return error(
        f"row {first + 1:,} is past the first {SCAN_BUDGET >> 20} MiB, which is as far as the preview reads; "
        "download the file",
        raw_url,
    )


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
