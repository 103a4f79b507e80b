"""What every web-UI route reads from its request, shared by ``ui`` and the ``ui_*`` routers.

The server context, the caller (from a ``Bearer`` header or the ``cairn_key`` login cookie),
the manifest cache, the page number asked for, and a version after the caller's read role on
it is checked; ``page_router`` makes a router whose routes first run the two guards every UI
path needs (not an ``/api`` path; well-formed names in the path).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..core.errors import ArtifactNotFoundError, UsageError
from ..core.names import check_name, parse_ref
from ..core.versions import VersionInfo
from ..engine import accounts as auth
from . import authz, browse
from .access import note_user
from .context import ServerContext

COOKIE = "cairn_key"


def not_api(request: Request) -> None:
    """A 404 for an ``/api`` path that reached a UI route."""
    # "/api/v1/chunks" would otherwise match "/{entity}/{project}/{name}" for a wrong method.
    if request.url.path == "/api" or request.url.path.startswith("/api/"):
        raise StarletteHTTPException(404)


def check_path_names(request: Request) -> None:
    """Entity, project and artifact names in a page's path are checked before any query
    (PostgreSQL refuses NUL in text; a malformed name is a 400 page, not a 500)."""
    for key, what in (("entity", "entity name"), ("project", "project name"), ("name", "artifact name")):
        if key in request.path_params:
            check_name(request.path_params[key], what)


def page_router() -> APIRouter:
    """A router of UI pages (left out of the OpenAPI schema) behind ``not_api`` and ``check_path_names``."""
    return APIRouter(include_in_schema=False, dependencies=[Depends(not_api), Depends(check_path_names)])


def server_context(request: Request) -> ServerContext:
    return request.app.state.cairn


def login_key(request: Request) -> str | None:
    """The API key the request carries: a ``Bearer`` header, else the login cookie."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return request.cookies.get(COOKIE) or None


def caller(request: Request) -> auth.Principal:
    """The caller; ``AuthError`` (shown as the login form) without a valid key."""
    who = server_context(request).principal(login_key(request))
    note_user(request, who.name)
    return who


def manifest_cache(request: Request) -> browse.ManifestCache:
    """The app's one cache of decoded manifests, made on first use."""
    state = request.app.state
    if getattr(state, "ui_manifests", None) is None:
        state.ui_manifests = browse.ManifestCache()
    return state.ui_manifests


def page_number(request: Request, name: str = "page") -> int:
    """The page number asked for; 1 for anything but a plain number. ``str.isdigit`` alone
    accepts '²' and other scripts' digits, which ``int`` refuses: ASCII digits only, and few
    enough of them (int() refuses more than 4,300 digits)."""
    raw = request.query_params.get(name, "1")
    return max(int(raw), 1) if raw.isascii() and raw.isdigit() and len(raw) <= 9 else 1


def resolve_version(
    c: ServerContext, who: auth.Principal, entity: str, project: str, name: str, alias: str
) -> VersionInfo:
    """The version ``alias`` names (a link whose source ``who`` cannot read is missing)."""
    try:
        ref = parse_ref(f"{entity}/{project}/{name}:{alias}")
    except UsageError:
        raise ArtifactNotFoundError(
            f"{entity}/{project}/{name}:{alias}", "that is not a valid version or alias"
        ) from None
    return authz.resolve(c, who, ref, entity, project)


def readable_version(
    request: Request, entity: str, project: str, name: str, alias: str
) -> tuple[ServerContext, auth.Principal, VersionInfo]:
    """The version, after the caller's read role on it (and on a link's source) is checked."""
    c, who = server_context(request), caller(request)
    authz.project(c, who, entity, project, authz.READ)  # no role: 404, as for a missing project
    return c, who, resolve_version(c, who, entity, project, name, alias)  # a link: read through its source
