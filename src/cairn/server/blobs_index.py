"""Which project holds which verified blob (dedup is per project, never across)."""

from __future__ import annotations

from ..engine import records
from ..storage.meta.sql import MetaStore, batches, in_list, insert_ignore


def project_has(meta: MetaStore, entity: str, project: str, digests: list[str]) -> set[str]:
    found: set[str] = set()
    with meta.read() as tx:
        pid = records.project_id(tx, entity, project)
        if pid is None:
            return found
        for part in batches(digests):
            ph, params = in_list(part)
            q = f"SELECT digest FROM project_blobs WHERE project_id = :pid AND digest IN {ph}"
            found.update(tx.scalars(q, {**params, "pid": pid}))
    return found


def record(meta: MetaStore, entity: str, project: str, digests: list[str]) -> None:
    if not digests:
        return
    with meta.write() as tx:
        pid = records.project_id(tx, entity, project, create=True)
        insert_ignore(tx, "project_blobs", [{"project_id": pid, "digest": d} for d in dict.fromkeys(digests)])
