"""Markdown rendered by markdown-it-py with raw HTML off, then sanitized by nh3 (only http,
https and mailto links survive; no script, style or event attribute)."""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt

from .sniff import decode_text

KIND = "markdown"
LIMIT = 256 * 1024
SCHEMES = {"http", "https", "mailto"}

_md = MarkdownIt("commonmark", {"html": False}).enable("table").enable("strikethrough")


def accepts(path: str, head: bytes) -> bool:
    return path.lower().endswith((".md", ".markdown")) and decode_text(head, truncated=True) is not None


def render(source: str) -> str:
    return nh3.clean(_md.render(source), url_schemes=SCHEMES, link_rel="noopener noreferrer nofollow")


def build(path: str, data: bytes, size: int, truncated: bool, raw_url: str) -> dict:
    source = decode_text(data, truncated) or ""
    return {"html": render(source), "raw": raw_url}
