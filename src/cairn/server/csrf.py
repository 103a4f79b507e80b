"""Cross-site request forgery: a state-changing request that a browser makes with the UI's
login cookie must carry the page's token.

The UI keeps its API key in the HttpOnly, ``SameSite=Strict`` cookie ``cairn_key``; its
pages call the same ``/api/v1`` routes as the SDK with that cookie. SameSite alone leaves
same-site attackers (a sibling subdomain) and older browsers, so every request that is not
``GET``/``HEAD``/``OPTIONS`` and is not authenticated by an ``Authorization: Bearer``
header (a header another site cannot make a browser send) must carry ``X-CSRF-Token``:
an HMAC of the cookie's key under a secret of the store. It is the same for every page of
one login (a per-session token) and differs between logins; a page from another origin
cannot read it. A request with no key at all from a browser (an open-access store, where
everyone is admin) needs the token of the empty key: a site the user visits must not be
able to change a local store through the user's browser either. Clients that are not
browsers (the SDK) send neither a cookie nor ``Origin``/``Sec-Fetch-*`` headers and are
not asked for a token.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable

from fastapi import Request

from ..core.errors import ForbiddenError

HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SETTING = "csrf_secret"  # the name of the store's secret (accounts.store_secret) tokens are made with


def token(key_secret: bytes, key: str | None) -> str:
    """The CSRF token of the login whose API key is ``key`` (None: no login)."""
    return hmac.new(key_secret, b"cairn-csrf:" + (key or "").encode(), hashlib.sha256).hexdigest()


def from_browser(request: Request) -> bool:
    """Browsers send ``Origin`` on every cross-origin and every non-GET fetch, and
    ``Sec-Fetch-Site`` on every request; HTTP libraries send neither."""
    return "origin" in request.headers or "sec-fetch-site" in request.headers


def check(request: Request, key_secret: Callable[[], bytes], bearer: bool, cookie_key: str | None) -> None:
    """ForbiddenError for a state-changing request made with the cookie (or by a browser
    without any key) that lacks the right ``X-CSRF-Token``."""
    if request.method in SAFE_METHODS or bearer:
        return
    if cookie_key is None and not from_browser(request):
        return
    sent = request.headers.get(HEADER, "")
    if not sent or not hmac.compare_digest(sent, token(key_secret(), cookie_key)):
        raise ForbiddenError(
            "this request was made with the web UI's login cookie but without its CSRF token "
            f"(header {HEADER}); reload the page and try again. Scripts should send their API key "
            "in an 'Authorization: Bearer' header instead of the cookie"
        )
