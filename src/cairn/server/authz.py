"""Authorization: what a caller may see and do, decided here and nowhere else.

A resource is checked against the caller's role on the entity that *owns* it, never against
an entity the request merely names:

* ``/projects/{entity}/…`` routes: the role on ``entity`` (and everything else in the path —
  project, artifact, alias, digest, draft id — lives inside that entity);
* ``/versions/{version_id}``, ``/runs/{run_id}``: the role on the version's or run's own
  entity, looked up from the id;
* ids, digests and keys inside a body or query are checked by the handler with the
  functions below: ``base_version_id`` (``base_version``), a commit's ``run_id``
  (``commit_run``), a use's ``version_id`` (``version``), digests (``held_digests`` /
  ``blob``: only those the project holds), chunk keys (``chunks``: only those of the named
  version's manifest tree), staged upload ids (``server/uploads``: bound to the project that
  started them).

Every ``/api/v1`` route runs ``gate`` (a router dependency) before its handler, and
``check_routes`` refuses to start an app with a route whose path parameters ``gate`` does not
know, or that names no owner and is not listed in ``SELF_CHECKED``: a new route cannot
forget authorization silently.

What a caller learns: without any role on an entity, its projects, versions and runs answer
exactly as missing ones do (404, the message naming only what the caller sent); with a role
too weak for the request (``read`` asking to write), 403. A link (a registry entry) is read
through its source: to a caller without a role on the source's entity it is missing too, on
every route and page that reaches it by id (``version``), by name (``resolve``) or in a
listing (``readable_versions``) — except the two that remove it (``REMOVALS``), which need
only the write role on the link's own entity and answer nothing about the source. A digest, chunk key or upload id
that is not the project's answers like one that does not exist. Authorization comes before
the fields of the body are validated (``gate`` is a dependency): a request about something
the caller cannot see is a 404 whatever its body holds (only a body that is not JSON at all
is refused first, whatever it names), never a 400 that would tell the thing exists.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Header, Request

from ..core.errors import ArtifactNotFoundError, ForbiddenError, NotFoundError, RunNotFoundError, UsageError
from ..core.names import ArtifactRef
from ..core.versions import CollectionInfo, CommitRequest, RunInfo, VersionInfo
from ..core.names import run_path
from ..engine import accounts as auth
from ..engine import blobs_index
from ..engine.versions import no_such_version
from . import csrf
from .access import note_user

if TYPE_CHECKING:
    from fastapi import FastAPI

    from .context import ServerContext

READ, WRITE = "read", "write"


# -- the caller --------------------------------------------------------------------


def ctx(request: Request) -> "ServerContext":
    return request.app.state.cairn


def principal(request: Request, authorization: Annotated[str | None, Header()] = None) -> auth.Principal:
    """The caller, from its ``Bearer`` key or else the UI's login cookie; a state-changing
    request made with the cookie must carry the page's CSRF token (``csrf``)."""
    key = None
    if authorization and authorization.lower().startswith("bearer "):
        key = authorization[7:].strip()
    bearer = bool(key)
    cookie = None if bearer else (request.cookies.get("cairn_key") or None)
    key = key or cookie
    who = ctx(request).principal(key)
    csrf.check(request, ctx(request).csrf_secret, bearer, cookie)
    note_user(request, who.name)  # for the access log line
    return who


Who = Annotated[auth.Principal, Depends(principal)]


# -- entities and projects -----------------------------------------------------------


def hidden(entity: str, project: str | None = None) -> NotFoundError:
    """The answer for a project the caller cannot see, the same whether it exists or not."""
    what = f"project {entity}/{project}" if project is not None else f"entity {entity}"
    return NotFoundError(f"{what} not found (or this API key has no role on entity {entity!r})")


def project(c: "ServerContext", who: auth.Principal, entity: str, project: str | None, need: str) -> None:
    """Allow ``need`` on a project of ``entity``: 404 without any role there, 403 with too weak a one."""
    role = auth.role_on(c.meta, who, entity)
    if role is None:
        raise hidden(entity, project)
    if auth.ROLES[role] < auth.ROLES[need]:
        raise ForbiddenError(f"user {who.name!r} needs the {need!r} role on entity {entity!r} for this")


def can_read(c: "ServerContext", who: auth.Principal, entity: str, seen: dict[str, bool] | None = None) -> bool:
    """Whether ``who`` has any role on ``entity`` (memoised in ``seen`` for listings)."""
    if seen is not None and entity in seen:
        return seen[entity]
    ok = auth.role_on(c.meta, who, entity) is not None
    if seen is not None:
        seen[entity] = ok
    return ok


# -- ids -----------------------------------------------------------------------------


