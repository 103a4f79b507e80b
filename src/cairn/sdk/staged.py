"""The entries of a new artifact before it is logged, each with the local file it came from.

A dict while small; beyond ``SPILL`` entries, a private temporary SQLite database (SQLite
deletes it when it is closed), so that logging a folder of a million files holds a window
of them in memory, not all of them (W&B keeps ``artifact.manifest.entries`` as one dict).
Paths are stored as UTF-8 BLOBs with "surrogatepass": byte order is then code point order,
which is Python's str order and a manifest's, also for names that are not valid UTF-8.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator

from ..core.manifest import Entry, SortedEntries

# Entries held as Python objects before they move to disk: ~550 bytes each (the entry and
# its local path), so 8,192 of them ~4.5 MiB. Spilling 50,000 entries costs ~0.06 s to
# insert and ~0.02 s a sorted read (bench/; scratch measurement).
SPILL = 8192


def _b(path: str) -> bytes:
    return path.encode("utf-8", "surrogatepass")


def _s(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogatepass")


def _row(e: Entry, local: str | None) -> tuple:
    return (_b(e.path), e.digest, e.size, e.ref, json.dumps(dict(e.extra)) if e.extra else None, local)


def _entry(row: tuple) -> Entry:
    path, digest, size, ref, extra = row[:5]
    if ref is None and extra is None:
        return Entry(_s(path), digest, size)
    return Entry(_s(path), digest, size, ref, json.loads(extra) if extra else Entry._field_defaults["extra"])


class StagedEntries:
    def __init__(self, spill: int | None = None) -> None:
        self._spill = SPILL if spill is None else spill
        self._mem: dict[str, tuple[Entry, str | None]] = {}
        self._db: sqlite3.Connection | None = None

    def _disk(self) -> sqlite3.Connection:
        if self._db is None:
            db = sqlite3.connect("", isolation_level=None, check_same_thread=False)
            # a scratch table nobody else reads: no journal, no sync
            db.execute("PRAGMA journal_mode=OFF")
            db.execute("PRAGMA synchronous=OFF")
            db.execute(
                "CREATE TABLE e (path BLOB PRIMARY KEY, digest TEXT, size INTEGER, ref TEXT, extra TEXT, local TEXT)"
                " WITHOUT ROWID"
            )
            self._db = db
            self._insert([_row(e, local) for e, local in self._mem.values()])
            self._mem = {}
        return self._db

    def _insert(self, rows: list[tuple]) -> None:
        assert self._db is not None
        self._db.execute("BEGIN")
        self._db.executemany("INSERT OR REPLACE INTO e VALUES (?, ?, ?, ?, ?, ?)", rows)
        self._db.execute("COMMIT")

    def _grow(self, more: int) -> bool:
        """True when the entries are (now) on disk."""
        if self._db is None and len(self._mem) + more > self._spill:
            self._disk()
        return self._db is not None

    def __len__(self) -> int:
        if self._db is None:
            return len(self._mem)
        return self._db.execute("SELECT count(*) FROM e").fetchone()[0]

    def __contains__(self, path: str) -> bool:
        return self.get(path) is not None

    def get(self, path: str) -> Entry | None:
        if self._db is None:
            got = self._mem.get(path)
            return None if got is None else got[0]
        row = self._db.execute("SELECT path, digest, size, ref, extra FROM e WHERE path = ?", (_b(path),)).fetchone()
        return None if row is None else _entry(row)

    def local_path(self, path: str) -> str | None:
        if self._db is None:
            got = self._mem.get(path)
            return None if got is None else got[1]
        row = self._db.execute("SELECT local FROM e WHERE path = ?", (_b(path),)).fetchone()
        return None if row is None else row[0]

    def put(self, entry: Entry, local: str | None = None) -> None:
        self.put_many([(entry, local)])

    def put_many(self, items: list[tuple[Entry, str | None]]) -> None:
        """Add or replace entries (a window of a folder at a time)."""
        if self._grow(len(items)):
            self._insert([
                (e.path.encode("utf-8", "surrogatepass"), e.digest, e.size, None, None, local)
                if e.ref is None and not e.extra else _row(e, local)
                for e, local in items
            ])
        else:
            self._mem.update((e.path, (e, local)) for e, local in items)

    def any_of(self, paths: list[str]) -> bool:
        """Whether any of ``paths`` is here."""
        if self._db is None:
            return any(p in self._mem for p in paths)
        for i in range(0, len(paths), 900):
            part = [_b(p) for p in paths[i : i + 900]]
            q = f"SELECT 1 FROM e WHERE path IN ({','.join('?' * len(part))}) LIMIT 1"
            if self._db.execute(q, part).fetchone() is not None:
                return True
        return False

    def pop(self, path: str) -> Entry | None:
        e = self.get(path)
        if e is not None:
            if self._db is None:
                del self._mem[path]
            else:
                self._db.execute("DELETE FROM e WHERE path = ?", (_b(path),))
        return e

    def remove_prefix(self, prefix: str) -> int:
        """Remove every entry whose path starts with ``prefix`` (a folder, "dir/"); how many."""
        if self._db is None:
            hits = [p for p in self._mem if p.startswith(prefix)]
            for p in hits:
                del self._mem[p]
            return len(hits)
        lo = _b(prefix)
        hi = _b(prefix[:-1] + chr(ord(prefix[-1]) + 1))
        return self._db.execute("DELETE FROM e WHERE path >= ? AND path < ?", (lo, hi)).rowcount

    def sorted(self) -> Iterator[Entry]:
        """Every entry, in path order, read from disk as it is iterated once spilled."""
        if self._db is None:
            return iter(sorted((e for e, _ in self._mem.values()), key=lambda e: e.path))
        return self._read()

    def _read(self) -> Iterator[Entry]:
        assert self._db is not None
        for row in self._db.execute("SELECT path, digest, size, ref, extra FROM e ORDER BY path"):
            if row[3] is None and row[4] is None:  # a plain file, inlined: 50,000 rows a pass
                yield Entry(row[0].decode("utf-8", "surrogatepass"), row[1], row[2])
            else:
                yield _entry(row)

    def for_commit(self) -> list[Entry] | SortedEntries:
        """What a commit request carries: the list while small, else a view read from disk
        (in order, paths unique) as often as the commit passes over it."""
        if self._db is None:
            return [e for e, _ in self._mem.values()]
        return _View(self)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
        self._mem = {}


class _View(SortedEntries):
    def __init__(self, staged: StagedEntries) -> None:
        self._staged = staged

    def __iter__(self) -> Iterator[Entry]:
        return self._staged.sorted()

    def __len__(self) -> int:
        return len(self._staged)

