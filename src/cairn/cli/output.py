"""The only module of the CLI that writes to the terminal."""

from __future__ import annotations

import sys

import click


def human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def line(text: str = "") -> None:
    click.echo(text)


def table(rows: list[list[str]], headers: list[str]) -> None:
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    click.echo(fmt.format(*headers))
    for r in rows:
        click.echo(fmt.format(*[str(x) for x in r]))


def error(text: str) -> None:
    click.echo(f"error: {text}", err=True)


def version_line(a) -> str:  # noqa: ANN001
    aliases = ", ".join(a.aliases) or "-"
    return f"{a.qualified_name}  {a.file_count} files  {human_size(a.size)}  [{aliases}]  {a.digest[:19]}…"


def fail(text: str, code: int = 1) -> None:
    error(text)
    sys.exit(code)
