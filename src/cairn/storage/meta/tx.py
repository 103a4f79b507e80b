"""The transaction type: one SQLite or PostgreSQL transaction with the same methods, and the
statements both databases share. ``sql.MetaStore`` hands transactions out; the engine's
use cases and the migrations run their SQL through them.

Rows are named tuples (``row.col`` and ``row[i]``); statements are plain SQL text with
``:name`` parameters, written once for both databases.
"""

from __future__ import annotations

import sqlite3
from collections import namedtuple
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any, overload

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, CursorResult
    from sqlalchemy.sql.elements import TextClause

_IN_BATCH = 500  # keys per IN (...) list: far below both databases' parameter limits


def in_list(values: list, prefix: str = "k") -> tuple[str, dict[str, Any]]:
    """``(:k0, :k1, …)`` and its parameters, for ``WHERE col IN`` with a list."""
    params = {f"{prefix}{i}": v for i, v in enumerate(values)}
    return "(" + ", ".join(f":{k}" for k in params) + ")", params


def batches(values: list, size: int = _IN_BATCH) -> Iterator[list]:
    for i in range(0, len(values), size):
        yield values[i : i + size]


@lru_cache(maxsize=256)
def _row_type(names: tuple[str, ...]) -> Any:  # a namedtuple class: its fields are known only at run time
    return namedtuple("Row", names, rename=True)


class SqliteTx:
    """One SQLite transaction. Rows are named tuples (``row.col`` and ``row[i]``)."""

    dialect = "sqlite"

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    @staticmethod
    def now() -> str:
        # the text SQLAlchemy wrote for DateTime on SQLite: UTC, sortable, microseconds always
        return datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")

    def execute(self, sql: str, params: dict | None = None) -> int:
        return self._conn.execute(sql, params or {}).rowcount

    def execute_many(self, sql: str, rows: list[dict]) -> None:
        self._conn.executemany(sql, rows)

    def rows(self, sql: str, params: dict | None = None) -> list:
        cur = self._conn.execute(sql, params or {})
        make = _row_type(tuple(d[0] for d in cur.description))._make
        return [make(r) for r in cur.fetchall()]

    def first(self, sql: str, params: dict | None = None) -> Any:  # a row, or None
        cur = self._conn.execute(sql, params or {})
        row = cur.fetchone()
        return None if row is None else _row_type(tuple(d[0] for d in cur.description))._make(row)

    def scalar(self, sql: str, params: dict | None = None) -> Any:
        row = self._conn.execute(sql, params or {}).fetchone()
        return None if row is None else row[0]

    def scalars(self, sql: str, params: dict | None = None) -> list:
        return [r[0] for r in self._conn.execute(sql, params or {}).fetchall()]

    def tuples(self, sql: str, params: dict | None = None) -> list[tuple]:
        return self._conn.execute(sql, params or {}).fetchall()


class PostgresTx:
    """One PostgreSQL transaction over a SQLAlchemy connection; the same methods as SqliteTx."""

    dialect = "postgresql"

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    @staticmethod
    def now() -> datetime:
        return datetime.now(UTC)

    def _run(self, sql: str, params: dict | list[dict] | None) -> CursorResult[Any]:
        return self._conn.execute(pg_text(sql), params or {})

    def execute(self, sql: str, params: dict | None = None) -> int:
        return self._run(sql, params).rowcount

    def execute_many(self, sql: str, rows: list[dict]) -> None:
        if rows:
            self._run(sql, rows)

    def rows(self, sql: str, params: dict | None = None) -> list:
        return list(self._run(sql, params).all())  # a list already: typed as a Sequence

    def first(self, sql: str, params: dict | None = None) -> Any:  # a row, or None
        return self._run(sql, params).first()

    def scalar(self, sql: str, params: dict | None = None) -> Any:
        return self._run(sql, params).scalar()

    def scalars(self, sql: str, params: dict | None = None) -> list:
        return list(self._run(sql, params).scalars().all())

    def tuples(self, sql: str, params: dict | None = None) -> list[tuple]:
        return [tuple(r) for r in self._run(sql, params)]


Tx = SqliteTx | PostgresTx


@lru_cache(maxsize=512)
def pg_text(sql: str) -> TextClause:
    from sqlalchemy import text

    return text(sql)


# -- statements both databases share --------------------------------------------------


def insert_ignore(tx: Tx, table: str, rows: list[dict] | dict) -> None:
    """INSERT … ON CONFLICT DO NOTHING, on SQLite (3.24+) and PostgreSQL alike."""
    if isinstance(rows, dict):
        rows = [rows]
    if not rows:
        return
    cols = list(rows[0])
    sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join(':' + c for c in cols)}) ON CONFLICT DO NOTHING"
    if len(rows) == 1:
        tx.execute(sql, rows[0])
    else:
        tx.execute_many(sql, rows)


def insert(tx: Tx, table: str, row: dict, returning: str | None = None) -> Any:
    """INSERT one row; with ``returning``, that column of the new row (e.g. its id)."""
    cols = list(row)
    sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join(':' + c for c in cols)})"
    if returning is None:
        tx.execute(sql, row)
        return None
    return tx.scalar(f"{sql} RETURNING {returning}", row)


def lock_row(tx: Tx, table: str, row_id: int) -> None:
    """Serialise writers on one row: FOR UPDATE on PostgreSQL; SQLite's BEGIN IMMEDIATE already does."""
    if tx.dialect == "postgresql":
        tx.execute(f"SELECT id FROM {table} WHERE id = :id FOR UPDATE", {"id": row_id})


@overload
def as_utc(value: datetime | str) -> datetime: ...
@overload
def as_utc(value: None) -> None: ...
@overload
def as_utc(value: datetime | str | None) -> datetime | None: ...
def as_utc(value: datetime | str | None) -> datetime | None:
    """A stored time as an aware UTC datetime (SQLite hands back text, PostgreSQL datetimes)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
