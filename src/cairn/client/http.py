"""The HTTP client: the same ``Client`` calls, spoken to a ``cairn server``.

``HttpClient`` is the JSON API (versions, collections, runs, lineage: each call one
request through ``rpc.Rpc``), with the bytes moved by an ``Uploader`` (files hashed when
added, sent at commit: ``uploader.py``) and a ``Downloader`` (``downloader.py``). The one
HTTP library (urllib3) and the one retry policy are ``rpc.py`` and ``retry.py``'s.
"""

from __future__ import annotations

from typing import Unpack

from ..core.changes import CollectionChanges, RunChanges, RunOptions, VersionChanges

import base64
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from ..core import wire
from ..core.errors import StoreError
from ..core.manifest import Entry, Manifest, SortedEntries
from ..core.paging import Page
from ..core.names import ArtifactRef, check_distributed_id, split_run_ref
from ..core.sizes import parse_size
from ..core.versions import CollectionInfo, CommitRequest, RunInfo, VersionInfo, check_commit
from ..storage.base import BlobReader
from . import transfer
from .base import Client
from .cache import BlobCache
from .downloader import Downloader
from .rpc import Presigned, Rpc, api_path, new_pool, project_path
from .settings import Settings
from .statcache import StatCache
from .uploader import Uploader

if TYPE_CHECKING:
    from ..engine.retention import Retention

HISTORY_PAGE = 10_000  # history rows per GET when the caller wants them all
CHUNKS_HELD = 20_000  # manifest chunks kept between calls (content-addressed: any may go)


