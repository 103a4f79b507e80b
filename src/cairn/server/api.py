"""The JSON HTTP API (``/api/v1``). Every route runs ``authz.gate`` before its handler (the
caller's role on the entity, version or run its path names) and checks ids, digests and
keys from its body with ``authz``: a key without a role on an entity learns nothing of it,
not even whether a project, version or run exists there (see ``authz``)."""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable, Iterator
from typing import IO, Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import RedirectResponse, StreamingResponse
from pydantic import StringConstraints
from starlette.concurrency import run_in_threadpool
from starlette.convertors import Convertor, register_url_convertor

from ..core import wire
from ..core.errors import UsageError
from ..core.limits import MAX_BATCH_BLOBS
from ..core.names import parse_ref
from ..core.paging import MAX_PAGE, Page, fill_page
from ..core.versions import CommitRequest
from ..core.names import run_path
from ..engine import accounts as auth
from ..engine import blobs_index
from . import authz, bodies, models, uploads
from .authz import READ, WRITE
from .context import ServerContext
from .errors import PayloadTooLarge
from .models import (
    AliasPath,
    ChunkKeys,
    CollectionPatch,
    DigestPath,
    Digests,
    DirectRequest,
    DistributedIdPath,
    EntityPath,
    EntityQuery,
    FilenameQuery,
    LinkRequest,
    NamePath,
    ProjectPath,
    RunCreate,
    RunFinish,
    RunIdPath,
    AfterQuery,
    LimitQuery,
    RunFiltersQuery,
    RunOrderQuery,
    TagsQuery,
    TypeQuery,
    UploadDone,
    UploadStart,
    UrlRequest,
    Use,
    VersionIdPath,
    VersionPatch,
)

router = APIRouter(prefix="/api/v1", responses=models.ERROR_RESPONSES, dependencies=[Depends(authz.gate)])
T = TypeVar("T")
HISTORY_LIMIT = 100_000  # history rows per response


class _DigestSegment(Convertor):
    """A path segment that names a digest ('<algo>:<value>'): '/blobs/batch' and its siblings
    are never taken for a digest, so each path has one set of methods (a 405 lists them)."""

    regex = r"[^/:]+:[^/]*"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("digest", _DigestSegment())

Who = authz.Who
Ctx = Annotated[ServerContext, Depends(authz.ctx)]


def _run_scope(request: Request, entity: EntityQuery = None, project: EntityQuery = None) -> str:
    """``/runs/{run_id}`` routes: ``entity`` and ``project`` name the run when its id is in
    several projects the caller can read (a run id is unique within its project); ``gate``
    resolved it already. The run's path, for the engine."""
    return authz.gated_run(request)


TheRun = Annotated[str, Depends(_run_scope)]


async def raw_body(request: Request, limit: int) -> bytes:
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > limit:
            raise PayloadTooLarge(limit)
    return bytes(data)


def caller(request: Request, who: auth.Principal) -> str:
    """Whom the heavy-work limits count against: the user, or (no users) the client's address."""
    if who.open_access:
        return f"address {request.client.host if request.client else 'unknown'}"
    return who.name


async def heavy(
    request: Request, c: ServerContext, who: auth.Principal, work: Callable[..., Awaitable[T]], *args: Any
) -> T:
    """Run ``work(*args)`` within the caller's share of heavy operations (the caller's role
    on the path's entity was checked already, by ``authz.gate``)."""
    async with c.gate.slot(caller(request, who)):
        return await work(*args)


# The commit routes read their body themselves (spooled to disk, parsed as a stream off the
# event loop: see bodies.py);
# the document still states it: CommitBody, in components by app.openapi().
_COMMIT_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CommitBody"}}},
    }
}


# -- identity --------------------------------------------------------------------


@router.get("/whoami")
def whoami(who: Who) -> dict:
    return {
        "user": who.name,
        "entity": auth.default_entity(who),
        "open_access": who.open_access,
        "server_admin": who.server_admin,
    }


@router.get("/projects")
def projects(c: Ctx, who: Who, entity: EntityQuery = None) -> dict:
    out = []
    seen: dict[str, bool] = {}
    for e, p in c.engine.list_projects(entity):
        if authz.can_read(c, who, e, seen):
            out.append({"entity": e, "project": p})
    return {"projects": out}


