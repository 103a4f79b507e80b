"""Distributed drafts: many runs contribute entries to one version; one run finishes it.

Contributions are rows keyed by (draft, path). The same path with the same digest from
two runs is fine; a different digest from another run is a ConflictError naming both.
A finished draft refuses further contributions for ever.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator

from ..core import manifest as mf
from ..core.errors import ConflictError, LockedError, UsageError
from ..core.limits import MAX_ENTRY_DIGEST, check_text
from ..core.names import check_distributed_id
from ..core.versions import CommitRequest, DraftState, VersionInfo
from ..storage.base import BlobStore
from ..storage.meta.sql import MetaStore
from ..storage.meta.tx import Tx, batches, in_list, insert_ignore, lock_row
from . import gcmarks, records
from .rows import ArtifactRow, DraftRow
from .commit import check_blobs, commit_in_tx, sorted_entries, validate_request, with_gc_retries

OPEN, FINISHED = DraftState.OPEN, DraftState.FINISHED


def check_draft_entries(entries: Iterable[mf.Entry]) -> None:
    """Contributions are rows (``draft_entries``): an entry's digest is at most
    ``MAX_ENTRY_DIGEST`` characters and its reference is text that can be stored."""
    for e in entries:
        if len(e.digest) > MAX_ENTRY_DIGEST:
            raise UsageError(
                f"entry {e.path!r}: its digest is {len(e.digest)} characters long; a distributed artifact "
                f"takes at most {MAX_ENTRY_DIGEST} (a reference's URI is part of it: add it with checksum=True)"
            )
        if e.ref is not None:
            check_text(e.ref, f"entry {e.path!r}: reference")


def _draft(tx: Tx, art: ArtifactRow, distributed_id: str) -> DraftRow:
    q = "SELECT * FROM drafts WHERE artifact_id = :art AND distributed_id = :d"
    key = {"art": art.id, "d": distributed_id}
    row = tx.first(q, key)
    if row is None:
        insert_ignore(
            tx,
            "drafts",
            {"artifact_id": art.id, "distributed_id": distributed_id, "state": OPEN, "created_at": tx.now()},
        )
        row = tx.first(q, key)
    if row.state == FINISHED:
        v = tx.scalar("SELECT idx FROM versions WHERE id = :v", {"v": row.version_id})
        raise LockedError(
            f"distributed artifact {art.name!r} (distributed_id {distributed_id!r}) was finished by run "
            f"{row.finished_by} as v{v}; it can no longer change. Use a new distributed_id for a new version"
        )
    return row


def _merge(tx: Tx, draft_id: int, entries: Iterable[mf.Entry], run_id: str | None, run_project: int, name: str) -> None:
    by_path = {e.path: e for e in entries}
    known: dict[str, tuple[str, str | None]] = {}
    for part in batches(list(by_path)):
        ph, params = in_list(part)
        q = f"SELECT path, digest, run_id FROM draft_entries WHERE draft_id = :draft AND path IN {ph}"
        known.update({p: (d, r) for p, d, r in tx.tuples(q, {**params, "draft": draft_id})})
    fresh, replaced = [], []
    for p, e in by_path.items():
        if p not in known:
            fresh.append(e)
            continue
        digest, other = known[p]
        if digest == e.digest:
            continue
        if other != run_id:
            raise ConflictError(
                f"path {p!r} of distributed artifact {name!r} has different content from run {other} "
                f"({digest}) and run {run_id} ({e.digest}); make each path come from one run",
                path=p,
                runs=(str(other), str(run_id)),
            )
        replaced.append(e)
    for e in replaced:
        tx.execute("DELETE FROM draft_entries WHERE draft_id = :draft AND path = :p", {"draft": draft_id, "p": e.path})
    rows = [
        {
            "draft_id": draft_id,
            "path": e.path,
            "digest": e.digest,
            "size": e.size,
            "ref": e.ref,
            "extra": json.dumps(dict(e.extra)) if e.extra else None,
            **records.run_columns((run_project, run_id) if run_id else None),
        }
        for e in fresh + replaced
    ]
    if rows:
        cols = list(rows[0])
        tx.execute_many(
            f"INSERT INTO draft_entries ({', '.join(cols)}) VALUES ({', '.join(':' + c for c in cols)})", rows
        )


@contextlib.contextmanager
def _contribution(ms: MetaStore, blobs: BlobStore, req: CommitRequest, distributed_id: str) -> Iterator:
    """Check a contribution, then merge it into the open draft inside a write transaction
    that the caller continues: yields (connection, artifact row, draft row)."""
    check_distributed_id(distributed_id)
    validate_request(req)
    entries = sorted_entries(req.entries or [])
    check_draft_entries(entries)
    checked = gcmarks.begin_checks(ms, blobs)
    check_blobs(blobs, entries)
    blobs.flush()
    with ms.write() as tx:
        gcmarks.guard(tx)
        gcmarks.check_fresh(tx, checked, blobs, entries, ())
        art = records.ensure_artifact(tx, req.entity, req.project, req.name, req.type)
        lock_row(tx, "artifacts", art.id)
        draft = _draft(tx, art, distributed_id)
        gcmarks.settle(tx, blobs, entries, ())
        _merge(tx, draft.id, entries, req.run_id, art.project_id, req.name)
        yield tx, art, draft


def upsert(ms: MetaStore, blobs: BlobStore, req: CommitRequest, distributed_id: str) -> None:
    """Add ``req.entries`` to the open draft ``distributed_id`` of the artifact (created if new)."""
    with_gc_retries(lambda _reuse: _upsert_once(ms, blobs, req, distributed_id))


def _upsert_once(ms: MetaStore, blobs: BlobStore, req: CommitRequest, distributed_id: str) -> None:
    with _contribution(ms, blobs, req, distributed_id) as (tx, art, draft):
        if req.run_id:
            run_id = records.project_run(tx, art.project_id, req.run_id)
            insert_ignore(
                tx, "outputs_pending", {"draft_id": draft.id, "run_project": art.project_id, "run_id": run_id}
            )


def finish(ms: MetaStore, blobs: BlobStore, req: CommitRequest, distributed_id: str) -> VersionInfo:
    """Merge the finisher's entries, commit every contribution as one version, and lock the draft."""
    return with_gc_retries(lambda _reuse: _finish_once(ms, blobs, req, distributed_id))


