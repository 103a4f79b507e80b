"""The keyword arguments of the edit operations, declared once.

``Engine``, the ``Client`` protocol and each client take them as ``**changes:
Unpack[...]``, so the type checker holds every layer to the same names and types (the
server's request models carry the same fields). Every key is optional: only the keys
given are changed.
"""

from __future__ import annotations

from typing import Any, TypedDict


class CollectionChanges(TypedDict, total=False):
    """What ``update_collection`` may change."""

    description: str | None
    tags: list[str]


class VersionChanges(TypedDict, total=False):
    """What ``update_version`` may change after commit (see ``engine.versions.update``)."""

    description: str | None
    metadata: dict[str, Any]
    ttl_seconds: int | None
    aliases: list[str]
    tags: list[str]
    run_id: str | None
    remove_aliases: list[str]
    add_aliases: list[str]
    add_tags: list[str]
    remove_tags: list[str]


class RunOptions(TypedDict, total=False):
    """What ``create_run`` takes besides the entity and project (see ``engine.runs.create``)."""

    run_id: str | None
    name: str | None
    group: str | None
    job_type: str | None
    config: dict[str, Any] | None
    tags: list[str] | None
    notes: str | None
    resume: str | None


class RunChanges(TypedDict, total=False):
    """What ``update_run`` replaces in a run's record."""

    summary: dict[str, Any]
    config: dict[str, Any]
    tags: list[str]
    notes: str | None
    name: str
