"""``cairn``: the command line."""

from __future__ import annotations

import functools
import gc
import os
from collections.abc import Callable
from typing import Any

import click

from . import output


def friendly(fn: Callable) -> Callable:
    """Turn cairn's errors into one clear line and exit status 1 (no traceback)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kw: Any) -> Any:
        from ..core.errors import CairnError

        try:
            out = fn(*args, **kw)
        except (CairnError, FileNotFoundError, IsADirectoryError, NotADirectoryError, TypeError) as e:
            output.fail(str(e))
        output.flush_notes()  # progress summaries of a command that succeeded
        return out

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="cairn")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars or summaries (also CAIRN_SILENT=1).")
@click.pass_context
def main(ctx: click.Context, quiet: bool) -> None:
    """cairn: version the files ML runs produce and consume.

    Works on the embedded store in CAIRN_DIR with no set-up.
    """
    from ..client.settings import silent_from_env
    from ..core import progress
    from ..sdk.terminal import terminal_reporter

    # Progress of long work goes to stderr: bars on a terminal, one line per phase otherwise.
    output.drop_notes()
    reporter = terminal_reporter(quiet=quiet or silent_from_env(), summary=output.later)
    ctx.with_resource(progress.reporting(reporter))


@main.group()
def artifact() -> None:
    """Log, fetch and list artifact versions."""


def _split_name(name: str) -> tuple[str | None, str]:
    project, sep, rest = name.rpartition("/")
    return (project or None), rest


@artifact.command("put")
@click.argument("path")
@click.option("--name", "-n", required=True, help="Artifact name, optionally as project/name.")
@click.option("--type", "-t", "type_", default="dataset", show_default=True, help="Artifact type.")
@click.option("--alias", "-a", "aliases", multiple=True, help="Alias to give the version (repeatable).")
@click.option("--description", "-d", default=None, help="Description of the version.")
@click.option("--tag", "tags", multiple=True, help="Tag for the version (repeatable).")
@friendly
def put(path: str, name: str, type_: str, aliases: tuple[str, ...], description: str | None, tags: tuple[str, ...]) -> None:
    """Log PATH (a file, a folder, or a file://, s3:// or http(s):// URI) as a new version.

    Content identical to an existing version makes no new version.
    """
    import cairn
    from ..sdk.artifact import artifact_from_path

    project, art_name = _split_name(name)
    with cairn.init(project=project, job_type="cli-put") as run:
        a = artifact_from_path(path, art_name, type_, description)
        run.log_artifact(a, aliases=list(aliases), tags=list(tags))
    output.line(output.version_line(a))


@artifact.command("get")
@click.argument("name")
@click.option("--root", "-r", default=None, help="Folder to download into (default ./artifacts/NAME:VERSION).")
@click.option("--prefix", "path_prefix", default=None, help="Only download entries under this path.")
@friendly
def get(name: str, root: str | None, path_prefix: str | None) -> None:
    """Download NAME[:alias|:vN] (optionally project/NAME or entity/project/NAME), verified."""
    import cairn

    a = cairn.Api().artifact(name)
    where = a.download(root, path_prefix=path_prefix)
    output.line(f"{a.qualified_name} -> {where}")


@artifact.command("ls")
@click.argument("project", required=False)
@friendly
def ls(project: str | None) -> None:
    """List the artifacts of PROJECT (default: CAIRN_PROJECT or 'uncategorized') and their versions."""
    import cairn
    from ..core.names import check_name

    if project is not None:
        check_name(project, "project name")
    api = cairn.Api(overrides={"project": project} if project else None)
    rows = []
    for coll in api.artifact_collections(project or api.project):
        for v in coll.artifacts():
            rows.append([f"{coll.name}:{v.version}", coll.type, v.file_count, output.human_size(v.size), ",".join(v.aliases)])
    if not rows:
        output.line(f"no artifacts in {api.entity}/{project or api.project}")
        return
    output.table(rows, ["version", "type", "files", "size", "aliases"])


@main.command()
@click.option("--dir", "store_dir", default=None, help="Store folder (default: CAIRN_DIR).")
@friendly
def demo(store_dir: str | None) -> None:
    """Make a small demo project showing the three ways to make a version, and print it."""
    if store_dir:
        os.environ["CAIRN_DIR"] = store_dir
    from .demo import make_demo

    for text in make_demo():
        output.line(text)


from . import server_cmds  # noqa: E402,F401  (registers server, admin, login, cache)
from . import verify_cmd  # noqa: E402,F401  (registers verify, admin verify)
from . import lifecycle_cmds  # noqa: E402,F401  (registers artifact rm, project rm, retention, gc)


def run() -> None:
    """The ``cairn`` executable: ``main`` in a process of its own.

    A command builds many long-lived objects (an entry per file) and few cycles, so the
    process collects rarely and never rescans what the imports made. Interleaved runs on
    "small" (50,000 files): log again 1.30 -> 1.22 s, fetch into a matching folder 0.87 ->
    0.80 s. Only the executable does this: the SDK leaves its host program's collector alone.
    """
    gc.freeze()
    gc.set_threshold(100_000, 50, 50)
    main()
