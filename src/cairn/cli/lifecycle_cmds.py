"""``cairn artifact rm``, ``cairn project rm``, ``cairn retention …``, ``cairn gc`` and
``cairn admin gc``: deleting, retention policies and garbage collection."""

from __future__ import annotations

import json

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from . import output
from .stores import store_urls

if TYPE_CHECKING:
    from ..engine.retention import Retention

F = TypeVar("F", bound=Callable[..., Any])


@click.command("rm")
@click.argument("name")
@click.option(
    "--delete-aliases", is_flag=True, help="Delete even if the version (or a version of the collection) has aliases."
)
@click.option("--collection", is_flag=True, help="NAME is a collection: delete it with every version.")
def rm(name: str, delete_aliases: bool, collection: bool) -> None:
    """Delete the version NAME:vN (or NAME:alias), or with --collection the collection NAME.

    The version disappears from every listing at once; `cairn gc` reclaims its bytes once
    nothing else references them.


    \b
    Examples:
      cairn artifact rm mnist/images:v0
      cairn artifact rm mnist/old-images --collection --delete-aliases
    """
    import cairn

    api = cairn.Api()
    if collection:
        if ":" in name:
            raise click.UsageError("--collection takes a collection name without ':version'")
        entity, project, rest = api._split(name)
        if rest is None:
            raise click.UsageError(f"name a collection (NAME, project/NAME or entity/project/NAME), not {name!r}")
        n = api._client.delete_collection(entity, project, rest, delete_aliases)
        output.line(f"deleted {entity}/{project}/{rest} ({n} versions); run `cairn gc` to reclaim its bytes")
        return
    if ":" not in name.rpartition("/")[2]:
        raise click.UsageError(
            f"name a version, e.g. {name}:v0, or pass --collection to delete every version of {name}"
        )
    a = api.artifact(name)
    a.delete(delete_aliases=delete_aliases)
    output.line(f"deleted {a.qualified_name}; run `cairn gc` to reclaim its bytes")


@click.group()
def project() -> None:
    """Manage projects."""


