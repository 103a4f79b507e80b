"""The writers' side of garbage collection: what a commit does so that gc never removes a
blob or manifest chunk it relies on. The argument is written down in docs/gc.md.

In short: gc marks a candidate (``gc_marks``, state 'marked', with the store's clock time),
condemns it only after a grace period and only if the mark is still there (state
'deleting'), removes its bytes, and keeps a tombstone (state 'deleted') one more grace
period. Every transaction that makes a version or a draft reference blobs and chunks calls
``settle`` first: it clears their marks, and refuses a blob gc is removing or has removed
unless the bytes are back. Presence checks a commit relies on are at most one grace period
old (``check_fresh``), so a tombstone is still there for any blob that vanished after them.

On PostgreSQL these transactions hold a shared advisory lock and gc's state changes an
exclusive one, so each commit is ordered before or after each gc step as on SQLite, whose
``BEGIN IMMEDIATE`` already orders every writer.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta

from ..core.manifest import Entry
from ..core.errors import BlobNotFoundError, StoreError
from ..storage.base import BlobStore, Recipes
from ..storage.meta.sql import MetaStore
from ..storage.meta.tx import Tx, batches, in_list

log = logging.getLogger("cairn.gc")

GC_LOCK = 727275  # pg advisory lock key of gc state changes (727274 is the migration lock)
DEFAULT_GRACE_S = 3600.0
MARKED, DELETING, DELETED = "marked", "deleting", "deleted"
BLOB, CHUNK = "blob", "chunk"


class Retry(Exception):
    """Internal: the commit must run again from its presence checks (the reason says why)."""

    def __init__(self, reason: str, reuse: bool = True) -> None:
        super().__init__(reason)
        self.reuse = reuse


class Collecting(Retry):
    """Internal: gc is removing a blob this commit names; wait for it to finish, then retry."""


def guard(tx: Tx, exclusive: bool = False) -> None:
    """Order this transaction against gc's state changes (PostgreSQL; SQLite writers are
    ordered by BEGIN IMMEDIATE). Must be the transaction's first statement."""
    if tx.dialect == "postgresql":
        fn = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
        tx.execute(f"SELECT {fn}({GC_LOCK})")


def store_now(tx: Tx) -> datetime:
    """The store's own clock: PostgreSQL's (shared by every replica), or this machine's for
    SQLite (shared by every process that can open the file)."""
    if tx.dialect == "postgresql":
        value = tx.scalar("SELECT clock_timestamp()")
        return value.astimezone(UTC)
    return datetime.now(UTC)


def ts(tx: Tx, when: datetime) -> datetime | str:
    """A time as the store writes it (text on SQLite, the same format as ``SqliteTx.now``)."""
    if tx.dialect == "postgresql":
        return when
    return when.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def grace_seconds(tx: Tx) -> float:
    value = tx.scalar("SELECT value FROM store_settings WHERE key = 'gc_grace_seconds'")
    return float(value) if value is not None else DEFAULT_GRACE_S


def set_grace(ms: MetaStore, seconds: float) -> None:
    if not seconds > 0:
        raise StoreError(f"the gc grace period must be positive, got {seconds!r} seconds")
    with ms.write() as tx:
        guard(tx, exclusive=True)
        tx.execute("DELETE FROM store_settings WHERE key = 'gc_grace_seconds'")
        tx.execute(
            "INSERT INTO store_settings (key, value) VALUES ('gc_grace_seconds', :v)", {"v": repr(float(seconds))}
        )


class Checked:
    """When a commit's presence checks began (store clock) and the grace period then."""

    __slots__ = ("at", "grace")

    def __init__(self, at: datetime, grace: float) -> None:
        self.at, self.grace = at, grace


def begin_checks(ms: MetaStore, blobs: BlobStore) -> Checked:
    """Call before a commit's presence checks: notes the store's time, and bounds how old
    the blob store's memory of present blobs may be (a fifth of the grace period)."""
    with ms.read() as tx:
        checked = Checked(store_now(tx), grace_seconds(tx))
    limit = getattr(blobs, "limit_seen", None)  # only stores that remember presence have it
    if limit is not None:
        limit(checked.grace / 5)
    return checked


def check_fresh(
    tx: Tx, checked: Checked, blobs: BlobStore, entries: Iterable[Entry], chunk_keys: Iterable[str]
) -> None:
    """Make sure the commit's presence checks can be relied on: a blob removed after them
    must still have its tombstone. Their age is the time since they began plus what a
    remembered answer may add (a fifth of the grace); past 0.8 x grace (a margin for clocks)
    they are done again here, inside the transaction, asking the stores themselves."""
    elapsed = (store_now(tx) - checked.at).total_seconds()
    if elapsed + checked.grace / 5 < checked.grace * 0.8:
        return
    log.info("the blob checks took %.1f s against gc's grace period of %g s: checking again", elapsed, checked.grace)
    it = _relied_on(blobs, entries)
    while part := list(itertools.islice(it, 5000)):
        missing = set(part) - stored_now(blobs, part)
        if missing:
            raise BlobNotFoundError(
                sorted(missing)[0], "(removed by garbage collection before this commit); log the files again"
            )
    keys = iter(chunk_keys)
    while part := list(itertools.islice(keys, 500)):
        ph, params = in_list(sorted(set(part)))
        if tx.scalar(f"SELECT count(*) FROM chunks WHERE key IN {ph}", params) != len(set(part)):
            raise Retry("a manifest chunk this commit found stored was removed by gc", reuse=False)


