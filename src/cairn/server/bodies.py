"""Large request bodies without holding them: spooled to a temporary file as they arrive,
then read as a stream of JSON events in a worker thread.

A commit of 1,000,000 entries is a ~100 MiB body. Read with ``json.loads`` it took ~1 s of
C code holding the GIL (so no other request was answered meanwhile) and ~700 MB of
objects; here the entries go from the event stream (ijson's C parser, one event at a time,
so the GIL changes hands) into an on-disk table, which the commit reads back in path
order, ``WINDOW`` entries at a time.
"""

from __future__ import annotations

import functools
import sqlite3
import tempfile
from collections.abc import Iterator
from types import ModuleType
from typing import IO, Any, TypeVar, overload

from fastapi import Request
from pydantic import BaseModel, TypeAdapter

from ..core import errors as E
from ..core.limits import MAX_JSON_DEPTH, json_depth_ok
from ..core.manifest import Entry, SortedEntries
from ..core.versions import CommitRequest
from . import models
from .errors import PayloadTooLarge

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

SPOOL_IN_MEMORY = 1 << 20  # bodies up to this size never touch the disk
WINDOW = 8192  # entries held as objects at a time
VALIDATE = 1024  # rows validated per call (each call holds the GIL throughout)
STREAM_FROM = 8 << 20  # commit bodies larger than this are parsed as a stream (smaller: at once)


async def spool(request: Request, limit: int) -> IO[bytes]:
    """The request body in a temporary file (in memory while small), at most ``limit`` bytes.
    Writes past the in-memory part run in a worker thread: a disk under write-back
    pressure can block ``write`` for long, and never on the event loop."""
    import anyio

    f = tempfile.SpooledTemporaryFile(SPOOL_IN_MEMORY, prefix="cairn-body-")
    size, pending = 0, []
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(limit)
            pending.append(chunk)
            if sum(map(len, pending)) >= SPOOL_IN_MEMORY:
                data, pending = b"".join(pending), []
                await anyio.to_thread.run_sync(f.write, data)
        if pending:
            await anyio.to_thread.run_sync(f.write, b"".join(pending))
        f.seek(0)
        return f
    except BaseException:
        await anyio.to_thread.run_sync(f.close)
        raise


def commit_request(entity: str, project: str, name: str, f: IO[bytes]) -> CommitRequest:
    """A commit request from a JSON body that must fit ``models.CommitBody``. Its
    ``entries`` are a ``SpilledEntries`` (sorted, unique, on disk): the caller closes it.

    Two passes over the spooled body: the fields, validated by ``CommitBody`` with the
    entries only skipped, then the entries as ijson's C parser builds each row, validated
    ``WINDOW`` rows at a time by the same row schema (1,000,000 entries: ~1 s and ~0.4 s of
    parsing; one pass dispatching every event in Python took ~4 s). The C parser cannot hold
    an integer of 2**63 or more: such a body is read again by ijson's Python parser, so that
    the schema names the field that is out of range."""
    import ijson

    try:
        try:
            return _commit_request(ijson, entity, project, name, f)
        except ijson.JSONError as e:
            if "integer overflow" not in str(e):
                raise
            f.seek(0)
            return _commit_request(ijson.get_backend("python"), entity, project, name, f)
    except ijson.JSONError as e:
        raise E.UsageError(f"Invalid JSON: the request body is not valid JSON: {e}") from None
    except UnicodeError:
        raise E.UsageError(_NOT_UNICODE) from None


def _commit_request(parser: ModuleType, entity: str, project: str, name: str, f: IO[bytes]) -> CommitRequest:
    empty = not f.read(1)
    f.seek(0)
    fields: dict[str, Any] = {}
    if not empty:
        events = parser.parse(f, use_float=True)
        fields = _fields(events)
        for _ in events:  # ijson raises on anything but white space after the object
            raise E.UsageError("the request body has more after its JSON object")
    has_entries = fields.get("entries") is _SKIPPED
    if has_entries:
        del fields["entries"]
    req = models.commit_request(entity, project, name, _validate(models.CommitBody, fields))
    if has_entries:
        f.seek(0)
        spill = SpilledEntries()
        try:
            rows: list = []
            done = 0
            for row in parser.items(f, "entries.item", use_float=True):
                rows.append(row)
                if len(rows) >= WINDOW:
                    spill.add_many(_entries(rows, done))
                    done, rows = done + len(rows), []
            spill.add_many(_entries(rows, done))
            spill.flush()
        except BaseException:
            spill.close()
            raise
        req.entries, req.base_version_id, req.edits = spill, None, None
    return req