def _finish_once(ms: MetaStore, blobs: BlobStore, req: CommitRequest, distributed_id: str) -> VersionInfo:
    with _contribution(ms, blobs, req, distributed_id) as (tx, art, draft):
        rows = tx.tuples(
            "SELECT path, digest, size, ref, extra FROM draft_entries WHERE draft_id = :draft ORDER BY path",
            {"draft": draft.id},
        )
        all_entries = [mf.Entry(p, d, n, ref, json.loads(extra) if extra else {}) for p, d, n, ref, extra in rows]
        chunks: dict[str, bytes] = {}
        root = mf.build(sorted_entries(all_entries), chunks.__setitem__)
        ms.put_chunks(chunks, tx)
        gcmarks.settle(tx, blobs, (), list(chunks))
        version_id = commit_in_tx(tx, art, root, req)
        draft_key = {"draft": draft.id}
        contributors = tx.tuples("SELECT run_project, run_id FROM outputs_pending WHERE draft_id = :draft", draft_key)
        t = tx.now()
        insert_ignore(
            tx,
            "outputs",
            [{"run_project": p, "run_id": r, "version_id": version_id, "at": t} for p, r in contributors],
        )
        tx.execute("DELETE FROM draft_entries WHERE draft_id = :draft", draft_key)
        tx.execute("DELETE FROM outputs_pending WHERE draft_id = :draft", draft_key)
        tx.execute(
            "UPDATE drafts SET state = :s, version_id = :v, finished_by = :by, finished_by_project = :byp "
            "WHERE id = :draft",
            {
                **draft_key,
                "s": FINISHED,
                "v": version_id,
                "by": req.run_id,
                "byp": art.project_id if req.run_id else None,
            },
        )
        return records.version_by_id(tx, version_id)


def draft_state(ms: MetaStore, entity: str, project: str, name: str, distributed_id: str) -> dict | None:
    with ms.read() as tx:
        art = records.artifact_row(tx, entity, project, name)
        if art is None:
            return None
        row = tx.first(
            "SELECT * FROM drafts WHERE artifact_id = :art AND distributed_id = :d",
            {"art": art.id, "d": distributed_id},
        )
        if row is None:
            return None
        n = tx.scalar("SELECT count(*) FROM draft_entries WHERE draft_id = :draft", {"draft": row.id})
        return {"state": row.state, "entries": n, "version_id": row.version_id}
