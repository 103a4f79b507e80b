"""``cairn verify`` (the embedded store) and ``cairn admin verify`` (a server's stores)."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypedDict

import click

from . import output
from .stores import store_urls

if TYPE_CHECKING:
    from ..storage.meta.sql import MetaStore


class Scope(TypedDict, total=False):
    """What ``engine.verify.verify`` checks: the whole store (empty), an artifact or one version."""

    entity: str
    project: str
    name: str
    index: int


def _scope(name: str | None, meta: MetaStore, default_entity: str, default_project: str) -> Scope:
    """verify()'s keyword arguments for NAME (None: the whole store)."""
    if name is None:
        return {}
    from ..core.names import parse_ref
    from ..engine import versions

    ref = parse_ref(name)
    entity, project = ref.entity or default_entity, ref.project or default_project
    if ":" not in name.rpartition("/")[2]:
        return {"entity": entity, "project": project, "name": ref.name}
    index = ref.version_index
    if index is None:  # an alias: the version it names now
        index = versions.resolve(meta, ref, entity, project).index
    return {"entity": entity, "project": project, "name": ref.name, "index": index}


def _run(meta_url: str, blobs_url: str, name: str | None, entity: str, project: str, set_aside: bool) -> None:
    from ..engine.verify import Problem, verify
    from ..engine import blobs_index
    from ..storage.registry import open_blobs, open_meta

    meta, blobs = open_meta(meta_url), open_blobs(blobs_url)
    damaged: set[str] = set()

    def found(p: Problem) -> None:
        output.line(f"BROKEN {p}")
        if p.digest is not None:
            damaged.add(p.digest)

    try:
        scope = _scope(name, meta, entity, project)
        report = verify(meta, blobs, found, **scope)
        if set_aside:
            for d in sorted(damaged):
                state = blobs_index.set_aside(meta, blobs, d)
                output.line(
                    f"blob {d}: {state}"
                    + ("" if state == blobs_index.INTACT else "; logging the same file again stores it anew")
                )
    finally:
        meta.dispose()
        close = getattr(blobs, "close", None)
        if close is not None:
            close()
    summary = (
        f"checked {report.versions} version(s), {report.files} file(s), {report.blobs} blob(s) "
        f"({output.human_size(report.bytes)} re-hashed)"
    )
    if report.ok:
        output.line(f"{summary}: no problems")
        return
    if set_aside:
        advice = (
            f"{len(damaged)} damaged or missing blob(s) were set aside: log the same files again "
            "to heal the versions, or restore the store from a backup"
        )
    else:
        advice = (
            "nothing was changed. To heal, run again with --set-aside and then log the same files "
            "again (a download that finds a damaged file sets it aside too); or restore the store "
            "from a backup"
        )
    output.fail(f"{summary}: {report.problems} problem(s) in {len(report.broken_versions)} version(s); {advice}")


# the same flag on `cairn verify` and `cairn admin verify`
SET_ASIDE = click.option(
    "--set-aside",
    "set_aside",
    is_flag=True,
    help="Also set damaged and missing blobs aside, so that logging the same files again heals "
    "the versions (the one change verify can make, and only with this flag).",
)


@click.command("verify")
@click.argument("name", required=False)
@SET_ASIDE
def verify_cmd(name: str | None, set_aside: bool) -> None:
    """Re-hash the embedded store (CAIRN_DIR) and check every committed version.

    Each version's manifest chunks must be present and match their keys, and each stored
    file's blob must be present and hash to its digest. Every broken version and file is
    printed as "BROKEN entity/project/name:vN path: what"; the exit status is 1 when
    anything is wrong. Nothing is changed, unless --set-aside is given. For a server, run
    'cairn admin verify' on its stores.

    NAME limits the check to one artifact (every version), NAME:vN or NAME:alias to one
    version; NAME may be project/NAME or entity/project/NAME.

    \b
    Examples:
      cairn verify
      cairn verify mnist/images:v3
    """
    from ..client.local import DEFAULT_ENTITY
    from ..client.settings import Settings
    from ..core.errors import UsageError

    s = Settings.from_env()
    if s.base_url:
        raise UsageError(
            "cairn verify checks the embedded store; CAIRN_BASE_URL is set, so run "
            "'cairn admin verify --meta URL --blobs URL' where the server's stores are reachable, "
            "or unset CAIRN_BASE_URL"
        )
    if not (s.dir / "meta.sqlite").exists():
        raise UsageError(f"there is no cairn store in {s.dir} to verify; set CAIRN_DIR to the store's folder")
    meta_url, blobs_url = store_urls(None, None)
    _run(meta_url, blobs_url, name, s.entity or DEFAULT_ENTITY, s.project or "uncategorized", set_aside)


@click.command("verify")
@click.argument("name", required=False)
@click.option("--meta", default=None, help="Metadata store URL (default: SQLite in CAIRN_DIR).")
@click.option("--blobs", default=None, help="Blob store: a folder or s3://bucket/prefix (default: CAIRN_DIR/blobs).")
@click.option(
    "--entity", default=None, help="Entity of NAME when NAME does not say (default: CAIRN_ENTITY or 'local')."
)
@SET_ASIDE
def admin_verify(name: str | None, meta: str | None, blobs: str | None, entity: str | None, set_aside: bool) -> None:
    """Re-hash a server's stores and check every committed version (read-only).

    The same checks and output as 'cairn verify', on the stores given by --meta and --blobs.
    Exit status 1 when anything is wrong. NAME limits the check as for 'cairn verify'.

    \b
    Example:
      cairn admin verify --meta postgresql://cairn:pw@db/cairn --blobs s3://bucket/cairn
    """
    from ..client.settings import Settings

    s = Settings.from_env()
    meta_url, blobs_url = store_urls(meta, blobs)
    _run(meta_url, blobs_url, name, entity or s.entity or "local", s.project or "uncategorized", set_aside)
