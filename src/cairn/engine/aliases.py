"""Alias moves: compare-and-set inside the caller's transaction, each move logged."""

from __future__ import annotations

from ..core.names import LATEST
from ..storage.meta.tx import Tx, as_utc, insert

_KEY = "artifact_id = :art AND alias = :alias"


def _log(tx: Tx, artifact_id: int, alias: str, old: int | None, new: int | None, run_id: str | None) -> None:
    row = {"artifact_id": artifact_id, "alias": alias, "old_version_id": old, "new_version_id": new}
    insert(tx, "alias_log", {**row, "run_id": run_id, "at": tx.now()})


def move_alias(tx: Tx, artifact_id: int, alias: str, version_id: int, run_id: str | None) -> None:
    """Point ``alias`` at ``version_id``. The caller holds the artifact's row lock."""
    key = {"art": artifact_id, "alias": alias}
    old = tx.scalar(f"SELECT version_id FROM aliases WHERE {_KEY}", key)
    if old == version_id:
        return
    if old is None:
        insert(tx, "aliases", {"artifact_id": artifact_id, "alias": alias, "version_id": version_id})
    else:
        moved = tx.execute(
            f"UPDATE aliases SET version_id = :new WHERE {_KEY} AND version_id = :old",
            {**key, "new": version_id, "old": old},
        )
        assert moved == 1, "alias moved under a held artifact lock"
    _log(tx, artifact_id, alias, old, version_id, run_id)


def drop_alias(tx: Tx, artifact_id: int, alias: str, run_id: str | None) -> None:
    key = {"art": artifact_id, "alias": alias}
    old = tx.scalar(f"SELECT version_id FROM aliases WHERE {_KEY}", key)
    if old is None:
        return
    tx.execute(f"DELETE FROM aliases WHERE {_KEY}", key)
    _log(tx, artifact_id, alias, old, None, run_id)


def set_version_aliases(tx: Tx, artifact_id: int, version_id: int, wanted: list[str], run_id: str | None) -> None:
    """Make the version's aliases exactly ``wanted`` (``latest`` is left where it is unless named)."""
    current = set(tx.scalars("SELECT alias FROM aliases WHERE version_id = :v", {"v": version_id}))
    for alias in current - set(wanted) - {LATEST}:
        drop_alias(tx, artifact_id, alias, run_id)
    for alias in wanted:
        move_alias(tx, artifact_id, alias, version_id, run_id)


def alias_history(tx: Tx, artifact_id: int) -> list[dict]:
    rows = [
        r._asdict()
        for r in tx.rows("SELECT * FROM alias_log WHERE artifact_id = :art ORDER BY id", {"art": artifact_id})
    ]
    for r in rows:  # every time cairn returns is UTC-aware
        r["at"] = as_utc(r["at"])
    return rows
