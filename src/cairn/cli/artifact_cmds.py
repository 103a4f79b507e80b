"""``cairn artifact put/get/ls/show/files/diff``: log, fetch, list and inspect versions."""

from __future__ import annotations

import click

from ..core.errors import ArtifactNotFoundError
from ..core.manifest import Entry
from ..core.names import LATEST
from ..core.versions import VersionInfo
from . import lookup, output, views

JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON (for scripts) instead of text.")


@click.group()
def artifact() -> None:
    """Log, fetch, list and inspect artifact versions.

    NAME is [[ENTITY/]PROJECT/]NAME[:ALIAS|:vN]; the project defaults to CAIRN_PROJECT
    (else 'uncategorized') and the alias to 'latest'.

    \b
    Examples:
      cairn artifact put data/ --name mnist/images --alias best
      cairn artifact show mnist/images:best
      cairn artifact alias set mnist/images:v3 production
    """


def _split_name(name: str) -> tuple[str | None, str]:
    project, sep, rest = name.rpartition("/")
    return (project or None), rest


def _put_outcome(before: dict[int, VersionInfo], before_latest: VersionInfo | None, v: VersionInfo) -> dict:
    """What a put did: a new version (with its changes from the previous latest) or the
    version that already had this content, and which aliases moved to it."""
    from ..core.manifest import diff

    if v.id in before:
        old = before[v.id]
        moved = [a for a in v.aliases if a not in old.aliases]
        return {"created": False, "same_as": v.version, "aliases_moved": moved}
    out: dict = {"created": True, "aliases_moved": [a for a in v.aliases]}
    if before_latest is None:
        out["changes"] = {"base": None, "added": v.file_count, "removed": 0, "changed": 0, "new_bytes": v.size}
        return out
    c = lookup.client()
    added = removed = changed = new_bytes = 0
    for _, a, b in diff(c.manifest(before_latest.manifest_key), c.manifest(v.manifest_key)):
        if a is None:
            added += 1
        elif b is None:
            removed += 1
        else:
            changed += 1
        if b is not None:
            new_bytes += b.size
    out["changes"] = {
        "base": before_latest.version,
        "added": added,
        "removed": removed,
        "changed": changed,
        "new_bytes": new_bytes,
    }
    return out


def _put_line(v: VersionInfo, outcome: dict) -> str:
    where = f"{v.entity}/{v.project}/{v.name}"
    moved = ", ".join(outcome["aliases_moved"]) or "none"
    if not outcome["created"]:
        return f"unchanged: same content as {v.version} of {where}; aliases moved: {moved}"
    ch = outcome["changes"]
    if ch["base"] is None:
        what = f"{views.count(v.file_count, 'file')}, {views.size(v.size)}"
    else:
        n = ch["added"] + ch["removed"] + ch["changed"]
        what = f"{views.count(n, 'file')} changed from {ch['base']}, {views.size(ch['new_bytes'])} new"
    return f"new version {v.version} of {where} ({what}); aliases: {views.aliases(v)}"


@artifact.command("put")
@click.argument("path")
@click.option("--name", "-n", required=True, help="Artifact name, optionally as project/name.")
@click.option("--type", "-t", "type_", default="dataset", show_default=True, help="Artifact type.")
@click.option("--alias", "-a", "aliases", multiple=True, help="Alias to give the version (repeatable).")
@click.option("--description", "-d", default=None, help="Description of the version.")
@click.option("--tag", "tags", multiple=True, help="Tag for the version (repeatable).")
@JSON
def put(
    path: str,
    name: str,
    type_: str,
    aliases: tuple[str, ...],
    description: str | None,
    tags: tuple[str, ...],
    as_json: bool,
) -> None:
    """Log PATH (a file, a folder, or a file://, s3:// or http(s):// URI) as a new version.

    Content identical to an existing version makes no new version: that version gets the
    aliases (and 'latest'), and the command says so.

    \b
    Examples:
      cairn artifact put data/ --name mnist/images --alias best
      cairn artifact put model.pt -n mnist/model -t model --tag resnet
      cairn artifact put s3://bucket/raw/ -n raw --json
    """
    import cairn
    from ..sdk.artifact import artifact_from_path

    project, art_name = _split_name(name)
    c = lookup.client()
    try:
        listed = c.list_versions(c.entity, project or lookup.default_project(), art_name)
    except ArtifactNotFoundError:
        listed = []
    before = {v.id: v for v in listed}
    before_latest = next((v for v in listed if LATEST in v.aliases), None)
    with cairn.init(project=project, job_type="cli-put") as run:
        a = artifact_from_path(path, art_name, type_, description)
        run.log_artifact(a, aliases=list(aliases), tags=list(tags))
    v = a._version
    assert v is not None, "log_artifact commits it"
    outcome = _put_outcome(before, before_latest, v)
    if as_json:
        output.json({**outcome, "version": views.version(v)})
    else:
        output.line(_put_line(v, outcome))


