"""The lineage graph pages: a version's or a run's ancestry and descendants over several
hops (``?depth=``), laid out on the server (``lineage_layout``) and drawn as SVG that the
page pans and zooms. ``?part=graph`` answers the graph alone, which the page's script swaps in
when a counted group is expanded (``?expand=``), without a page load. Nodes of entities the viewer has no role on are not shown, walked
through or counted (``engine.lineage``)."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote, urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse

from ..core.limits import ascii_int
from ..core.versions import RunInfo, VersionInfo
from ..engine import accounts as auth
from ..engine import lineage
from . import authz
from .context import ServerContext
from .lineage_layout import layout
from .render import run_href, render, version_href
from .ui_request import caller, page_router, readable_version, server_context

router = page_router()

DEPTHS = (1, 2, 3, 4, 6, 8)
DEFAULT_DEPTH = 3
MAX_EXPAND = 50


def _depth(request: Request) -> int:
    raw = request.query_params.get("depth", "")
    depth = ascii_int(raw, 2)  # not int(): '²' passes str.isdigit, 5,000 digits are a ValueError
    return depth if depth in DEPTHS else DEFAULT_DEPTH


def _expand(request: Request) -> list[str]:
    """The groups the viewer opened (``?expand=k1,k2``): keys only name nodes already
    shown, so an unknown one is ignored, never an error."""
    raw = request.query_params.get("expand", "")[:10_000]
    return [k for k in dict.fromkeys(raw.split(",")) if k.startswith("g:") and len(k) < 200][:MAX_EXPAND]


def _visible(c: ServerContext, who: auth.Principal) -> Callable[[lineage.Node], bool]:
    seen: dict[str, bool] = {}

    def ok(n: lineage.Node) -> bool:
        if n.version is not None:
            v = n.version
            return authz.can_read(c, who, v.entity, seen) and (
                not v.is_link or authz.can_read(c, who, v.source_entity or v.entity, seen)
            )
        return n.run is not None and authz.can_read(c, who, n.run.entity, seen)

    return ok


def _label(n: lineage.Node, here: str, expand: list[str], depth: int) -> dict:
    if n.version is not None:
        v = n.version
        return {
            "label": f"{v.name}:{v.version}",
            "sub": f"{v.type} · {v.entity}/{v.project}",
            "href": version_href(v),
            "kind": "version",
        }
    if n.run is not None:
        r = n.run
        sub = " · ".join(x for x in (r.job_type, r.state.lower(), f"{r.entity}/{r.project}") if x)
        return {"label": f"run {r.name}", "sub": sub, "href": run_href(r), "kind": "run"}
    opened = ",".join([*expand, n.key])
    url = quote(here) + "?" + urlencode({"depth": depth, "expand": opened})
    return {
        "label": f"{n.count:,} {n.member_kind}s",
        "sub": "click to show them all",
        "href": url,
        "part": url + "&part=graph",  # the page's script fetches only the graph, laid out again
        "kind": "group",
    }


def page_number(
    request: Request, c: ServerContext, who: auth.Principal, focus: VersionInfo | RunInfo, title: str, back: str
) -> HTMLResponse:
    depth, expand = _depth(request), _expand(request)
    g = lineage.walk(c.meta, focus, depth, _visible(c, who), frozenset(expand))
    shape = layout(g)
    here = request.url.path
    nodes = [{"box": b, "focus": b.node.key == g.focus, **_label(b.node, here, expand, depth)} for b in shape.boxes]
    counts = {k: sum(1 for n in g.nodes.values() if n.kind == k) for k in ("version", "run")}
    runs_of_focus = []
    if isinstance(focus, VersionInfo):  # every writer of the version, listed too
        runs_of_focus = [n.run for n in g.nodes.values() if n.run is not None and n.layer == -1]
    return render(
        request,
        "_lineage_svg.html" if request.query_params.get("part") == "graph" else "lineage_graph.html",
        who=who,
        title=title,
        back=back,
        shape=shape,
        nodes=nodes,
        depth=depth,
        depths=DEPTHS,
        counts=counts,
        groups=sum(1 for n in g.nodes.values() if n.kind == "group"),
        truncated=g.truncated,
        here=here,
        writers=runs_of_focus,
        expand=",".join(expand),
        focus_is_version=isinstance(focus, VersionInfo),
    )


@router.get("/runs/{run_id}/lineage")
def run_lineage(run_id: str, request: Request) -> HTMLResponse:
    c, who = server_context(request), caller(request)
    scope = request.query_params.get("entity") or None, request.query_params.get("project") or None
    run = authz.run(c, who, run_id, authz.READ, *scope)
    return page_number(request, c, who, run, f"run {run.name}", run_href(run))


@router.get("/{entity}/{project}/{name}/{alias}/lineage")
def version_lineage(entity: str, project: str, name: str, alias: str, request: Request) -> HTMLResponse:
    c, who, v = readable_version(request, entity, project, name, alias)
    return page_number(request, c, who, v, f"{v.name}:{v.version}", version_href(v))
