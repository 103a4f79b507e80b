"""The HTTP client's one retry policy, and the servers it may fail over between.

Every call the client makes — to a ``cairn server`` or to presigned object-store URLs —
goes through ``RetryPolicy.call``: an attempt that may work later raises ``Retry``; the
policy waits (the server's ``Retry-After`` when it gave one, else exponential backoff with
jitter, whichever is longer), logs each retry at INFO naming the call (seen with ``-v`` or
``CAIRN_LOG_LEVEL=INFO``), and tries again, within a bounded number of attempts and seconds
of waiting (``CAIRN_HTTP_RETRIES`` sets the number of retries: by default 9, or 5 when no server
answers at all). Then the attempt's
own error is raised.

What is retried: connections that fail or drop, and HTTP 429 (this caller has too much
running), 502, 503 (a store is away: the database restarting, the object store down) and
504. Retrying a commit is safe: committing content a version already has returns that
version (see engine/commit.py), so a commit whose answer was lost makes no second version.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from ..core.errors import UsageError
from ..core.limits import ascii_int

log = logging.getLogger("cairn.client.retry")
T = TypeVar("T")

RETRY_STATUS = frozenset({429, 502, 503, 504})


class Retry(Exception):
    """Raised by an attempt that may succeed if made again: ``error`` is what the caller
    gets once the policy gives up; ``after`` the seconds the other side asked us to wait;
    ``unreachable``: no server answered at all (a wrong URL, or every replica down)."""

    def __init__(self, reason: str, error: Exception, after: float | None = None, unreachable: bool = False) -> None:
        super().__init__(reason)
        self.reason, self.error, self.after, self.unreachable = reason, error, after, unreachable


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 10  # tries in all, the first included
    budget: float = 90.0  # seconds of waiting in all, across the retries of one call
    first: float = 0.25  # the first backoff; doubled each retry, up to ``cap``
    cap: float = 15.0  # the longest single wait (a larger Retry-After is cut to this)
    # A server that answers 503 is coming back (its database restarting): ride that out. One
    # that does not answer at all is more often a wrong URL: give up after ~15 s of backoff,
    # so that a mistyped CAIRN_BASE_URL is reported in seconds, not after a minute and a half.
    unreachable_attempts: int = 6

    def call(self, attempt: Callable[[int], T], what: str) -> T:
        """``attempt(n)`` for n = 1, 2, … until it returns or raises anything but Retry.
        With the defaults a store that is away for up to about a minute is ridden out."""
        waited, backoff = 0.0, self.first
        for n in range(1, self.attempts + 1):
            try:
                return attempt(n)
            except Retry as r:
                wait = min(max(r.after or 0.0, backoff * (0.5 + random.random())), self.cap)
                last = min(self.unreachable_attempts, self.attempts) if r.unreachable else self.attempts
                if n >= last or waited + wait > self.budget:
                    log.info("%s: %s; giving up after %d attempts (%.1f s waited)", what, r.reason, n, waited)
                    raise r.error from None
                log.info("%s: %s; retrying (%d of %d) in %.1f s", what, r.reason, n, last - 1, wait)
                time.sleep(wait)
                waited += wait
                backoff = min(backoff * 2, self.cap)
        raise AssertionError("unreachable")


def _from_env() -> RetryPolicy:
    raw = os.environ.get("CAIRN_HTTP_RETRIES", "").strip()
    if not raw:
        return RetryPolicy()
    retries = ascii_int(raw, 3)
    if retries is None or retries > 100:
        raise UsageError(
            f"CAIRN_HTTP_RETRIES={raw!r} is not a number of retries from 0 to 100; unset it or give e.g. 5"
        )
    return RetryPolicy(attempts=retries + 1, unreachable_attempts=retries + 1)


POLICY = _from_env()


def retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds; an HTTP date counts as 1 s)."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    return 1.0


class Servers:
    """The base URLs of one registry's replicas (``CAIRN_BASE_URL="http://a:8080,http://b:8080"``).
    Calls go to the current one; a call that cannot reach it, or is answered 502/503/504,
    moves everyone on to the next, which then stays current."""

    def __init__(self, spec: str) -> None:
        urls = [u.strip().rstrip("/") for u in spec.replace(" ", ",").split(",") if u.strip()]
        for u in urls:
            if not u.startswith(("http://", "https://")):
                raise UsageError(
                    f"CAIRN_BASE_URL: {u!r} is not an http(s) URL; give one server, or several separated by commas"
                )
        if not urls:
            raise UsageError("CAIRN_BASE_URL is empty; give a server's URL, e.g. http://host:8080")
        self.urls = list(dict.fromkeys(urls))
        self._i = 0
        self._lock = threading.Lock()

    @property
    def current(self) -> str:
        return self.urls[self._i]

    def failed(self, url: str) -> bool:
        """``url`` did not serve a call: move on from it (if it is still current). Whether
        there is another to move to."""
        with self._lock:
            if len(self.urls) > 1 and self.urls[self._i] == url:
                self._i = (self._i + 1) % len(self.urls)
                log.warning("cairn server %s is not answering; now using %s", url, self.urls[self._i])
        return len(self.urls) > 1

    def __str__(self) -> str:
        return ", ".join(self.urls)
