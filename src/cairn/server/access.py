"""The access log: one line per request on the ``cairn.access`` logger — method, path (no
query string), status, duration and user. Keys never appear: they travel in headers and
cookies, which are not logged, and the user is the name a key resolved to."""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.requests import Request

log = logging.getLogger("cairn.access")


def note_user(request: Request, name: str) -> None:
    """Record who the request's key belongs to, for its access-log line."""
    request.state.cairn_user = name


class AccessLog:
    """Pure ASGI middleware (a streamed body is passed through, not buffered)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})  # shared with the Request objects made inside
        start = time.perf_counter()
        status = 500  # what the client sees if the app raises before it answers

        async def sending(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            if log.isEnabledFor(logging.INFO):
                ms = (time.perf_counter() - start) * 1000
                user = state.get("cairn_user") or "-"
                method, path = scope["method"], scope.get("path", "")
                log.info(
                    "%s %s %d %.1fms user=%s",
                    method,
                    path,
                    status,
                    ms,
                    user,
                    extra={"method": method, "path": path, "status": status, "duration_ms": round(ms, 1), "user": user},
                )
