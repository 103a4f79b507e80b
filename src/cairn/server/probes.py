"""Liveness and readiness, for load balancers and orchestrators.

``/api/health`` answers as long as the process serves HTTP: it runs on the event loop and
touches no store, so a replica busy with heavy requests still answers it at once.
``/api/ready`` checks that the metadata database and the object store answer (each in a
worker thread, bounded by ``READY_TIMEOUT``) and is 503 with ``Retry-After`` while one does
not: take the replica out of rotation, do not restart it.
"""

from __future__ import annotations

import logging

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from .context import ServerContext

log = logging.getLogger("cairn.server.probes")
router = APIRouter()
READY_TIMEOUT = 5.0
RETRY_AFTER = 2


@router.get("/api/health", include_in_schema=False)
async def health() -> dict:
    """Liveness: the process answers. Never touches a store."""
    return {"ok": True}


def _check_meta(c: ServerContext) -> None:
    with c.meta.read() as tx:
        tx.scalar("SELECT 1")


def _check_blobs(c: ServerContext) -> None:
    ping = getattr(c.blobs, "ping", None)
    if ping is not None:
        ping()


async def _probe(name: str, check, c: ServerContext) -> str:  # noqa: ANN001
    try:
        with anyio.fail_after(READY_TIMEOUT):
            await anyio.to_thread.run_sync(check, c, abandon_on_cancel=True)
        return "ok"
    except TimeoutError:
        log.warning("readiness: the %s store did not answer within %.0f s", name, READY_TIMEOUT)
        return "timeout"
    except Exception as e:  # any failure means not ready; the reason goes to the log only
        log.warning("readiness: the %s store is unavailable: %s", name, e)
        return "unavailable"


@router.get("/api/ready", include_in_schema=False)
async def ready(request: Request) -> JSONResponse:
    """Readiness: 200 when the metadata and blob stores both answer, else 503 naming which
    does not (the reasons, which may name hosts, go to the server log)."""
    c: ServerContext = request.app.state.cairn
    got = {"metadata": await _probe("metadata", _check_meta, c), "blobs": await _probe("blob", _check_blobs, c)}
    ok = all(v == "ok" for v in got.values())
    return JSONResponse(
        {"ready": ok, **got}, status_code=200 if ok else 503, headers=None if ok else {"Retry-After": str(RETRY_AFTER)}
    )