def version(
    c: "ServerContext", who: auth.Principal, version_id: int, need: str, *, through_source: bool = True
) -> VersionInfo:
    """The version, if ``who`` may ``need`` it; another entity's answers like a missing id.
    A link is seen through its source: without a role on the source's entity it is missing
    too, whatever ``need`` (its answer would show the source), unless ``through_source`` is
    false (removing a link: ``REMOVALS``)."""
    missing = ArtifactNotFoundError(f"version id {version_id}")
    try:
        v = c.engine.get_version(version_id)
    except ArtifactNotFoundError:
        raise missing from None
    role = auth.role_on(c.meta, who, v.entity)
    if role is None or (through_source and not source_readable(c, who, v)):
        raise missing
    if auth.ROLES[role] < auth.ROLES[need]:
        raise ForbiddenError(f"user {who.name!r} needs the {need!r} role on entity {v.entity!r} for this")
    return v


def source_readable(
    c: "ServerContext", who: auth.Principal, v: VersionInfo, seen: dict[str, bool] | None = None
) -> bool:
    """False for a link whose source's entity ``who`` has no role on."""
    return not v.is_link or can_read(c, who, v.source_entity or v.entity, seen)


def resolve(c: "ServerContext", who: auth.Principal, ref: ArtifactRef, entity: str, project: str) -> VersionInfo:
    """The version ``ref`` names in a project ``who`` may read (checked already); a link whose
    source ``who`` cannot read answers as a version the collection does not have."""
    v = c.engine.resolve(ref, entity, project)
    if not source_readable(c, who, v):
        raise no_such_version(ref, entity, project)
    return v


def readable_versions(c: "ServerContext", who: auth.Principal, versions: list[VersionInfo]) -> list[VersionInfo]:
    """The versions of a listing ``who`` may read: a role on each one's entity, and on a
    link's source's."""
    seen: dict[str, bool] = {}
    return [v for v in versions if can_read(c, who, v.entity, seen) and source_readable(c, who, v, seen)]


def visible_collections(
    c: "ServerContext", who: auth.Principal, collections: list[CollectionInfo]
) -> list[CollectionInfo]:
    """Collections of a project ``who`` may read, each counting only the versions ``who``
    may read: a collection of links counts its links whose source's entity ``who`` has a
    role on (the others are missing to ``who``, so they are not counted either)."""
    seen: dict[str, bool] = {}
    out = []
    for col in collections:
        if col.kind == "links":
            n = sum(k for entity, k in col.link_sources if can_read(c, who, entity, seen))
            col = dataclasses.replace(col, version_count=n)
        out.append(col)
    return out


RUN_FIELDS = ("run_id", "run_entity", "run_project")


def readable_run_rows(c: "ServerContext", who: auth.Principal, rows: list[dict]) -> list[dict]:
    """History rows (alias moves, edits) as ``who`` may see them: each names its run by
    entity, project and id (a run id is unique within its project only), and a run of an
    entity ``who`` has no role on is shown as no run at all (``run_id``, ``run_entity`` and
    ``run_project`` None), exactly as a row that names no run, such as a registry's move
    made by another entity's run."""
    seen: dict[str, bool] = {}
    out = []
    for r in rows:
        if r.get("run_id") and not (r.get("run_entity") and can_read(c, who, r["run_entity"], seen)):
            r = {**r, **dict.fromkeys(RUN_FIELDS)}
        out.append(r)
    return out


def readable_alias_history(c: "ServerContext", who: auth.Principal, entity: str, project: str, name: str) -> list[dict]:
    """The alias history of a collection as ``who`` may see it. In a collection of links a
    row's versions are links, read through their sources: a side ``who`` may not read (or a
    link since removed, whose source is no longer known) is shown as no version, and a row
    with no side left is not shown at all, so that neither the links, their number nor the
    times their aliases moved are told. The run a row names is shown under ``readable_run_rows``."""
    rows = c.engine.alias_history(entity, project, name)
    kind = next((col.kind for col in c.engine.list_collections(entity, project) if col.name == name), "logged")
    if kind == "links":
        shown = {v.id for v in readable_versions(c, who, c.engine.list_versions(entity, project, name))}
        out = []
        for row in rows:
            sides = {k: row[k] if row[k] in shown else None for k in ("old_version_id", "new_version_id")}
            if not any(sides.values()):
                continue
            out.append({**row, **sides})
        rows = out
    return readable_run_rows(c, who, rows)  # a link's run may be another entity's


