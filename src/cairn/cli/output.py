"""The only module of the CLI that writes to the terminal."""

from __future__ import annotations

import sys

import click

from ..core.sizes import human_size  # noqa: F401  (the commands format sizes through output)


def line(text: str = "") -> None:
    click.echo(text)


def table(rows: list[list[str]], headers: list[str]) -> None:
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    click.echo(fmt.format(*headers))
    for r in rows:
        click.echo(fmt.format(*[str(x) for x in r]))


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


def version_line(a) -> str:  # noqa: ANN001
    aliases = ", ".join(a.aliases) or "-"
    return f"{a.qualified_name}  {a.file_count} files  {human_size(a.size)}  [{aliases}]  {a.digest[:19]}…"


def fail(text: str, code: int = 1) -> None:
    error(text)
    sys.exit(code)
