"""Parquet, read with pyarrow through ranged reads: the footer (schema, row count, each row
group's row count) and the page's rows from the row group(s) that hold them, within ``BUDGET``
bytes. A page whose row group is larger than that shows its schema and row count only."""

from __future__ import annotations

from typing import TYPE_CHECKING

import logging

from . import tabular
from .stream import OverBudget, RangedFile

if TYPE_CHECKING:
    import pyarrow.parquet as pq

    from . import Source

KIND = "table"
LIMIT = 0
BUDGET = 64 * 1024 * 1024

log = logging.getLogger("cairn.server.previews")


def accepts(path: str, head: bytes) -> bool:
    return head[:4] == b"PAR1"


def build_source(source: Source, raw_url: str) -> dict:
    import pyarrow as pa
    import pyarrow.parquet as pq

    f = RangedFile(source, BUDGET, strict=True)
    try:
        # pyarrow wraps a Python file-like in a PythonFile itself; done here so that the stubs
        # (which know only IO and NativeFile arguments) see a NativeFile
        pf = pq.ParquetFile(pa.PythonFile(f, mode="r"), pre_buffer=False)  # pre-buffering would fetch every row group
        schema = pf.schema_arrow
        count = pf.metadata.num_rows
    except OverBudget:
        return tabular.error("the Parquet footer is larger than the preview reads; download the file", raw_url)
    except (pa.ArrowException, OSError, ValueError) as e:
        return tabular.error(f"not readable as Parquet ({e})", raw_url)
    first = source.first_row
    if count and first >= count:
        return tabular.past_end(first, count, raw_url)
    names = schema.names[: tabular.MAX_COLUMNS]
    columns = [(n, str(schema.field(n).type)) for n in names]
    note = None
    rows: list[list[str]] = []
    try:
        groups, skip = _groups_from(pf.metadata, first, source.page_size)
        if groups:
            for batch in pf.iter_batches(batch_size=source.page_size, row_groups=groups, columns=names):
                if skip >= batch.num_rows:
                    skip -= batch.num_rows
                    continue
                data = batch.slice(skip, source.page_size - len(rows)).to_pydict()
                skip = 0
                rows += [[tabular.cell(data[n][i]) for n in names] for i in range(len(data[names[0]]) if names else 0)]
                if len(rows) >= source.page_size:
                    break
    except OverBudget:
        rows = []
        note = f"the row group of this page is larger than the preview reads ({BUDGET >> 20} MiB): schema and row count only"
    except (pa.ArrowException, OSError, ValueError) as e:
        log.info("parquet preview of %s: %s", source.path, e)
        note = f"its rows could not be read ({e})"
    return tabular.ctx(columns, rows, count, True, raw_url, note=note, first=first, page=source.page_size)


def _groups_from(meta: pq.FileMetaData, first: int, page: int) -> tuple[list[int], int]:
    """The row groups that hold the page from row ``first`` (the footer's row counts say which,
    so no other group is read) and the rows to skip in the first of them."""
    start = 0
    for g in range(meta.num_row_groups):
        n = meta.row_group(g).num_rows
        if first < start + n:
            groups, held = [g], start + n - first
            while held < page and groups[-1] + 1 < meta.num_row_groups:
                groups.append(groups[-1] + 1)
                held += meta.row_group(groups[-1]).num_rows
            return groups, first - start
        start += n
    return [], 0
