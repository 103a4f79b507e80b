"""``cairn sync``: copy what the embedded store holds onto a server (or, with --from, a
server's projects into the embedded store). The semantics: client/sync.py."""

from __future__ import annotations

import dataclasses

import click

from . import output


@click.command("sync")
@click.argument("projects", nargs=-1)
@click.option("--to", "to_url", default=None, help="The server to copy to (default: CAIRN_BASE_URL).")
@click.option(
    "--from", "from_url", default=None, help="Copy the other way: from this server into the embedded store (CAIRN_DIR)."
)
@click.option(
    "--entity",
    default=None,
    help="The entity to copy into (default: the destination's: your server entity, or 'local').",
)
@click.option(
    "--delete",
    is_flag=True,
    help="Also delete on the destination the versions deleted on the source since they were synced "
    "(default: keep them there and say so). Only versions a sync from here made there are deleted "
    "(one found there by digest may be someone else's: kept and reported); refused for a version "
    "that carries an alias there.",
)
@click.option("--dry-run", is_flag=True, help="Say what would be sent; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def sync_cmd(
    projects: tuple[str, ...],
    to_url: str | None,
    from_url: str | None,
    entity: str | None,
    delete: bool,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Copy PROJECTS (all when none is named) of the embedded store to a server: versions
    with their aliases, tags, metadata and ttl, links, each collection's description, tags
    and retention policy, runs with their history, config and summary, and lineage. Only blobs the server lacks travel; running it again sends
    nothing new, and an interrupted sync resumes. Versions are appended after what the
    server's collection holds (numbers are kept when it was empty). Runs logged with
    mode="offline" go up this way, as with `wandb sync`.

    Versions both sides hold: the source wins for what it changed since the last sync
    (description, metadata, ttl; an alias moved or taken off; a tag added or removed), and
    the destination keeps what only it changed; a collection's description, tags and
    retention policy likewise (on a first sync the destination gets the source's
    description and policy where it has none, and the tags it lacks). Nothing on the destination is deleted:
    versions deleted on the source stay there (reported) unless --delete. Open drafts are
    not copied. The last sync's view is kept in CAIRN_DIR/sync/. Details: docs/sync.md.

    \b
    Examples:
      cairn sync --to https://cairn.example.org
      CAIRN_BASE_URL=https://cairn.example.org cairn sync mnist --dry-run
      cairn sync --from https://cairn.example.org mnist
    """
    from ..client import get_client
    from ..client.settings import Settings
    from ..client.sync import sync
    from ..client.sync_base import SyncBase

    s = Settings.from_env()
    if from_url and to_url:
        raise click.UsageError("give --to or --from, not both: one side is always the embedded store (CAIRN_DIR)")
    local = get_client(dataclasses.replace(s, base_url=None))
    if from_url:
        url = from_url.rstrip("/")
        src, dst = get_client(dataclasses.replace(s, base_url=url)), local
    else:
        url = (to_url or s.base_url or "").rstrip("/")
        if not url:
            raise click.UsageError("name the server: --to URL, or set CAIRN_BASE_URL")
        src, dst = local, get_client(dataclasses.replace(s, base_url=url))
    into = entity or dst.entity
    base = SyncBase.for_peer(s.dir, f"{'from' if from_url else 'to'} {url} into {into}")
    report = sync(src, dst, list(projects) or None, entity=into, dry_run=dry_run, base=base, delete=delete)
    if as_json:
        output.json(report.as_dict())
    else:
        for text in report.lines():
            output.line(text)
    if report.skipped:
        raise SystemExit(1)
