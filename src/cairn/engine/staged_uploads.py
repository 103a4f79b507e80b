"""The records of staged uploads (``staged_uploads``): which project, for which digest, was
handed each staging key. Only a request of that project for that digest may complete a key;
``server/uploads`` holds the upload flow around them.

A completion leases its upload (``take``): the row stays, marked with the time the
completion last said it is alive (``completing_at``, by the metadata store's clock), and
``holding`` refreshes that every ``LEASE_SECONDS / 3`` while the bytes are read. A finished
completion removes the row (``finish``); one that failed for a passing reason gives the
lease back (``release``). A retry of a completion whose answer was lost finds a live lease
and waits; a lease not refreshed for ``LEASE_SECONDS`` is a completion whose server died,
and the retry takes the upload over, from the bytes still staged.

Uploads never completed (the client died) are removed by garbage collection once older
than its ``upload_ttl`` (``abandoned``, engine/gc.py).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from datetime import timedelta

from ..storage.meta.sql import MetaStore
from ..storage.meta.tx import Tx, batches, in_list, insert, insert_ignore
from . import gcmarks, records

log = logging.getLogger(__name__)

# A completion that has not refreshed its lease for this long is taken for dead. Refreshed
# every third of it, so a live one misses two refreshes (a database blip) before a retry
# may take its upload over; a retry after a crash waits at most this long.
LEASE_SECONDS = 30.0


def record(meta: MetaStore, entity: str, project: str, key: str, digest: str, size: int) -> None:
    """Remember that ``key`` stages ``size`` bytes of ``digest`` for the project (created if new)."""
    with meta.write() as tx:
        pid = records.project_id(tx, entity, project, create=True)
        insert(
            tx,
            "staged_uploads",
            {"key": key, "project_id": pid, "digest": digest, "size": size, "created_at": tx.now()},
        )


def record_many(meta: MetaStore, entity: str, project: str, keys: dict[str, tuple[str, int]]) -> None:
    """Remember ``{digest: (staging key, size)}`` of the project's direct uploads, in one
    transaction; a completion refuses staged bytes of another size unread."""
    with meta.write() as tx:
        pid = records.project_id(tx, entity, project, create=True)
        now = tx.now()
        insert_ignore(
            tx,
            "staged_uploads",
            [{"key": k, "project_id": pid, "digest": d, "size": n, "created_at": now} for d, (k, n) in keys.items()],
        )


def _stale(tx: Tx) -> object:
    """Leases refreshed before this time are dead, by the store's clock."""
    return gcmarks.ts(tx, gcmarks.store_now(tx) - timedelta(seconds=LEASE_SECONDS))


def take(meta: MetaStore, entity: str, project: str, key: str, digest: str) -> int | None:
    """Lease the upload ``key`` for completion if it is this project's upload of ``digest``
    and no live completion holds it; returns the size it announced, or None (no such record:
    another project's, another digest's, never handed out or finished; or being completed)."""
    with meta.write() as tx:
        pid = records.project_id(tx, entity, project)
        if pid is None:
            return None
        sizes = tx.scalars(
            "UPDATE staged_uploads SET completing_at = :now WHERE key = :k AND project_id = :p AND digest = :d "
            "AND (completing_at IS NULL OR completing_at < :stale) RETURNING size",
            {"k": key, "p": pid, "d": digest, "now": gcmarks.ts(tx, gcmarks.store_now(tx)), "stale": _stale(tx)},
        )
        return int(sizes[0]) if sizes else None


def being_completed(meta: MetaStore, entity: str, project: str, key: str, digest: str) -> bool:
    """Whether a live completion holds this project's upload ``key`` of ``digest``."""
    with meta.read() as tx:
        pid = records.project_id(tx, entity, project)
        return pid is not None and bool(
            tx.scalar(
                "SELECT 1 FROM staged_uploads WHERE key = :k AND project_id = :p AND digest = :d "
                "AND completing_at >= :stale",
                {"k": key, "p": pid, "d": digest, "stale": _stale(tx)},
            )
        )


def finish(meta: MetaStore, key: str) -> None:
    """The upload ``key`` is done with (stored, or its bytes refused and gone): its record goes."""
    with meta.write() as tx:
        tx.execute("DELETE FROM staged_uploads WHERE key = :k", {"k": key})


def release(meta: MetaStore, key: str) -> None:
    """Give the lease of ``key`` back (its completion failed midway): a retry takes it at once."""
    with meta.write() as tx:
        tx.execute("UPDATE staged_uploads SET completing_at = NULL WHERE key = :k", {"k": key})


def refresh(meta: MetaStore, key: str) -> None:
    with meta.write() as tx:
        tx.execute(
            "UPDATE staged_uploads SET completing_at = :now WHERE key = :k AND completing_at IS NOT NULL",
            {"k": key, "now": gcmarks.ts(tx, gcmarks.store_now(tx))},
        )


@contextlib.contextmanager
def holding(meta: MetaStore, key: str) -> Iterator[None]:
    """Keep the lease of ``key`` alive while the body runs (a thread refreshes it)."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(LEASE_SECONDS / 3):
            try:
                refresh(meta, key)
            except Exception as e:  # a database blip: the next beat tries again
                log.warning("could not refresh the lease of staged upload %s: %s", key, e)

    thread = threading.Thread(target=beat, name="cairn-upload-lease", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def keys_of(meta: MetaStore, entity: str, project: str, digests: list[str]) -> dict[str, list[str]]:
    """This project's staged upload keys of each of ``digests`` that has any."""
    out: dict[str, list[str]] = {}
    with meta.read() as tx:
        pid = records.project_id(tx, entity, project)
        if pid is None:
            return out
        for part in batches(digests):
            ph, params = in_list(part)
            for key, d in tx.tuples(
                f"SELECT key, digest FROM staged_uploads WHERE project_id = :p AND digest IN {ph}", {**params, "p": pid}
            ):
                out.setdefault(d, []).append(key)
    return out


# repeated on the DELETE itself: PostgreSQL checks it again on a row a completion just leased
_ABANDONED = "created_at < :cut AND (completing_at IS NULL OR completing_at < :stale)"


def _abandoned_params(tx: Tx, older_than: float) -> dict:
    now = gcmarks.store_now(tx)
    return {"cut": gcmarks.ts(tx, now - timedelta(seconds=older_than)), "stale": _stale(tx)}


def abandoned(meta: MetaStore, older_than: float, limit: int = 1000) -> list[tuple[str, int]]:
    """Remove up to ``limit`` records of uploads handed out more than ``older_than`` seconds
    ago and not being completed; returns their (staging key, announced size), whose bytes
    the caller removes. A completion that leased one first keeps it; one that comes after
    finds no upload (404: start again)."""
    with meta.write() as tx:
        return tx.tuples(
            f"DELETE FROM staged_uploads WHERE {_ABANDONED} AND key IN "
            f"(SELECT key FROM staged_uploads WHERE {_ABANDONED} ORDER BY created_at LIMIT :n) RETURNING key, size",
            {**_abandoned_params(tx, older_than), "n": limit},
        )


def abandoned_now(meta: MetaStore, older_than: float) -> list[tuple[str, int]]:
    """What ``abandoned`` would remove now (a dry run): (staging key, announced size)."""
    with meta.read() as tx:
        return tx.tuples(f"SELECT key, size FROM staged_uploads WHERE {_ABANDONED}", _abandoned_params(tx, older_than))


def recorded(meta: MetaStore) -> set[str]:
    """The staging keys of every recorded upload: their bytes stay while the record does."""
    with meta.read() as tx:
        return set(tx.scalars("SELECT key FROM staged_uploads"))
