"""The ASGI app factory. The app holds stores, never per-user state, so any number of
replicas can serve one PostgreSQL + object store behind a load balancer."""

from __future__ import annotations

import re

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..core import wire
from ..core.errors import CairnError, UsageError
from ..storage.base import BlobStore
from ..storage.meta.sql import MetaStore
from .access import AccessLog
from .context import ServerContext
from .docs import mount_docs
from .errors import headers_for, status_for
from .limits import BodyLimit, Limits
from .models import CommitBody, HistoryBody, RunPatch, validation_message
from .ui import error_page


def create_app(
    meta: MetaStore, blobs: BlobStore, *, max_json_bytes: int = 256 << 20, ui: bool = True, limits: Limits | None = None
) -> FastAPI:
    """``max_json_bytes``: the largest commit body (streamed to disk, not held); ``limits``:
    what one caller may make a process do and other bodies' sizes (default: from the
    environment, see ``Limits.from_env``)."""
    app = FastAPI(
        title="cairn",
        version="1",
        summary="Artifact versioning for ML runs: the HTTP API behind the cairn SDK.",
        docs_url=None,  # served by .docs from an installed package, not a CDN
        openapi_url="/api/openapi.json",
        redoc_url=None,
    )
    app.state.cairn = ServerContext(meta, blobs, max_json_bytes=max_json_bytes, limits=limits or Limits.from_env())

    def html(request: Request) -> bool:
        return ui and request.url.path != "/api" and not request.url.path.startswith("/api/")

    @app.exception_handler(CairnError)
    async def cairn_error(request: Request, exc: CairnError) -> Response:
        if html(request):
            return error_page(request, exc)
        return JSONResponse(wire.error_out(exc), status_code=status_for(exc), headers=headers_for(exc))

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        msg = validation_message(list(exc.errors()))
        if html(request):
            return error_page(request, UsageError(msg))
        return JSONResponse(wire.error_out(UsageError(msg)), status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if html(request):
            return error_page(request, exc)
        err = UsageError(str(exc.detail)) if exc.status_code < 500 else CairnError(str(exc.detail))
        body = wire.error_out(err)
        body["error"]["type"] = "NotFoundError" if exc.status_code == 404 else body["error"]["type"]
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = _allowed(app, request)
        return JSONResponse(body, status_code=exc.status_code, headers=headers)

    @app.exception_handler(Exception)
    async def crash(request: Request, exc: Exception) -> Response:
        import logging

        logging.getLogger("cairn.server").exception("unhandled error")
        if html(request):
            return error_page(request, exc)
        return JSONResponse(wire.error_out(CairnError(f"internal error: {type(exc).__name__}")), status_code=500)

    app.add_middleware(BodyLimit, limit_for=lambda method, path: body_limit(app.state.cairn, method, path))

    from .api import router
    from .lifecycle_api import router as lifecycle_router

    app.include_router(router)
    app.include_router(lifecycle_router)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]  # FastAPI's documented way to replace the schema

    mount_docs(app, "/api/openapi.json")

    from .probes import router as probes

    app.include_router(probes)

    if ui:
        from .ui import router as ui_router
        from .ui_archive import router as archive_router
        from .ui_find import router as find_router
        from .ui_folder import router as folder_router
        from .ui_lineage import router as lineage_router

        app.include_router(lineage_router)  # before the UI's catch-all /{entity}/{project}/… pages
        app.include_router(find_router)
        app.include_router(ui_router)
        app.include_router(archive_router)
        app.include_router(folder_router)
    from .authz import check_routes

    check_routes(app)  # refuses a route that authorization does not cover
    app.add_middleware(AccessLog)  # outermost: times and logs every request, errors included
    return app


def _allowed(app: FastAPI, request: Request) -> str:
    """Every method the API documents at this path (RFC 9110: a 405 lists them all; Starlette
    names only the first route whose path matched)."""
    import re

    methods: set[str] = set()
    for template, ops in _openapi(app)["paths"].items():
        escaped = re.escape(template).replace(r"\{digest\}", "[^/:]+:[^/]*")  # api.py's digest segments
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", escaped)
        if re.fullmatch(pattern, request.url.path):
            methods |= {m.upper() for m in ops}
    return ", ".join(sorted(methods))


def _openapi(app: FastAPI) -> dict:
    """FastAPI's document plus the schemas of bodies that routes read themselves (CommitBody,
    HistoryBody, RunPatch)."""
    if app.openapi_schema is None:
        from fastapi.openapi.utils import get_openapi

        doc = get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes)
        schemas = doc.setdefault("components", {}).setdefault("schemas", {})
        for model in (CommitBody, HistoryBody, RunPatch):
            schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas.update(schema.pop("$defs", {}))
            schemas[model.__name__] = schema
        app.openapi_schema = doc
    return app.openapi_schema


_COMMIT_LIKE = re.compile(r"/api/v1/projects/[^/]+/[^/]+/artifacts/[^/]+/(versions|drafts/[^/]+/(upsert|finish))")


def body_limit(c: ServerContext, method: str, path: str) -> int:
    """The largest body a route takes: a blob's size through the server, a commit's
    ``max_json_bytes`` (streamed to disk), a blob batch's, else an ordinary JSON body's."""
    if method == "PUT" and "/blobs/" in path:
        return c.max_blob_bytes
    if method == "POST" and path.endswith("/blobs/batch"):
        return c.limits.batch_bytes
    if method == "POST" and _COMMIT_LIKE.fullmatch(path):
        return c.max_json_bytes
    if path.startswith("/api/v1/runs/") and (method == "PATCH" or path.endswith("/history")):
        return c.max_json_bytes  # run history batches and summaries (read by their routes, off the loop)
    return c.limits.json_bytes
