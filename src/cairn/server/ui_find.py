"""Find and compare: search versions across the projects the viewer can read, compare a
collection's versions by chosen metadata keys (columns sorted on the server over every
version, then paged; a chart for each of up to four keys), and compare
one file of two versions (a line or row diff, ``diff_view``).

Search asks the database only about entities the viewer has a role on (``auth.
readable_entities``): nothing of another entity is read, matched or counted."""

from __future__ import annotations

import json
import math
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from ..core.errors import ArtifactNotFoundError, NotFoundError, UsageError
from ..engine import accounts as auth
from ..engine import search as finder
from . import authz, browse, diff_view
from .render import href, render
from .blob_reads import read_at
from .ui_request import caller, manifest_cache, page_number, page_router, readable_version, server_context

router = page_router()

MAX_COMPARED = 1000  # newest versions whose metadata keys are offered as columns
COMPARE_PAGE = 50  # rows of the versions table on one page
MAX_CHARTS = 4
MAX_CHARTED = 5000  # newest versions drawn in a chart
MAX_KEYS = 100  # metadata keys offered as columns
MAX_COLUMNS = 12
CHART_W, CHART_H, PAD = 720, 220, 40


@router.get("/-/search")
def search_page(request: Request) -> HTMLResponse:
    c, who = server_context(request), caller(request)
    q = request.query_params.get("q", "")
    type_ = request.query_params.get("type", "").strip() or None
    hits: list[finder.Hit] = []
    more, error = False, None
    if q.strip():
        try:
            hits, more = finder.search(c.meta, q, auth.readable_entities(c.meta, who), type_)
        except UsageError as e:
            error = str(e)
    seen: dict[str, bool] = {}
    hits = [  # belt and braces: the query already kept to these entities, a link's source's too
        h
        for h in hits
        if authz.can_read(c, who, h.version.entity, seen)
        and (not h.version.is_link or authz.can_read(c, who, h.version.source_entity or "", seen))
    ]
    return render(
        request, "search.html", 400 if error else 200, who=who, q=q, type=type_ or "", hits=hits, more=more, error=error
    )


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 80 else text[:79] + "…"


def _sort_key(value: Any) -> tuple:
    """Numbers (by value), then text, then other values; a missing value sorts last."""
    n = _number(value)
    if n is not None:
        return (0, n, "")
    if isinstance(value, str):
        return (1, 0.0, value)
    return (2 if value is not None else 3, 0.0, _cell(value))


def chart(points: list[tuple[int, float, str]]) -> dict | None:
    """An SVG line chart of (version index, value, label) points, laid out here."""
    if len(points) < 1:
        return None
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(ys), max(ys)
    xspan, yspan = (x1 - x0) or 1, (y1 - y0) or 1

    def at(x: float, y: float) -> tuple[float, float]:
        return (
            round(PAD + (x - x0) / xspan * (CHART_W - 2 * PAD), 1),
            round(CHART_H - PAD - (y - y0) / yspan * (CHART_H - 2 * PAD), 1),
        )

    dots = [{"x": at(x, y)[0], "y": at(x, y)[1], "label": f"{label}: {y:g}"} for x, y, label in points]
    return {
        "w": CHART_W,
        "h": CHART_H,
        "pad": PAD,
        "line": " ".join(f"{d['x']},{d['y']}" for d in dots),
        "dots": dots,
        "y0": f"{y0:g}",
        "y1": f"{y1:g}",
        "x0": f"v{x0}",
        "x1": f"v{x1}",
    }


