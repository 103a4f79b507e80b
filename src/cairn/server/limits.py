"""What one caller can make a server process do, and how large a request body may be.

Heavy operations (commits, draft contributions, blobs through the server) run in worker
threads, never on the event loop, so ``/api/health`` and light requests keep answering.
Each caller (a user; without users, a client address) may run ``per_caller`` of them at
once, and the process ``total``; a request beyond that waits up to ``wait`` seconds for a
slot, asynchronously (holding no thread), then is refused with ``BusyError`` (429 and
``Retry-After``), which the HTTP client retries.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..core.errors import BusyError
from ..core.limits import MAX_INT, ascii_int
from ..core.limits import MAX_BATCH_BLOBS
from .errors import PayloadTooLarge


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    value = ascii_int(raw.strip()) if raw else None
    return default if value is None else value


@dataclass(frozen=True)
class Limits:
    per_caller: int = 4  # heavy operations one caller may run at once in this process
    total: int = 16  # heavy operations this process runs at once (anyio's pool has 40 threads)
    wait: float = 10.0  # seconds a heavy request waits for a slot before 429
    retry_after: int = 2  # seconds a refused caller is told to wait
    json_bytes: int = 8 << 20  # an ordinary JSON body (a commit's body is streamed: see bodies.py)
    batch_bytes: int = 32 << 20  # a blob batch (the client sends ~8 MiB)
    batch_blobs: int = MAX_BATCH_BLOBS  # blobs in one batch (zero-length entries are 4 bytes each)

    @classmethod
    def from_env(cls) -> "Limits":
        """``CAIRN_SERVER_HEAVY_PER_CALLER``, ``CAIRN_SERVER_HEAVY_TOTAL`` and
        ``CAIRN_SERVER_HEAVY_WAIT`` (seconds) override the defaults."""
        d = cls()
        return cls(
            per_caller=max(1, _env_int("CAIRN_SERVER_HEAVY_PER_CALLER", d.per_caller)),
            total=max(1, _env_int("CAIRN_SERVER_HEAVY_TOTAL", d.total)),
            wait=float(_env_int("CAIRN_SERVER_HEAVY_WAIT", int(d.wait))),
        )


class HeavyGate:
    """Counts heavy operations per caller and in all. Waiting polls (every 20 ms) instead of
    using a loop-bound condition, so one gate serves any event loop (tests run several)."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._lock = threading.Lock()
        self._running: dict[str, int] = {}
        self._total = 0

    def _try_take(self, caller: str) -> bool:
        with self._lock:
            if self._total >= self.limits.total or self._running.get(caller, 0) >= self.limits.per_caller:
                return False
            self._running[caller] = self._running.get(caller, 0) + 1
            self._total += 1
            return True

    def _give(self, caller: str) -> None:
        with self._lock:
            self._total -= 1
            n = self._running[caller] - 1
            if n:
                self._running[caller] = n
            else:
                del self._running[caller]

    def running(self, caller: str) -> int:
        with self._lock:
            return self._running.get(caller, 0)

    @contextlib.asynccontextmanager
    async def slot(self, caller: str) -> AsyncIterator[None]:
        deadline = time.monotonic() + self.limits.wait
        while not self._try_take(caller):
            if time.monotonic() >= deadline:
                raise BusyError(
                    f"this server is already running {self.limits.per_caller} heavy requests (commits, uploads) "
                    f"for {caller!r} or {self.limits.total} in all; wait for some to finish, then retry",
                    retry_after=self.limits.retry_after,
                )
            await anyio.sleep(0.02)
        try:
            yield
        finally:
            self._give(caller)


class BodyLimit:
    """ASGI middleware: refuse a request body over its route's limit with 413, whether it
    declares a Content-Length or comes chunked (counted as it is received)."""

    def __init__(self, app: ASGIApp, limit_for: Callable[[str, str], int]) -> None:
        self.app = app
        self.limit_for = limit_for  # (method, path) -> bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.limit_for(scope["method"], scope["path"])
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and value.isdigit():  # bytes.isdigit: ASCII digits only
                length = int(value) if len(value) <= 18 else MAX_INT  # int() refuses over 4,300 digits
                if length > limit:
                    return await _too_large(scope, send, limit, length)
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise PayloadTooLarge(limit)
            return message

        return await self.app(scope, counted, send)


async def _too_large(scope: Scope, send: Send, limit: int, length: int) -> None:
    from fastapi.responses import JSONResponse

    from ..core import wire
    from ..core.errors import UsageError

    err = UsageError(f"the request body ({length} bytes) is larger than this server accepts ({limit} bytes)")

    async def no_body() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    await JSONResponse(wire.error_out(err), status_code=413)(scope, no_body, send)
