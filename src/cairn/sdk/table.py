"""``Table``: rows and columns stored as ``<name>.table.json`` (the W&B table format)."""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

from .options import not_acted_on

if TYPE_CHECKING:
    import pandas as pd


class Table:
    """A table of rows; ``Table(columns=[...], data=[[...]])`` or ``Table(dataframe=df)``."""

    artifact_type = "table"

    def __init__(
        self,
        columns: list[str] | None = None,
        data: list[list[Any]] | None = None,
        rows: list[list[Any]] | None = None,
        dataframe: Any = None,
        dtype: Any = None,
        optional: Any = True,
        allow_mixed_types: bool = False,
    ) -> None:
        for name, value, default in (
            ("dtype", dtype, None),
            ("optional", optional, True),
            ("allow_mixed_types", allow_mixed_types, False),
        ):
            if value != default:
                not_acted_on("Table", name, "cairn stores the values as given and checks no column types")
        if dataframe is not None:
            columns = [str(c) for c in dataframe.columns]
            data = [[_plain(v) for v in row] for row in dataframe.itertuples(index=False, name=None)]
        data = data if data is not None else (rows or [])
        data = [list(r) for r in data]
        if columns is None:
            columns = [f"Column {i + 1}" for i in range(len(data[0]) if data else 0)]
        columns = list(columns)
        for i, row in enumerate(data):
            if len(row) != len(columns):
                raise ValueError(f"table row {i} has {len(row)} values but there are {len(columns)} columns")
        self.columns = columns
        self.data = data

    def add_data(self, *values: Any) -> None:
        if len(values) != len(self.columns):
            raise ValueError(f"add_data got {len(values)} values for {len(self.columns)} columns")
        self.data.append(list(values))

    def add_column(self, name: str, data: list[Any]) -> None:
        if name in self.columns:
            raise ValueError(f"table already has a column {name!r}")
        if self.data and len(data) != len(self.data):
            raise ValueError(f"column {name!r} has {len(data)} values for {len(self.data)} rows")
        if not self.data:
            self.data = [[] for _ in data]
        self.columns.append(name)
        for row, v in zip(self.data, data):
            row.append(v)

    def get_column(self, name: str, convert_to: str | None = None) -> Any:  # a list, or a numpy array
        if name not in self.columns:
            raise KeyError(f"table has no column {name!r}; columns: {self.columns}")
        i = self.columns.index(name)
        col = [row[i] for row in self.data]
        if convert_to == "numpy":
            import numpy as np

            return np.array(col)
        return col

    def get_dataframe(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame(self.data, columns=self.columns)

    def to_json(self) -> dict:
        return {
            "_type": "table",
            "columns": self.columns,
            "data": [[_plain(v) for v in row] for row in self.data],
            "ncols": len(self.columns),
            "nrows": len(self.data),
        }

    @classmethod
    def from_json(cls, obj: dict) -> "Table":
        if obj.get("_type") not in ("table", "table-file", "partitioned-table"):
            raise ValueError(f"not a table: _type is {obj.get('_type')!r}")
        return cls(columns=obj.get("columns"), data=obj.get("data", []))

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, Table) and self.columns == other.columns and self.data == other.data

    def __repr__(self) -> str:
        return f"Table(columns={self.columns!r}, rows={len(self.data)})"


def _plain(v: Any) -> Any:
    """JSON-friendly scalars (numpy/pandas values become Python ones; NaN becomes None)."""
    if hasattr(v, "item") and not isinstance(v, (list, dict, str, bytes)):
        try:
            v = v.item()
        except (ValueError, AttributeError):
            pass
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return None
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return v


def encode(table: Table) -> bytes:
    return json.dumps(table.to_json(), separators=(",", ":"), ensure_ascii=False).encode()
