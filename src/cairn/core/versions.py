"""Versions, runs and the requests that make them: small frozen values, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from .errors import UsageError
from .manifest import Entry, SortedEntries


# States are StrEnums: each member is the very string stored (SQLite, PostgreSQL, JSON) and
# compares equal to it, so rows read back as plain text need no conversion.
class VersionState(StrEnum):
    """A version's state: PENDING while its files are stored, then COMMITTED; DELETED once removed."""

    PENDING = "PENDING"
    COMMITTED = "COMMITTED"
    DELETED = "DELETED"


class RunState(StrEnum):
    """A run's state, in W&B's words (``Run.state``)."""

    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"


class DraftState(StrEnum):
    """A distributed draft's state: OPEN to contributions until one run FINISHES it."""

    OPEN = "OPEN"
    FINISHED = "FINISHED"


class CollectionKind(StrEnum):
    """What a collection holds: logged versions, or links to versions of others (a registry's)."""

    LOGGED = "logged"
    LINKS = "links"


PENDING, COMMITTED, DELETED = VersionState.PENDING, VersionState.COMMITTED, VersionState.DELETED
LOGGED, LINKS = CollectionKind.LOGGED, CollectionKind.LINKS


@dataclass(frozen=True, slots=True)
class VersionInfo:
    """A committed (or deleted) version as the store knows it."""

    id: int
    entity: str
    project: str
    name: str  # collection name, without ":vN"
    type: str
    index: int
    digest: str
    manifest_key: str
    file_count: int
    size: int
    description: str | None
    metadata: dict[str, Any]
    state: str
    aliases: tuple[str, ...]
    tags: tuple[str, ...]
    ttl_seconds: int | None
    created_at: datetime
    updated_at: datetime
    run_id: str | None
    # a link (W&B's registry): the source version it points at; its files, description,
    # metadata, tags and producing run are the source's
    link_of: int | None = None
    source_entity: str | None = None
    source_project: str | None = None
    source_name: str | None = None
    source_index: int | None = None

    @property
    def version(self) -> str:
        return f"v{self.index}"

    @property
    def qualified_name(self) -> str:
        return f"{self.entity}/{self.project}/{self.name}:{self.version}"

    @property
    def is_link(self) -> bool:
        return self.link_of is not None

    @property
    def source_qualified_name(self) -> str:
        """``entity/project/name:vN`` of the version that holds the files (itself unless a link)."""
        if self.link_of is None:
            return self.qualified_name
        return f"{self.source_entity}/{self.source_project}/{self.source_name}:v{self.source_index}"

    @property
    def source_collection(self) -> tuple[str, str, str]:
        """(entity, project, name) of the collection whose version holds the files (its own unless a link)."""
        if self.link_of is None:
            return self.entity, self.project, self.name
        assert self.source_entity and self.source_project and self.source_name, "a link names its source"
        return self.source_entity, self.source_project, self.source_name

    @property
    def content_project(self) -> tuple[str, str]:
        """(entity, project) whose store holds this version's bytes: a link's are its source's."""
        if self.link_of is None:
            return self.entity, self.project
        return self.source_entity or self.entity, self.source_project or self.project


@dataclass(frozen=True, slots=True)
class RunInfo:
    id: str
    entity: str
    project: str
    name: str
    group: str | None
    job_type: str | None
    config: dict[str, Any]
    state: str
    created_at: datetime
    finished_at: datetime | None
    summary: dict[str, Any] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    notes: str | None = None
    last_step: int | None = None  # the highest step of its history; None before the first row


@dataclass(frozen=True, slots=True)
class CollectionInfo:
    entity: str
    project: str
    name: str
    type: str
    description: str | None
    created_at: datetime
    version_count: int
    kind: str = "logged"  # "logged" versions, or "links" to versions of other collections
    tags: tuple[str, ...] = ()
    # of a collection of links: how many of its committed links point at each source entity
    # (a server counts only those whose source the caller may read); empty otherwise
    link_sources: tuple[tuple[str, int], ...] = ()


@dataclass(slots=True)
class Edits:
    """Changes to apply on top of a base version (incremental drafts)."""

    upserts: dict[str, Entry] = field(default_factory=dict)
    removes: set[str] = field(default_factory=set)  # exact paths
    remove_prefixes: set[str] = field(default_factory=set)  # "dir/" removes everything below