_NOT_UNICODE = (
    "the request body holds a string that is not valid Unicode (a lone surrogate escape such as "
    "\\udc80, or bytes that are not UTF-8); send text as UTF-8"
)


@overload
def _validate(model: type[M], data: Any, where: tuple[str, int] | tuple[()] = ()) -> M: ...
@overload
def _validate(model: TypeAdapter[T], data: Any, where: tuple[str, int] | tuple[()] = ()) -> T: ...
def _validate(model: type[BaseModel] | TypeAdapter[Any], data: Any, where: tuple[str, int] | tuple[()] = ()) -> Any:
    """``model`` (a pydantic model or TypeAdapter) validating ``data``; a failure is the API's
    one 400 shape (RequestValidationError), located in the body."""
    from fastapi.exceptions import RequestValidationError
    from pydantic import ValidationError

    try:
        import json

        # JSON mode, as the schema is meant (no lax coercion such as "1" or 1.0 for a size)
        if isinstance(model, type):
            return model.model_validate_json(json.dumps(data))
        return model.validate_json(json.dumps(data))
    except ValidationError as e:
        errors = []
        for err in e.errors():
            loc = err["loc"]
            if where and loc and isinstance(loc[0], int):  # a row's index within its window
                loc = (where[0], loc[0] + where[1], *loc[1:])
            errors.append({**err, "loc": ("body", *loc)})
        raise RequestValidationError(errors) from None


@functools.cache
def _rows_schema() -> TypeAdapter[list[models.EntryRow]]:
    return TypeAdapter(list[models.EntryRow])


def _entries(rows: list, first: int) -> list[Entry]:
    """Entries from raw rows ``first`` … of the body's ``entries``, through the row schema."""
    if not rows:
        return []
    for i, row in enumerate(rows):
        # a row (its extra, or any element) nested past the limit is refused before anything
        # recurses over it (json.dumps in _validate raises RecursionError at ~1,000 levels);
        # rows of scalars, nearly all of them, skip the walk
        nests = isinstance(row, dict) or (isinstance(row, list) and any(isinstance(x, (dict, list)) for x in row))
        if nests and not json_depth_ok(row, _MAX_DEPTH):
            raise E.UsageError(
                f"body.entries.{first + i}: the entry is nested more than {_MAX_DEPTH} levels deep; flatten it"
            )
    # validated VALIDATE rows at a time: json.dumps and pydantic-core hold the GIL for a whole
    # call, and 8,192 rows at once held it for tens of ms, which /api/health waited out (a
    # py-spy --gil sample of a 1,000,000-entry commit: _validate was the top holder after
    # the spill's inserts; bench/health_latency.py, RESULTS.md)
    out: list[Entry] = []
    for at in range(0, len(rows), VALIDATE):
        part = rows[at : at + VALIDATE]
        out += models.entries_of(_validate(_rows_schema(), part, ("entries", first + at)))
    return out


_SKIPPED = object()
_OPEN, _CLOSE = ("start_map", "start_array"), ("end_map", "end_array")
# metadata may nest MAX_JSON_DEPTH levels (the engine says so when it is more); beyond a few
# more, the body is refused as it is read
_MAX_DEPTH = MAX_JSON_DEPTH + 8


