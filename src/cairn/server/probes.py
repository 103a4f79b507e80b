"""Liveness and readiness, for load balancers and orchestrators.

``/api/health`` answers as long as the process serves HTTP: it runs on the event loop and
touches no store, so a replica busy with heavy requests still answers it at once.
``/api/ready`` checks that the metadata database and the object store answer (each in a
worker thread, bounded by ``READY_TIMEOUT``) and is 503 with ``Retry-After`` while one does
not: take the replica out of rotation, do not restart it.

``/api/ready`` needs no key, so its answer is remembered for ``READY_TTL`` seconds per
replica and concurrent callers share one check in flight: however often it is asked, a
replica touches each store at most about once per ``READY_TTL``. The answer says only
ready or not and, per store, a reason code (``ok``, ``unavailable``, ``timeout``); what
went wrong (hosts, messages) goes to the server log.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

if TYPE_CHECKING:  # context makes the ready cache of this module: a runtime import would be a circle
    from .context import ServerContext

log = logging.getLogger("cairn.server.probes")
router = APIRouter()
READY_TIMEOUT = 5.0
RETRY_AFTER = 2
READY_TTL = 1.5  # seconds an answer of /api/ready is reused


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


async def _probe(name: str, check: Callable[[ServerContext], None], c: ServerContext) -> str:
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


class ReadyCache:
    """The last readiness answer of this replica, reused for ``ttl`` seconds; one check at a
    time (callers arriving during a check wait for its answer instead of starting theirs)."""

    def __init__(self, ttl: float = READY_TTL, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._answer: dict[str, str] | None = None
        self._at = 0.0
        self._lock: anyio.Lock | None = None
        self.checks = 0  # how many times the stores were asked (for tests and the bench)

    def _fresh(self) -> dict[str, str] | None:
        if self._answer is not None and self._clock() - self._at < self.ttl:
            return self._answer
        return None

    async def get(self, c: ServerContext) -> dict[str, str]:
        answer = self._fresh()
        if answer is not None:
            return answer
        if self._lock is None:  # made on the event loop that serves the app
            self._lock = anyio.Lock()
        async with self._lock:
            answer = self._fresh()  # a check that finished while this caller waited
            if answer is None:
                self.checks += 1
                answer = {
                    "metadata": await _probe("metadata", _check_meta, c),
                    "blobs": await _probe("blob", _check_blobs, c),
                }
                self._answer, self._at = answer, self._clock()
            return answer


@router.get("/api/ready", include_in_schema=False)
async def ready(request: Request) -> JSONResponse:
    """Readiness: 200 when the metadata and blob stores both answer, else 503 naming which
    does not (by a reason code; the reasons, which may name hosts, go to the server log).
    Answered from ``ReadyCache``: at most ``READY_TTL`` seconds old."""
    c: ServerContext = request.app.state.cairn
    got = await c.ready.get(c)
    ok = all(v == "ok" for v in got.values())
    headers = {"Cache-Control": "no-store"}
    if not ok:
        headers["Retry-After"] = str(RETRY_AFTER)
    return JSONResponse({"ready": ok, **got}, status_code=200 if ok else 503, headers=headers)
