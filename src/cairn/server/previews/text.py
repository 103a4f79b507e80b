"""Text and code, highlighted by Pygments (lexer chosen by file name), with line numbers."""

from __future__ import annotations

from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexer import Lexer
from pygments.lexers import TextLexer, get_lexer_for_filename
from pygments.util import ClassNotFound

from .sniff import decode_text

KIND = "text"
LIMIT = 256 * 1024
MAX_LINES = 5000


def accepts(path: str, head: bytes) -> bool:
    return decode_text(head, truncated=True) is not None


def lexer_for(path: str, code: str) -> Lexer:
    try:
        return get_lexer_for_filename(path.rsplit("/", 1)[-1], code[:1024], stripnl=False, ensurenl=False)
    except ClassNotFound:
        return TextLexer(stripnl=False)


def highlighted(path: str, code: str, lexer: Lexer | None = None) -> str:
    """Pygments' HTML (it escapes the text) in a line-numbered table; styles in highlight.css."""
    formatter = HtmlFormatter(linenos="table", cssclass="highlight", lineanchors="L", wrapcode=True)
    return highlight(code, lexer or lexer_for(path, code), formatter)


def cut(code: str, truncated: bool) -> tuple[str, bool]:
    """At most ``MAX_LINES`` lines; a truncated head loses its last, partial line."""
    if truncated and "\n" in code:
        code = code[: code.rindex("\n") + 1]
    lines = code.splitlines(keepends=True)
    if len(lines) > MAX_LINES:
        return "".join(lines[:MAX_LINES]), True
    return code, truncated


def build(path: str, data: bytes, size: int, truncated: bool, raw_url: str) -> dict:
    code, more = cut(decode_text(data, truncated) or "", truncated)
    lexer = lexer_for(path, code)
    return {"html": highlighted(path, code, lexer), "language": lexer.name, "more": more, "raw": raw_url}