@click.command("rm")
@click.argument("name")
@click.option("--delete-aliases", is_flag=True, help="Delete even if versions in it have aliases.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def project_rm(name: str, delete_aliases: bool, yes: bool) -> None:
    """Delete the project NAME (or ENTITY/NAME) with its collections, versions and runs.

    \b
    Example:
      cairn project rm scratch --yes
    """
    import cairn

    api = cairn.Api()
    entity, proj = api._project_path(name)
    if not yes:
        click.confirm(f"delete project {entity}/{proj} with every collection, version and run?", abort=True)
    n = api._client.delete_project(entity, proj, delete_aliases)
    output.line(f"deleted project {entity}/{proj} ({n} versions); run `cairn gc` to reclaim its bytes")


@click.group()
def retention() -> None:
    """Retention policies: which versions `cairn gc` keeps."""


def _policy_text(policy: Retention | None) -> str:
    if policy is None:
        return "no policy"
    parts = []
    if policy.keep_last is not None:
        parts.append(f"keep the last {policy.keep_last}")
    if policy.max_age_seconds is not None:
        parts.append(f"keep those younger than {policy.max_age_seconds} s")
    return ", ".join(parts) + ", and every aliased version"


@click.command("set")
@click.argument("project_name")
@click.argument("collection", required=False)
@click.option("--keep-last", type=click.IntRange(min=0), default=None, help="Keep the newest N versions.")
@click.option("--max-age", default=None, help="Keep versions younger than this (e.g. 30d, 12h).")
def retention_set(project_name: str, collection: str | None, keep_last: int | None, max_age: str | None) -> None:
    """Set the policy of PROJECT (ENTITY/PROJECT), or of one COLLECTION in it.

    A version goes at the next `cairn gc` when no rule keeps it; aliased versions always stay.

    \b
    Examples:
      cairn retention set mnist --keep-last 5
      cairn retention set mnist images --max-age 30d
    """
    import cairn
    from ..core.durations import parse_duration

    if keep_last is None and max_age is None:
        raise click.UsageError("give --keep-last, --max-age or both (`cairn retention clear` removes a policy)")
    age = int(parse_duration(max_age)) if max_age is not None else None
    api = cairn.Api()
    entity, proj = api._project_path(project_name)
    from ..sdk.api import retention_policy

    api._client.set_retention(entity, proj, collection, retention_policy(keep_last, age))
    output.line(
        f"{entity}/{proj}{'/' + collection if collection else ''}: {_policy_text(retention_policy(keep_last, age))}"
    )


@click.command("show")
@click.argument("project_name")
@click.argument("collection", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (for scripts) instead of text.")
def retention_show(project_name: str, collection: str | None, as_json: bool) -> None:
    """Show the policy set on PROJECT, or on one COLLECTION in it.

    \b
    Example:
      cairn retention show mnist images
    """
    import cairn

    api = cairn.Api()
    entity, proj = api._project_path(project_name)
    policy = api._client.get_retention(entity, proj, collection)
    if as_json:
        output.json(
            {
                "entity": entity,
                "project": proj,
                "collection": collection,
                "keep_last": policy.keep_last if policy else None,
                "max_age_seconds": policy.max_age_seconds if policy else None,
            }
        )
        return
    output.line(f"{entity}/{proj}{'/' + collection if collection else ''}: {_policy_text(policy)}")


@click.command("clear")
@click.argument("project_name")
@click.argument("collection", required=False)
def retention_clear(project_name: str, collection: str | None) -> None:
    """Remove the policy of PROJECT, or of one COLLECTION in it.

    \b
    Example:
      cairn retention clear mnist
    """
    import cairn

    api = cairn.Api()
    entity, proj = api._project_path(project_name)
    api._client.set_retention(entity, proj, collection, None)
    output.line(f"{entity}/{proj}{'/' + collection if collection else ''}: no policy")


def _gc_options(f: F) -> F:
    f = click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")(f)
    f = click.option("--draft-ttl", default="7d", show_default=True, help="Remove drafts left open longer than this.")(
        f
    )
    f = click.option(
        "--quarantine-ttl",
        default="7d",
        show_default=True,
        help="Remove damaged blobs set aside (quarantine/) longer ago than this.",
    )(f)
    f = click.option(
        "--upload-ttl",
        default="24h",
        show_default=True,
        help="Remove a server's staged uploads never completed this long after they began (their bytes too).",
    )(f)
    f = click.option(
        "--grace",
        default=None,
        help="Set the store's grace period (e.g. 1h; default 1h): unreferenced data goes only "
        "after being marked this long. Writers see the change at once.",
    )(f)
    f = click.option("--dry-run", is_flag=True, help="Say what would go and how many bytes; change nothing.")(f)
    return f


def _run_gc(
    meta_url: str,
    blobs_url: str,
    dry_run: bool,
    grace: str | None,
    draft_ttl: str,
    quarantine_ttl: str,
    upload_ttl: str,
    as_json: bool,
) -> None:
    from ..core.durations import parse_duration
    from ..engine import gc as gc_engine
    from ..engine import gcmarks
    from ..storage.registry import open_blobs, open_meta

    meta, blobs = open_meta(meta_url), open_blobs(blobs_url)
    if grace is not None:
        if dry_run:
            raise click.UsageError("--grace changes the store; leave it out of a --dry-run")
        gcmarks.set_grace(meta, parse_duration(grace))
    # progress: the reporter the CLI put in force (core.progress) shows each phase
    import tempfile

    from ..storage.blobs.local import UPLOAD_TEMP_PREFIX  # a server's upload temp files, left by a killed one

    report = gc_engine.collect(
        meta,
        blobs,
        gc_engine.GcOptions(
            dry_run=dry_run,
            draft_ttl_seconds=parse_duration(draft_ttl),
            quarantine_ttl_seconds=parse_duration(quarantine_ttl),
            upload_ttl_seconds=parse_duration(upload_ttl),
            upload_temp=(tempfile.gettempdir(), UPLOAD_TEMP_PREFIX),
        ),
    )
    if as_json:
        output.line(json.dumps(report.as_dict(), indent=2))
    else:
        for text in report.lines():
            output.line(text)


@click.command()
@_gc_options
def gc(dry_run: bool, grace: str | None, draft_ttl: str, quarantine_ttl: str, upload_ttl: str, as_json: bool) -> None:
    """Reclaim what nothing references in the embedded store (CAIRN_DIR): blobs, manifest
    chunks, abandoned drafts and temporary files; delete versions past their ttl or
    retention. Safe while other processes log. A server's stores: `cairn admin gc`.

    \b
    Examples:
      cairn gc --dry-run
      cairn gc --grace 2h
    """
    from ..client.settings import Settings

    s = Settings.from_env()
    if s.base_url:
        raise click.UsageError(
            "CAIRN_BASE_URL is set: gc runs on the stores themselves; on the server's "
            "machine use `cairn admin gc --meta URL --blobs URL`"
        )
    _run_gc(
        f"sqlite:///{s.dir / 'meta.sqlite'}",
        str(s.dir / "blobs"),
        dry_run,
        grace,
        draft_ttl,
        quarantine_ttl,
        upload_ttl,
        as_json,
    )


@click.command("gc")
@click.option("--meta", default=None, help="Metadata store URL (default: SQLite in CAIRN_DIR).")
@click.option("--blobs", default=None, help="Blob store: a folder or s3://bucket/prefix (default: CAIRN_DIR/blobs).")
@_gc_options
def admin_gc(
    meta: str | None,
    blobs: str | None,
    dry_run: bool,
    grace: str | None,
    draft_ttl: str,
    quarantine_ttl: str,
    upload_ttl: str,
    as_json: bool,
) -> None:
    """Garbage-collect a server's stores (PostgreSQL + S3, or any pair): like `cairn gc`, and
    also staged uploads never completed (after --upload-ttl) and stray staging objects and
    incomplete multipart uploads (after the grace period). Safe while replicas serve writers.

    \b
    Example:
      cairn admin gc --meta postgresql://cairn:pw@db/cairn --blobs s3://bucket/cairn --dry-run
    """
    meta_url, blobs_url = store_urls(meta, blobs)
    _run_gc(meta_url, blobs_url, dry_run, grace, draft_ttl, quarantine_ttl, upload_ttl, as_json)
