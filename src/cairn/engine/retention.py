"""TTL and retention policies: which committed versions garbage collection deletes.

A version whose ``ttl`` has passed is deleted; so is one that a retention policy does not
keep. A policy belongs to a project (every collection in it) or to one collection (which
then ignores its project's policy) and keeps:

* the newest ``keep_last`` versions, when set;
* every version younger than ``max_age_seconds``, when set;
* always, every version that carries an alias other than ``latest`` (reported as kept).

With both set a version goes only when neither keeps it ("the last 5, and anything from the
past 30 days"). Times are the store's clock.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..core.errors import ArtifactNotFoundError, UsageError
from ..core.names import LATEST
from ..core.versions import COMMITTED
from ..storage.meta.sql import MetaStore
from ..storage.meta.tx import Tx, as_utc
from . import records

log = logging.getLogger("cairn.retention")


@dataclass(frozen=True, slots=True)
class Retention:
    """A retention policy. ``None`` fields keep nothing by that rule."""

    keep_last: int | None = None
    max_age_seconds: int | None = None

    def __post_init__(self) -> None:
        if self.keep_last is not None and (not isinstance(self.keep_last, int) or self.keep_last < 0):
            raise UsageError(f"keep_last must be a whole number of versions >= 0, got {self.keep_last!r}")
        if self.max_age_seconds is not None and (
            not isinstance(self.max_age_seconds, int) or self.max_age_seconds <= 0
        ):
            raise UsageError(f"max_age must be a positive duration, got {self.max_age_seconds!r} seconds")
        if self.keep_last is None and self.max_age_seconds is None:
            raise UsageError("a retention policy needs keep_last, max_age or both; to remove one, clear it")

    def as_dict(self) -> dict:
        return {"keep_last": self.keep_last, "max_age_seconds": self.max_age_seconds}


def _scope(tx: Tx, entity: str, project: str, name: str | None) -> tuple[int, int]:
    pid = records.project_id(tx, entity, project)
    if pid is None:
        raise ArtifactNotFoundError(f"{entity}/{project}", "no such project")
    if name is None:
        return pid, 0
    art = records.artifact_row(tx, entity, project, name)
    if art is None:
        raise ArtifactNotFoundError(f"{entity}/{project}/{name}", "no such collection")
    return pid, art.id


def set_policy(ms: MetaStore, entity: str, project: str, name: str | None, policy: Retention | None) -> None:
    """Set (or with None clear) the policy of a project (``name`` None) or a collection."""
    with ms.write() as tx:
        pid, aid = _scope(tx, entity, project, name)
        tx.execute("DELETE FROM retention WHERE project_id = :p AND artifact_id = :a", {"p": pid, "a": aid})
        if policy is not None:
            tx.execute(
                "INSERT INTO retention (project_id, artifact_id, keep_last, max_age_seconds) VALUES (:p, :a, :k, :m)",
                {"p": pid, "a": aid, "k": policy.keep_last, "m": policy.max_age_seconds},
            )


def get_policy(ms: MetaStore, entity: str, project: str, name: str | None) -> Retention | None:
    """The policy set on exactly this project or collection (None: none set there)."""
    with ms.read() as tx:
        pid, aid = _scope(tx, entity, project, name)
        row = tx.first(
            "SELECT keep_last, max_age_seconds FROM retention WHERE project_id = :p AND artifact_id = :a",
            {"p": pid, "a": aid},
        )
    return None if row is None else Retention(row.keep_last, row.max_age_seconds)


@dataclass(frozen=True, slots=True)
class Doomed:
    version_id: int
    name: str  # entity/project/name:vN
    why: str  # "ttl" | "retention"


def due(ms: MetaStore, now: datetime) -> tuple[list[Doomed], list[str]]:
    """Versions that TTL or retention delete at ``now``, and the aliased ones they keep."""
    doomed: list[Doomed] = []
    kept: list[str] = []
    with ms.read() as tx:
        rows = tx.rows(
            "SELECT v.id, v.idx, v.artifact_id, v.ttl_seconds, v.created_at, a.name AS a_name, a.project_id, "
            "p.entity, p.name AS p_name FROM versions v JOIN artifacts a ON a.id = v.artifact_id "
            f"JOIN projects p ON p.id = a.project_id WHERE v.state = '{COMMITTED}' "
            "AND (v.ttl_seconds IS NOT NULL OR a.id IN (SELECT artifact_id FROM retention) "
            "OR a.project_id IN (SELECT project_id FROM retention WHERE artifact_id = 0)) ORDER BY v.artifact_id, v.idx"
        )
        policies = {
            (p, a): Retention(k, m)
            for p, a, k, m in tx.tuples("SELECT project_id, artifact_id, keep_last, max_age_seconds FROM retention")
        }
        aliased: set[int] = set(tx.scalars("SELECT version_id FROM aliases WHERE alias <> :l", {"l": LATEST}))
    by_art: dict[int, list] = {}
    for r in rows:
        by_art.setdefault(r.artifact_id, []).append(r)
    for art_id, versions in by_art.items():
        policy = policies.get((versions[0].project_id, art_id)) or policies.get((versions[0].project_id, 0))
        newest_first = sorted(versions, key=lambda r: -r.idx)
        for rank, r in enumerate(newest_first):
            name = f"{r.entity}/{r.p_name}/{r.a_name}:v{r.idx}"
            age = now - as_utc(r.created_at)
            why = None
            if r.ttl_seconds is not None and age > timedelta(seconds=r.ttl_seconds):
                why = "ttl"
            elif policy is not None:
                keep = (policy.keep_last is not None and rank < policy.keep_last) or (
                    policy.max_age_seconds is not None and age <= timedelta(seconds=policy.max_age_seconds)
                )
                why = None if keep else "retention"
            if why is None:
                continue
            if r.id in aliased:
                kept.append(f"{name} ({why})")
            else:
                doomed.append(Doomed(r.id, name, why))
    order = {r.id: (r.artifact_id, r.idx) for r in rows}
    return sorted(doomed, key=lambda d: order[d.version_id]), sorted(kept)
