"""Finding what a command names: versions, collections and runs, on the store the settings
choose (the embedded store, or a server with CAIRN_BASE_URL)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ..core.errors import UsageError
from ..core.names import DEFAULT_PROJECT, check_name, parse_ref

if TYPE_CHECKING:
    from ..client import Client
    from ..core.versions import RunInfo, VersionInfo


def client() -> "Client":
    from ..client import get_client

    return get_client()


def default_project() -> str:
    """CAIRN_PROJECT, else 'uncategorized'."""
    name = os.environ.get("CAIRN_PROJECT")
    return check_name(name, "project name (CAIRN_PROJECT)") if name else DEFAULT_PROJECT


def version(name: str, pinned: bool = False) -> "VersionInfo":
    """The version ``[[entity/]project/]name[:alias|:vN]`` names (``:latest`` if none).
    ``pinned``: the caller must name the version (a command that changes it)."""
    ref = parse_ref(name)
    if pinned and ":" not in name.rpartition("/")[2]:
        raise UsageError(f"name the version to change: {name}:vN or {name}:ALIAS (e.g. {name}:v0)")
    c = client()
    return c.resolve(ref, c.entity, default_project())


def collection(name: str) -> tuple[str, str, str]:
    """(entity, project, name) of ``[[entity/]project/]name`` (an alias, if given, is ignored)."""
    ref = parse_ref(name)
    c = client()
    return ref.entity or c.entity, ref.project or default_project(), ref.name


def project(name: str | None) -> tuple[str, str]:
    """(entity, project) of ``[entity/]project`` (default: CAIRN_PROJECT or 'uncategorized')."""
    c = client()
    if not name:
        return c.entity, default_project()
    parts = name.split("/")
    if len(parts) > 2 or not all(parts):
        raise UsageError(f"project {name!r} is not understood; write PROJECT or ENTITY/PROJECT")
    entity, proj = (parts[0], parts[1]) if len(parts) == 2 else (c.entity, parts[0])
    return check_name(entity, "entity name"), check_name(proj, "project name")


def run(path: str) -> "RunInfo":
    """The run ``[[entity/]project/]RUN_ID``."""
    parts = path.split("/")
    if len(parts) > 3 or not all(parts):
        raise UsageError(f"run {path!r} is not understood; write RUN_ID, PROJECT/RUN_ID or ENTITY/PROJECT/RUN_ID")
    c = client()
    run_id = parts[-1]
    project = parts[-2] if len(parts) >= 2 else None
    entity = parts[0] if len(parts) == 3 else None
    return c.get_run(run_id, entity, project)


def version_names(entity: str, project: str, name: str) -> dict[int, str]:
    """{version id: "vN"} of a collection's committed versions."""
    return {v.id: v.version for v in client().list_versions(entity, project, name)}
