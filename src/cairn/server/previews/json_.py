"""JSON, pretty-printed and highlighted; a head that is cut or not valid JSON is shown as text."""

from __future__ import annotations

import json

from pygments.lexers import JsonLexer

from . import text
from .sniff import decode_text

KIND = "json"
LIMIT = 256 * 1024


def accepts(path: str, head: bytes) -> bool:
    return path.lower().endswith(".json") and decode_text(head, truncated=True) is not None


def build(path: str, data: bytes, size: int, truncated: bool, raw_url: str) -> dict:
    raw = decode_text(data, truncated) or ""
    parsed, error = None, None
    if truncated:
        error = "the file is larger than the preview reads, so it is shown as text"
    else:
        try:
            parsed = json.loads(raw)
        except ValueError as e:
            error = f"not valid JSON ({e}); shown as text"
    if error is None:
        code = json.dumps(parsed, indent=2, ensure_ascii=False)
        return {"html": text.highlighted(path, code, JsonLexer()), "error": None, "more": False, "raw": raw_url}
    code, more = text.cut(raw, truncated)
    return {"html": text.highlighted(path, code, JsonLexer()), "error": error, "more": more, "raw": raw_url}
