"""Small dialect-aware helpers shared by the engine's SQL."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Connection, Table, select
from sqlalchemy.dialects import postgresql, sqlite


def now() -> datetime:
    return datetime.now(UTC)


def insert_ignore(conn: Connection, table: Table, rows: list[dict] | dict) -> None:
    """INSERT … ON CONFLICT DO NOTHING on both SQLite and PostgreSQL."""
    if isinstance(rows, dict):
        rows = [rows]
    if not rows:
        return
    mod = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(mod.insert(table).on_conflict_do_nothing(), rows)


def lock_row(conn: Connection, table: Table, row_id: int) -> None:
    """Serialise writers on one row: FOR UPDATE on PostgreSQL; SQLite's BEGIN IMMEDIATE already does."""
    if conn.dialect.name == "postgresql":
        conn.execute(select(table.c.id).where(table.c.id == row_id).with_for_update())
