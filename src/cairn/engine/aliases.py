"""Alias moves: compare-and-set inside the caller's transaction, each move logged."""

from __future__ import annotations

from ..core.names import LATEST
from ..storage.meta.tx import Tx, as_utc, insert
from .records import RunKey, run_columns

_KEY = "artifact_id = :art AND alias = :alias"


def _log(tx: Tx, artifact_id: int, alias: str, old: int | None, new: int | None, run: RunKey | None) -> None:
    row = {"artifact_id": artifact_id, "alias": alias, "old_version_id": old, "new_version_id": new}
    insert(tx, "alias_log", {**row, **run_columns(run), "at": tx.now()})


def move_alias(tx: Tx, artifact_id: int, alias: str, version_id: int, run: RunKey | None) -> None:
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
    _log(tx, artifact_id, alias, old, version_id, run)


def drop_alias(tx: Tx, artifact_id: int, alias: str, run: RunKey | None) -> None:
    key = {"art": artifact_id, "alias": alias}
    old = tx.scalar(f"SELECT version_id FROM aliases WHERE {_KEY}", key)
    if old is None:
        return
    tx.execute(f"DELETE FROM aliases WHERE {_KEY}", key)
    _log(tx, artifact_id, alias, old, None, run)


def set_version_aliases(tx: Tx, artifact_id: int, version_id: int, wanted: list[str], run: RunKey | None) -> None:
    """Make the version's aliases exactly ``wanted`` (``latest`` is left where it is unless named)."""
    current = set(tx.scalars("SELECT alias FROM aliases WHERE version_id = :v", {"v": version_id}))
    for alias in current - set(wanted) - {LATEST}:
        drop_alias(tx, artifact_id, alias, run)
    for alias in wanted:
        move_alias(tx, artifact_id, alias, version_id, run)


# The run a logged row names, as entity, project and id: the project the row recorded (a
# run id is unique within its project only). A row of a run whose project is not known (a
# row older than schema 11 that named another project's run, or a run whose project was
# deleted since) names no run.
RUN_OF_ROW = (
    "CASE WHEN rp.id IS NULL THEN NULL ELSE l.run_id END AS run_id, rp.entity AS run_entity, rp.name AS run_project"
)
RUN_JOIN = "LEFT OUTER JOIN projects rp ON rp.id = l.run_project"


def alias_history(tx: Tx, artifact_id: int) -> list[dict]:
    """Every move of the collection's aliases, oldest first: ``alias``, ``old_version_id``,
    ``new_version_id``, ``at``, and the run that made it (``run_id``, ``run_entity``,
    ``run_project``: all None when no run is known)."""
    q = (
        f"SELECT l.id, l.artifact_id, l.alias, l.old_version_id, l.new_version_id, {RUN_OF_ROW}, l.at "
        f"FROM alias_log l {RUN_JOIN} WHERE l.artifact_id = :art ORDER BY l.id"
    )
    rows = [r._asdict() for r in tx.rows(q, {"art": artifact_id})]
    for r in rows:  # every time cairn returns is UTC-aware
        r["at"] = as_utc(r["at"])
    return rows