def settle(tx: Tx, blobs: BlobStore, entries: Iterable[Entry], chunk_keys: Iterable[str]) -> None:
    """In the transaction that makes something reference the blobs of ``entries`` and the
    manifest chunks ``chunk_keys``: clear their gc marks; for a blob gc is removing raise
    Collecting; for one it removed, go on only if its bytes are back (BlobNotFoundError
    otherwise); for a removed chunk, Retry (the commit writes its chunks again)."""
    if tx.scalar("SELECT 1 FROM gc_marks LIMIT 1") is None:
        return  # the common case: no gc is between its mark and its sweep
    count = tx.scalar("SELECT count(*) FROM gc_marks")
    for kind, keys in ((BLOB, _relied_on(blobs, entries)), (CHUNK, chunk_keys)):
        hits = _marks_among(tx, kind, keys, count)
        if not hits:
            continue
        cleared = [d for d, s in hits.items() if s == MARKED]
        gone = [d for d, s in hits.items() if s == DELETED]
        busy = [d for d, s in hits.items() if s == DELETING]
        if busy:
            raise Collecting(f"garbage collection is removing {busy[0]}")
        if gone and kind == CHUNK:
            back: set[str] = set()
            for part in batches(gone):
                ph, params = in_list(part)
                back.update(tx.scalars(f"SELECT key FROM chunks WHERE key IN {ph}", params))
            if set(gone) - back:
                raise Retry(f"manifest chunk {sorted(set(gone) - back)[0]} was removed by gc", reuse=False)
        elif gone:
            back = stored_now(blobs, gone)
            missing = sorted(set(gone) - back)
            if missing:
                raise BlobNotFoundError(
                    missing[0], "(removed by garbage collection after this commit checked it); log the files again"
                )
        _drop(tx, kind, cleared + gone)


def _relied_on(blobs: BlobStore, entries: Iterable[Entry]) -> Iterator[str]:
    """The blobs that entries rely on: their digests, and the chunks of chunked blobs."""
    chunked = blobs if isinstance(blobs, Recipes) else None  # only a store that chunks huge files
    big: list[str] = []
    for e in entries:
        if e.ref is None:
            yield e.digest
            if chunked is not None and e.size >= chunked.chunked_min:
                big.append(e.digest)
    if big and chunked is not None:
        for chunk_list in chunked.recipe_parts(big).values():
            yield from chunk_list


def blob_states(tx: Tx, digests: list[str]) -> dict[str, str]:
    """{digest: gc state} of the blobs among ``digests`` that gc marked or removed."""
    if not digests or tx.scalar("SELECT 1 FROM gc_marks LIMIT 1") is None:
        return {}
    out: dict[str, str] = {}
    for part in batches(sorted(set(digests))):
        ph, params = in_list(part)
        out.update(tx.tuples(f"SELECT digest, state FROM gc_marks WHERE kind = '{BLOB}' AND digest IN {ph}", params))
    return out


def forget_tombstones(tx: Tx, digests: list[str]) -> None:
    """The blobs were written again after gc removed them: they are no longer 'deleted'."""
    for part in batches(digests):
        ph, params = in_list(part)
        tx.execute(f"DELETE FROM gc_marks WHERE kind = '{BLOB}' AND state = '{DELETED}' AND digest IN {ph}", params)


def stored_now(blobs: BlobStore, digests: list[str]) -> set[str]:
    """Which blobs are stored, asked of the store itself (no remembered answers)."""
    fresh = getattr(blobs, "has_stored", None)  # stores that remember or index presence
    return set(fresh(digests) if fresh is not None else blobs.has(digests))


def _marks_among(tx: Tx, kind: str, keys: Iterable[str], count: int) -> dict[str, str]:
    """{key: state} of the marked among ``keys``, streaming them (a commit's keys may be
    millions): few marks are read whole once, many are asked about 500 keys at a time."""
    if count <= 200_000:
        rows = dict(tx.tuples("SELECT digest, state FROM gc_marks WHERE kind = :k", {"k": kind}))
        return {k: rows[k] for k in keys if k in rows} if rows else {}
    out: dict[str, str] = {}
    it = iter(keys)
    while part := list(itertools.islice(it, 500)):
        ph, params = in_list(sorted(set(part)))
        out.update(
            tx.tuples(
                f"SELECT digest, state FROM gc_marks WHERE kind = :kind AND digest IN {ph}", {**params, "kind": kind}
            )
        )
    return out


def _drop(tx: Tx, kind: str, keys: list[str]) -> None:
    for part in batches(keys):
        ph, params = in_list(part)
        tx.execute(f"DELETE FROM gc_marks WHERE kind = :kind AND digest IN {ph}", {**params, "kind": kind})


def cutoff(now: datetime, seconds: float) -> datetime:
    return now - timedelta(seconds=seconds)
