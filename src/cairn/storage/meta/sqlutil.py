"""Small dialect-aware helpers shared by the engine's SQL."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Connection, Table, select


def now() -> datetime:
    return datetime.now(UTC)


def insert_ignore(conn: Connection, table: Table, rows: list[dict] | dict) -> None:
    """INSERT … ON CONFLICT DO NOTHING on both SQLite and PostgreSQL."""
    if isinstance(rows, dict):
        rows = [rows]
    if not rows:
        return
    # imported here: the PostgreSQL dialect costs ~25 ms of start-up an embedded store never needs
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    conn.execute(insert(table).on_conflict_do_nothing(), rows)


def lock_row(conn: Connection, table: Table, row_id: int) -> None:
    """Serialise writers on one row: FOR UPDATE on PostgreSQL; SQLite's BEGIN IMMEDIATE already does."""
    if conn.dialect.name == "postgresql":
        conn.execute(select(table.c.id).where(table.c.id == row_id).with_for_update())