def run(
    c: "ServerContext",
    who: auth.Principal,
    run_id: str,
    need: str,
    entity: str | None = None,
    project_name: str | None = None,
) -> RunInfo:
    """The run of that id that ``who`` may ``need`` (in ``entity``/``project_name`` when
    given). A run id is unique within its project only: runs of entities ``who`` has no role
    on are not candidates at all, so another entity's id answers exactly like a missing one;
    an id of several runs ``who`` can read must be named with its entity and project."""
    missing = RunNotFoundError("/".join(p for p in (entity, project_name, run_id) if p))
    seen: dict[str, bool] = {}
    found = [
        r
        for r in c.engine.runs_with_id(run_id)
        if (not entity or r.entity == entity)
        and (not project_name or r.project == project_name)
        and can_read(c, who, r.entity, seen)
    ]
    if not found:
        raise missing
    if len(found) > 1:
        raise UsageError(
            f"run id {run_id!r} names runs of {len(found)} projects you can read; "
            "name its entity and project (?entity=…&project=…)"
        )
    r = found[0]
    role = auth.role_on(c.meta, who, r.entity)
    if role is None:
        raise missing
    if auth.ROLES[role] < auth.ROLES[need]:
        raise ForbiddenError(f"user {who.name!r} needs the {need!r} role on entity {r.entity!r} for this")
    return r


def gated_run(request: Request) -> str:
    """The path (``entity/project/id``) of the run that ``gate`` resolved for this request's
    ``/runs/{run_id}``: the handler passes it on, so the engine acts on that very run."""
    r: RunInfo = request.state.cairn_run
    return run_path(r.entity, r.project, r.id)


def commit_run(c: "ServerContext", run_id: str | None, entity: str, project_name: str) -> None:
    """A run named in a commit, draft or alias move must be a run of that very project (the
    caller's role there was checked already). Anything else answers like a missing run."""
    if run_id is None:
        return
    try:
        c.engine.get_run(run_id, entity, project_name)
    except RunNotFoundError:
        raise RunNotFoundError(f"{entity}/{project_name}/{run_id}") from None


def base_version(c: "ServerContext", who: auth.Principal, req: CommitRequest) -> None:
    """``base_version_id`` must be a version ``who`` can read (else it answers like a
    missing id). A base in another project is allowed — the caller could download those
    files and log them again — and the target project then holds the base's blobs, so that
    its readers can fetch what its new version references."""
    if req.base_version_id is None:
        return
    if isinstance(req.base_version_id, bool) or not isinstance(req.base_version_id, int):
        raise UsageError(f"base_version_id must be a version id (an integer), got {req.base_version_id!r}")
    v = version(c, who, req.base_version_id, READ)
    if (v.entity, v.project) != (req.entity, req.project):
        blobs_index.adopt_manifest(c.meta, req.entity, req.project, c.engine.manifest(v.manifest_key))


# -- digests and chunks ----------------------------------------------------------------


def held_digests(
    c: "ServerContext", who: auth.Principal, entity: str, project_name: str, digests: list[str]
) -> set[str]:
    """Those of ``digests`` that the project holds: the only ones it may read. A project
    holds a blob once its own writers supplied the bytes (the server hashed them, as it
    does every upload), or when it was indexed from the project's versions (``blobs_index``). A store without users has one tenant, who reads everything
    (its versions may have been written in-process, which indexes nothing)."""
    if who.open_access:
        return set(digests)
    return blobs_index.project_has(c.meta, entity, project_name, digests)


def blob(c: "ServerContext", who: auth.Principal, entity: str, project_name: str, digest: str) -> None:
    """404, the same as for a digest nobody has, unless the project holds ``digest``."""
    if digest not in held_digests(c, who, entity, project_name, [digest]):
        raise NotFoundError(f"project {entity}/{project_name} holds no blob {digest}")


class TreeKeys:
    """Chunk keys of recently asked manifest trees, by root key (immutable: never stale).
    A 1,000,000-entry tree has ~8,000 leaves; its key set (~1 MB) is read from its internal
    nodes once, then each ``/chunks`` call checks its keys with set lookups."""

    def __init__(self, max_trees: int = 16) -> None:
        self._trees: OrderedDict[str, frozenset[str]] = OrderedDict()
        self._max = max_trees
        self._lock = threading.Lock()

    def get(self, c: "ServerContext", root_key: str) -> frozenset[str]:
        with self._lock:
            keys = self._trees.get(root_key)
            if keys is not None:
                self._trees.move_to_end(root_key)
                return keys
        keys = frozenset(c.engine.manifest(root_key).chunk_keys())
        with self._lock:
            self._trees[root_key] = keys
            while len(self._trees) > self._max:
                self._trees.popitem(last=False)
        return keys


def chunks(c: "ServerContext", who: auth.Principal, version_id: int, keys: list[str]) -> dict[str, bytes]:
    """The chunks among ``keys`` that belong to the manifest tree of a version ``who`` can
    read; any other key is left out, as a missing one is."""
    v = version(c, who, version_id, READ)
    tree = c.tree_keys.get(c, v.manifest_key)
    return c.meta.get_chunks([k for k in dict.fromkeys(keys) if k in tree])


