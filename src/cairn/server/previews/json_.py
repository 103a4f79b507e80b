"""JSON as a collapsible tree (native ``<details>``, no script): the first two levels open,
at most ``MAX_NODES`` values drawn. A head that is cut or is not valid JSON is shown as
highlighted text instead."""

from __future__ import annotations

import json
from typing import Any

from markupsafe import Markup
from pygments.lexers import JsonLexer

from . import text
from .sniff import decode_text

KIND = "json"
LIMIT = 1024 * 1024
MAX_NODES = 5000
MAX_DEPTH = 64
OPEN_DEPTH = 2


def accepts(path: str, head: bytes) -> bool:
    return path.lower().endswith(".json") and decode_text(head, truncated=True) is not None


class _Tree:
    def __init__(self) -> None:
        self.nodes = 0
        self.cut = 0  # values not drawn (over MAX_NODES or MAX_DEPTH)

    def scalar(self, v: Any) -> Markup:
        if v is None:
            return Markup('<span class="jt-null">null</span>')
        if isinstance(v, bool):
            return Markup('<span class="jt-bool">{}</span>').format("true" if v else "false")
        if isinstance(v, (int, float)):
            return Markup('<span class="jt-num">{}</span>').format(json.dumps(v))
        return Markup('<span class="jt-str">{}</span>').format(json.dumps(v, ensure_ascii=False))

    def node(self, key: Markup, v: Any, depth: int) -> Markup:
        self.nodes += 1
        if not isinstance(v, (dict, list)):
            return Markup("<li>{}{}</li>").format(key, self.scalar(v))
        items = list(v.items()) if isinstance(v, dict) else list(enumerate(v))
        brackets = "{}" if isinstance(v, dict) else "[]"
        what = (
            f"{len(items):,} key{'' if len(items) == 1 else 's'}"
            if isinstance(v, dict)
            else f"{len(items):,} item{'' if len(items) == 1 else 's'}"
        )
        if not items:
            return Markup('<li>{}<span class="jt-punct">{}</span></li>').format(key, brackets)
        if depth >= MAX_DEPTH:
            self.cut += 1
            return Markup(
                '<li>{}<span class="jt-punct">{}</span> <span class="jt-count">{} (too deep to draw)</span></li>'
            ).format(key, brackets[0] + "…" + brackets[1], what)
        kids = []
        for k, x in items:
            if self.nodes >= MAX_NODES:
                self.cut += 1
                continue
            label = (
                Markup('<span class="jt-key">{}</span>: ').format(json.dumps(k, ensure_ascii=False))
                if isinstance(v, dict)
                else Markup('<span class="jt-index">{}</span>: ').format(k)
            )
            kids.append(self.node(label, x, depth + 1))
        return Markup(
            '<li><details{}><summary>{}<span class="jt-punct">{}</span> <span class="jt-count">{}</span></summary>'
            '<ul class="jt">{}</ul><span class="jt-punct">{}</span></details></li>'
        ).format(
            Markup(" open") if depth < OPEN_DEPTH else "", key, brackets[0], what, Markup("").join(kids), brackets[1]
        )


def tree(value: Any) -> tuple[Markup, int]:
    """The tree's HTML (every text escaped) and how many values were left out."""
    t = _Tree()
    html = Markup('<ul class="jt jt-root">{}</ul>').format(t.node(Markup(""), value, 0))
    return html, t.cut


def build(path: str, data: bytes, size: int, truncated: bool, raw_url: str) -> dict:
    raw = decode_text(data, truncated) or ""
    parsed, error = None, None
    if truncated:
        error = "the file is larger than the preview reads, so it is shown as text"
    else:
        try:
            parsed = json.loads(raw)
        except (ValueError, RecursionError) as e:
            error = f"not valid JSON ({e})" if isinstance(e, ValueError) else "nested too deeply to parse"
            error += "; shown as text"
    if error is None:
        html, cut = tree(parsed)
        return {"tree": html, "cut": cut, "html": None, "error": None, "more": False, "raw": raw_url}
    code, more = text.cut(raw, truncated)
    return {
        "tree": None,
        "cut": 0,
        "html": text.highlighted(path, code, JsonLexer()),
        "error": error,
        "more": more,
        "raw": raw_url,
    }
