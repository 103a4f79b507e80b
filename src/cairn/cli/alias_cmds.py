"""``cairn artifact alias set/rm/history``: move, drop and trace the names of versions."""

from __future__ import annotations

import click

from ..core.errors import UsageError
from ..core.names import LATEST, check_alias
from . import lookup, output

JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON (for scripts) instead of text.")


@click.group()
def alias() -> None:
    """Point aliases at versions, remove them, and show where they have been.

    An alias names one version of an artifact at a time; setting it on another version
    moves it there. Every move is logged ('alias history').
    """


@alias.command("set")
@click.argument("version")
@click.argument("name")
def alias_set(version: str, name: str) -> None:
    """Point alias NAME at VERSION (ARTIFACT:vN), moving it from where it was.

    \b
    Examples:
      cairn artifact alias set mnist/images:v3 best
      cairn artifact alias set mnist/images:candidate production
    """
    name = check_alias(name) if name != LATEST else name
    v = lookup.version(version, pinned=True)
    if name in v.aliases:
        output.line(f"{name} already points at {v.qualified_name}")
        return
    c = lookup.client()
    was = next((o for o in c.list_versions(v.entity, v.project, v.name) if name in o.aliases), None)
    c.update_version(v.id, aliases=[*v.aliases, name])
    output.line(f"{name}: {was.version if was else '(new)'} -> {v.version} of {v.entity}/{v.project}/{v.name}")


@alias.command("rm")
@click.argument("version")
@click.argument("name")
def alias_rm(version: str, name: str) -> None:
    """Remove alias NAME from VERSION (ARTIFACT:vN).

    \b
    Example:
      cairn artifact alias rm mnist/images:v3 best
    """
    if name == LATEST:
        raise UsageError(
            "'latest' always names the newest version and cannot be removed; "
            "point another alias at the version you mean instead"
        )
    v = lookup.version(version, pinned=True)
    if name not in v.aliases:
        raise UsageError(f"{v.qualified_name} has no alias {name!r} (its aliases: {', '.join(v.aliases) or 'none'})")
    lookup.client().update_version(v.id, aliases=[a for a in v.aliases if a != name])
    output.line(f"removed alias {name} from {v.qualified_name}")


@alias.command("history")
@click.argument("artifact")
@click.argument("name", required=False)
@JSON
def alias_history(artifact: str, name: str | None, as_json: bool) -> None:
    """Every move of the aliases of ARTIFACT (or of alias NAME only), oldest first.

    \b
    Examples:
      cairn artifact alias history mnist/images
      cairn artifact alias history mnist/images production --json
    """
    entity, project, coll = lookup.collection(artifact)
    c = lookup.client()
    rows = c.alias_history(entity, project, coll)
    names = lookup.version_names(entity, project, coll)

    def vname(vid: int | None) -> str | None:
        if vid is None:
            return None
        return names.get(vid, f"(deleted #{vid})")

    moves = [
        {
            "alias": r["alias"],
            "from": vname(r["old_version_id"]),
            "to": vname(r["new_version_id"]),
            "run": r.get("run_id"),
            # a run id is unique within its project only: the run's own project, named
            "run_project": f"{r['run_entity']}/{r['run_project']}" if r.get("run_entity") else None,
            "at": r["at"],
        }
        for r in rows
        if name is None or r["alias"] == name
    ]
    if as_json:
        output.json(moves)
        return
    if not moves:
        output.line(f"no moves of {'alias ' + repr(name) if name else 'any alias'} in {entity}/{project}/{coll}")
        return
    at = lambda t: t.isoformat(timespec="seconds") if hasattr(t, "isoformat") else str(t)  # noqa: E731
    output.table(
        [
            [at(m["at"]), m["alias"], m["from"] or "-", m["to"] or "(removed)", _run_cell(m, entity, project)]
            for m in moves
        ],
        ["when", "alias", "from", "to", "run"],
    )


def _run_cell(move: dict, entity: str, project: str) -> str:
    """A move's run: its id, with its project when that is not the collection's own."""
    if not move["run"]:
        return "-"
    if move["run_project"] in (None, f"{entity}/{project}"):
        return move["run"]
    return f"{move['run_project']}/{move['run']}"