# -- blobs -----------------------------------------------------------------------


@router.post("/projects/{entity}/{project}/blobs/missing")
def blobs_missing(entity: EntityPath, project: ProjectPath, body: Digests, c: Ctx, who: Who) -> dict:
    """Which of these digests this project does not hold yet (so the client sends only those)."""
    have = blobs_index.project_has(c.meta, entity, project, body.digests)
    return {"missing": [d for d in dict.fromkeys(body.digests) if d not in have]}


# An empty body is an empty blob (or a batch of none): not required.
_BYTES_BODY = {
    "requestBody": {
        "required": False,
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}
_BATCH_BODY = {
    "requestBody": {
        "required": False,
        "content": {
            "application/octet-stream": {
                "schema": {
                    "type": "string",
                    "format": "binary",
                    "description": f"blobs, each a 4-byte big-endian length then its bytes; at most {MAX_BATCH_BLOBS:,}",
                }
            }
        },
    }
}
_BLOB_ANSWERS: dict = {
    200: {
        "description": "The blob's bytes",
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    },
    307: {"description": "A presigned URL of the object store holding the bytes (Location)"},
}


@router.put("/projects/{entity}/{project}/blobs/{digest:digest}", status_code=201, openapi_extra=_BYTES_BODY)
async def blob_put(
    entity: EntityPath, project: ProjectPath, digest: DigestPath, request: Request, c: Ctx, who: Who
) -> dict:
    """Upload one blob through the server (streamed); it is hashed and refused unless it matches."""
    from .transfer import receive_blob

    size = await heavy(request, c, who, receive_blob, c, request, digest, entity, project)
    return {"digest": digest, "size": size}


@router.post("/projects/{entity}/{project}/blobs/batch", status_code=201, openapi_extra=_BATCH_BODY)
async def blob_batch(entity: EntityPath, project: ProjectPath, request: Request, c: Ctx, who: Who) -> dict:
    """Many blobs in one body: each is a 4-byte big-endian length then its bytes, at most
    ``batch_blobs`` of them (413 past that, before anything is stored). The server hashes
    each distinct blob and stores it once; returns their digests in the order of first
    appearance (``server/blob_batch.py``)."""
    from . import blob_batch

    async def work() -> list[str]:
        f = await bodies.spool(request, c.limits.batch_bytes)

        def store() -> list[str]:  # hashing and storing block: off the event loop
            with f:
                return blob_batch.store(c, entity, project, f.read())

        return await run_in_threadpool(store)

    return {"digests": await heavy(request, c, who, work)}


@router.post("/projects/{entity}/{project}/blobs/direct")
def direct_start(entity: EntityPath, project: ProjectPath, body: DirectRequest, c: Ctx, who: Who) -> dict:
    """Presigned PUT URLs for blobs this project lacks, for its client to upload to the
    object store: each to a staging key bound to this project and to the size sent for it
    (``sizes``; at most ``uploads.DIRECT_MAX`` bytes, 413 above), which the server hashes
    on ``direct/done``; the same kind of URL for every digest, so the answer never tells
    whether another project holds one. Digests this project staged already come back in
    ``staged``, with no URL: report them to ``direct/done``. ``direct`` is false when the
    store cannot presign; the client then sends everything through the server
    (``through_server``), as it does when it sends no sizes. Each PUT must carry ``headers``.
    Nothing is read back here (``direct/done`` does that, as heavy work)."""
    presign = getattr(c.blobs, "presign_put_staging", None)
    if presign is None:
        return {"direct": False, "urls": {}, "headers": {}, "through_server": body.digests, "staged": []}
    for d in body.digests:
        blobs_index.check_content_digest(d)
    if body.sizes is None:  # a client from before sizes were asked for
        return {"direct": True, "urls": {}, "headers": {}, "through_server": body.digests, "staged": []}
    urls, staged = uploads.direct_start(c, entity, project, dict(zip(body.digests, body.sizes, strict=True)))
    return {"direct": True, "urls": urls, "headers": {}, "through_server": [], "staged": staged}


@router.post("/projects/{entity}/{project}/blobs/direct/done", status_code=201)
async def direct_done(
    entity: EntityPath, project: ProjectPath, body: Digests, request: Request, c: Ctx, who: Who
) -> dict:
    """The digests this project's client PUT with its direct URLs: each staged object is
    read back and hashed. Those that cannot be taken (nothing staged, or staged bytes that
    do not match) come back in ``through_server``: send them that way. Checking staged
    bytes reads them: heavy work, within the caller's share."""
    for d in body.digests:
        blobs_index.check_content_digest(d)
    return {
        "through_server": await heavy(
            request, c, who, run_in_threadpool, uploads.direct_done, c, entity, project, body.digests
        )
    }


@router.post("/projects/{entity}/{project}/blobs/uploads")
def upload_start(entity: EntityPath, project: ProjectPath, body: UploadStart, c: Ctx, who: Who) -> dict:
    """Direct upload of a large blob to the object store, bound to this project and digest:
    presigned part URLs to a staging key unique to this upload, which the server reads back
    and hashes on completion (``checked`` is always true; the same answer whoever else holds
    the blob). Without a presigning store, the answer says to PUT through the server
    instead. A size above the server's largest blob is refused (413) before anything is
    opened."""
    return uploads.start(c, entity, project, body.digest, body.size, body.checked)


@router.post("/projects/{entity}/{project}/blobs/uploads/complete", status_code=201)
async def upload_complete(
    entity: EntityPath, project: ProjectPath, body: UploadDone, request: Request, c: Ctx, who: Who
) -> dict:
    """Finish an upload this project started for this digest (404 for any other, unless the
    project holds the digest already: a retry whose first answer was lost gets ``stored``
    true again). A multipart upload is completed once its parts are the announced size, cut
    as handed out, and, when ``parts`` is sent, exactly those parts (400 otherwise; the
    staged bytes are deleted). The bytes are then read back and hashed, always: ``stored``
    true when they are the digest, 422 naming the mismatch otherwise, the same whoever else
    holds it. Heavy work (a full read), within the caller's share."""
    parts = None if body.parts is None else [(p.number, p.etag) for p in body.parts]
    stored = await heavy(
        request, c, who, run_in_threadpool, uploads.complete, c, entity, project, body.upload_id, body.digest, parts
    )
    return {"digest": body.digest, "stored": stored}


@router.post("/projects/{entity}/{project}/blobs/{digest:digest}/damaged")
async def blob_damaged(
    entity: EntityPath, project: ProjectPath, digest: DigestPath, request: Request, c: Ctx, who: Who
) -> dict:
    """Report that this project's blob read wrong or not at all. The server checks the object
    itself (one full read), sets a damaged one aside, and until the bytes are sent again no
    project holds the digest: the next log of the same file, from any project, stores it
    anew. ``state``: ``set aside``, ``missing`` or ``intact`` (the read went wrong, not the copy).
    Any reader may report, so what a report costs is bounded (``server/damage.py``): one
    check of a digest at a time, an intact answer remembered for a minute, and the check is
    heavy work within the caller's share."""
    blobs_index.check_content_digest(digest)
    state = await heavy(
        request,
        c,
        who,
        run_in_threadpool,
        blobs_index.report_damaged,
        c.meta,
        c.blobs,
        entity,
        project,
        digest,
        c.damage.check,
    )
    return {"state": state}


@router.post("/projects/{entity}/{project}/blobs/urls")
def blob_urls(entity: EntityPath, project: ProjectPath, body: UrlRequest, c: Ctx, who: Who) -> dict:
    """Presigned GET URLs for many blobs in one call (what a client fetching a version's files
    asks first: one call per 5,000 files instead of a redirect per file). ``direct`` is false
    when the store cannot presign; the client then reads each blob through the server. Only
    blobs the project holds get a URL; the others are listed in ``missing``, as unknown
    digests are."""
    presign = getattr(c.blobs, "presign_get", None)
    wanted = list(dict.fromkeys(body.digests))
    held = authz.held_digests(c, who, entity, project, wanted)
    missing = [d for d in wanted if d not in held]
    if presign is None:
        return {"direct": False, "urls": {}, "missing": missing}
    return {"direct": True, "urls": {d: presign(d) for d in wanted if d in held}, "missing": missing}


@router.get("/projects/{entity}/{project}/blobs/{digest:digest}", response_class=Response, responses=_BLOB_ANSWERS)
def blob_get(
    entity: EntityPath,
    project: ProjectPath,
    digest: DigestPath,
    c: Ctx,
    who: Who,
    direct: bool = True,
    filename: FilenameQuery = None,
) -> Response:
    """The blob's bytes: a redirect to a presigned URL when the store can presign, else streamed.
    With ``filename``, streamed bytes come as an attachment of that name (the web UI's downloads).
    A digest the project does not hold answers 404, as an unknown one does."""
    authz.blob(c, who, entity, project, digest)
    presign = getattr(c.blobs, "presign_get", None)
    if presign is not None and direct:
        return RedirectResponse(
            presign(digest, disposition=attachment(filename) if filename else None), status_code=307
        )
    f = c.blobs.open(digest)

    def stream() -> Iterator[bytes]:
        with f:
            while chunk := f.read(1 << 20):
                yield chunk

    headers = {"X-Content-Type-Options": "nosniff"}
    if filename:
        headers["Content-Disposition"] = attachment(filename)
    return StreamingResponse(stream(), media_type="application/octet-stream", headers=headers)


def attachment(filename: str) -> str:
    """A Content-Disposition for any name: an ASCII fallback plus the exact UTF-8 name (RFC 6266)."""
    from urllib.parse import quote

    name = filename.replace("\\", "/").rsplit("/", 1)[-1] or "download"
    fallback = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\;<>:|?*' else "_" for ch in name)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


@router.post("/chunks")
def chunks(body: ChunkKeys, c: Ctx, who: Who) -> dict:
    """Manifest chunks by key, of the manifest of version ``version_id`` (which the caller
    must be able to read). Keys outside that manifest's tree are left out, as missing ones are."""
    got = authz.chunks(c, who, body.version_id, body.keys)
    return {"chunks": {k: base64.b64encode(v).decode() for k, v in got.items()}}


# -- versions --------------------------------------------------------------------


@router.post("/projects/{entity}/{project}/artifacts/{name}/versions", openapi_extra=_COMMIT_BODY)
async def commit(entity: EntityPath, project: ProjectPath, name: NamePath, request: Request, c: Ctx, who: Who) -> dict:
    def run(req: CommitRequest) -> dict:
        return wire.version_out(c.project_engine(entity, project).commit(req))

    return await heavy(request, c, who, _commit_like, request, c, who, entity, project, name, run)


@router.post("/projects/{entity}/{project}/artifacts/{name}/drafts/{distributed_id}/upsert", openapi_extra=_COMMIT_BODY)
async def draft_upsert(
    entity: EntityPath,
    project: ProjectPath,
    name: NamePath,
    distributed_id: DistributedIdPath,
    request: Request,
    c: Ctx,
    who: Who,
) -> dict:
    def run(req: CommitRequest) -> dict:
        c.project_engine(entity, project).upsert_draft(req, distributed_id)
        return {"ok": True}

    return await heavy(request, c, who, _commit_like, request, c, who, entity, project, name, run)


@router.post("/projects/{entity}/{project}/artifacts/{name}/drafts/{distributed_id}/finish", openapi_extra=_COMMIT_BODY)
async def draft_finish(
    entity: EntityPath,
    project: ProjectPath,
    name: NamePath,
    distributed_id: DistributedIdPath,
    request: Request,
    c: Ctx,
    who: Who,
) -> dict:
    def run(req: CommitRequest) -> dict:
        return wire.version_out(c.project_engine(entity, project).finish_draft(req, distributed_id))

    return await heavy(request, c, who, _commit_like, request, c, who, entity, project, name, run)


async def _commit_like(
    request: Request,
    c: ServerContext,
    who: auth.Principal,
    entity: str,
    project: str,
    name: str,
    run: Callable[[CommitRequest], dict],
) -> dict:
    """Spool the body (streamed, at most ``max_json_bytes``), then parse it and ``run`` the
    request in a worker thread; the entries live on disk meanwhile (see bodies.py)."""

    def parse_and_run(f: IO[bytes]) -> dict:
        with f:  # closed here: freeing a large spooled file takes time, never on the event loop
            size = f.seek(0, 2)
            f.seek(0)
            # small bodies: the schema's own JSON parse; large ones streamed (bodies.py)
            req = (
                models.parse_commit(entity, project, name, f.read())
                if size <= bodies.STREAM_FROM
                else bodies.commit_request(entity, project, name, f)
            )
        try:
            _check_ids(c, who, req)
            return run(req)
        finally:
            if isinstance(req.entries, bodies.SpilledEntries):
                req.entries.close()

    return await run_in_threadpool(parse_and_run, await bodies.spool(request, c.max_json_bytes))


def _check_ids(c: ServerContext, who: auth.Principal, req: CommitRequest) -> None:
    authz.commit_run(c, req.run_id, req.entity, req.project)
    authz.base_version(c, who, req)


@router.get("/projects/{entity}/{project}/artifacts/{name}/resolve/{alias}")
def resolve(entity: EntityPath, project: ProjectPath, name: NamePath, alias: AliasPath, c: Ctx, who: Who) -> dict:
    ref = parse_ref(f"{entity}/{project}/{name}:{alias}")
    return wire.version_out(authz.resolve(c, who, ref, entity, project))


@router.get("/projects/{entity}/{project}/artifacts/{name}/versions")
def versions(
    entity: EntityPath,
    project: ProjectPath,
    name: NamePath,
    c: Ctx,
    who: Who,
    tag: TagsQuery = None,
    limit: LimitQuery = None,
    after: AfterQuery = None,
) -> dict:
    """The committed versions, oldest first: every one, or a page (``limit``, from ``after``)."""
    if limit is None and after is None:
        found = authz.readable_versions(c, who, c.engine.list_versions(entity, project, name, tag))
        return {"versions": [wire.version_out(v) for v in found], "next": None}
    # filled with readable versions only, so that neither "next" nor an empty page shows a hidden link exists
    page = fill_page(
        lambda at, n: c.engine.versions_page(entity, project, name, tag, at, n),
        lambda rows: authz.readable_versions(c, who, rows),
        lambda v: str(v.index),
        after,
        limit or MAX_PAGE,
    )
    return {"versions": [wire.version_out(v) for v in page.items], "next": page.next}


@router.get("/projects/{entity}/{project}/artifacts/{name}/alias-history")
def alias_history(entity: EntityPath, project: ProjectPath, name: NamePath, c: Ctx, who: Who) -> dict:
    rows = authz.readable_alias_history(c, who, entity, project, name)
    return {"history": [{k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in r.items()} for r in rows]}


@router.get("/projects/{entity}/{project}/artifacts")
def collections(
    entity: EntityPath,
    project: ProjectPath,
    c: Ctx,
    who: Who,
    type: TypeQuery = None,  # noqa: A002
    limit: LimitQuery = None,
    after: AfterQuery = None,
) -> dict:
    """The project's collections by name: every one, or a page (``limit``, from ``after``)."""
    if limit is None and after is None:
        page = Page(c.engine.list_collections(entity, project, type), None)
    else:
        page = c.engine.collections_page(entity, project, type, after, limit or MAX_PAGE)
    found = authz.visible_collections(c, who, page.items)
    return {"collections": [wire.collection_out(x) for x in found], "next": page.next}


@router.patch("/projects/{entity}/{project}/artifacts/{name}")
def collection_patch(
    entity: EntityPath, project: ProjectPath, name: NamePath, body: CollectionPatch, c: Ctx, who: Who
) -> dict:
    """Edit a collection's description and tags."""
    auth.require(c.meta, who, entity, "write")
    changes = {k: getattr(body, k) for k in body.model_fields_set}
    return wire.collection_out(
        authz.visible_collections(c, who, [c.engine.update_collection(entity, project, name, **changes)])[0]
    )


@router.get("/versions/{version_id}")
def version(version_id: VersionIdPath, c: Ctx, who: Who) -> dict:
    return wire.version_out(authz.version(c, who, version_id, READ))  # a link: its source too


@router.patch("/versions/{version_id}")
def version_patch(version_id: VersionIdPath, body: VersionPatch, c: Ctx, who: Who) -> dict:
    v = authz.version(c, who, version_id, WRITE)  # a link: read on its source too
    authz.commit_run(c, body.run_id, v.entity, v.project)
    changes = {k: getattr(body, k) for k in body.model_fields_set if k != "run_id"}
    return wire.version_out(c.engine.update_version(version_id, run_id=body.run_id, by=who.name, **changes))


@router.delete("/versions/{version_id}")
def version_delete(version_id: VersionIdPath, c: Ctx, who: Who, delete_aliases: bool = False) -> dict:
    """Delete a version (refused while it has aliases other than ``latest``, unless
    ``delete_aliases``); of a link, only the link goes: the write role on its entity
    (authz.gate) is enough."""
    c.engine.delete_version(version_id, delete_aliases, by=who.name)
    return {"ok": True}


@router.get("/versions/{version_id}/history")
def version_history(version_id: VersionIdPath, c: Ctx, who: Who) -> dict:
    """The version's recorded edits, newest first: who, when, and what changed (the names of
    changed fields and metadata keys, aliases and tags added or removed)."""
    authz.version(c, who, version_id, READ)
    rows = authz.readable_run_rows(c, who, c.engine.version_history(version_id))
    return {"history": [{**r, "at": r["at"].isoformat()} for r in rows]}


@router.post("/versions/{version_id}/links")
def version_link(version_id: VersionIdPath, body: LinkRequest, c: Ctx, who: Who) -> dict:
    """Link the version into the collection ``entity/project/name`` (a pointer: no byte is
    copied). Needs read on the version (and its source: ``authz.gate``) and write on the
    target entity (without any role there, it answers as a missing project)."""
    authz.project(c, who, body.entity, body.project, WRITE)
    run_ref = None
    if body.run_id is not None:  # the linking run, of any project the caller may write to
        r = authz.run(c, who, body.run_id, WRITE, body.run_entity, body.run_project)
        run_ref = run_path(r.entity, r.project, r.id)
    v = c.engine.link_version(version_id, body.entity, body.project, body.name, body.aliases, run_ref)
    return wire.version_out(v)


@router.get("/versions/{version_id}/links")
def version_links(version_id: VersionIdPath, c: Ctx, who: Who) -> dict:
    """The links to this version that the caller may read."""
    found = authz.readable_versions(c, who, c.engine.version_links(version_id))
    return {"versions": [wire.version_out(v) for v in found]}


@router.post("/versions/{version_id}/unlink")
def version_unlink(version_id: VersionIdPath, c: Ctx, who: Who) -> dict:
    """Remove a link; the write role on the link's entity is enough (its source is untouched:
    ``authz.REMOVALS``)."""
    c.engine.unlink_version(version_id)
    return {"ok": True}


@router.get("/versions/{version_id}/users")
def version_users(version_id: VersionIdPath, c: Ctx, who: Who) -> dict:
    """The runs that used this version, those of entities the caller can read."""
    seen: dict[str, bool] = {}
    return {
        "runs": [wire.run_out(r) for r in c.engine.version_users(version_id) if authz.can_read(c, who, r.entity, seen)]
    }


# -- runs ------------------------------------------------------------------------


@router.post("/projects/{entity}/{project}/runs")
def run_create(entity: EntityPath, project: ProjectPath, body: RunCreate, c: Ctx, who: Who) -> dict:
    r = c.engine.create_run(
        entity,
        project,
        run_id=body.id,
        name=body.name,
        group=body.group,
        job_type=body.job_type,
        config=body.config,
        tags=body.tags,
        notes=body.notes,
        resume=body.resume,
    )
    return wire.run_out(r)


@router.get("/projects/{entity}/{project}/runs")
def run_list(
    entity: EntityPath,
    project: ProjectPath,
    c: Ctx,
    who: Who,
    limit: LimitQuery = None,
    after: AfterQuery = None,
    filters: RunFiltersQuery = None,
    order: RunOrderQuery = None,
) -> dict:
    """The project's runs, oldest first: every one, or a page (``limit``, from ``after``)
    of those matching ``filters`` by ``order``."""
    if limit is None and after is None and filters is None and order is None:
        return {"runs": [wire.run_out(r) for r in c.engine.list_runs(entity, project)], "next": None}
    try:
        wanted = json.loads(filters) if filters is not None else None
    except ValueError:
        raise UsageError(f"filters must be a JSON object of field to value, got {filters!r}") from None
    page = c.engine.runs_page(entity, project, wanted, order, after, limit or MAX_PAGE)
    return {"runs": [wire.run_out(r) for r in page.items], "next": page.next}


@router.get("/runs/{run_id}")
def run_get(run_id: RunIdPath, ref: TheRun, c: Ctx, who: Who) -> dict:
    return wire.run_out(c.engine.get_run(ref))


@router.post("/runs/{run_id}/finish")
def run_finish(run_id: RunIdPath, ref: TheRun, body: RunFinish, c: Ctx, who: Who) -> dict:
    c.engine.finish_run(ref, body.exit_code, body.config, body.summary)
    return {"ok": True}


# The record routes read their body themselves (size-limited, parsed off the event loop, NaN
# allowed); the document still states it.
_HISTORY_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/HistoryBody"}}},
    }
}
_PATCH_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RunPatch"}}},
    }
}


