"""The entries of a new artifact before it is logged, each with the local file it came from.

A dict while small; beyond ``SPILL`` entries, a private temporary SQLite database (SQLite
deletes it when it is closed), so that logging a folder of a million files holds a window
of them in memory, not all of them (W&B keeps ``artifact.manifest.entries`` as one dict).
Paths are stored as UTF-8 BLOBs with "surrogatepass": byte order is then code point order,
which is Python's str order and a manifest's, also for names that are not valid UTF-8.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import tempfile
from array import array
from collections.abc import Iterator, Sequence

from ..core.errors import StoreError
from ..core.manifest import Entry, SortedEntries

# Entries held as Python objects before they move to disk: ~550 bytes each (the entry and
# its local path), so 8,192 of them ~4.5 MiB.
SPILL = 8192
SCRATCH_CACHE_KIB = 16 * 1024


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


@contextlib.contextmanager
def _disk_errors() -> Iterator[None]:
    try:
        yield
    except sqlite3.OperationalError as e:
        raise StoreError(
            f"could not keep the artifact's entries in a temporary file ({e}); free space in the"
            f" temporary folder ({tempfile.gettempdir()}) or point TMPDIR at a folder with room"
        ) from None


class StagedEntries:
    def __init__(self, spill: int | None = None) -> None:
        self._spill = SPILL if spill is None else spill
        self._mem: dict[str, tuple[Entry, str | None]] = {}
        self._db: sqlite3.Connection | None = None
        # On disk, a window of a folder that sorts after everything already there (the way
        # add_dir's windows come) is kept as one *run* row, not a row per entry: 50,000
        # entries as rows cost ~0.1 s to insert. Every path in table e sorts before every
        # path in a run; anything else (a lookup by path, a replacement, a removal) turns
        # the runs into rows first.
        self._runs = 0  # entries held in runs
        self._top: str | None = None  # the greatest path on disk

    def _disk(self) -> sqlite3.Connection:
        if self._db is None:
            db = sqlite3.connect("", isolation_level=None, check_same_thread=False)
            # a scratch table nobody else reads: no journal, no sync
            db.execute("PRAGMA journal_mode=OFF")
            db.execute("PRAGMA synchronous=OFF")
            # pages stay in memory up to this much before SQLite writes them to its temporary
            # file (the default, 2 MiB, wrote 6 MiB to disk for 50,000 entries); past it the
            # file takes the rest, so memory stays bounded for a million entries
            db.execute(f"PRAGMA cache_size={-SCRATCH_CACHE_KIB}")
            db.execute(
                "CREATE TABLE e (path BLOB PRIMARY KEY, digest TEXT, size INTEGER, ref TEXT, extra TEXT, local TEXT)"
                " WITHOUT ROWID"
            )
            db.execute(
                "CREATE TABLE runs (seq INTEGER PRIMARY KEY, n INTEGER, paths BLOB, digests TEXT, sizes BLOB, locals TEXT)"
            )
            self._db = db
            mem, self._mem = self._mem, {}
            self._add(sorted(mem.values(), key=lambda t: t[0].path))
        return self._db

    def _add(self, items: list[tuple[Entry, str | None]]) -> None:
        if not items:
            return
        if self._appends(items):
            self._add_run(
                [e.path for e, _ in items],
                [e.digest for e, _ in items],
                [e.size for e, _ in items],
                [local for _, local in items],
            )
        else:
            self._explode()
            self._insert([_row(e, local) for e, local in items])
            top = max(e.path for e, _ in items)
            self._top = top if self._top is None or top > self._top else self._top

    def _appends(self, items: list[tuple[Entry, str | None]]) -> bool:
        """Whether ``items`` can be a run: plain files, in order, after every path here."""
        prev = self._top
        for e, _ in items:
            if e.ref is not None or e.extra or (prev is not None and e.path <= prev):
                return False
            prev = e.path
        return True

    def _add_run(self, paths: list[str], digests: list[str], sizes: list[int], locals_: Sequence[str | None]) -> None:
        """Plain files in order, all after every path here, as one row."""
        assert self._db is not None
        with _disk_errors():
            self._db.execute(
                "INSERT INTO runs (n, paths, digests, sizes, locals) VALUES (?, ?, ?, ?, ?)",
                (
                    len(paths),
                    "\0".join(paths).encode("utf-8", "surrogatepass"),
                    "\0".join(digests),
                    array("q", sizes).tobytes(),
                    "\0".join(local or "" for local in locals_),
                ),
            )
        self._runs += len(paths)
        self._top = paths[-1]

    def _read_runs(self) -> Iterator[tuple[Entry, str | None]]:
        assert self._db is not None
        for n, paths, digests, sizes_b, locals_ in self._db.execute(
            "SELECT n, paths, digests, sizes, locals FROM runs ORDER BY seq"
        ):
            sizes = array("q")
            sizes.frombytes(sizes_b)
            ps = paths.decode("utf-8", "surrogatepass").split("\0")
            for e, local in zip(map(Entry, ps, digests.split("\0"), sizes), locals_.split("\0")):
                yield e, local or None

    def _explode(self) -> None:
        """Runs become rows (before a lookup or change by path)."""
        if self._runs:
            assert self._db is not None
            self._insert([_row(e, local) for e, local in self._read_runs()])
            self._db.execute("DELETE FROM runs")
            self._runs = 0

    def _insert(self, rows: list[tuple]) -> None:
        assert self._db is not None
        with _disk_errors():
            self._db.execute("BEGIN")
            self._db.executemany("INSERT OR REPLACE INTO e VALUES (?, ?, ?, ?, ?, ?)", rows)
            self._db.execute("COMMIT")

    def _rows(self) -> sqlite3.Connection | None:
        """The table of rows for a lookup by path (runs turned into rows), or None in memory."""
        if self._db is not None:
            self._explode()
        return self._db

    def __len__(self) -> int:
        if self._db is None:
            return len(self._mem)
        return self._db.execute("SELECT count(*) FROM e").fetchone()[0] + self._runs

    def __contains__(self, path: str) -> bool:
        return self.get(path) is not None

    def _find(self, path: str) -> tuple[Entry, str | None] | None:
        db = self._rows()
        if db is None:
            return self._mem.get(path)
        row = db.execute("SELECT path, digest, size, ref, extra, local FROM e WHERE path = ?", (_b(path),)).fetchone()
        return None if row is None else (_entry(row), row[5])

    def get(self, path: str) -> Entry | None:
        got = self._find(path)
        return None if got is None else got[0]

    def local_path(self, path: str) -> str | None:
        got = self._find(path)
        return None if got is None else got[1]

    def name_of_local(self, local: str) -> str | None:
        """The path of the entry added from the local file ``local`` (None when none was)."""
        db = self._rows()
        if db is None:
            return next((p for p, (_, loc) in self._mem.items() if loc == local), None)
        row = db.execute("SELECT path FROM e WHERE local = ? LIMIT 1", (local,)).fetchone()
        return None if row is None else row[0].decode("utf-8", "surrogatepass")

    def put(self, entry: Entry, local: str | None = None) -> None:
        self.put_many([(entry, local)])

    def put_many(self, items: list[tuple[Entry, str | None]]) -> None:
        """Add or replace entries (a window of a folder at a time)."""
        if self._db is None and len(self._mem) + len(items) <= self._spill:
            self._mem.update((e.path, (e, local)) for e, local in items)
            return
        self._disk()
        self._add(items)

    def put_files(self, paths: list[str], digests: list[str], sizes: list[int], locals_: list[str]) -> None:
        """Add plain files, given in columns (a window of a folder): on disk they become a
        run without an Entry made for each when they sort after everything here."""
        if self._db is None and len(self._mem) + len(paths) <= self._spill:
            self._mem.update(zip(paths, zip(map(Entry, paths, digests, sizes), locals_)))
            return
        self._disk()
        if paths and (self._top is None or paths[0] > self._top) and all(map(str.__lt__, paths, paths[1:])):
            self._add_run(paths, digests, sizes, locals_)
        else:
            self._add(list(zip(map(Entry, paths, digests, sizes), locals_)))

    def any_of(self, paths: list[str]) -> bool:
        """Whether any of ``paths`` is here."""
        if self._db is None:
            return any(p in self._mem for p in paths)
        if not paths or (self._top is not None and min(paths) > self._top):
            return False  # all after everything here: the next window of a folder
        db = self._rows()
        assert db is not None
        for i in range(0, len(paths), 900):
            part = [_b(p) for p in paths[i : i + 900]]
            q = f"SELECT 1 FROM e WHERE path IN ({','.join('?' * len(part))}) LIMIT 1"
            if db.execute(q, part).fetchone() is not None:
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
        db = self._rows()
        if db is None:
            hits = [p for p in self._mem if p.startswith(prefix)]
            for p in hits:
                del self._mem[p]
            return len(hits)
        lo = _b(prefix)
        hi = _b(prefix[:-1] + chr(ord(prefix[-1]) + 1))
        return db.execute("DELETE FROM e WHERE path >= ? AND path < ?", (lo, hi)).rowcount

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
        for e, _ in self._read_runs():  # every path in a run sorts after the rows
            yield e

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
        self._runs, self._top = 0, None


class _View(SortedEntries):
    def __init__(self, staged: StagedEntries) -> None:
        self._staged = staged

    def __iter__(self) -> Iterator[Entry]:
        return self._staged.sorted()

    def __len__(self) -> int:
        return len(self._staged)
