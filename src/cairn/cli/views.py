"""What the CLI shows of versions, runs and changes, as plain dicts (``--json``) and lines."""

from __future__ import annotations

from typing import Any

from ..core.manifest import Entry
from ..core.sizes import human_size
from ..core.versions import RunInfo, VersionInfo


def version(v: VersionInfo) -> dict[str, Any]:
    return {
        "name": v.qualified_name,
        "entity": v.entity,
        "project": v.project,
        "collection": v.name,
        "version": v.version,
        "type": v.type,
        "digest": v.digest,
        "size": v.size,
        "files": v.file_count,
        "aliases": list(v.aliases),
        "tags": list(v.tags),
        "description": v.description,
        "metadata": v.metadata,
        "ttl_seconds": v.ttl_seconds,
        "state": v.state,
        "created_at": v.created_at,
        "updated_at": v.updated_at,
        "run": v.run_id,
    }


def run(r: RunInfo) -> dict[str, Any]:
    out = {
        "id": r.id,
        "path": f"{r.entity}/{r.project}/{r.id}",
        "entity": r.entity,
        "project": r.project,
        "name": r.name,
        "group": r.group,
        "job_type": r.job_type,
        "state": r.state,
        "created_at": r.created_at,
        "finished_at": r.finished_at,
        "config": r.config,
    }
    summary = getattr(r, "summary", None)  # runs keep a summary once they log one
    if summary is not None:
        out["summary"] = summary
    return out


def entry(e: Entry) -> dict[str, Any]:
    out: dict[str, Any] = {"path": e.path, "size": e.size, "digest": e.digest}
    if e.ref is not None:
        out["ref"] = e.ref
    return out


def short_digest(d: str) -> str:
    algo, _, hexd = d.partition(":")
    return f"{algo}:{hexd[:12]}" if hexd else d[:19]


def aliases(v: VersionInfo) -> str:
    return ", ".join(v.aliases) or "-"


def size(n: int) -> str:
    return human_size(n)


def count(n: int, noun: str) -> str:
    """``1 file``, ``12 files``."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
