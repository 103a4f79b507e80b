"""Alias moves: compare-and-set inside the caller's transaction, each move logged."""

from __future__ import annotations

from sqlalchemy import Connection, select

from ..core.names import LATEST
from ..storage.meta import schema as s
from ..storage.meta.sqlutil import now


def move_alias(conn: Connection, artifact_id: int, alias: str, version_id: int, run_id: str | None) -> None:
    """Point ``alias`` at ``version_id``. The caller holds the artifact's row lock."""
    key = (s.aliases.c.artifact_id == artifact_id) & (s.aliases.c.alias == alias)
    old = conn.execute(select(s.aliases.c.version_id).where(key)).scalar()
    if old == version_id:
        return
    if old is None:
        conn.execute(s.aliases.insert().values(artifact_id=artifact_id, alias=alias, version_id=version_id))
    else:
        res = conn.execute(s.aliases.update().where(key & (s.aliases.c.version_id == old)).values(version_id=version_id))
        assert res.rowcount == 1, "alias moved under a held artifact lock"
    conn.execute(
        s.alias_log.insert().values(
            artifact_id=artifact_id, alias=alias, old_version_id=old, new_version_id=version_id, run_id=run_id, at=now()
        )
    )


def drop_alias(conn: Connection, artifact_id: int, alias: str, run_id: str | None) -> None:
    key = (s.aliases.c.artifact_id == artifact_id) & (s.aliases.c.alias == alias)
    old = conn.execute(select(s.aliases.c.version_id).where(key)).scalar()
    if old is None:
        return
    conn.execute(s.aliases.delete().where(key))
    conn.execute(
        s.alias_log.insert().values(
            artifact_id=artifact_id, alias=alias, old_version_id=old, new_version_id=None, run_id=run_id, at=now()
        )
    )


def set_version_aliases(
    conn: Connection, artifact_id: int, version_id: int, wanted: list[str], run_id: str | None
) -> None:
    """Make the version's aliases exactly ``wanted`` (``latest`` is left where it is unless named)."""
    current = set(
        conn.execute(select(s.aliases.c.alias).where(s.aliases.c.version_id == version_id)).scalars()
    )
    for alias in current - set(wanted) - {LATEST}:
        drop_alias(conn, artifact_id, alias, run_id)
    for alias in wanted:
        move_alias(conn, artifact_id, alias, version_id, run_id)


def alias_history(conn: Connection, artifact_id: int) -> list[dict]:
    from datetime import UTC

    q = select(s.alias_log).where(s.alias_log.c.artifact_id == artifact_id).order_by(s.alias_log.c.id)
    rows = [dict(r._mapping) for r in conn.execute(q)]
    for r in rows:  # SQLite hands back naive datetimes; every time cairn returns is UTC-aware
        if r["at"] is not None and r["at"].tzinfo is None:
            r["at"] = r["at"].replace(tzinfo=UTC)
    return rows