@router.post("/runs/{run_id}/history", openapi_extra=_HISTORY_BODY)
async def run_log(run_id: RunIdPath, ref: TheRun, request: Request, c: Ctx, who: Who) -> dict:
    """Append a batch of history rows (a step already stored is replaced) and store the
    summary and config if given, in one transaction."""
    data = await raw_body(request, c.max_json_bytes)
    body = await run_in_threadpool(models.parse_json_body, models.HistoryBody, data)
    await run_in_threadpool(c.engine.log_history, ref, body.rows, body.summary, body.config)
    return {"ok": True}


@router.get("/runs/{run_id}/history")
def run_history(
    run_id: RunIdPath,
    ref: TheRun,
    c: Ctx,
    who: Who,
    keys: Annotated[list[Annotated[str, StringConstraints(max_length=1000)]] | None, Query(max_length=100)] = None,
    min_step: Annotated[int | None, Query(ge=0, le=2**62)] = None,
    max_step: Annotated[int | None, Query(ge=0, le=2**62)] = None,
    limit: Annotated[int, Query(ge=1, le=HISTORY_LIMIT)] = HISTORY_LIMIT,
    samples: Annotated[int | None, Query(ge=1, le=HISTORY_LIMIT)] = None,
) -> Response:
    """History rows in step order: ``min_step <= _step < max_step``, holding every key of
    ``keys``; at most ``limit`` (page with ``min_step``), or ``samples`` spread evenly."""
    texts = c.engine.run_history(ref, keys or None, min_step, max_step, None if samples else limit, samples)
    # the stored JSON texts as they are (NaN included), not parsed and encoded again
    return Response('{"rows":[' + ",".join(texts) + "]}", media_type="application/json")


