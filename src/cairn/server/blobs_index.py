"""Which project holds which verified blob (dedup is per project, never across)."""

from __future__ import annotations

from sqlalchemy import select

from ..engine import records
from ..storage.meta import schema as s
from ..storage.meta.sql import MetaStore
from ..storage.meta.sqlutil import insert_ignore


def project_has(meta: MetaStore, entity: str, project: str, digests: list[str]) -> set[str]:
    found: set[str] = set()
    with meta.read() as conn:
        pid = records.project_id(conn, entity, project)
        if pid is None:
            return found
        for i in range(0, len(digests), 500):
            part = digests[i : i + 500]
            q = select(s.project_blobs.c.digest).where(
                s.project_blobs.c.project_id == pid, s.project_blobs.c.digest.in_(part)
            )
            found.update(conn.execute(q).scalars())
    return found


def record(meta: MetaStore, entity: str, project: str, digests: list[str]) -> None:
    if not digests:
        return
    with meta.write() as conn:
        pid = records.project_id(conn, entity, project, create=True)
        insert_ignore(conn, s.project_blobs, [{"project_id": pid, "digest": d} for d in dict.fromkeys(digests)])
