"""The only module of the CLI that writes to the terminal."""

from __future__ import annotations

import json as _json
import sys
from datetime import datetime
from typing import Any

import click

from ..core.sizes import human_size  # noqa: F401  (the commands format sizes through output)


def line(text: str = "") -> None:
    click.echo(text)


def table(rows: list[list[Any]], headers: list[str]) -> None:
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    click.echo(fmt.format(*headers).rstrip())
    for r in rows:
        click.echo(fmt.format(*[str(x) for x in r]).rstrip())


def fields(pairs: list[tuple[str, Any]]) -> None:
    """``key: value`` lines, keys aligned; empty values are left out."""
    shown = [(k, v) for k, v in pairs if v not in (None, "", [], {})]
    width = max((len(k) for k, _ in shown), default=0)
    for k, v in shown:
        click.echo(f"{k + ':':<{width + 1}} {v}")


def _default(o: Any) -> Any:
    if isinstance(o, datetime):
        return o.isoformat()
    if isinstance(o, (set, tuple)):
        return list(o)
    raise TypeError(f"{type(o).__name__} is not JSON-serializable")


def json(obj: Any) -> None:
    """One JSON document on stdout (for scripts: ``--json``)."""
    click.echo(_json.dumps(obj, indent=2, default=_default, ensure_ascii=False))


def note(text: str) -> None:
    """A line for the person at the terminal (progress summaries, hints), on stderr."""
    click.echo(text, err=True)


_later: list[str] = []


def later(text: str) -> None:
    """A note shown once the command succeeds (a failed one shows only its error)."""
    _later.append(text)


def drop_notes() -> None:
    _later.clear()


def flush_notes() -> None:
    for text in _later:
        note(text)
    _later.clear()


def error(text: str) -> None:
    click.echo(f"error: {text}", err=True)


def fail(text: str, code: int = 1) -> None:
    error(text)
    sys.exit(code)
