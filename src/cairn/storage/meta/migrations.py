"""Explicit, versioned schema migrations.

Version 1 creates the schema. A store written by a newer cairn (higher version) is refused
with a clear error instead of being misread.
"""

from __future__ import annotations

from sqlalchemy import Engine, inspect, select

from ...core.errors import StoreError
from . import schema

MIGRATIONS = {
    1: lambda conn: schema.metadata.create_all(conn),
}


def current_version(conn) -> int:  # noqa: ANN001
    if not inspect(conn).has_table("schema_info"):
        return 0
    row = conn.execute(select(schema.schema_info.c.value).where(schema.schema_info.c.key == "version")).first()
    return int(row[0]) if row else 0


def migrate(engine: Engine) -> int:
    """Bring the schema to ``SCHEMA_VERSION``; returns the version found before."""
    with engine.connect().execution_options(cairn_write=True) as conn, conn.begin():
        if conn.dialect.name == "postgresql":  # replicas starting together migrate one at a time
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(727274)")
        found = current_version(conn)
        if found > schema.SCHEMA_VERSION:
            raise StoreError(
                f"the metadata store has schema version {found}, newer than this cairn "
                f"understands ({schema.SCHEMA_VERSION}); upgrade cairn"
            )
        for v in range(found + 1, schema.SCHEMA_VERSION + 1):
            MIGRATIONS[v](conn)
            conn.execute(schema.schema_info.delete().where(schema.schema_info.c.key == "version"))
            conn.execute(schema.schema_info.insert().values(key="version", value=str(v)))
    return found
