"""The JSON shapes of the HTTP API, shared by ``server/`` and the HTTP client.

Every value crossing the wire is encoded here and nowhere else; errors travel as
``{"error": {"type": <class name>, "message": ..., <identifiers>}}``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..core import errors as E
from ..core.manifest import Entry
from ..core.versions import CollectionInfo, CommitRequest, Edits, RunInfo, VersionInfo


def _dt(v: datetime | None) -> str | None:
    return v.isoformat() if v else None


def _pdt(v: str | None) -> datetime | None:
    return datetime.fromisoformat(v) if v else None


def entry_out(e: Entry) -> list:
    return e.to_row()


def entry_in(row: Any) -> Entry:
    if not isinstance(row, list) or len(row) < 3 or len(row) > 5:
        raise E.UsageError(f"malformed manifest entry {str(row)[:80]!r}: want [path, digest, size, ref?, extra?]")
    path, digest, size = row[0], row[1], row[2]
    if not isinstance(path, str) or not isinstance(digest, str) or not isinstance(size, int) or size < 0:
        raise E.UsageError(f"malformed manifest entry {str(row)[:80]!r}: path and digest are strings, size an integer >= 0")
    from ..core.digest import Digest
    from ..core.names import normalize_path

    if normalize_path(path) != path:
        raise E.InvalidPathError(path, "not in canonical form")
    try:
        Digest.parse(digest)
    except ValueError as e:
        raise E.UsageError(f"entry {path!r}: {e}") from None
    ref = row[3] if len(row) > 3 else None
    extra = row[4] if len(row) > 4 else {}
    if ref is not None and not isinstance(ref, str):
        raise E.UsageError(f"entry {path!r}: ref must be a string")
    if not isinstance(extra, dict):
        raise E.UsageError(f"entry {path!r}: extra must be an object")
    if ref is None and not digest.startswith("blake3:"):
        raise E.UsageError(f"entry {path!r}: a stored file needs a blake3 digest, got {digest!r}")
    return Entry(path, digest, size, ref, extra or {})


def version_out(v: VersionInfo) -> dict:
    return {
        "id": v.id, "entity": v.entity, "project": v.project, "name": v.name, "type": v.type,
        "index": v.index, "digest": v.digest, "manifest_key": v.manifest_key, "file_count": v.file_count,
        "size": v.size, "description": v.description, "metadata": v.metadata, "state": v.state,
        "aliases": list(v.aliases), "tags": list(v.tags), "ttl_seconds": v.ttl_seconds,
        "created_at": _dt(v.created_at), "updated_at": _dt(v.updated_at), "run_id": v.run_id,
    }


def version_in(d: dict) -> VersionInfo:
    return VersionInfo(
        id=d["id"], entity=d["entity"], project=d["project"], name=d["name"], type=d["type"], index=d["index"],
        digest=d["digest"], manifest_key=d["manifest_key"], file_count=d["file_count"], size=d["size"],
        description=d["description"], metadata=d["metadata"], state=d["state"], aliases=tuple(d["aliases"]),
        tags=tuple(d["tags"]), ttl_seconds=d["ttl_seconds"], created_at=_pdt(d["created_at"]),
        updated_at=_pdt(d["updated_at"]), run_id=d["run_id"],
    )


def run_out(r: RunInfo) -> dict:
    return {
        "id": r.id, "entity": r.entity, "project": r.project, "name": r.name, "group": r.group,
        "job_type": r.job_type, "config": r.config, "state": r.state,
        "created_at": _dt(r.created_at), "finished_at": _dt(r.finished_at),
    }


def run_in(d: dict) -> RunInfo:
    return RunInfo(
        id=d["id"], entity=d["entity"], project=d["project"], name=d["name"], group=d["group"],
        job_type=d["job_type"], config=d["config"], state=d["state"], created_at=_pdt(d["created_at"]),
        finished_at=_pdt(d["finished_at"]),
    )


def collection_out(c: CollectionInfo) -> dict:
    return {
        "entity": c.entity, "project": c.project, "name": c.name, "type": c.type,
        "description": c.description, "created_at": _dt(c.created_at), "version_count": c.version_count,
    }


def collection_in(d: dict) -> CollectionInfo:
    return CollectionInfo(
        d["entity"], d["project"], d["name"], d["type"], d["description"], _pdt(d["created_at"]), d["version_count"]
    )


def commit_out(req: CommitRequest) -> dict:
    body: dict[str, Any] = {
        "type": req.type, "description": req.description, "metadata": req.metadata, "aliases": req.aliases,
        "tags": req.tags, "ttl_seconds": req.ttl_seconds, "run_id": req.run_id,
    }
    if req.entries is not None:
        body["entries"] = [entry_out(e) for e in req.entries]
    else:
        edits = req.edits or Edits()
        body["base_version_id"] = req.base_version_id
        body["edits"] = {
            "upserts": [entry_out(e) for e in edits.upserts.values()],
            "removes": sorted(edits.removes),
            "remove_prefixes": sorted(edits.remove_prefixes),
        }
    return body


def commit_in(entity: str, project: str, name: str, body: Any) -> CommitRequest:
    if not isinstance(body, dict):
        raise E.UsageError("the request body must be a JSON object")
    req = CommitRequest(
        entity=entity, project=project, name=name, type=_str(body, "type"),
        description=body.get("description"), metadata=body.get("metadata") or {},
        aliases=_strs(body, "aliases"), tags=_strs(body, "tags"), ttl_seconds=body.get("ttl_seconds"),
        run_id=body.get("run_id"),
    )
    if "entries" in body:
        if not isinstance(body["entries"], list):
            raise E.UsageError("'entries' must be a list")
        req.entries = [entry_in(r) for r in body["entries"]]
    elif body.get("base_version_id") is not None:
        if not isinstance(body["base_version_id"], int):
            raise E.UsageError("'base_version_id' must be an integer")
        req.base_version_id = body["base_version_id"]
        ed = body.get("edits") or {}
        if not isinstance(ed, dict):
            raise E.UsageError("'edits' must be an object")
        ups = [entry_in(r) for r in ed.get("upserts") or []]
        from ..core.names import normalize_path

        req.edits = Edits(
            upserts={e.path: e for e in ups},
            removes={normalize_path(p) for p in _strs(ed, "removes")},
            remove_prefixes={normalize_path(p) + "/" for p in _strs(ed, "remove_prefixes")},
        )
    else:
        req.entries = []
    return req


def _str(d: dict, key: str) -> str:
    v = d.get(key)
    if not isinstance(v, str):
        raise E.UsageError(f"'{key}' must be a string")
    return v


def _strs(d: dict, key: str) -> list[str]:
    v = d.get(key) or []
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise E.UsageError(f"'{key}' must be a list of strings")
    return v


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
    cls = _ERRORS.get(err.get("type") if isinstance(err.get("type"), str) else "", E.CairnError)
    msg = err.get("message")
    fields = {k: v for k, v in err.items() if k not in ("type", "message")}
    return cls.from_wire(msg if isinstance(msg, str) else f"HTTP {status}", fields)
