"""A version's history of edits: one row per change, written in the transaction that makes
it (so a change is never without its record, nor a record without its change)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ..storage.meta.sql import MetaStore
from ..storage.meta.tx import Tx, as_utc, insert
from .aliases import RUN_JOIN, RUN_OF_ROW
from .records import RunKey, run_columns

EDIT, DELETE = "edit", "delete"
MAX_ROWS = 500  # the newest rows a page shows


def record(tx: Tx, version_id: int, action: str, detail: dict[str, Any], by: str | None, run: RunKey | None) -> None:
    """Log one change of ``version_id`` (by user ``by``, run ``run``); an edit that changed
    nothing is not logged."""
    if action == EDIT and not detail:
        return
    insert(
        tx,
        "version_log",
        {
            "version_id": version_id,
            "action": action,
            "by_user": by,
            **run_columns(run),
            "detail": json.dumps(detail, sort_keys=True),
            "at": tx.now(),
        },
    )


def edit_detail(
    old: Any,
    values: dict[str, Any],
    aliases_before: Sequence[str],
    aliases_after: Sequence[str],
    tags_before: Sequence[str],
    tags_after: Sequence[str] | None,
) -> dict[str, Any]:
    """What an edit changed, by name: fields, metadata keys, aliases and tags added or removed.
    Metadata values are not copied (they may be large); the version shows the current ones."""
    out: dict[str, Any] = {}
    if "description" in values and values["description"] != old.description:
        out["description"] = True
    if "ttl_seconds" in values and values["ttl_seconds"] != old.ttl_seconds:
        out["ttl_seconds"] = values["ttl_seconds"]
    if "metadata" in values:
        new = json.loads(values["metadata"])
        keys = sorted(set(old.metadata) | set(new))
        changed = [k for k in keys if old.metadata.get(k, _MISSING) != new.get(k, _MISSING)]
        if changed:
            out["metadata_keys"] = changed[:50]
    added, removed = _delta(aliases_before, aliases_after)
    if added:
        out["aliases_added"] = added
    if removed:
        out["aliases_removed"] = removed
    if tags_after is not None:
        added, removed = _delta(tags_before, tags_after)
        if added:
            out["tags_added"] = added
        if removed:
            out["tags_removed"] = removed
    return out


_MISSING = object()


def _delta(before: Sequence[str], after: Sequence[str]) -> tuple[list[str], list[str]]:
    return sorted(set(after) - set(before)), sorted(set(before) - set(after))


def history(ms: MetaStore, version_id: int, limit: int = MAX_ROWS) -> list[dict[str, Any]]:
    """The newest ``limit`` changes of a version, newest first: ``action``, ``by`` (a user),
    the run (``run_id``, ``run_entity``, ``run_project``: None when no run is known),
    ``detail`` and ``at``."""
    with ms.read() as tx:
        rows = tx.rows(
            f"SELECT l.action, l.by_user, {RUN_OF_ROW}, l.detail, l.at FROM version_log l {RUN_JOIN} "
            "WHERE l.version_id = :v ORDER BY l.id DESC LIMIT :n",
            {"v": version_id, "n": limit},
        )
    return [
        {
            "action": r.action,
            "by": r.by_user,
            "run_id": r.run_id,
            "run_entity": r.run_entity,
            "run_project": r.run_project,
            "detail": json.loads(r.detail),
            "at": as_utc(r.at),
        }
        for r in rows
    ]
