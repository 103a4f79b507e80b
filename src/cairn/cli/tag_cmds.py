"""``cairn artifact tag add/rm``: label versions (many versions may share a tag)."""

from __future__ import annotations

import click

from ..core.errors import UsageError
from ..core.names import check_tag
from . import lookup, output


@click.group()
def tag() -> None:
    """Add tags to a version or remove them (a tag may be on many versions)."""


@tag.command("add")
@click.argument("version")
@click.argument("tags", nargs=-1, required=True)
def tag_add(version: str, tags: tuple[str, ...]) -> None:
    """Add TAGS to VERSION (ARTIFACT:vN).

    \b
    Example:
      cairn artifact tag add mnist/images:v3 cleaned reviewed
    """
    wanted = [check_tag(t) for t in tags]
    v = lookup.version(version, pinned=True)
    new = lookup.client().update_version(v.id, tags=list(dict.fromkeys([*v.tags, *wanted])))
    output.line(f"{new.qualified_name} tags: {', '.join(new.tags)}")


@tag.command("rm")
@click.argument("version")
@click.argument("tags", nargs=-1, required=True)
def tag_rm(version: str, tags: tuple[str, ...]) -> None:
    """Remove TAGS from VERSION (ARTIFACT:vN).

    \b
    Example:
      cairn artifact tag rm mnist/images:v3 reviewed
    """
    v = lookup.version(version, pinned=True)
    missing = [t for t in tags if t not in v.tags]
    if missing:
        raise UsageError(f"{v.qualified_name} has no tag {missing[0]!r} (its tags: {', '.join(v.tags) or 'none'})")
    new = lookup.client().update_version(v.id, tags=[t for t in v.tags if t not in tags])
    output.line(f"{new.qualified_name} tags: {', '.join(new.tags) or 'none'}")
