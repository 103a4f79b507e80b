"""Parquet, read with pyarrow through ranged reads: the footer (schema, row count) and the
first rows of the first row group, within ``BUDGET`` bytes. A file whose first row group is
larger than that shows its schema and row count only."""

from __future__ import annotations

import io
import logging

from . import tabular

KIND = "table"
LIMIT = 0
BUDGET = 64 * 1024 * 1024

log = logging.getLogger("cairn.server.previews")


class OverBudget(Exception):
    pass


class RangedFile(io.RawIOBase):
    """A read-only, seekable file over ``source.read_at`` that refuses to read past ``budget`` bytes in all."""

    def __init__(self, source, budget: int) -> None:  # noqa: ANN001
        self._src, self._pos, self._left = source, 0, budget

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._src.size}[whence]
        self._pos = max(base + offset, 0)
        return self._pos

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = self._src.size - self._pos
        size = max(min(size, self._src.size - self._pos), 0)
        if size > self._left:
            raise OverBudget(size)
        data = self._src.read_at(self._pos, size) if size else b""
        self._left -= len(data)
        self._pos += len(data)
        return data

    def readinto(self, b) -> int:  # noqa: ANN001
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)


def accepts(path: str, head: bytes) -> bool:
    return head[:4] == b"PAR1"


def build_source(source, raw_url: str) -> dict:  # noqa: ANN001
    import pyarrow as pa
    import pyarrow.parquet as pq

    f = RangedFile(source, BUDGET)
    try:
        pf = pq.ParquetFile(f, pre_buffer=False)  # pre-buffering would fetch every row group
        schema = pf.schema_arrow
        count = pf.metadata.num_rows
    except OverBudget:
        return tabular.error("the Parquet footer is larger than the preview reads; download the file", raw_url)
    except (pa.ArrowException, OSError, ValueError) as e:
        return tabular.error(f"not readable as Parquet ({e})", raw_url)
    names = schema.names[: tabular.MAX_COLUMNS]
    columns = [(n, str(schema.field(n).type)) for n in names]
    note = None
    rows: list[list[str]] = []
    try:
        if pf.metadata.num_row_groups:
            batch = next(pf.iter_batches(batch_size=tabular.ROWS, row_groups=[0], columns=names), None)
            if batch is not None:
                data = batch.to_pydict()
                rows = [[tabular.cell(data[n][i]) for n in names] for i in range(batch.num_rows)]
    except OverBudget:
        note = f"its first row group is larger than the preview reads ({BUDGET >> 20} MiB): schema and row count only"
    except (pa.ArrowException, OSError, ValueError) as e:
        log.info("parquet preview of %s: %s", source.path, e)
        note = f"its rows could not be read ({e})"
    return tabular.ctx(columns, rows, count, True, raw_url, note=note)
