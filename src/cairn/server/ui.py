"""The web UI: server-rendered pages over the engine, with the same roles as the API.

Every page checks the caller's role (``authz``) before it reads anything of a project: a
key without a role on the entity gets the same "not found" page whether the project, version
or run exists or not. The key
comes from a ``Bearer`` header or the HttpOnly ``cairn_key`` cookie set by ``/-/login``.
Jinja autoescapes everything; pages send a strict Content-Security-Policy (no inline script).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..core.errors import (
    ArtifactNotFoundError,
    AuthError,
    CairnError,
    ForbiddenError,
    NotFoundError,
    StoreError,
    UsageError,
)
from ..core.names import run_path
from ..core.versions import COMMITTED, RunInfo, VersionInfo
from ..engine import accounts as auth
from . import authz, browse, diff_view, folder_view, previews, run_charts, ui_edit
from .api import attachment
from .blob_reads import byte_range, read_at
from .context import ServerContext
from .errors import status_for
from .previews import sniff
from .render import STATIC, raw_href, render, run_href, static_bytes, version_href
from .ui_request import (
    COOKIE,
    caller,
    login_key,
    manifest_cache,
    page_number,
    page_router,
    readable_version,
    resolve_version,
    server_context,
)


log = logging.getLogger("cairn.server.ui")

router = page_router()

COOKIE_AGE = 30 * 24 * 3600
VERSIONS_PAGE = 50
RUNS_PAGE = 50
DIFF_PAGE = 500
HISTORY_ROWS = 100


# -- callers ----------------------------------------------------------------------


def _readable(c: ServerContext, who: auth.Principal, entity: str, roles: dict[str, bool]) -> bool:
    return authz.can_read(c, who, entity, roles)


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never '//host' or a scheme (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else "/"


def _here(request: Request) -> str:
    url = request.url
    return url.path + ("?" + url.query if url.query else "")


def _same_origin(request: Request) -> bool:
    """False for a cross-site form post (login CSRF); browsers send Origin on every POST."""
    origin = request.headers.get("origin")
    if origin is None:  # not a browser; the SameSite cookie still guards the session
        return True
    return urlsplit(origin).netloc == request.headers.get("host", "")


# -- errors -----------------------------------------------------------------------


def _who_or_none(request: Request) -> auth.Principal | None:
    try:
        return caller(request)
    except CairnError:
        return None


def error_page(request: Request, exc: Exception) -> HTMLResponse:
    """The HTML answer for an error on a UI page (the API keeps its JSON errors)."""
    who = _who_or_none(request)  # for the top bar (None when the key is the problem)
    if isinstance(exc, ForbiddenError):
        return render(
            request,
            "error.html",
            403,
            who=who,
            title="No access",
            message="Your API key does not give access to this page. Ask an admin of its entity for a role.",
            login=True,
        )
    if isinstance(exc, AuthError):
        response = render(
            request,
            "login.html",
            401,
            next=_here(request),
            error="Your saved API key is no longer valid; enter a new one." if login_key(request) else None,
        )
        if request.cookies.get(COOKIE):
            response.delete_cookie(COOKIE, path="/")
        return response
    if isinstance(exc, StarletteHTTPException):
        status = exc.status_code
        message = "There is no page at this address." if status == 404 else str(exc.detail)
        return render(
            request, "error.html", status, who=who, title="Not found" if status == 404 else "Error", message=message
        )
    if isinstance(exc, (NotFoundError, UsageError)):
        return render(
            request,
            "error.html",
            status_for(exc),
            who=who,
            title="Not found" if isinstance(exc, NotFoundError) else "Bad request",
            message=str(exc),
            login=who is not None and not who.open_access,
        )
    if isinstance(exc, StoreError):
        return render(
            request,
            "error.html",
            503,
            title="Store unavailable",
            message="The store cannot be reached right now; try again shortly.",
        )
    msg = "Something went wrong on the server; the error was logged."
    return render(
        request,
        "error.html",
        status_for(exc) if isinstance(exc, CairnError) else 500,
        who=who,
        title="Error",
        message=msg,
    )


# -- static files and login ------------------------------------------------------------


@router.get("/-/static/{name}")
def static(name: str) -> Response:
    if name not in STATIC:
        raise StarletteHTTPException(404)
    data = static_bytes(name)
    return Response(
        data,
        media_type=STATIC[name],
        headers={"Cache-Control": "public, max-age=31536000, immutable", "X-Content-Type-Options": "nosniff"},
    )


@router.get("/-/login")
def login_form(request: Request) -> Response:
    target = _safe_next(request.query_params.get("next"))
    if not auth.users_exist(server_context(request).meta):  # open access: nothing to log in to
        return RedirectResponse(target, status_code=303)
    return render(request, "login.html", next=target, error=None)


@router.post("/-/login")
async def login(request: Request) -> Response:
    if not _same_origin(request):
        return render(request, "error.html", 403, title="Refused", message="Log in from this site's own login form.")
    body = await request.body()
    form = parse_qs(body[:16384].decode("utf-8", "replace"))
    key = (form.get("key") or [""])[0].strip()
    target = _safe_next((form.get("next") or ["/"])[0])
    c = server_context(request)
    try:
        who = await run_in_threadpool(c.principal, key or None)
    except AuthError:
        return render(request, "login.html", 401, next=target, error="That API key is not valid.")
    response = RedirectResponse(target, status_code=303)
    if not who.open_access:
        response.set_cookie(
            COOKIE,
            key,
            max_age=COOKIE_AGE,
            path="/",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
    return response


@router.post("/-/logout")
def logout(request: Request) -> Response:
    response = RedirectResponse("/-/login", status_code=303)
    if _same_origin(request):
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return response


# -- pages ------------------------------------------------------------------------


@router.get("/")
def index(request: Request) -> HTMLResponse:
    c, who = server_context(request), caller(request)
    roles: dict[str, bool] = {}
    projects = [(e, p) for e, p in c.engine.list_projects() if _readable(c, who, e, roles)]
    by_entity: dict[str, list[str]] = {}
    for e, p in projects:
        by_entity.setdefault(e, []).append(p)
    return render(request, "index.html", who=who, by_entity=by_entity, count=len(projects))


@router.get("/runs/{run_id}")
def run_page(run_id: str, request: Request) -> HTMLResponse:
    c, who = server_context(request), caller(request)
    run = authz.run(c, who, run_id, authz.READ, *_run_scope(request))
    ref = run_path(run.entity, run.project, run.id)
    # a run's inputs and outputs (the links it made) may be in entities the viewer cannot
    # read: those are left out, and not counted either
    outputs = authz.readable_versions(c, who, c.engine.run_outputs(ref))
    shown_inputs = authz.readable_versions(c, who, c.engine.run_inputs(ref))
    graph = browse.layout(
        [_version_node(v) for v in shown_inputs],
        browse.Node(run.name, _run_sub(run), None, "run", current=True),
        [_version_node(v) for v in outputs],
        more_href="#inputs",
        no_left="no inputs",
        no_right="no outputs",
    )
    charts, more_charts = run_charts.series(c.engine, run)
    return render(
        request,
        "run.html",
        who=who,
        run=run,
        inputs=shown_inputs,
        outputs=outputs,
        graph=graph,
        charts=charts,
        more_charts=more_charts,
        summary=run_charts.summary_items(run),
    )


@router.get("/{entity}/{project}")
def project_page(entity: str, project: str, request: Request) -> HTMLResponse:
    c, who = server_context(request), caller(request)
    authz.project(c, who, entity, project, authz.READ)
    if (entity, project) not in set(c.engine.list_projects(entity)):
        raise NotFoundError(f"project {entity}/{project} not found")
    collections = authz.visible_collections(c, who, c.engine.list_collections(entity, project))
    runs = sorted(c.engine.list_runs(entity, project), key=lambda r: r.created_at, reverse=True)
    page = page_number(request, "runs_page")
    return render(
        request,
        "project.html",
        who=who,
        entity=entity,
        project=project,
        collections=collections,
        runs=runs[(page - 1) * RUNS_PAGE : page * RUNS_PAGE],
        runs_total=len(runs),
        runs_page=page,
        runs_pages=max((len(runs) + RUNS_PAGE - 1) // RUNS_PAGE, 1),
    )


@router.get("/{entity}/{project}/{name}")
def artifact_page(entity: str, project: str, name: str, request: Request) -> HTMLResponse:
    c, who = server_context(request), caller(request)
    authz.project(c, who, entity, project, authz.READ)
    versions = sorted(c.engine.list_versions(entity, project, name), key=lambda v: v.index, reverse=True)
    # links whose source the viewer cannot read are not shown (a link is read through its source)
    versions = authz.readable_versions(c, who, versions)
    if not versions:
        raise ArtifactNotFoundError(f"{entity}/{project}/{name}", "it has no committed versions")
    by_id = {v.id: v.version for v in versions}
    history = []
    rows = authz.readable_alias_history(c, who, entity, project, name)[-HISTORY_ROWS:]
    for row in reversed(rows):
        history.append(
            {
                "alias": row["alias"],
                **{k: row.get(k) for k in authz.RUN_FIELDS},
                "at": row["at"],
                "old": by_id.get(row["old_version_id"], f"#{row['old_version_id']}") if row["old_version_id"] else None,
                "new": by_id.get(row["new_version_id"], f"#{row['new_version_id']}") if row["new_version_id"] else None,
            }
        )
    page = page_number(request)
    pages = max((len(versions) + VERSIONS_PAGE - 1) // VERSIONS_PAGE, 1)
    return render(
        request,
        "artifact.html",
        who=who,
        entity=entity,
        project=project,
        name=name,
        latest=versions[0],
        versions=versions[(page - 1) * VERSIONS_PAGE : page * VERSIONS_PAGE],
        total=len(versions),
        page=page,
        pages=pages,
        history=history,
        a_default=versions[1].version if len(versions) > 1 else versions[0].version,
        is_links=versions[0].is_link,
        links=_links(c, who, versions[(page - 1) * VERSIONS_PAGE : page * VERSIONS_PAGE]),
    )


def _links(c: ServerContext, who: auth.Principal, versions: list[VersionInfo]) -> list[VersionInfo]:
    """The links (that the viewer may read) to these logged versions."""
    roles: dict[str, bool] = {}
    out = []
    for v in versions:
        if not v.is_link:
            out += [x for x in c.engine.version_links(v.id) if _readable(c, who, x.entity, roles)]
    return out


@router.get("/{entity}/{project}/{name}/diff")
def diff_page(entity: str, project: str, name: str, request: Request) -> HTMLResponse:
    c, who = server_context(request), caller(request)
    authz.project(c, who, entity, project, authz.READ)
    a_name = request.query_params.get("a") or ""
    b_name = request.query_params.get("b") or "latest"
    if not a_name:
        raise UsageError("choose the two versions to compare: ?a=v0&b=v1")
    a = resolve_version(c, who, entity, project, name, a_name)
    b = resolve_version(c, who, entity, project, name, b_name)
    found = (
        []
        if a.manifest_key == b.manifest_key
        else browse.changes(c.engine.manifest(a.manifest_key), c.engine.manifest(b.manifest_key))
    )
    counts = {k: sum(1 for x in found if x.kind == k) for k in ("added", "removed", "changed")}
    kind = request.query_params.get("kind")
    shown = [x for x in found if x.kind == kind] if kind in counts else found
    rows: Sequence[browse.Change | diff_view.FolderChange] = shown
    if shown and a.manifest_key != b.manifest_key:  # a folder added or removed whole: one row
        cache = manifest_cache(request)
        rows = diff_view.fold(
            shown,
            browse.Tree(c.engine.manifest(a.manifest_key), cache),
            browse.Tree(c.engine.manifest(b.manifest_key), cache),
        )
    page = page_number(request)
    pages = max((len(rows) + DIFF_PAGE - 1) // DIFF_PAGE, 1)
    return render(
        request,
        "diff.html",
        who=who,
        entity=entity,
        project=project,
        name=name,
        a=a,
        b=b,
        a_name=a_name,
        b_name=b_name,
        counts=counts,
        total=len(found),
        kind=kind if kind in counts else None,
        rows=rows[(page - 1) * DIFF_PAGE : page * DIFF_PAGE],
        page=page,
        pages=pages,
        delta=sum(x.delta for x in found),
    )


@router.get("/{entity}/{project}/{name}/{alias}")
def version_page(entity: str, project: str, name: str, alias: str, request: Request) -> Response:
    c, who, v = readable_version(request, entity, project, name, alias)
    tree = browse.Tree(c.engine.manifest(v.manifest_key), manifest_cache(request))
    path = request.query_params.get("path", "").lstrip("/")
    entry = None
    if path and not path.endswith("/"):  # one file
        entry = tree.get(path)
        if entry is None:
            if tree.is_folder(path + "/"):
                return RedirectResponse(version_href(v, path=path + "/"), status_code=302)
            raise NotFoundError(f"{v.qualified_name} has no file or folder {path!r}")
        folder = path.rsplit("/", 1)[0] + "/" if "/" in path else ""
    else:
        folder = path
        if folder and not tree.is_folder(folder):
            raise NotFoundError(f"{v.qualified_name} has no folder {folder!r}")
    listing = None if entry else tree.listing(folder, request.query_params.get("after") or None)

    roles = {entity: True}
    producer = _run_or_none(c, v)
    # runs of entities the viewer cannot read are left out, and not counted either
    consumers = [r for r in c.engine.version_users(v.id) if _readable(c, who, r.entity, roles)]
    graph = browse.layout(
        [_run_node(producer)] if producer else [],
        browse.Node(f"{v.name}:{v.version}", f"{v.type} · {v.file_count:,} files", None, "version", current=True),
        [_run_node(r) for r in consumers],
        more_href="#consumers",
        no_left="no producer run",
        no_right="not used by any run yet",
    )
    crumbs = []
    acc = ""
    for part in folder.split("/")[:-1]:
        acc += part + "/"
        crumbs.append((part, acc))
    links = _links(c, who, [v])
    preview = (
        _preview(c, v, entry, page_number(request, "row") if "row" in request.query_params else 0) if entry else None
    )

    readme = folder_view.readme(c, v, listing) if listing else None
    thumbs = folder_view.thumbs(v, listing) if listing else []
    return render(
        request,
        "version.html",
        who=who,
        v=v,
        producer=producer,
        consumers=consumers,
        links=links,
        preview=preview,
        readme=readme,
        thumbs=thumbs,
        **ui_edit.page_context(c, who, v, request.cookies.get(COOKIE) or None),
        graph=graph,
        listing=listing,
        entry=entry,
        folder=folder,
        crumbs=crumbs,
        child_name=browse.child_name,
        is_folder=lambda r: isinstance(r, browse.Folder),
        after=request.query_params.get("after"),
    )


def _read_head(c: ServerContext, digest: str, limit: int) -> bytes:
    """The first ``limit`` bytes of a blob (fewer if it is shorter); the rest is never read."""
    return read_at(c.blobs, digest, 0, limit)


def _preview(c: ServerContext, v: VersionInfo, entry: Any, first_row: int = 0) -> previews.Preview:
    """The file's preview; a table shows the page of rows holding row ``first_row`` (0-based)."""
    if entry.ref:
        return previews.Preview(
            "error", {"message": "This file is a reference; its bytes are not stored here, so there is no preview."}
        )
    try:
        return previews.build(
            entry.path,
            entry.size,
            lambda at, n: read_at(c.blobs, entry.digest, at, n),
            raw_href(v, entry.path),
            first_row,
        )
    except (NotFoundError, StoreError) as e:
        log.warning("no preview of %s in %s: %s", entry.path, v.qualified_name, e)
        return previews.Preview(
            "error", {"message": "The file's bytes cannot be read right now, so there is no preview."}
        )