@dataclass(slots=True)
class CommitRequest:
    """Everything needed to commit one version; either ``entries`` or ``base_version_id`` + ``edits``."""

    entity: str
    project: str
    name: str
    type: str
    entries: list[Entry] | SortedEntries | None = None  # SortedEntries: an in-process SDK's spilled entries
    base_version_id: int | None = None
    # the manifest key of the base the caller saw: the commit is refused if the base's id
    # names another manifest by then (SQLite numbers a new row like a dropped newest one)
    base_manifest_key: str | None = None
    edits: Edits | None = None
    description: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    ttl_seconds: int | None = None
    run_id: str | None = None


MAX_METADATA_KEYS = 100


def check_metadata(
    metadata: Any, what: str = "artifact metadata", max_keys: int | None = MAX_METADATA_KEYS
) -> dict[str, Any]:
    """Metadata is a JSON object with at most 100 top-level keys, nested at most
    ``MAX_JSON_DEPTH`` levels, whose text is valid Unicode; returns its plain-JSON copy."""
    import json

    from .limits import MAX_JSON_DEPTH, json_depth_ok

    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise UsageError(f"{what} must be a dict, got {type(metadata).__name__}")
    if max_keys is not None and len(metadata) > max_keys:
        raise UsageError(
            f"{what} has {len(metadata)} top-level keys; at most {max_keys} are allowed "
            "(nest related values under one key)"
        )
    for k in metadata:
        if not isinstance(k, str):
            raise UsageError(f"{what} keys must be strings, got {k!r}")
    if not json_depth_ok(metadata):
        raise UsageError(f"{what} is nested more than {MAX_JSON_DEPTH} levels deep; flatten it")
    try:
        text = json.dumps(metadata, allow_nan=False, default=_json_default, ensure_ascii=False)
    except (TypeError, ValueError) as e:
        bad = next((k for k, v in metadata.items() if not _is_json(v)), None)
        where = f" (key {bad!r})" if bad is not None else ""
        raise UsageError(f"{what} must be JSON-serializable{where}: {e}") from None
    except RecursionError:  # a value ``default`` turned into something nested too deep
        raise UsageError(f"{what} is nested too deeply; flatten it") from None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise UsageError(f"{what} holds text that is not valid Unicode (a lone surrogate)") from None
    out = json.loads(text)
    if not json_depth_ok(out):  # ``default`` may have made nested lists (numpy arrays)
        raise UsageError(f"{what} is nested more than {MAX_JSON_DEPTH} levels deep; flatten it")
    return out


def _is_json(value: Any) -> bool:
    import json

    try:
        json.dumps(value, allow_nan=False, default=_json_default)
        return True
    except (TypeError, ValueError, RecursionError):
        return False


def _json_default(o: Any) -> Any:
    if hasattr(o, "tolist"):  # numpy arrays and scalars
        return o.tolist()
    if hasattr(o, "isoformat"):
        return o.isoformat()
    raise TypeError(f"{type(o).__name__} is not JSON-serializable")


def check_commit(req: CommitRequest) -> CommitRequest:
    """Check (and normalise) everything about a commit that needs no store: names, aliases,
    tags, metadata, description, ttl and ids. The engine calls it before it writes anything,
    and the HTTP client before it uploads anything, so both refuse a bad request alike."""
    from .limits import check_int, check_text, check_ttl
    from .names import check_alias, check_name, check_not_reserved, check_run_id, check_tag, check_type

    check_name(req.name)
    check_type(req.type)
    check_not_reserved(req.type, req.name)
    check_name(req.project, "project name")
    check_name(req.entity, "entity name")
    if isinstance(req.aliases, str) or isinstance(req.tags, str):
        raise UsageError("aliases and tags must be lists of strings, not one string")
    req.aliases = list(dict.fromkeys(check_alias(a) for a in req.aliases))
    req.tags = list(dict.fromkeys(check_tag(t) for t in req.tags))
    req.metadata = check_metadata(req.metadata)
    check_text(req.description, "description", optional=True)
    check_ttl(req.ttl_seconds)
    if req.run_id is not None:
        check_run_id(req.run_id)
    check_int(req.base_version_id, "base_version_id", lo=1, optional=True)
    return req