def _fields(events: Iterator[tuple[str, str, Any]]) -> dict[str, Any]:
    """The top-level fields of a JSON object, an ``entries`` list skipped (given as _SKIPPED). Tracks
    depth itself: ijson's dotted prefixes are ambiguous for keys with dots or empty keys."""
    from ijson.common import ObjectBuilder

    it = events
    first = next(it, None)
    if first is None or first[1] != "start_map":
        raise E.UsageError("the request body must be a JSON object")
    fields: dict[str, Any] = {}
    for _prefix, event, key in it:
        if event == "end_map":
            return fields
        assert event == "map_key"
        _p, event, value = next(it)
        if key == "entries" and event == "start_array":  # anything else: the schema says what is wrong
            if "entries" in fields:
                raise E.UsageError("'entries' is given twice")
            fields["entries"] = _SKIPPED
            depth = 1
            for _p, ev, _v in it:  # skipped here, read by the second pass
                if ev in _OPEN:
                    depth += 1
                elif ev in _CLOSE:
                    depth -= 1
                    if depth == 0:
                        break
            continue
        if event not in _OPEN:
            fields[key] = value
            continue
        builder = ObjectBuilder()
        builder.event(event, value)
        depth = 1
        for _p, ev, v in it:
            builder.event(ev, v)
            depth += (ev in _OPEN) - (ev in _CLOSE)
            if depth == 0:
                break
            if depth > _MAX_DEPTH:  # refused while reading: a deeper value is never built
                raise E.UsageError(
                    f"body.{key}: the request body is nested more than {_MAX_DEPTH} levels deep; flatten it"
                )
        fields[key] = builder.value
    raise E.UsageError("the request body ends before its JSON object does")


class SpilledEntries(SortedEntries):
    """Entries received one by one, kept in a private temporary SQLite table keyed by path
    (UTF-8 bytes with "surrogatepass", whose order is Python's str order), read back in path
    order. A path sent twice must have the same digest."""

    def __init__(self) -> None:
        self._db: sqlite3.Connection | None = None
        self._held: list[Entry] = []
        self._count = 0

    def _disk(self) -> sqlite3.Connection:
        if self._db is None:
            db = sqlite3.connect("", isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=OFF")
            db.execute("PRAGMA synchronous=OFF")
            db.execute(
                "CREATE TABLE e (path BLOB PRIMARY KEY, digest TEXT, size INTEGER, ref TEXT, extra TEXT) WITHOUT ROWID"
            )
            self._db = db
        return self._db

    def add_many(self, entries: list[Entry]) -> None:
        self._held += entries
        if len(self._held) >= WINDOW:
            self.flush()

    def flush(self) -> None:
        if not self._held:
            return
        import json

        rows = [
            (
                e.path.encode("utf-8", "surrogatepass"),
                e.digest,
                e.size,
                e.ref,
                json.dumps(dict(e.extra)) if e.extra else None,
            )
            for e in self._held
        ]
        db = self._disk()
        try:
            db.execute("BEGIN")
            before = db.total_changes
            db.executemany("INSERT OR IGNORE INTO e VALUES (?, ?, ?, ?, ?)", rows)
            added = db.total_changes - before
            if added != len(rows):
                self._check_repeats(db, rows)
            db.execute("COMMIT")
        except sqlite3.OperationalError as e:
            raise E.StoreError(
                f"the server could not keep a commit's entries in a temporary file ({e}); "
                f"free space in {tempfile.gettempdir()} on the server"
            ) from None
        self._count += added
        self._held = []

    @staticmethod
    def _check_repeats(db: sqlite3.Connection, rows: list[tuple]) -> None:
        """Some path came twice: with the same digest that is one entry, with another it is an error."""
        by_path: dict[bytes, str] = {}
        for path, digest, *_ in rows:
            prev = by_path.setdefault(path, digest)
            stored = db.execute("SELECT digest FROM e WHERE path = ?", (path,)).fetchone()
            for other in (prev, stored[0] if stored else digest):
                if other != digest:
                    db.execute("ROLLBACK")
                    p = path.decode("utf-8", "surrogatepass")
                    raise E.UsageError(f"path {p!r} is listed twice with different content ({other}, {digest})")

    def __len__(self) -> int:
        return self._count + len(self._held)

    def __iter__(self) -> Iterator[Entry]:
        self.flush()
        if self._db is None:
            return iter(())
        return self._read(self._db)

    @staticmethod
    def _read(db: sqlite3.Connection) -> Iterator[Entry]:
        import json

        cur = db.execute("SELECT path, digest, size, ref, extra FROM e ORDER BY path")
        while rows := cur.fetchmany(WINDOW):
            for path, digest, size, ref, extra in rows:
                p = path.decode("utf-8", "surrogatepass")
                yield (
                    Entry(p, digest, size)
                    if ref is None and extra is None
                    else Entry(p, digest, size, ref, json.loads(extra) if extra else {})
                )

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
        self._held = []
