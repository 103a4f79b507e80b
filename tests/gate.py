"""A reverse proxy in front of a real server that stops a client at an exact request, so that
a test can kill the client at a point it observes instead of one it hopes for.

``Gate(upstream, matches, nth)`` forwards every request to ``upstream`` until the ``nth``
request that ``matches(method, path)``: that one is forwarded too (the server does it), but
its answer is withheld, and so is every request after it. ``held`` is set at that moment:
the server has done exactly that request and the client waits for an answer that never
comes. Closing the gate answers what it holds with a 503.

``Gate(upstream, matches, nth, before=fn)`` interleaves instead: when the ``nth`` matching
request arrives, ``fn()`` runs (in a thread; it may call the server directly) before that
request is forwarded (``interleaved`` is set then), and everything goes through. The client has done all it did
before that request and nothing after it: another user's change made by ``fn`` lands
exactly between the two.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import httpx
import uvicorn
from services import free_ports
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


class Gate:
    def __init__(
        self, upstream: str, matches: Callable[[str, str], bool], nth: int, before: Callable[[], None] | None = None
    ) -> None:
        self.upstream, self.matches, self.nth, self.before = upstream.rstrip("/"), matches, nth, before
        self.seen = 0  # matching requests so far
        self.held = threading.Event()
        self.interleaved = threading.Event()  # ``before`` ran (the ``before`` mode)
        self._release: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        port = free_ports(1)[0]
        self.url = f"http://127.0.0.1:{port}"
        app = Starlette(routes=[Route("/{path:path}", self._proxy, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])])
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=2)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    async def _proxy(self, request: Request) -> Response:
        if self._release is None:
            self._loop, self._release = asyncio.get_running_loop(), asyncio.Event()
        if self.held.is_set():  # after the held request: nothing more reaches the server
            await self._release.wait()
            return Response(b"the gate is closed", status_code=503)
        body = await request.body()
        path = request.url.path
        if self.matches(request.method, path):
            self.seen += 1
            if self.before is not None and self.seen == self.nth:
                await asyncio.to_thread(self.before)
                self.interleaved.set()  # observable: the change was made between the two
        async with httpx.AsyncClient(timeout=120) as client:
            answer = await client.request(
                request.method,
                self.upstream + path,
                params=request.query_params.multi_items(),
                content=body,
                headers=[(k, v) for k, v in request.headers.items() if k.lower() not in _HOP],
            )
            raw = answer.content if answer.headers.get("content-encoding") is None else answer.read()
        if (
            self.before is None
            and self.seen == self.nth
            and not self.held.is_set()
            and self.matches(request.method, path)
        ):
            self.held.set()  # the server did it; the client never hears so
            await self._release.wait()
            return Response(b"the gate is closed", status_code=503)
        headers = {k: v for k, v in answer.headers.items() if k.lower() not in _HOP | {"content-encoding"}}
        return Response(raw, status_code=answer.status_code, headers=headers)

    def __enter__(self) -> "Gate":
        self._thread.start()
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the gate did not start")
            threading.Event().wait(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._release is not None:
            self._loop.call_soon_threadsafe(self._release.set)
        self._server.should_exit = True
        self._thread.join()