class HttpClient:
    """``Client`` over HTTP (see the module's docstring). Constructing one does no I/O."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._pool = new_pool()
        self.rpc = Rpc(settings, self._pool)
        presigned = Presigned(self._pool)
        self._entity = settings.entity
        self.statcache = StatCache(settings.cache_dir / "statcache.sqlite")
        cap = os.environ.get("CAIRN_CACHE_MAX")
        self.cache = BlobCache(settings.cache_dir, parse_size(cap) if cap else None)
        self.uploader = Uploader(self.rpc, presigned, self.statcache)
        self.downloader = Downloader(self.rpc, presigned, self.cache, self.statcache, self.uploader.source)
        self._chunks: dict[str, bytes] = {}
        # manifest root key -> the id of a version with that manifest: the server hands out a
        # manifest's chunks only to a caller naming a version it can read
        self._roots: dict[str, int] = {}

    @property
    def base_url(self) -> str:
        """The server calls go to now (the next one of CAIRN_BASE_URL's after a failure)."""
        return self.rpc.base_url

    @property
    def entity(self) -> str:
        if self._entity is None:
            self._entity = self.rpc.json("GET", api_path("whoami"))["entity"]
        return self._entity

    # -- bytes -------------------------------------------------------------------
    def ingest(self, paths: list[str]) -> dict[str, tuple[str, int]]:
        return self.uploader.ingest(paths)

    def ingest_dir(self, root: str) -> Iterator[transfer.Window]:
        return self.uploader.ingest_dir(root)

    def ingest_bytes(self, data: bytes) -> tuple[str, int]:
        return self.uploader.ingest_bytes(data)

    def missing_blobs(self, entity: str, project: str, digests: list[str]) -> set[str]:
        return self.uploader.missing(entity, project, digests)

    def open_entry(self, entry: Entry, version: VersionInfo | None = None) -> BlobReader:
        return self.downloader.open_entry(entry, version)

    def download(self, entries: Iterable[Entry], root: Path, version: VersionInfo | None = None) -> int:
        return self.downloader.download(entries, root, version)

    def report_damaged(self, digest: str, version: VersionInfo | None = None) -> str:
        return self.downloader.report_damaged(digest, version)

    def _version_in(self, d: dict) -> VersionInfo:
        v = wire.version_in(d)
        self._roots[v.manifest_key] = v.id
        return v

    def manifest(self, key: str) -> Manifest:
        version_id = self._roots.get(key)
        if version_id is None:
            raise StoreError(
                f"manifest {key} is not that of a version this client has read; "
                "read the version first (Api().artifact(...))"
            )
        return Manifest(key, lambda keys: self._load_chunks(keys, version_id))

    def _load_chunks(self, keys: list[str], version_id: int) -> dict[str, bytes]:
        want = [k for k in keys if k not in self._chunks]
        for i in range(0, len(want), 1000):
            body = {"version_id": version_id, "keys": want[i : i + 1000]}
            got = self.rpc.json("POST", api_path("chunks"), json_body=body)["chunks"]
            for k, v in got.items():
                self._chunks[k] = base64.b64decode(v)
        if len(self._chunks) > CHUNKS_HELD:  # content-addressed: safe to forget any time
            self._chunks = {k: self._chunks[k] for k in keys if k in self._chunks}
        return {k: self._chunks[k] for k in keys if k in self._chunks}

    # -- versions ------------------------------------------------------------------
    def _art(self, req: CommitRequest, *rest: str) -> str:
        return project_path(req.entity, req.project, "artifacts", req.name, *rest)

    def _entries_to_send(self, req: CommitRequest) -> list[Entry] | SortedEntries:
        if req.entries is not None:
            return req.entries
        return list(req.edits.upserts.values()) if req.edits else []

    def _send(self, req: CommitRequest, url: str) -> Any:
        """Upload what the server lacks of the request's blobs, then post the request."""
        check_commit(req)  # a request the server would refuse uploads nothing
        entries = self._entries_to_send(req)
        self.uploader.upload(req.entity, req.project, entries)
        out = self.rpc.json("POST", url, json_body=wire.commit_out(req))
        self.uploader.release([e.digest for e in entries])
        return out

    def commit(self, req: CommitRequest) -> VersionInfo:
        return self._version_in(self._send(req, self._art(req, "versions")))

    def upsert_draft(self, req: CommitRequest, distributed_id: str) -> None:
        self._send(req, self._art(req, "drafts", check_distributed_id(distributed_id), "upsert"))

    def finish_draft(self, req: CommitRequest, distributed_id: str) -> VersionInfo:
        return self._version_in(
            self._send(req, self._art(req, "drafts", check_distributed_id(distributed_id), "finish"))
        )

    def resolve(self, ref: ArtifactRef, entity: str, project: str) -> VersionInfo:
        e, p = ref.entity or entity, ref.project or project
        return self._version_in(self.rpc.json("GET", project_path(e, p, "artifacts", ref.name, "resolve", ref.alias)))

    def get_version(self, version_id: int) -> VersionInfo:
        return self._version_in(self.rpc.json("GET", api_path("versions", version_id)))

    def list_versions(self, entity: str, project: str, name: str, tags: list[str] | None = None) -> list[VersionInfo]:
        got = self.rpc.json(
            "GET", project_path(entity, project, "artifacts", name, "versions"), params={"tag": tags or []}
        )
        return [self._version_in(v) for v in got["versions"]]

    def versions_page(
        self, entity: str, project: str, name: str, tags: list[str] | None, after: str | None, limit: int
    ) -> Page[VersionInfo]:
        params = {"tag": tags or [], "limit": limit, **({"after": after} if after is not None else {})}
        got = self.rpc.json("GET", project_path(entity, project, "artifacts", name, "versions"), params=params)
        # a server from before paging answers the whole listing, without "next"
        return Page([self._version_in(v) for v in got["versions"]], got.get("next"))

    def list_collections(self, entity: str, project: str, type_: str | None = None) -> list[CollectionInfo]:
        params = {"type": type_} if type_ else {}
        got = self.rpc.json("GET", project_path(entity, project, "artifacts"), params=params)
        return [wire.collection_in(c) for c in got["collections"]]

    def collections_page(
        self, entity: str, project: str, type_: str | None, after: str | None, limit: int
    ) -> Page[CollectionInfo]:
        params: dict[str, str | int] = {"limit": limit}
        params.update({k: v for k, v in (("type", type_), ("after", after)) if v is not None})
        got = self.rpc.json("GET", project_path(entity, project, "artifacts"), params=params)
        return Page([wire.collection_in(c) for c in got["collections"]], got.get("next"))

    def update_collection(
        self, entity: str, project: str, name: str, **changes: Unpack[CollectionChanges]
    ) -> CollectionInfo:
        return wire.collection_in(
            self.rpc.json("PATCH", project_path(entity, project, "artifacts", name), json_body=changes)
        )

    def list_projects(self, entity: str | None = None) -> list[tuple[str, str]]:
        got = self.rpc.json("GET", api_path("projects"), params={"entity": entity} if entity else {})
        return [(p["entity"], p["project"]) for p in got["projects"]]

    def update_version(self, version_id: int, **changes: Unpack[VersionChanges]) -> VersionInfo:
        return self._version_in(self.rpc.json("PATCH", api_path("versions", version_id), json_body=changes))

    def delete_version(self, version_id: int, delete_aliases: bool = False, run_id: str | None = None) -> None:
        self.rpc.json(
            "DELETE", api_path("versions", version_id), params={"delete_aliases": str(delete_aliases).lower()}
        )

    def delete_collection(self, entity: str, project: str, name: str, delete_aliases: bool = False) -> int:
        got = self.rpc.json(
            "DELETE",
            project_path(entity, project, "artifacts", name),
            params={"delete_aliases": str(delete_aliases).lower()},
        )
        return got["deleted_versions"]

    def delete_project(self, entity: str, project: str, delete_aliases: bool = False) -> int:
        got = self.rpc.json(
            "DELETE", project_path(entity, project), params={"delete_aliases": str(delete_aliases).lower()}
        )
        return got["deleted_versions"]

    def set_retention(self, entity: str, project: str, name: str | None, policy: Retention | None) -> None:
        where = ("artifacts", name, "retention") if name is not None else ("retention",)
        self.rpc.json(
            "PUT", project_path(entity, project, *where), json_body={} if policy is None else policy.as_dict()
        )

    def get_retention(self, entity: str, project: str, name: str | None) -> Retention | None:
        from ..engine.retention import Retention

        where = ("artifacts", name, "retention") if name is not None else ("retention",)
        got = self.rpc.json("GET", project_path(entity, project, *where))["retention"]
        return None if got is None else Retention(got["keep_last"], got["max_age_seconds"])

    def link_version(
        self,
        version_id: int,
        entity: str,
        project: str,
        name: str,
        aliases: list[str] | None = None,
        run_id: str | None = None,
    ) -> VersionInfo:
        body: dict[str, Any] = {"entity": entity, "project": project, "name": name, "aliases": list(aliases or [])}
        if run_id is not None:
            run_entity, run_project, body["run_id"] = split_run_ref(run_id)
            body.update({k: v for k, v in (("run_entity", run_entity), ("run_project", run_project)) if v})
        return wire.version_in(self.rpc.json("POST", api_path("versions", version_id, "links"), json_body=body))

    def unlink_version(self, version_id: int, run_id: str | None = None) -> None:
        self.rpc.json("POST", api_path("versions", version_id, "unlink"))

    def version_links(self, version_id: int) -> list[VersionInfo]:
        return [wire.version_in(v) for v in self.rpc.json("GET", api_path("versions", version_id, "links"))["versions"]]

    def alias_history(self, entity: str, project: str, name: str) -> list[dict]:
        return self.rpc.json("GET", project_path(entity, project, "artifacts", name, "alias-history"))["history"]

    # -- runs ------------------------------------------------------------------------
    def create_run(self, entity: str, project: str, **kw: Unpack[RunOptions]) -> RunInfo:
        from ..engine.runs import new_run_id

        # the id is made here, not by the server, so that a retried create finds the same run
        body = {
            "id": kw.get("run_id") or new_run_id(),
            "name": kw.get("name"),
            "group": kw.get("group"),
            "job_type": kw.get("job_type"),
            "config": kw.get("config"),
            "tags": kw.get("tags"),
            "notes": kw.get("notes"),
            "resume": kw.get("resume"),
        }
        return wire.run_in(self.rpc.json("POST", project_path(entity, project, "runs"), json_body=body))

    def finish_run(
        self, run_id: str, exit_code: int = 0, config: dict | None = None, summary: dict | None = None
    ) -> None:
        self.rpc.post_json(_run_url(run_id, "finish"), {"exit_code": exit_code, "config": config, "summary": summary})

    def log_history(
        self, run_id: str, rows: list[dict], summary: dict | None = None, config: dict | None = None
    ) -> None:
        """One post per batch the SDK's writer hands over (``sdk/history.py``)."""
        self.rpc.post_json(_run_url(run_id, "history"), {"rows": rows, "summary": summary, "config": config})

    def run_history(
        self,
        run_id: str,
        keys: list[str] | None = None,
        min_step: int | None = None,
        max_step: int | None = None,
        limit: int | None = None,
        samples: int | None = None,
    ) -> list[str]:
        params: dict[str, Any] = {"keys": keys or []}
        for k, v in (("min_step", min_step), ("max_step", max_step), ("samples", samples)):
            if v is not None:
                params[k] = v
        if limit is not None or samples is not None:
            if limit is not None:
                params["limit"] = limit
            return self._history_page(run_id, params)
        out: list[str] = []  # everything: page by step, as the server caps a page
        while True:
            page = self._history_page(run_id, {**params, "limit": HISTORY_PAGE})
            out += page
            if len(page) < HISTORY_PAGE:
                return out
            params["min_step"] = json.loads(page[-1])["_step"] + 1

    def _history_page(self, run_id: str, params: dict) -> list[str]:
        path, scope = _run_scope(run_id, "history")
        rows = self.rpc.json("GET", path, params={**params, **scope})["rows"]
        return [json.dumps(r, separators=(",", ":"), allow_nan=True) for r in rows]

    def update_run(self, run_id: str, **changes: Unpack[RunChanges]) -> None:
        self.rpc.post_json(_run_url(run_id), changes, method="PATCH")

    def get_run(self, run_id: str, entity: str | None = None, project: str | None = None) -> RunInfo:
        path, scope = _run_scope(run_id)
        scope.update({k: v for k, v in (("entity", entity), ("project", project)) if v})
        return wire.run_in(self.rpc.json("GET", path, params=scope))

    def list_runs(self, entity: str, project: str) -> list[RunInfo]:
        return [wire.run_in(r) for r in self.rpc.json("GET", project_path(entity, project, "runs"))["runs"]]

    def runs_page(
        self,
        entity: str,
        project: str,
        filters: dict[str, str | None] | None,
        order: str | None,
        after: str | None,
        limit: int,
    ) -> Page[RunInfo]:
        params: dict[str, str | int] = {"limit": limit}
        if filters is not None:
            params["filters"] = json.dumps(filters)
        params.update({k: v for k, v in (("order", order), ("after", after)) if v is not None})
        got = self.rpc.json("GET", project_path(entity, project, "runs"), params=params)
        return Page([wire.run_in(r) for r in got["runs"]], got.get("next"))

    def use_version(self, run_id: str, version_id: int) -> None:
        self.rpc.json("POST", _run_url(run_id, "uses"), json_body={"version_id": version_id})

    def run_outputs(self, run_id: str) -> list[VersionInfo]:
        path, scope = _run_scope(run_id, "outputs")
        return [self._version_in(v) for v in self.rpc.json("GET", path, params=scope)["versions"]]

    def run_inputs(self, run_id: str) -> list[VersionInfo]:
        path, scope = _run_scope(run_id, "inputs")
        return [self._version_in(v) for v in self.rpc.json("GET", path, params=scope)["versions"]]

    def version_users(self, version_id: int) -> list[RunInfo]:
        return [wire.run_in(r) for r in self.rpc.json("GET", api_path("versions", version_id, "users"))["runs"]]

    def close(self) -> None:
        self._pool.clear()


# mypy checks here that HttpClient has every method of Client, typed alike
_conforms: type[Client] = HttpClient


def _run_scope(run_ref: str, *tail: str) -> tuple[str, dict[str, str]]:
    """``/runs/{id}/…`` and its ``entity``/``project`` query of a run named by its path
    (``entity/project/id``: a run id is unique within its project only), or by its id alone."""
    entity, project, run_id = split_run_ref(run_ref)
    scope = {"entity": entity, "project": project} if entity and project else {}
    return api_path("runs", run_id, *tail), scope


def _run_url(run_ref: str, *tail: str) -> str:
    path, scope = _run_scope(run_ref, *tail)
    return path + ("?" + urlencode(scope) if scope else "")
