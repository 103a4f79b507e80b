"""The records of staged uploads (``staged_uploads``): which project, for which digest, was
handed each staging key. Only a request of that project for that digest may complete a key,
and completing it removes the record; ``server/uploads`` holds the upload flow around them."""

from __future__ import annotations

from ..storage.meta.sql import MetaStore
from ..storage.meta.tx import batches, in_list, insert, insert_ignore
from . import records


def record(meta: MetaStore, entity: str, project: str, key: str, digest: str, size: int) -> None:
    """Remember that ``key`` stages ``size`` bytes of ``digest`` for the project (created if new)."""
    with meta.write() as tx:
        pid = records.project_id(tx, entity, project, create=True)
        insert(
            tx,
            "staged_uploads",
            {"key": key, "project_id": pid, "digest": digest, "size": size, "created_at": tx.now()},
        )


def record_many(meta: MetaStore, entity: str, project: str, keys: dict[str, str]) -> None:
    """Remember ``{digest: staging key}`` of the project's direct uploads, in one transaction."""
    with meta.write() as tx:
        pid = records.project_id(tx, entity, project, create=True)
        now = tx.now()
        insert_ignore(
            tx,
            "staged_uploads",
            [{"key": k, "project_id": pid, "digest": d, "size": 0, "created_at": now} for d, k in keys.items()],
        )


def take(meta: MetaStore, entity: str, project: str, key: str, digest: str) -> int | None:
    """Remove the record of ``key`` if it is this project's upload of ``digest``; returns the
    size it announced, or None when there is no such record (another project's, another
    digest's, never handed out, or taken already)."""
    with meta.write() as tx:
        pid = records.project_id(tx, entity, project)
        if pid is None:
            return None
        sizes = tx.scalars(
            "DELETE FROM staged_uploads WHERE key = :k AND project_id = :p AND digest = :d RETURNING size",
            {"k": key, "p": pid, "d": digest},
        )
        return int(sizes[0]) if sizes else None


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


def completing(meta: MetaStore, entity: str, project: str, digest: str) -> bool:
    """Whether a server-side write of ``digest`` for this project is under way (its claim)."""
    with meta.read() as tx:
        pid = records.project_id(tx, entity, project)
        if pid is None:
            return False
        return bool(
            tx.scalar("SELECT 1 FROM blob_claims WHERE digest = :d AND project_id = :p", {"d": digest, "p": pid})
        )