@artifact.command("get")
@click.argument("name")
@click.option("--root", "-r", default=None, help="Folder to download into (default ./artifacts/NAME:VERSION).")
@click.option("--prefix", "path_prefix", default=None, help="Only download entries under this path.")
@JSON
def get(name: str, root: str | None, path_prefix: str | None, as_json: bool) -> None:
    """Download NAME[:alias|:vN] (optionally project/NAME or entity/project/NAME), verified.

    Files already there with the right content are left alone.

    \b
    Examples:
      cairn artifact get mnist/images:best --root ./images
      cairn artifact get mnist/images:v3 --prefix train/
    """
    import cairn

    a = cairn.Api().artifact(name)
    where = a.download(root, path_prefix=path_prefix)
    if as_json:
        assert a._version is not None, "the Api reads stored versions"
        output.json({"version": views.version(a._version), "root": where})
    else:
        output.line(f"{a.qualified_name} -> {where}")


@artifact.command("ls")
@click.argument("project", required=False)
@JSON
def ls(project: str | None, as_json: bool) -> None:
    """List the artifacts of PROJECT ([ENTITY/]PROJECT; default: CAIRN_PROJECT or
    'uncategorized') and their versions.

    \b
    Examples:
      cairn artifact ls mnist
      cairn artifact ls vision/mnist --json
    """
    entity, proj = lookup.project(project)
    c = lookup.client()
    versions = []
    for coll in c.list_collections(entity, proj):
        versions += c.list_versions(entity, proj, coll.name)
    if as_json:
        output.json([views.version(v) for v in versions])
        return
    if not versions:
        output.line(f"no artifacts in {entity}/{proj}")
        return
    rows = [[f"{v.name}:{v.version}", v.type, v.file_count, views.size(v.size), ",".join(v.aliases)] for v in versions]
    output.table(rows, ["version", "type", "files", "size", "aliases"])


@artifact.command("show")
@click.argument("name")
@JSON
def show(name: str, as_json: bool) -> None:
    """Show one version: metadata, aliases, tags, digest, size, files, and the runs that
    produced and used it.

    \b
    Examples:
      cairn artifact show mnist/images            (the latest version)
      cairn artifact show mnist/images:v2 --json
    """
    v = lookup.version(name)
    c = lookup.client()
    producer = None
    if v.run_id:
        producer = c.get_run(v.run_id, v.entity, v.project)
    consumers = c.version_users(v.id)
    if as_json:
        output.json(
            {
                **views.version(v),
                "producer": producer and views.run(producer),
                "consumers": [views.run(r) for r in consumers],
            }
        )
        return
    import json

    output.fields(
        [
            ("version", v.qualified_name),
            ("type", v.type),
            ("aliases", views.aliases(v)),
            ("tags", ", ".join(v.tags)),
            ("digest", v.digest),
            ("size", f"{views.size(v.size)} ({v.size} bytes)"),
            ("files", v.file_count),
            ("description", v.description),
            ("metadata", json.dumps(v.metadata, sort_keys=True) if v.metadata else None),
            ("ttl", f"{v.ttl_seconds} s" if v.ttl_seconds else None),
            ("created", v.created_at.isoformat(timespec="seconds")),
            (
                "produced by",
                f"{producer.entity}/{producer.project}/{producer.id} ({producer.job_type or 'run'})"
                if producer
                else "-",
            ),
            ("used by", ", ".join(f"{r.entity}/{r.project}/{r.id}" for r in consumers) or "-"),
        ]
    )


