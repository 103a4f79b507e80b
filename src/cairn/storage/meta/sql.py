"""The metadata store: one SQL layer for SQLite (embedded) and PostgreSQL (server).

Every statement is plain SQL text with ``:name`` parameters, written once for both
databases. SQLite runs through the standard ``sqlite3`` module: importing SQLAlchemy costs
~0.19 s, which was two thirds of a `cairn artifact put` of one file (0.28 s; measured on the
bench machine, 2 cores). PostgreSQL runs through SQLAlchemy's engine, for its connection
pool and pre-ping, and pays that import only in server mode.

Write transactions are short. On SQLite they start with ``BEGIN IMMEDIATE`` so that two
writers queue on the busy timeout instead of failing on lock upgrade; reads use plain
deferred transactions and never block writers (WAL).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from ...core.errors import StoreError, UnavailableError
from ..wal import enable_wal
from .tx import PostgresTx, SqliteTx, Tx, batches, in_list, insert_ignore, pg_text

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

BUSY_TIMEOUT_S = 120


class _SqlitePool:
    """Idle connections to one SQLite file, reused across transactions and threads.

    A forked child never reuses its parent's connections (SQLite forbids it)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._idle: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._pid = os.getpid()

    def take(self) -> sqlite3.Connection:
        with self._lock:
            if self._pid != os.getpid():
                self._idle, self._pid = [], os.getpid()
            if self._idle:
                return self._idle.pop()
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
        try:
            # a new store gives the pages of rows gc removed back to the disk (reclaim_space);
            # set before WAL mode, which fixes the file's header
            if conn.execute("PRAGMA page_count").fetchone()[0] == 0:  # only a new file: no lock taken
                conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
            enable_wal(conn)
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
        except BaseException:
            conn.close()
            raise
        return conn

    def give(self, conn: sqlite3.Connection) -> None:
        with self._lock:
            if self._pid == os.getpid():
                self._idle.append(conn)
                return
        conn.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


