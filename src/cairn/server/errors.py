"""The one table from cairn's errors to HTTP status codes."""

from __future__ import annotations

import math

from ..core import errors as E


class TooLarge(E.UsageError):
    """More than this server accepts (413); the message names the limit."""


class PayloadTooLarge(TooLarge):
    def __init__(self, limit: int) -> None:
        super().__init__(f"the request body is larger than this server accepts ({limit} bytes); send it in parts")


STATUS: list[tuple[type[Exception], int]] = [
    (TooLarge, 413),
    (E.ForbiddenError, 403),
    (E.AuthError, 401),
    (E.InvalidPathError, 400),
    (E.UsageError, 400),
    (E.NotFoundError, 404),
    (E.ConflictError, 409),
    (E.LockedError, 409),
    (E.IntegrityError, 422),
    (E.FileChangedError, 400),
    (E.BusyError, 429),
    (E.UnavailableError, 503),
    (E.StoreError, 503),
    (E.CairnError, 500),
]


def status_for(exc: Exception) -> int:
    for cls, code in STATUS:
        if isinstance(exc, cls):
            return code
    return 500


def headers_for(exc: Exception) -> dict[str, str] | None:
    """Headers an error's answer carries: how to authenticate (401), or when to come back
    (429 and 503: the HTTP client waits ``Retry-After`` seconds and retries)."""
    status = status_for(exc)
    if status == 401:
        return {"WWW-Authenticate": "Bearer"}
    if status in (429, 503):
        return {"Retry-After": str(max(1, math.ceil(getattr(exc, "retry_after", 1))))}
    return None