@router.patch("/runs/{run_id}", openapi_extra=_PATCH_BODY)
async def run_update(run_id: RunIdPath, ref: TheRun, request: Request, c: Ctx, who: Who) -> dict:
    """Replace a run's summary, config, tags, notes or name (finished runs too)."""
    data = await raw_body(request, c.max_json_bytes)
    body = await run_in_threadpool(models.parse_json_body, models.RunPatch, data)
    changes = {k: getattr(body, k) for k in body.model_fields_set}
    await run_in_threadpool(lambda: c.engine.update_run(ref, **changes))
    return {"ok": True}


@router.post("/runs/{run_id}/uses")
def run_use(run_id: RunIdPath, ref: TheRun, body: Use, c: Ctx, who: Who) -> dict:
    authz.version(c, who, body.version_id, READ)  # a link: read on its source too
    c.engine.use_version(ref, body.version_id)
    return {"ok": True}


@router.get("/runs/{run_id}/outputs")
def run_outputs(run_id: RunIdPath, ref: TheRun, c: Ctx, who: Who) -> dict:
    return {"versions": [wire.version_out(v) for v in authz.readable_versions(c, who, c.engine.run_outputs(ref))]}


@router.get("/runs/{run_id}/inputs")
def run_inputs(run_id: RunIdPath, ref: TheRun, c: Ctx, who: Who) -> dict:
    """The versions this run used, those the caller can read."""
    return {"versions": [wire.version_out(v) for v in authz.readable_versions(c, who, c.engine.run_inputs(ref))]}