RAW_CSP = "sandbox; default-src 'none'"


@router.get("/{entity}/{project}/{name}/{alias}/raw")
def raw_file(entity: str, project: str, name: str, alias: str, request: Request) -> Response:
    """One file of a version, streamed. Its real content type only where that is safe: PNG,
    JPEG, GIF and WebP by their magic bytes, text as text/plain (HTML too), an SVG as an
    attachment (an ``<img>`` still shows it; a browser never opens it as a page here),
    anything else as an octet-stream attachment. Every answer is sandboxed and ``nosniff``.
    One ``Range: bytes=`` range is served as a 206 (players seek with it); others get the whole file."""
    c, _, v = readable_version(request, entity, project, name, alias)
    path = request.query_params.get("path", "").lstrip("/")
    entry = browse.Tree(c.engine.manifest(v.manifest_key), manifest_cache(request)).get(path) if path else None
    if entry is None:
        raise NotFoundError(f"{v.qualified_name} has no file {path!r}")
    if entry.ref:
        raise NotFoundError(f"{path!r} in {v.qualified_name} is a reference; its bytes are not stored here")
    head = _read_head(c, entry.digest, min(previews.SNIFF, entry.size))
    filename = path.rsplit("/", 1)[-1]
    headers = {
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": RAW_CSP,
        "Cross-Origin-Resource-Policy": "same-origin",
        "Referrer-Policy": "same-origin",
        "Content-Length": str(entry.size),
    }
    kind = sniff.raster_type(head) or sniff.media_type(path, head)  # a browser plays these; none runs as a page
    if kind is None and sniff.is_svg(path, head):
        kind = "image/svg+xml"
        headers["Content-Disposition"] = attachment(filename)
    elif kind is None and sniff.decode_text(head, truncated=len(head) < entry.size) is not None:
        kind = "text/plain; charset=utf-8"
    elif kind is None:
        kind = "application/octet-stream"
        headers["Content-Disposition"] = attachment(filename)
    headers["Accept-Ranges"] = "bytes"
    wanted = byte_range(request.headers.get("range"), entry.size)
    if isinstance(wanted, str):  # "unsatisfiable"
        return Response(
            status_code=416, headers={**headers, "Content-Range": f"bytes */{entry.size}", "Content-Length": "0"}
        )
    if wanted is not None:  # a player seeking: only those bytes, by ranged reads
        start, end = wanted
        headers.update({"Content-Range": f"bytes {start}-{end}/{entry.size}", "Content-Length": str(end - start + 1)})

        def part() -> Iterator[bytes]:
            at = start
            while at <= end:
                chunk = read_at(c.blobs, entry.digest, at, min(1 << 20, end + 1 - at))
                if not chunk:
                    return
                at += len(chunk)
                yield chunk

        return StreamingResponse(part(), status_code=206, media_type=kind, headers=headers)
    f = c.blobs.open(entry.digest)

    def stream() -> Iterator[bytes]:
        with f:
            while chunk := f.read(1 << 20):
                yield chunk

    return StreamingResponse(stream(), media_type=kind, headers=headers)


def _run_or_none(c: ServerContext, v: VersionInfo) -> RunInfo | None:
    """The run that wrote ``v`` (a link's: its source's), a run of the version's own project."""
    if not v.run_id:
        return None
    entity, project = (v.source_entity, v.source_project) if v.is_link else (v.entity, v.project)
    try:
        return c.engine.get_run(v.run_id, entity, project)
    except NotFoundError:
        return None


def _run_scope(request: Request) -> tuple[str | None, str | None]:
    """A run page's ``?entity=&project=``: a run id is unique within its project only."""
    return request.query_params.get("entity") or None, request.query_params.get("project") or None


def _run_sub(r: RunInfo) -> str:
    return " · ".join(x for x in (r.job_type, r.group, r.state) if x)


def _run_node(r: RunInfo) -> browse.Node:
    return browse.Node(f"run {r.name}", _run_sub(r), run_href(r), "run")


def _version_node(v: VersionInfo) -> browse.Node:
    if v.state != COMMITTED:  # deleted: no page to link to
        return browse.Node(f"{v.name}:{v.version}", f"{v.type} · {v.state.lower()}", None, "version")
    return browse.Node(f"{v.name}:{v.version}", f"{v.type} · {v.entity}/{v.project}", version_href(v), "version")
