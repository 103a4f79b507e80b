"""Explicit, versioned schema migrations.

Version 1 creates the schema; version 2 adds the claims of direct uploads; version 3 the
list of blobs found damaged; version 4 the lifecycle tables (gc marks, retention policies,
store settings); version 5 links and collection tags; version 6 a run's history, summary,
tags and notes; version 7 key expiry, server admins and the bindings of staged uploads;
version 8 the history of a version's edits; version 9 makes SQLite's ids never reused
(AUTOINCREMENT, by rebuilding the tables: PostgreSQL's identities already are); version 10
run ids unique per project (SQLite rebuilds the run tables and ``versions`` for it). A
store written by a newer cairn (higher version) is refused with a clear error instead of
being misread.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

from ...core.errors import StoreError
from . import schema
from .tx import Tx


def current_version(tx: Tx) -> int:
    if tx.dialect == "postgresql":
        # a catalog query sees a table committed by another replica since this transaction
        # began (to_regclass may answer from this session's cache)
        exists = tx.scalar(
            "SELECT 1 FROM pg_catalog.pg_tables WHERE schemaname = current_schema() AND tablename = 'schema_info'"
        )
    else:
        exists = tx.scalar("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_info'")
    if not exists:
        return 0
    value = tx.scalar("SELECT value FROM schema_info WHERE key = 'version'")
    return int(value) if value is not None else 0


def _refuse_newer(found: int) -> None:
    if found > schema.SCHEMA_VERSION:
        raise StoreError(
            f"the metadata store has schema version {found}, newer than this cairn "
            f"understands ({schema.SCHEMA_VERSION}); upgrade cairn"
        )


def migrate(transaction: Callable[[bool], AbstractContextManager[Tx]]) -> int:
    """Bring the schema to ``SCHEMA_VERSION``; returns the version found before.

    ``transaction(write)`` opens a transaction. A store that is current is only read, so
    processes opening it together never queue on the write lock."""
    with transaction(False) as tx:
        found = current_version(tx)
    _refuse_newer(found)
    if found == schema.SCHEMA_VERSION:
        return found
    with transaction(True) as tx:
        if tx.dialect == "postgresql":  # replicas starting together migrate one at a time
            tx.execute("SELECT pg_advisory_xact_lock(727274)")
        found = current_version(tx)  # another process may have migrated meanwhile
        _refuse_newer(found)
        for v in range(found + 1, schema.SCHEMA_VERSION + 1):
            for statement in schema.statements(v, tx.dialect):
                tx.execute(statement)
            tx.execute("DELETE FROM schema_info WHERE key = 'version'")
            tx.execute("INSERT INTO schema_info (key, value) VALUES ('version', :v)", {"v": str(v)})
    return found
