"""Distributed drafts: many runs contribute entries to one version; one run finishes it.

Contributions are rows keyed by (draft, path). The same path with the same digest from
two runs is fine; a different digest from another run is a ConflictError naming both.
A finished draft refuses further contributions for ever.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator

from sqlalchemy import Connection, select

from ..core import manifest as mf
from ..core.errors import ConflictError, LockedError
from ..core.versions import CommitRequest, VersionInfo
from ..storage.base import BlobStore
from ..storage.meta import schema as s
from ..storage.meta.sql import MetaStore
from ..storage.meta.sqlutil import insert_ignore, lock_row, now
from . import records
from .commit import check_blobs, commit_in_tx, sorted_entries, validate_request

OPEN, FINISHED = "OPEN", "FINISHED"


def _draft(conn: Connection, art, distributed_id: str):  # noqa: ANN001, ANN202
    q = select(s.drafts).where(s.drafts.c.artifact_id == art.id, s.drafts.c.distributed_id == distributed_id)
    row = conn.execute(q).first()
    if row is None:
        insert_ignore(
            conn, s.drafts, {"artifact_id": art.id, "distributed_id": distributed_id, "state": OPEN, "created_at": now()}
        )
        row = conn.execute(q).one()
    if row.state == FINISHED:
        v = conn.execute(select(s.versions.c.idx).where(s.versions.c.id == row.version_id)).scalar()
        raise LockedError(
            f"distributed artifact {art.name!r} (distributed_id {distributed_id!r}) was finished by run "
            f"{row.finished_by} as v{v}; it can no longer change. Use a new distributed_id for a new version"
        )
    return row


def _merge(conn: Connection, draft_id: int, entries: list[mf.Entry], run_id: str | None, name: str) -> None:
    by_path = {e.path: e for e in entries}
    paths = list(by_path)
    known: dict[str, tuple[str, str | None]] = {}
    for i in range(0, len(paths), 500):
        part = paths[i : i + 500]
        q = select(s.draft_entries.c.path, s.draft_entries.c.digest, s.draft_entries.c.run_id).where(
            s.draft_entries.c.draft_id == draft_id, s.draft_entries.c.path.in_(part)
        )
        known.update({p: (d, r) for p, d, r in conn.execute(q)})
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
        conn.execute(
            s.draft_entries.delete().where(s.draft_entries.c.draft_id == draft_id, s.draft_entries.c.path == e.path)
        )
    rows = [
        {
            "draft_id": draft_id,
            "path": e.path,
            "digest": e.digest,
            "size": e.size,
            "ref": e.ref,
            "extra": json.dumps(dict(e.extra)) if e.extra else None,
            "run_id": run_id,
        }
        for e in fresh + replaced
    ]
    if rows:
        conn.execute(s.draft_entries.insert(), rows)


@contextlib.contextmanager
def _contribution(ms: MetaStore, blobs: BlobStore, req: CommitRequest, distributed_id: str) -> Iterator:
    """Check a contribution, then merge it into the open draft inside a write transaction
    that the caller continues: yields (connection, artifact row, draft row)."""
    validate_request(req)
    entries = sorted_entries(req.entries or [])
    check_blobs(blobs, entries)
    blobs.flush()
    with ms.write() as conn:
        art = records.ensure_artifact(conn, req.entity, req.project, req.name, req.type)
        lock_row(conn, s.artifacts, art.id)
        draft = _draft(conn, art, distributed_id)
        _merge(conn, draft.id, entries, req.run_id, req.name)
        yield conn, art, draft


def upsert(ms: MetaStore, blobs: BlobStore, req: CommitRequest, distributed_id: str) -> None:
    """Add ``req.entries`` to the open draft ``distributed_id`` of the artifact (created if new)."""
    with _contribution(ms, blobs, req, distributed_id) as (conn, _art, draft):
        if req.run_id:
            insert_ignore(conn, s.outputs_pending, {"draft_id": draft.id, "run_id": req.run_id})


def finish(ms: MetaStore, blobs: BlobStore, req: CommitRequest, distributed_id: str) -> VersionInfo:
    """Merge the finisher's entries, commit every contribution as one version, and lock the draft."""
    with _contribution(ms, blobs, req, distributed_id) as (conn, art, draft):
        rows = conn.execute(
            select(s.draft_entries).where(s.draft_entries.c.draft_id == draft.id).order_by(s.draft_entries.c.path)
        ).all()
        all_entries = [
            mf.Entry(r.path, r.digest, r.size, r.ref, json.loads(r.extra) if r.extra else {}) for r in rows
        ]
        chunks: dict[str, bytes] = {}
        root = mf.build(sorted_entries(all_entries), chunks.__setitem__)
        ms.put_chunks(chunks, conn)
        version_id = commit_in_tx(conn, art, root, req)
        contributors = conn.execute(
            select(s.outputs_pending.c.run_id).where(s.outputs_pending.c.draft_id == draft.id)
        ).scalars().all()
        insert_ignore(conn, s.outputs, [{"run_id": r, "version_id": version_id, "at": now()} for r in contributors])
        conn.execute(s.draft_entries.delete().where(s.draft_entries.c.draft_id == draft.id))
        conn.execute(s.outputs_pending.delete().where(s.outputs_pending.c.draft_id == draft.id))
        conn.execute(
            s.drafts.update()
            .where(s.drafts.c.id == draft.id)
            .values(state=FINISHED, version_id=version_id, finished_by=req.run_id)
        )
        return records.version_by_id(conn, version_id)


def draft_state(ms: MetaStore, entity: str, project: str, name: str, distributed_id: str) -> dict | None:
    with ms.read() as conn:
        art = records.artifact_row(conn, entity, project, name)
        if art is None:
            return None
        row = conn.execute(
            select(s.drafts).where(s.drafts.c.artifact_id == art.id, s.drafts.c.distributed_id == distributed_id)
        ).first()
        if row is None:
            return None
        n = conn.execute(
            select(s.draft_entries.c.path).where(s.draft_entries.c.draft_id == row.id)
        ).all()
        return {"state": row.state, "entries": len(n), "version_id": row.version_id}
