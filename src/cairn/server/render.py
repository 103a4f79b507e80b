"""How the web UI renders: one autoescaping Jinja environment, its filters and URL helpers,
and the security headers every page carries (a strict CSP: no inline script or style)."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup
from pygments.formatters import HtmlFormatter

from ..core.sizes import human_size
from ..core.versions import RunInfo, VersionInfo
from ..engine import accounts as auth
from .browse import clip

_HERE = Path(__file__).parent
STATIC_DIR = _HERE / "static"
STATIC = {
    "style.css": "text/css; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "charts.js": "text/javascript; charset=utf-8",
    "time.js": "text/javascript; charset=utf-8",
    "tables.js": "text/javascript; charset=utf-8",
    "favicon.svg": "image/svg+xml",
    "edit.js": "text/javascript; charset=utf-8",
    "edit.css": "text/css; charset=utf-8",
    "lineage.js": "text/javascript; charset=utf-8",
    "lineage.css": "text/css; charset=utf-8",
    "find.css": "text/css; charset=utf-8",
}
# Made from installed packages at start-up (Pygments' classes for highlighted previews).
GENERATED = {"highlight.css": HtmlFormatter(style="default").get_style_defs(".highlight").encode()}
STATIC["highlight.css"] = "text/css; charset=utf-8"


def static_bytes(name: str) -> bytes:
    return GENERATED[name] if name in GENERATED else (STATIC_DIR / name).read_bytes()


# Static URLs carry a hash of the file, so browsers may cache them for a year.
_STATIC_VERSION = {n: hashlib.sha256(static_bytes(n)).hexdigest()[:12] for n in STATIC}
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; media-src 'self'; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


# -- templates --------------------------------------------------------------------


def when(t: datetime | None) -> Markup:
    """A ``<time>`` in UTC; static/time.js shows it in the viewer's time zone, with a relative time."""
    if t is None:
        return Markup("")
    if t.tzinfo is None:  # the store keeps UTC
        t = t.replace(tzinfo=timezone.utc)
    t = t.astimezone(timezone.utc)
    return Markup('<time datetime="{}">{}</time>').format(
        t.strftime("%Y-%m-%dT%H:%M:%SZ"), t.strftime("%Y-%m-%d %H:%M UTC")
    )


def href(*segments: str, **query: Any) -> str:
    """A root-relative URL from raw path segments (each quoted) and query values (None dropped)."""
    path = "/" + "/".join(quote(str(s), safe="") for s in segments)
    q = {k: v for k, v in query.items() if v is not None and v != ""}
    return path + ("?" + urlencode(q) if q else "")


def version_href(v: VersionInfo, **query: Any) -> str:
    return href(v.entity, v.project, v.name, v.version, **query)


def run_href(r: RunInfo, *more: str) -> str:
    """A run's page: its id and, as a run id is unique within its project only, its project."""
    return href("runs", r.id, *more, entity=r.entity, project=r.project)


def blob_href(entity: str, project: str, digest: str, path: str) -> str:
    return href("api", "v1", "projects", entity, project, "blobs", digest, filename=path.rsplit("/", 1)[-1])


def raw_href(v: VersionInfo, path: str) -> str:
    """A file of a version as raw bytes (served by the UI's raw route, with safe headers)."""
    return href(v.entity, v.project, v.name, v.version, "raw", path=path)


def page_href(segments: list[str], query: dict[str, Any], param: str, n: int) -> str:
    return href(*segments, **{**query, param: n if n > 1 else None})


def static_url(name: str) -> str:
    return f"/-/static/{name}?v={_STATIC_VERSION[name]}"


def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(_HERE / "templates"),
    autoescape=True,  # every template, whatever its name
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters.update(size=human_size, when=when, json=pretty_json, clip=clip)
_env.globals.update(
    href=href,
    page_href=page_href,
    version_href=version_href,
    run_href=run_href,
    blob_href=blob_href,
    raw_href=raw_href,
    static_url=static_url,
)


def render(
    request: Request, template: str, status: int = 200, who: auth.Principal | None = None, **ctx: Any
) -> HTMLResponse:
    html = _env.get_template(template).render(request=request, who=who, **ctx)
    return HTMLResponse(html, status_code=status, headers=HEADERS)