@artifact.command("files")
@click.argument("name")
@click.argument("prefix", required=False)
@JSON
def files(name: str, prefix: str | None, as_json: bool) -> None:
    """List the files of a version (those whose path starts with PREFIX, if given).

    \b
    Examples:
      cairn artifact files mnist/images:v1
      cairn artifact files mnist/images:v1 train/ --json
    """
    v = lookup.version(name)
    m = lookup.client().manifest(v.manifest_key)
    entries = m.prefix(prefix) if prefix else iter(m)
    if as_json:
        output.json([views.entry(e) for e in entries])
        return
    shown = 0
    for e in entries:
        output.line(f"{views.size(e.size):>10}  {views.short_digest(e.digest)}  {e.path}")
        shown += 1
    if not shown:
        output.note(f"no files{' under ' + repr(prefix) if prefix else ''} in {v.qualified_name}")


@artifact.command("diff")
@click.argument("a")
@click.argument("b")
@click.option("--stat", is_flag=True, help="Only the counts and sizes of added, removed and changed files.")
@JSON
def diff_cmd(a: str, b: str, stat: bool, as_json: bool) -> None:
    """Compare version A with version B: files added, removed and changed, with sizes.

    Unchanged parts of the two manifests are never read, so a small change between two
    big versions is quick.

    \b
    Examples:
      cairn artifact diff mnist/images:v0 mnist/images:v1
      cairn artifact diff mnist/images:baseline mnist/images:latest --stat
    """
    from ..core.manifest import diff

    va, vb = lookup.version(a), lookup.version(b)
    c = lookup.client()
    added: list[Entry] = []
    removed: list[Entry] = []
    changed: list[tuple[Entry, Entry]] = []
    for path, ea, eb in diff(c.manifest(va.manifest_key), c.manifest(vb.manifest_key)):
        if ea is None:
            assert eb is not None, "diff yields paths of either side"
            added.append(eb)
        elif eb is None:
            removed.append(ea)
        else:
            changed.append((ea, eb))
    counts = {
        "added": len(added),
        "added_bytes": sum(e.size for e in added),
        "removed": len(removed),
        "removed_bytes": sum(e.size for e in removed),
        "changed": len(changed),
        "changed_delta_bytes": sum(n.size - o.size for o, n in changed),
    }
    if as_json:
        doc: dict[str, object] = {"a": va.qualified_name, "b": vb.qualified_name, "stat": counts}
        if not stat:
            doc.update(
                added=[views.entry(e) for e in added],
                removed=[views.entry(e) for e in removed],
                changed=[
                    {
                        "path": o.path,
                        "old_size": o.size,
                        "new_size": n.size,
                        "old_digest": o.digest,
                        "new_digest": n.digest,
                    }
                    for o, n in changed
                ],
            )
        output.json(doc)
        return
    if not stat:
        rows = [(e.path, f"+ {e.path}  ({views.size(e.size)})") for e in added]
        rows += [(e.path, f"- {e.path}  ({views.size(e.size)})") for e in removed]
        rows += [(o.path, f"M {o.path}  ({views.size(o.size)} -> {views.size(n.size)})") for o, n in changed]
        for _, text in sorted(rows):
            output.line(text)
    delta = counts["changed_delta_bytes"]
    output.line(
        f"{va.qualified_name} -> {vb.qualified_name}: "
        f"{counts['added']} added ({views.size(counts['added_bytes'])}), "
        f"{counts['removed']} removed ({views.size(counts['removed_bytes'])}), "
        f"{counts['changed']} changed ({'+' if delta >= 0 else '-'}{views.size(abs(delta))})"
    )