# -- every route -----------------------------------------------------------------------

# path parameters that name an owner: gate checks the caller's role on it
OWNERS = ("entity", "version_id", "run_id")
# path parameters that live inside the entity named in the same path
SCOPED = frozenset({"project", "name", "alias", "digest", "distributed_id"})
# routes without an owner in their path, and why that is safe
SELF_CHECKED = {
    "/api/v1/whoami": "tells the caller about itself only",
    "/api/v1/projects": "lists only the projects of entities the caller has a role on",
    "/api/v1/chunks": "checks the version id in its body (chunks())",
}
# routes that only read although their method is not GET (a body too large for a query)
READ_POSTS = frozenset(
    {
        ("POST", "/api/v1/projects/{entity}/{project}/blobs/urls"),
        # a reader whose download failed asks the server to check the object (it re-hashes it)
        ("POST", "/api/v1/projects/{entity}/{project}/blobs/{digest}/damaged"),
        ("POST", "/api/v1/chunks"),
        # linking reads the version; the handler checks the write role on the target it names
        ("POST", "/api/v1/versions/{version_id}/links"),
    }
)
# routes that remove a link: the write role on the link's own entity is enough (a registry's
# writers can remove what they no longer may read); they answer nothing about the source
REMOVALS = frozenset(
    {
        ("DELETE", "/api/v1/versions/{version_id}"),
        ("POST", "/api/v1/versions/{version_id}/unlink"),
    }
)


def need_of(method: str, path: str) -> str:
    return READ if method in ("GET", "HEAD") or (method, path) in READ_POSTS else WRITE


def gate(request: Request, who: Who) -> None:
    """Every ``/api/v1`` route: the caller's role on each owner its path names."""
    c = ctx(request)
    route = request.scope.get("route")
    # path_format: the path without convertors ("{digest}", not "{digest:digest}")
    path = getattr(route, "path_format", None) or request.url.path
    need = need_of(request.method, path)
    from ..core.limits import MAX_INT, MAX_RUN_ID
    from ..core.names import check_name

    params = request.path_params
    # names are checked before any lookup (a NUL or an overlong name must not reach the
    # database); a bad one is a 400 whether or not anything exists
    if "entity" in params:
        project(c, who, check_name(params["entity"], "entity"), params.get("project"), need)
    if "version_id" in params:
        try:
            vid = int(params["version_id"])
        except ValueError:
            vid = None
        if vid is not None and 1 <= vid <= MAX_INT:  # else the route's own validation answers 400
            version(c, who, vid, need, through_source=(request.method, path) not in REMOVALS)
    if "run_id" in params:
        # a run id is unique within its project: ?entity=&project= name which one
        scope = [request.query_params.get(k) for k in ("entity", "project")]
        scope = [check_name(x, k) if x is not None else None for x, k in zip(scope, ("entity", "project"))]
        request.state.cairn_run = run(c, who, check_name(params["run_id"], "run_id", MAX_RUN_ID), need, *scope)


def check_routes(app: "FastAPI") -> None:
    """Refuse an app with an ``/api/v1`` route that ``gate`` does not cover."""
    from fastapi.routing import APIRoute

    def walk(routes: list) -> list[APIRoute]:
        out = []
        for r in routes:
            if isinstance(r, APIRoute):
                out.append(r)
            elif getattr(r, "original_router", None) is not None:  # an included router (FastAPI >= 0.16x)
                out += walk(r.original_router.routes)
        return out

    api = [r for r in walk(app.routes) if r.path.startswith("/api/v1")]
    if not api:  # fail closed: a FastAPI whose routes this cannot see would check nothing
        raise RuntimeError("authz.check_routes found no /api/v1 route to check; update it for this FastAPI")
    for route in api:
        params = set(route.param_convertors)
        unknown = params - set(OWNERS) - SCOPED
        if unknown:
            raise RuntimeError(
                f"route {route.path} has path parameter(s) {sorted(unknown)} that server/authz.py does not know: "
                "add them to authz.SCOPED if they live inside the entity named in the same path, or name an owner"
            )
        if params & SCOPED and "entity" not in params:
            raise RuntimeError(f"route {route.path} has {sorted(params & SCOPED)} without the entity that owns them")
        if not params & set(OWNERS) and route.path not in SELF_CHECKED:
            raise RuntimeError(
                f"route {route.path} names no entity, version or run: check the caller in its handler "
                "and list it in authz.SELF_CHECKED with the reason it is safe"
            )
        if not any(d.call is gate for d in route.dependant.dependencies):
            raise RuntimeError(f"route {route.path} does not run authz.gate")
