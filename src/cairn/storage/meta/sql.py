"""The metadata store: one SQL layer for SQLite (embedded) and PostgreSQL (server).

Write transactions are short. On SQLite they start with ``BEGIN IMMEDIATE`` so that two
writers queue on the busy timeout instead of failing on lock upgrade; reads use plain
deferred transactions and never block writers (WAL).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event, select
from sqlalchemy.exc import OperationalError

from ...core.errors import StoreError
from ..wal import enable_wal
from . import schema
from .sqlutil import insert_ignore

BUSY_TIMEOUT_S = 120


class MetaStore:
    """Owns the SQLAlchemy engine; hands out read and write transactions and stores chunks."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine: Engine | None = None

    @classmethod
    def sqlite(cls, path: Path) -> "MetaStore":
        return cls(f"sqlite:///{path}")

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = self._connect()
        return self._engine

    def _connect(self) -> Engine:
        if self.is_sqlite:
            path = self.url.removeprefix("sqlite:///")
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(self.url, connect_args={"timeout": BUSY_TIMEOUT_S, "check_same_thread": False})

            @event.listens_for(engine, "connect")
            def _on_connect(dbapi_conn, _record):  # noqa: ANN001
                dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
                enable_wal(dbapi_conn)
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA synchronous=FULL")
                cur.execute("PRAGMA foreign_keys=ON")
                cur.close()

            @event.listens_for(engine, "begin")
            def _on_begin(conn: Connection) -> None:
                write = conn.get_execution_options().get("cairn_write", False)
                conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
        else:
            engine = create_engine(self.url, pool_pre_ping=True, pool_size=8, max_overflow=16)
        from .migrations import migrate

        try:
            migrate(engine)
        except OperationalError as e:
            raise StoreError(f"cannot open the metadata store {self._safe_url()}: {e.orig}") from None
        return engine

    def _safe_url(self) -> str:
        from sqlalchemy.engine import make_url

        return make_url(self.url).render_as_string(hide_password=True)

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        with self.engine.connect().execution_options(cairn_write=True) as conn, conn.begin():
            yield conn

    # -- ChunkStore ----------------------------------------------------------
    def get_chunks(self, keys: list[str]) -> dict[str, bytes]:
        out: dict[str, bytes] = {}
        with self.read() as conn:
            for i in range(0, len(keys), 500):
                part = keys[i : i + 500]
                for k, d in conn.execute(select(schema.chunks.c.key, schema.chunks.c.data).where(schema.chunks.c.key.in_(part))):
                    out[k] = bytes(d)
        return out

    def put_chunks(self, chunks: dict[str, bytes], conn: Connection | None = None) -> None:
        if not chunks:
            return
        if conn is None:
            with self.write() as c:
                return self.put_chunks(chunks, c)
        keys = list(chunks)
        known: set[str] = set()
        for i in range(0, len(keys), 500):
            part = keys[i : i + 500]
            known.update(conn.execute(select(schema.chunks.c.key).where(schema.chunks.c.key.in_(part))).scalars())
        rows = [{"key": k, "data": chunks[k]} for k in keys if k not in known]
        # Another writer may insert the same chunk between our SELECT and INSERT (PostgreSQL;
        # SQLite's BEGIN IMMEDIATE serialises writers): same key, same bytes, so ignore it.
        insert_ignore(conn, schema.chunks, rows)

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
