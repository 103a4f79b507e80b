"""The JSON shapes of the HTTP API, shared by ``server/`` and the HTTP client.

It lives in ``core/`` because both sides own it and neither may depend on the other: the
server must not import the client package, nor the client the server. Like the rest of
core it is pure (stdlib only, no I/O); the value types stay free of serialisation and are
encoded only here, at the edge both sides share.

Every value crossing the wire is encoded here; the server reads request bodies through
its pydantic models (``server/models.py``, also the OpenAPI schema). Errors travel as
``{"error": {"type": <class name>, "message": ..., <identifiers>}}``.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, overload

from . import errors as E
from .manifest import Entry
from .versions import CollectionInfo, CommitRequest, Edits, RunInfo, VersionInfo


def _dt(v: datetime | None) -> str | None:
    return v.isoformat() if v else None


@overload
def _pdt(v: str) -> datetime: ...
@overload
def _pdt(v: str | None) -> datetime | None: ...
def _pdt(v: str | None) -> datetime | None:
    return datetime.fromisoformat(v) if v else None


def entry_out(e: Entry) -> list:
    return e.to_row()


def version_out(v: VersionInfo) -> dict:
    return {
        "id": v.id,
        "entity": v.entity,
        "project": v.project,
        "name": v.name,
        "type": v.type,
        "index": v.index,
        "digest": v.digest,
        "manifest_key": v.manifest_key,
        "file_count": v.file_count,
        "size": v.size,
        "description": v.description,
        "metadata": v.metadata,
        "state": v.state,
        "aliases": list(v.aliases),
        "tags": list(v.tags),
        "ttl_seconds": v.ttl_seconds,
        "created_at": _dt(v.created_at),
        "updated_at": _dt(v.updated_at),
        "run_id": v.run_id,
        "link_of": v.link_of,
        "source_entity": v.source_entity,
        "source_project": v.source_project,
        "source_name": v.source_name,
        "source_index": v.source_index,
    }


def version_in(d: dict) -> VersionInfo:
    return VersionInfo(
        id=d["id"],
        entity=d["entity"],
        project=d["project"],
        name=d["name"],
        type=d["type"],
        index=d["index"],
        digest=d["digest"],
        manifest_key=d["manifest_key"],
        file_count=d["file_count"],
        size=d["size"],
        description=d["description"],
        metadata=d["metadata"],
        state=d["state"],
        aliases=tuple(d["aliases"]),
        tags=tuple(d["tags"]),
        ttl_seconds=d["ttl_seconds"],
        created_at=_pdt(d["created_at"]),
        updated_at=_pdt(d["updated_at"]),
        run_id=d["run_id"],
        link_of=d.get("link_of"),
        source_entity=d.get("source_entity"),
        source_project=d.get("source_project"),
        source_name=d.get("source_name"),
        source_index=d.get("source_index"),
    )


def run_out(r: RunInfo) -> dict:
    return {
        "id": r.id,
        "entity": r.entity,
        "project": r.project,
        "name": r.name,
        "group": r.group,
        "job_type": r.job_type,
        "config": r.config,
        "state": r.state,
        "created_at": _dt(r.created_at),
        "finished_at": _dt(r.finished_at),
        # the summary travels as JSON text: it may hold NaN and infinities, which JSON
        # responses refuse
        "summary_json": _json_text(r.summary),
        "tags": list(r.tags),
        "notes": r.notes,
        "last_step": r.last_step,
    }


def run_in(d: dict) -> RunInfo:
    return RunInfo(
        id=d["id"],
        entity=d["entity"],
        project=d["project"],
        name=d["name"],
        group=d["group"],
        job_type=d["job_type"],
        config=d["config"],
        state=d["state"],
        created_at=_pdt(d["created_at"]),
        finished_at=_pdt(d["finished_at"]),
        summary=json.loads(d.get("summary_json") or "{}"),
        tags=tuple(d.get("tags") or ()),
        notes=d.get("notes"),
        last_step=d.get("last_step"),
    )


def _json_text(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), allow_nan=True)


def collection_out(c: CollectionInfo) -> dict:
    return {
        "entity": c.entity,
        "project": c.project,
        "name": c.name,
        "type": c.type,
        "description": c.description,
        "created_at": _dt(c.created_at),
        "version_count": c.version_count,
        "kind": c.kind,
        "tags": list(c.tags),
    }


def collection_in(d: dict) -> CollectionInfo:
    return CollectionInfo(
        d["entity"],
        d["project"],
        d["name"],
        d["type"],
        d["description"],
        _pdt(d["created_at"]),
        d["version_count"],
        d.get("kind", "logged"),
        tuple(d.get("tags") or ()),
    )


def commit_out(req: CommitRequest) -> dict:
    body: dict[str, Any] = {
        "type": req.type,
        "description": req.description,
        "metadata": req.metadata,
        "aliases": req.aliases,
        "tags": req.tags,
        "ttl_seconds": req.ttl_seconds,
        "run_id": req.run_id,
    }
    if req.entries is not None:
        body["entries"] = [entry_out(e) for e in req.entries]
    else:
        edits = req.edits or Edits()
        body["base_version_id"] = req.base_version_id
        if req.base_manifest_key is not None:
            body["base_manifest_key"] = req.base_manifest_key
        body["edits"] = {
            "upserts": [entry_out(e) for e in edits.upserts.values()],
            "removes": sorted(edits.removes),
            "remove_prefixes": sorted(edits.remove_prefixes),
        }
    return body


# -- errors --------------------------------------------------------------------

_ERRORS = E.by_name()


def error_out(e: E.CairnError) -> dict:
    """``{"error": {"type", "message", <the identifiers the class carries>}}``; an error class
    the client may not know travels as its nearest class of ``core.errors``."""
    name = next(c.__name__ for c in type(e).__mro__ if c.__name__ in _ERRORS and issubclass(c, E.CairnError))
    fields = e.to_wire()
    assert not {"type", "message"} & set(fields), "an error's identifiers may not be named type or message"
    return {"error": {**fields, "type": name, "message": str(e)}}


def error_in(body: Any, status: int) -> E.CairnError:
    """The error of a server's answer, rebuilt by its own class."""
    err = body.get("error") if isinstance(body, dict) else None
    if not isinstance(err, dict):
        return E.StoreError(f"the server answered HTTP {status} without a cairn error body")
    kind = err.get("type")
    cls = _ERRORS.get(kind if isinstance(kind, str) else "", E.CairnError)
    msg = err.get("message")
    fields = {k: v for k, v in err.items() if k not in ("type", "message")}
    return cls.from_wire(msg if isinstance(msg, str) else f"HTTP {status}", fields)
