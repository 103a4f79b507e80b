"""Talking to a ``cairn server``: ``Rpc`` makes one API call (retried, failed over, errors
rebuilt from the wire) and ``Presigned`` one transfer to a URL the server handed out; both
speak through one ``urllib3.PoolManager``.

One HTTP library: urllib3. It already carried the presigned transfers, where httpx's
connection pool takes one lock that 16 transfer threads queue on (300 x 1 MiB GETs from
SeaweedFS: 0.93 s with httpx, 0.39 s with urllib3, same threads), and what the API calls
need beyond it is small: a query string, a JSON body, a streamed body with its length.
httpx stays a test dependency (the tests' own HTTP calls and Starlette's test client).
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import quote, urlencode

import urllib3
from urllib3 import BaseHTTPResponse

from ..core import wire
from ..core.errors import CairnError, StoreError
from . import retry
from .retry import RETRY_STATUS, Retry, Servers, retry_after
from .settings import Settings

log = logging.getLogger(__name__)

SLOW_SECONDS = 10.0  # a server call slower than this is logged as slow
SEND_WORKERS = 16  # network transfers wait on latency, not on the CPU: more than the disk pool
API_TIMEOUT = urllib3.Timeout(connect=10.0, read=60.0)
STORE_TIMEOUT = urllib3.Timeout(connect=10.0, read=300.0)

Body = bytes | Callable[[], Any] | None  # a function is called for each attempt (a stream is read once)


def api_path(*segments: Any) -> str:
    """``/api/v1/<segment>/...`` with every segment percent-encoded, so that a name, alias or
    id is always one segment: an alias ``rc?1`` is not a query, ``#`` not a fragment, ``%``
    not an escape, and ``..`` not a step up."""
    parts = []
    for seg in segments:
        text = quote(str(seg), safe="")
        parts.append(text.replace(".", "%2E") if text in (".", "..") else text)
    return "/api/v1/" + "/".join(parts)


def project_path(entity: str, project: str, *rest: Any) -> str:
    """``/api/v1/projects/<entity>/<project>/<rest>...``, each segment encoded."""
    return api_path("projects", entity, project, *rest)


def _error_of(r: BaseHTTPResponse) -> CairnError:
    try:
        body = json.loads(r.data)
    except ValueError:
        body = None
    return wire.error_in(body, r.status)


class Rpc:
    """Calls to the server's JSON API (``/api/v1``) at the current one of the configured
    servers, under the one retry policy (``retry.py``)."""

    def __init__(self, settings: Settings, pool: urllib3.PoolManager) -> None:
        self.servers = Servers(settings.base_url or "")
        self.pool = pool
        key = settings.api_key or next((k for u in self.servers.urls if (k := _stored_key(u))), None)
        self.headers = {"User-Agent": "cairn-sdk"}
        if key:
            self.headers["Authorization"] = f"Bearer {key}"

    @property
    def base_url(self) -> str:
        """The server calls go to now (the next one of CAIRN_BASE_URL's after a failure)."""
        return self.servers.current

    def call(
        self,
        method: str,
        path: str,
        *,
        params: dict | None = None,
        json_body: Any = None,
        content: Body = None,
        headers: dict[str, str] | None = None,
        read_timeout: float | None = None,
    ) -> BaseHTTPResponse:
        """One API call, its answer read whole. Connection failures and 429/502/503/504 are
        retried (a failed server is left for the next of CAIRN_BASE_URL's); any other error
        answer is raised as the cairn error it carries. ``read_timeout`` (seconds) replaces
        the usual 60 for a call whose answer takes long (the server reading a large blob)."""
        timeout = API_TIMEOUT if read_timeout is None else urllib3.Timeout(connect=10.0, read=read_timeout)
        url = path + ("?" + urlencode(params, doseq=True) if params else "")
        hdrs = {**self.headers, **(headers or {})}
        if json_body is not None:
            content = json.dumps(json_body, separators=(",", ":"), allow_nan=False).encode()  # strict JSON
            hdrs["Content-Type"] = "application/json"
        elif content is not None:
            hdrs.setdefault("Content-Type", "application/octet-stream")  # as the routes declare raw bytes

        def attempt(n: int) -> BaseHTTPResponse:
            base = self.servers.current
            body = content() if callable(content) else content
            started = time.monotonic()
            try:
                r = self.pool.request(
                    method, base + url, body=body, headers=hdrs, redirect=False, retries=False, timeout=timeout
                )
            except urllib3.exceptions.HTTPError as e:
                other = self.servers.failed(base)
                err: CairnError = StoreError(
                    f"cannot reach the cairn server at {self.servers} ({type(e).__name__}: {e}); "
                    "check CAIRN_BASE_URL and that the server is running"
                )
                raise Retry(
                    f"{type(e).__name__} from {base}",
                    err,
                    after=0.05 if other else None,
                    unreachable=isinstance(e, urllib3.exceptions.NewConnectionError),
                ) from None
            took = time.monotonic() - started
            if took > SLOW_SECONDS:
                log.warning("slow server call: %s %s%s took %.1f s (HTTP %d)", method, base, url, took, r.status)
            if r.status < 400:
                return r
            err = _error_of(r)
            if r.status in RETRY_STATUS:
                if r.status != 429:
                    self.servers.failed(base)
                raise Retry(
                    f"HTTP {r.status} from {base}: {str(err)[:200]}",
                    err,
                    after=retry_after(r.headers.get("retry-after")),
                )
            raise err

        return retry.POLICY.call(attempt, f"{method} {path}")

    def json(self, method: str, path: str, **kw: Any) -> Any:
        """``call``, its answer decoded as JSON."""
        return json.loads(self.call(method, path, **kw).data)

    def post_json(self, path: str, body: Mapping[str, object], method: str = "POST") -> Any:
        """``json`` with a body that may hold NaN and infinities (a run's values may), which
        strict JSON encoding refuses."""
        content = json.dumps(body, separators=(",", ":"), allow_nan=True, default=str).encode()
        return self.json(method, path, content=content, headers={"Content-Type": "application/json"})

    @contextlib.contextmanager
    def stream(self, path: str) -> Iterator[BaseHTTPResponse]:
        """A GET whose body is read as it arrives (not retried: the caller decides); error
        answers are raised as their cairn errors, redirects handed back as they are."""
        r = self.pool.request(
            "GET",
            self.servers.current + path,
            headers=self.headers,
            redirect=False,
            retries=False,
            timeout=STORE_TIMEOUT,
            preload_content=False,
        )
        try:
            if r.status >= 400:
                raise _error_of(r)
            yield r
        finally:
            r.release_conn()


class Refused(Exception):
    """A presigned URL the store no longer accepts (expired, or signed by an old key)."""


class Presigned:
    """Transfers to and from presigned object-store URLs (no cairn headers: the URL is the
    credential)."""

    def __init__(self, pool: urllib3.PoolManager) -> None:
        self.pool = pool

    def put(
        self, url: str, data: bytes, headers: dict[str, str] | None = None, ok: frozenset[int] = frozenset()
    ) -> str | None:
        """PUT bytes under the retry policy (5xx and connection failures are retried; a 4xx
        other than ``ok`` is final). Returns the answer's ETag, if any (a multipart part's)."""

        def attempt(n: int) -> str | None:
            try:
                r = self.pool.request("PUT", url, body=data, headers=headers, retries=False, timeout=STORE_TIMEOUT)
            except urllib3.exceptions.HTTPError as e:
                err = StoreError(f"cannot reach the object store for a direct upload: {e}")
                raise Retry(f"direct upload: {type(e).__name__}", err) from None
            if r.status >= 400 and r.status not in ok:
                text = r.data[:200].decode(errors="replace")
                err = StoreError(f"the object store refused an upload (HTTP {r.status}): {text}")
                if r.status >= 500:
                    raise Retry(f"direct upload: HTTP {r.status}", err, after=retry_after(r.headers.get("retry-after")))
                raise err
            return r.headers.get("etag")

        return retry.POLICY.call(attempt, "direct upload")

    @contextlib.contextmanager
    def get(self, url: str) -> Iterator[BaseHTTPResponse]:
        """A GET read as it arrives; a 400 or 403 (expired or revoked) raises ``Refused``."""
        r = self.pool.request("GET", url, retries=False, timeout=STORE_TIMEOUT, preload_content=False)
        try:
            if r.status in (400, 403):
                raise Refused(url)
            yield r
        finally:
            r.release_conn()


def new_pool() -> urllib3.PoolManager:
    """The connection pools of one client (per host; as many connections as transfer threads)."""
    return urllib3.PoolManager(maxsize=SEND_WORKERS, retries=False)


def _stored_key(base_url: str) -> str | None:
    """The key saved by ``cairn login`` for this server, if any."""
    from .login import load_key

    return load_key(base_url)