@router.get("/-/compare/{entity}/{project}/{name}")
def compare_page(entity: str, project: str, name: str, request: Request) -> HTMLResponse:
    c, who = server_context(request), caller(request)
    authz.project(c, who, entity, project, authz.READ)
    seen: dict[str, bool] = {}
    versions = [
        v
        for v in c.engine.list_versions(entity, project, name)
        if not v.is_link or authz.can_read(c, who, v.source_entity or entity, seen)
    ]
    if not versions:
        raise ArtifactNotFoundError(f"{entity}/{project}/{name}", "it has no committed versions")
    versions = sorted(versions, key=lambda v: v.index, reverse=True)
    all_keys: list[str] = []
    for v in versions[:MAX_COMPARED]:  # the keys offered: those of the newest versions
        for k in v.metadata:
            if k not in all_keys and len(all_keys) < MAX_KEYS:
                all_keys.append(k)
    numeric = [k for k in all_keys if any(_number(v.metadata.get(k)) is not None for v in versions[:MAX_COMPARED])]
    asked = [k for k in request.query_params.getlist("keys") if k in all_keys]
    keys = list(dict.fromkeys(asked))[:MAX_COLUMNS] if asked else numeric[:4]
    sort = request.query_params.get("sort", "")
    desc = request.query_params.get("desc", "1") != "0"
    # the whole collection is sorted here, then cut into pages: a page shows its place in the
    # order of every version, not an order of its own rows
    if sort in keys:
        present = [v for v in versions if sort in v.metadata]
        absent = [v for v in versions if sort not in v.metadata]  # last, whichever the direction
        rows = sorted(present, key=lambda v: _sort_key(v.metadata[sort]), reverse=desc) + absent
    else:
        sort = "version"
        rows = sorted(versions, key=lambda v: v.index, reverse=desc)
    pages = max((len(rows) + COMPARE_PAGE - 1) // COMPARE_PAGE, 1)
    page = min(page_number(request), pages)
    asked_charts = [k for k in request.query_params.getlist("chart") if k in numeric]
    chart_keys = list(dict.fromkeys(asked_charts))[:MAX_CHARTS] or [k for k in keys if k in numeric][:1]
    charts = []
    for key in chart_keys:
        points = sorted(
            (v.index, n, v.version) for v in versions[:MAX_CHARTED] if (n := _number(v.metadata.get(key))) is not None
        )
        if (drawn := chart(points)) is not None:
            charts.append((key, drawn))

    def query(**change: Any) -> str:
        now = {"sort": sort, "desc": "1" if desc else "0", "page": page, **change}
        return (
            href("-", "compare", entity, project, name, keys=None, sort=now["sort"], desc=now["desc"])
            + "".join("&keys=" + _q(k) for k in keys)
            + "".join("&chart=" + _q(k) for k in chart_keys)
            + (f"&page={now['page']}" if now["page"] > 1 else "")
        )

    def sort_href(col: str) -> str:
        return query(sort=col, desc="0" if sort == col and desc else "1", page=1)

    return render(
        request,
        "compare.html",
        who=who,
        entity=entity,
        project=project,
        name=name,
        rows=rows[(page - 1) * COMPARE_PAGE : page * COMPARE_PAGE],
        first=(page - 1) * COMPARE_PAGE,
        page=page,
        pages=pages,
        page_href=lambda n: query(page=n),
        keys=keys,
        all_keys=all_keys,
        numeric=numeric,
        sort=sort,
        desc=desc,
        sort_href=sort_href,
        cell=_cell,
        charts=charts,
        chart_keys=chart_keys,
        charted=min(len(versions), MAX_CHARTED),
        total=len(versions),
    )


def _q(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")


@router.get("/-/filediff/{entity}/{project}/{name}")
def file_diff_page(entity: str, project: str, name: str, request: Request) -> HTMLResponse:
    """One file of two versions compared: a line diff of text, a row diff of a CSV/TSV
    table, each read only up to ``diff_view.MAX_BYTES``."""
    c, who, a = readable_version(request, entity, project, name, request.query_params.get("a") or "")
    _, _, b = readable_version(request, entity, project, name, request.query_params.get("b") or "latest")
    path = request.query_params.get("path", "").lstrip("/")
    cache = manifest_cache(request)
    old = browse.Tree(c.engine.manifest(a.manifest_key), cache).get(path) if path else None
    new = browse.Tree(c.engine.manifest(b.manifest_key), cache).get(path) if path else None
    if old is None or new is None:
        raise NotFoundError(f"{path!r} is not a file of both {a.qualified_name} and {b.qualified_name}")
    if old.ref or new.ref:
        raise NotFoundError(f"{path!r} is a reference; its bytes are not stored here, so they cannot be compared")
    result = diff_view.compare(
        path,
        old.size,
        new.size,
        lambda at, n: read_at(c.blobs, old.digest, at, n),
        lambda at, n: read_at(c.blobs, new.digest, at, n),
    )
    return render(
        request,
        "file_diff.html",
        who=who,
        entity=entity,
        project=project,
        name=name,
        a=a,
        b=b,
        path=path,
        old=old,
        new=new,
        d=result,
        limit=diff_view.MAX_BYTES,
    )
