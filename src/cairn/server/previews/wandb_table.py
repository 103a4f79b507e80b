"""A ``wandb.Table`` as W&B (and cairn) store it, ``<name>.table.json``:
``{"_type": "table", "columns": [...], "data": [[...], ...], "ncols", "nrows"}``, and from newer
W&B SDKs a ``column_types`` typed dict (``{"params": {"type_map": {col: {"wb_type": ...}}}}``).
One JSON document, read as a stream of ijson events: only the page's rows are built, so a
table of any size shows any page (within ``tabular.SCAN_BUDGET`` bytes of its start)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import io

from . import stream, tabular
from .sniff import decode_text

if TYPE_CHECKING:
    from . import Source

KIND = "table"
LIMIT = 0  # read as a stream of JSON events (build_source)
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


_SCALARS = ("null", "boolean", "integer", "double", "number", "string")
_WANTED = ("_type", "columns", "column_types")


def build_source(source: Source, raw_url: str) -> dict:
    """The page of rows from ``source.first_row``, from one streamed pass of ijson events over
    the document (memory: one row and the column list; time: at most ``SCAN_BUDGET`` bytes).
    Rows off the page are counted, never built; the count is exact when the document's end
    was reached, or taken from its ``nrows`` when it gives one."""
    import ijson
    from ijson.common import ObjectBuilder

    first = source.first_row
    top: dict = {}
    rows: list[list] = []
    count, exact, page_end = 0, True, None
    raw = stream.RangedFile(source, tabular.SCAN_BUDGET)
    events = ijson.parse(io.BufferedReader(raw, stream.CHUNK), use_float=True)
    building: tuple[str, ObjectBuilder] | None = None
    depth_row = False  # inside a row off the page (skipped, not built)
    try:
        for prefix, event, value in events:
            if building is not None:
                building[1].event(event, value)
                if not building[1].containers:
                    _done(building[0], building[1].value, top, rows)
                    building = None
                continue
            if depth_row:
                if prefix == "data.item" and event in ("end_array", "end_map"):
                    depth_row = False
                continue
            if prefix == "data.item" and event not in ("map_key", "end_array", "end_map"):
                on_page = count >= first and len(rows) < source.page_size
                count += 1
                if count == first + source.page_size:
                    page_end = raw.tell()
                if event in ("start_array", "start_map"):
                    if on_page:
                        building = ("data.item", ObjectBuilder())
                        building[1].event(event, value)
                    else:
                        depth_row = True
                elif on_page:
                    _done("data.item", value, top, rows)
                continue
            if prefix in _WANTED and event not in ("map_key", "end_array", "end_map"):
                if event in ("start_array", "start_map"):
                    building = (prefix, ObjectBuilder())
                    building[1].event(event, value)
                else:
                    top[prefix] = value
            elif prefix == "data" and "data" not in top:
                top["data"] = event  # "start_array" for a list of rows
            elif prefix == "nrows" and event in ("integer", "number"):
                top["nrows"] = value
            if (
                page_end is not None
                and "columns" in top
                and "_type" in top
                and raw.tell() - page_end > tabular.COUNT_BUDGET
            ):
                exact = False  # counting the rest would read the whole file
                break
    except stream.OverBudget:
        exact = False
        if count <= first:
            return tabular.past_budget(first, raw_url)
    except (ijson.JSONError, ijson.IncompleteJSONError, UnicodeDecodeError) as e:
        return tabular.error(f"not valid JSON ({e})", raw_url)
    if top.get("_type") not in ("table", "partitioned-table", "joined-table", "table-file"):
        return tabular.error('not a wandb.Table (its _type is not "table")', raw_url)
    columns = top.get("columns")
    if not isinstance(columns, list) or top.get("data") != "start_array" or not all(isinstance(r, list) for r in rows):
        return tabular.error('a wandb.Table needs a list of columns and a list of rows ("data")', raw_url)
    nrows = top.get("nrows")
    if not exact and isinstance(nrows, int) and nrows >= count:
        count, exact = nrows, True  # the writer's own count
    if exact and count and first >= count:
        return tabular.past_end(first, count, raw_url)
    names = [str(c) for c in columns]
    wb = _wb_types(top)
    types = [wb.get(n) or tabular.json_type([r[i] if i < len(r) else None for r in rows]) for i, n in enumerate(names)]
    cells = [[tabular.cell(v) for v in r[: len(names)]] for r in rows]
    return tabular.ctx(
        list(zip(names, types)), cells, count, exact, raw_url, note="wandb.Table", first=first, page=source.page_size
    )


def _done(prefix: str, value: object, top: dict, rows: list) -> None:
    if prefix == "data.item":
        rows.append(value)
    else:
        top[prefix] = value