class MetaStore:
    """Hands out read and write transactions on one database and stores manifest chunks."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._pool: _SqlitePool | None = None
        self._engine: Engine | None = None  # PostgreSQL only
        self._ready = False
        self._found = 0  # the schema version found when opened
        self._open_lock = threading.Lock()

    @classmethod
    def sqlite(cls, path: Path) -> "MetaStore":
        return cls(f"sqlite:///{path}")

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    def open(self) -> int:
        """Connect and bring the schema up to date (done once, on first use); returns the
        schema version found before."""
        with self._open_lock:
            if not self._ready:
                self._found = self._open()
                self._ready = True
            return self._found

    def _open(self) -> int:
        from .migrations import migrate

        if self.is_sqlite:
            path = self.url.removeprefix("sqlite:///")
            try:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise StoreError(f"cannot create the folder of the metadata store {path}: {e}") from None
            self._pool = _SqlitePool(path)
        else:
            from sqlalchemy import create_engine

            if self._engine is not None:  # an earlier open that found the database away
                self._engine.dispose()
            # connect_timeout: a database that does not answer fails a request (503) in seconds
            # rather than holding a server thread for the kernel's TCP timeout
            self._engine = create_engine(
                self.url, pool_pre_ping=True, pool_size=8, max_overflow=16, connect_args={"connect_timeout": 5}
            )
        try:
            return migrate(self._migration_tx)
        except StoreError:
            raise
        except Exception as e:  # the driver's own error: say which store could not be opened
            if not _is_db_error(e):
                raise
            raise StoreError(f"cannot open the metadata store {self._safe_url()}: {_reason(e)}") from None

    def _safe_url(self) -> str:
        if self.is_sqlite:
            return self.url
        from sqlalchemy.engine import make_url

        return make_url(self.url).render_as_string(hide_password=True)

    @contextlib.contextmanager
    def _tx(self, write: bool, foreign_keys: bool = True) -> Iterator[Tx]:
        if self._pool is not None:
            conn = self._pool.take()
            try:
                try:
                    if not foreign_keys:
                        conn.execute("PRAGMA foreign_keys=OFF")
                    conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                    yield SqliteTx(conn)
                    conn.execute("COMMIT")
                except BaseException as e:  # from the caller's body or from COMMIT
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    self._raise_as_store_error(e)
                    raise
            finally:
                if conn.in_transaction:  # a failed rollback: never hand this connection out again
                    conn.close()
                else:
                    if not foreign_keys:
                        conn.execute("PRAGMA foreign_keys=ON")
                    self._pool.give(conn)
        else:
            assert self._engine is not None  # opened above: no pool means PostgreSQL
            try:
                with self._engine.connect() as pg, pg.begin():
                    yield PostgresTx(pg)
            except Exception as e:
                if _unreachable(e):
                    raise UnavailableError(
                        f"the metadata store {self._safe_url()} cannot be reached ({_reason(e).strip()}); try again shortly"
                    ) from e
                raise

    @contextlib.contextmanager
    def _migration_tx(self, write: bool) -> Iterator[Tx]:
        """A transaction for schema steps. On SQLite a step that rebuilds a table (version 9)
        drops a table others point at, which foreign keys forbid, and they can only be
        switched off outside a transaction: so the connection runs without them, and every
        key is checked before the step commits (SQLite's recipe for schema changes)."""
        if self._pool is None or not write:
            with self._tx(write) as tx:
                yield tx
            return
        with self._tx(True, foreign_keys=False) as tx:
            yield tx
            broken = tx.tuples("PRAGMA foreign_key_check")
            if broken:
                table, rowid, parent, _ = broken[0]
                raise StoreError(
                    f"the metadata store {self.url.removeprefix('sqlite:///')} was not migrated: "
                    f"{len(broken)} rows point at rows that do not exist (first: {table} row {rowid} "
                    f"-> {parent}); nothing was changed"
                )

    def _raise_as_store_error(self, e: BaseException) -> None:
        if isinstance(e, sqlite3.OperationalError):  # e.g. still locked after the busy timeout
            raise StoreError(f"the metadata store {self.url.removeprefix('sqlite:///')} failed: {e}") from e

    @contextlib.contextmanager
    def read(self) -> Iterator[Tx]:
        if not self._ready:
            self.open()
        with self._tx(write=False) as tx:
            yield tx

    @contextlib.contextmanager
    def write(self) -> Iterator[Tx]:
        if not self._ready:
            self.open()
        with self._tx(write=True) as tx:
            yield tx

    @contextlib.contextmanager
    def exclusive(self, name: str, key: int) -> Iterator[None]:
        """Hold a store-wide lock named ``name`` while the body runs, or raise StoreError at
        once when another process holds it. Released when the process dies (a file lock
        beside SQLite's file; a PostgreSQL session advisory lock)."""
        if not self._ready:
            self.open()
        if self._pool is not None:
            import fcntl

            path = self._pool.path + f".{name}.lock"
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    raise StoreError(
                        f"another process holds the {name} lock of {self.url}; wait for it to finish"
                    ) from None
                yield
            finally:
                os.close(fd)
            return
        assert self._engine is not None  # opened above: no pool means PostgreSQL
        with self._engine.connect() as conn:
            got = conn.execute(pg_text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar()
            conn.commit()
            if not got:
                raise StoreError(f"another process holds the {name} lock of {self._safe_url()}; wait for it to finish")
            try:
                yield
            finally:
                conn.execute(pg_text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                conn.commit()

    def reclaim_space(self) -> None:
        """SQLite: give free pages back to the disk (after gc removed rows) and empty the
        write-ahead log. Nothing to do on PostgreSQL (autovacuum)."""
        if self._pool is None:
            return
        with self.write() as tx:
            # the sqlite3 module steps a statement that returns no columns once, and each step
            # of incremental_vacuum frees one page: run it once per free page
            free = tx.scalar("PRAGMA freelist_count")
            while free:
                tx.execute("PRAGMA incremental_vacuum")
                left = tx.scalar("PRAGMA freelist_count")
                if left >= free:  # nothing more it can give back
                    break
                free = left
        conn = self._pool.take()
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            self._pool.give(conn)

    # -- ChunkStore ----------------------------------------------------------
    def get_chunks(self, keys: list[str]) -> dict[str, bytes]:
        out: dict[str, bytes] = {}
        with self.read() as tx:
            for part in batches(keys):
                ph, params = in_list(part)
                for k, d in tx.tuples(f"SELECT key, data FROM chunks WHERE key IN {ph}", params):
                    out[k] = bytes(d)
        return out

    def put_chunks(self, chunks: dict[str, bytes], tx: Tx | None = None) -> None:
        if not chunks:
            return
        if tx is None:
            with self.write() as t:
                return self.put_chunks(chunks, t)
        keys = list(chunks)
        known: set[str] = set()
        for part in batches(keys):
            ph, params = in_list(part)
            known.update(tx.scalars(f"SELECT key FROM chunks WHERE key IN {ph}", params))
        # Another writer may insert the same chunk between our SELECT and INSERT (PostgreSQL;
        # SQLite's BEGIN IMMEDIATE serialises writers): same key, same bytes, so ignore it.
        insert_ignore(tx, "chunks", [{"key": k, "data": chunks[k]} for k in keys if k not in known])

    def dispose(self) -> None:
        if self._pool is not None:
            self._pool.close()
        if self._engine is not None:
            self._engine.dispose()
        self._pool = self._engine = None
        self._ready = False


def _is_db_error(e: Exception) -> bool:
    if isinstance(e, sqlite3.Error):
        return True
    mod = type(e).__module__
    return mod.startswith(("sqlalchemy", "psycopg"))


def _unreachable(e: BaseException) -> bool:
    """Whether a PostgreSQL failure says the database is away (restarting, shutting down,
    refusing connections, or the connection dropped), not that the statement was wrong:
    the same transaction may then succeed later."""
    from sqlalchemy import exc

    if isinstance(e, exc.DBAPIError) and e.connection_invalidated:
        return True
    return isinstance(e, (exc.OperationalError, exc.InterfaceError)) or (
        isinstance(e, exc.DBAPIError) and type(e.orig).__name__ in _PG_AWAY
    )


# psycopg's classes for "the server went away" that SQLAlchemy files under other DBAPI errors
_PG_AWAY = {"AdminShutdown", "CrashShutdown", "CannotConnectNow", "ConnectionFailure", "TooManyConnections"}


def _reason(e: Exception) -> str:
    return str(getattr(e, "orig", None) or e)
