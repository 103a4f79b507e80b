"""``cairn run ls/show``: the runs of a project, and one run with its inputs and outputs."""

from __future__ import annotations

import json

import click

from ..core.names import run_path
from ..core.versions import COMMITTED
from . import lookup, output, views

JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON (for scripts) instead of text.")


@click.group("run")
def run_group() -> None:
    """List runs and show what one run used and produced."""


@run_group.command("ls")
@click.argument("project", required=False)
@JSON
def run_ls(project: str | None, as_json: bool) -> None:
    """List the runs of PROJECT ([ENTITY/]PROJECT; default: CAIRN_PROJECT or 'uncategorized').

    \b
    Examples:
      cairn run ls mnist
      cairn run ls mnist --json
    """
    entity, proj = lookup.project(project)
    runs = lookup.client().list_runs(entity, proj)
    if as_json:
        output.json([views.run(r) for r in runs])
        return
    if not runs:
        output.line(f"no runs in {entity}/{proj}")
        return
    output.table(
        [
            [r.id, r.name, r.job_type or "-", r.group or "-", r.state, r.created_at.isoformat(timespec="seconds")]
            for r in runs
        ],
        ["id", "name", "job type", "group", "state", "created"],
    )


@run_group.command("show")
@click.argument("run")
@JSON
def run_show(run: str, as_json: bool) -> None:
    """Show RUN ([[ENTITY/]PROJECT/]RUN_ID): its config, summary, and the artifact versions it
    used (inputs) and logged (outputs).

    \b
    Examples:
      cairn run show mnist/3k2j9x1a
      cairn run show 3k2j9x1a --json
    """
    r = lookup.run(run)
    c = lookup.client()
    # deleted versions are gone from every listing
    inputs = [v for v in c.run_inputs(run_path(r.entity, r.project, r.id)) if v.state == COMMITTED]
    outputs = [v for v in c.run_outputs(run_path(r.entity, r.project, r.id)) if v.state == COMMITTED]
    if as_json:
        output.json(
            {
                **views.run(r),
                "inputs": [views.version(v) for v in inputs],
                "outputs": [views.version(v) for v in outputs],
            }
        )
        return
    summary = getattr(r, "summary", None)
    output.fields(
        [
            ("run", f"{r.entity}/{r.project}/{r.id}"),
            ("name", r.name),
            ("job type", r.job_type),
            ("group", r.group),
            ("state", r.state),
            ("created", r.created_at.isoformat(timespec="seconds")),
            ("finished", r.finished_at.isoformat(timespec="seconds") if r.finished_at else None),
            ("config", json.dumps(r.config, sort_keys=True, default=str) if r.config else None),
            ("summary", json.dumps(summary, sort_keys=True, default=str) if summary else None),
            ("inputs", ", ".join(v.qualified_name for v in inputs) or "-"),
            ("outputs", ", ".join(v.qualified_name for v in outputs) or "-"),
        ]
    )
