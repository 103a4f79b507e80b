"""gc's working sets on disk: the digests every version references, the blobs stored with
their sizes, and the marks, in a temporary SQLite file, so that a run's memory stays flat
in the number of blobs (sets of Python strings cost ~425 MiB per 1,000,000 blobs; see
bench/RESULTS.md). Each set is a table, filled as it comes and then indexed by digest once,
so "stored and not live" is a walk of one index with a lookup in the other, read back in pages.

Private to engine/gc.py; the file goes when the run ends (or with the temp folder).
"""

from __future__ import annotations

import itertools
import shutil
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator

_PAGE = 5000
# SQLite's page cache for the scratch file: what the tables cost in memory at most
_CACHE_KIB = 32 * 1024


class Scratch:
    """A run's scratch tables: ``live(d)`` (a digest may repeat), ``stored(d, size)``,
    ``marks(kind, d, state, old)``. Questions about ``live`` or ``stored`` need ``index`` first."""

    def __init__(self) -> None:
        self._dir = tempfile.mkdtemp(prefix="cairn-gc-")
        self.db = sqlite3.connect(f"{self._dir}/scratch.sqlite", isolation_level=None)
        for pragma in (
            "journal_mode = OFF",
            "synchronous = OFF",
            f"cache_size = -{_CACHE_KIB}",
            "temp_store = FILE",
            "locking_mode = EXCLUSIVE",
        ):
            self.db.execute(f"PRAGMA {pragma}")
        # live and stored are filled unindexed (appending is fast; keeping a B-tree sorted under
        # 1,000,000 random inserts made a run ~2.5x slower), then indexed once (``index``)
        self.db.executescript("""
            CREATE TABLE live (d TEXT NOT NULL);
            CREATE TABLE stored (d TEXT NOT NULL, size INTEGER NOT NULL);
            CREATE TABLE marks (kind TEXT NOT NULL, d TEXT NOT NULL, state TEXT NOT NULL, old INTEGER NOT NULL,
                                PRIMARY KEY (kind, d)) WITHOUT ROWID;
        """)

    def __enter__(self) -> "Scratch":
        return self

    def __exit__(self, *exc: object) -> None:
        self.db.close()
        shutil.rmtree(self._dir, ignore_errors=True)

    # -- filling -------------------------------------------------------------------------
    def add_live(self, digests: Iterable[str]) -> None:
        it = iter(digests)
        while page := list(itertools.islice(it, _PAGE)):
            self._many("INSERT INTO live (d) VALUES (?)", [(d,) for d in page])

    def add_stored(self, rows: Iterable[tuple[str, int]]) -> Iterator[int]:
        """Insert (digest, size) rows; yields how many went in, page by page (for progress)."""
        it = iter(rows)
        while page := list(itertools.islice(it, _PAGE)):
            self._many("INSERT INTO stored (d, size) VALUES (?, ?)", page)
            yield len(page)

    def set_marks(self, rows: Iterable[tuple[str, str, str, bool]]) -> None:
        """Replace the marks with (kind, digest, state, older than the grace period) rows."""
        self.db.execute("DELETE FROM marks")
        it = iter(rows)
        while page := list(itertools.islice(it, _PAGE)):
            self._many(
                "INSERT OR REPLACE INTO marks (kind, d, state, old) VALUES (?, ?, ?, ?)",
                [(k, d, s, int(o)) for k, d, s, o in page],
            )

    def index(self, table: str) -> None:
        """Index ``live`` or ``stored`` by digest once it is filled (one sort)."""
        self.db.execute(f"CREATE INDEX IF NOT EXISTS {table}_d ON {table} (d)")

    def _many(self, sql: str, rows: list) -> None:
        self.db.execute("BEGIN")
        self.db.executemany(sql, rows)
        self.db.execute("COMMIT")

    # -- questions -----------------------------------------------------------------------
    def is_live(self, digest: str) -> bool:
        return self.db.execute("SELECT 1 FROM live WHERE d = ?", (digest,)).fetchone() is not None

    def live_count(self) -> int:
        return self.db.execute("SELECT count(DISTINCT d) FROM live").fetchone()[0]

    def stored_tally(self, live: bool | None = None) -> tuple[int, int]:
        """(count, bytes) of stored blobs: all, or those (not) live."""
        where = (
            "" if live is None else f"WHERE {'' if live else 'NOT '}EXISTS (SELECT 1 FROM live l WHERE l.d = stored.d)"
        )
        n, size = self.db.execute(f"SELECT count(*), coalesce(sum(size), 0) FROM stored {where}").fetchone()
        return n, size

    def sizes(self, digests: list[str]) -> dict[str, int]:
        out: dict[str, int] = {}
        for i in range(0, len(digests), 500):
            part = digests[i : i + 500]
            out.update(
                self.db.execute(f"SELECT d, size FROM stored WHERE d IN ({','.join('?' * len(part))})", part).fetchall()
            )
        return out

    def pages(self, sql: str, params: tuple = ()) -> Iterator[list[tuple]]:
        """The rows of a query, a page at a time."""
        cur = self.db.execute(sql, params)
        while page := cur.fetchmany(_PAGE):
            yield page

    def live_marks(self, kind: str) -> Iterator[list[str]]:
        """Marked (state 'marked') digests of ``kind`` that are live now, a page at a time."""
        sql = "SELECT d FROM marks m WHERE kind = ? AND state = 'marked' AND EXISTS (SELECT 1 FROM live l WHERE l.d = m.d)"
        for page in self.pages(sql, (kind,)):
            yield [d for (d,) in page]

    def doomed_blobs(self) -> list[str]:
        """Blobs marked longer than the grace period and not live (sorted). The condemned of
        one run are few next to the store (they are what was deleted), so a list is fine."""
        return [
            d
            for (d,) in self.db.execute(
                "SELECT d FROM marks m WHERE kind = 'blob' AND state = 'marked' AND old = 1 "
                "AND NOT EXISTS (SELECT 1 FROM live l WHERE l.d = m.d) ORDER BY d"
            )
        ]

    def unreferenced(self) -> Iterator[list[tuple[str, int, str | None]]]:
        """Stored blobs that are not live: (digest, size, gc state or None), a page at a time."""
        yield from self.pages(
            "SELECT s.d, s.size, m.state FROM stored s LEFT JOIN marks m ON m.kind = 'blob' AND m.d = s.d "
            "WHERE NOT EXISTS (SELECT 1 FROM live l WHERE l.d = s.d) ORDER BY s.d"
        )
