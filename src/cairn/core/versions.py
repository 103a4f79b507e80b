"""Versions, runs and the requests that make them: small frozen values, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .manifest import Entry

PENDING = "PENDING"
COMMITTED = "COMMITTED"
DELETED = "DELETED"


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

    @property
    def version(self) -> str:
        return f"v{self.index}"

    @property
    def qualified_name(self) -> str:
        return f"{self.entity}/{self.project}/{self.name}:{self.version}"


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


@dataclass(frozen=True, slots=True)
class CollectionInfo:
    entity: str
    project: str
    name: str
    type: str
    description: str | None
    created_at: datetime
    version_count: int


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
    entries: list[Entry] | None = None
    base_version_id: int | None = None
    edits: Edits | None = None
    description: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    ttl_seconds: int | None = None
    run_id: str | None = None


MAX_METADATA_KEYS = 100


def check_metadata(metadata: Any) -> dict[str, Any]:
    """Metadata is a JSON object with at most 100 top-level keys."""
    import json

    from .errors import UsageError

    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise UsageError(f"artifact metadata must be a dict, got {type(metadata).__name__}")
    if len(metadata) > MAX_METADATA_KEYS:
        raise UsageError(
            f"artifact metadata has {len(metadata)} top-level keys; at most {MAX_METADATA_KEYS} are allowed "
            "(nest related values under one key)"
        )
    for k in metadata:
        if not isinstance(k, str):
            raise UsageError(f"artifact metadata keys must be strings, got {k!r}")
    try:
        return json.loads(json.dumps(metadata, allow_nan=False, default=_json_default))
    except (TypeError, ValueError) as e:
        bad = next((k for k, v in metadata.items() if not _is_json(v)), None)
        where = f" (key {bad!r})" if bad is not None else ""
        raise UsageError(f"artifact metadata must be JSON-serializable{where}: {e}") from None


def _is_json(value: Any) -> bool:
    import json

    try:
        json.dumps(value, allow_nan=False, default=_json_default)
        return True
    except (TypeError, ValueError):
        return False


def _json_default(o: Any) -> Any:
    if hasattr(o, "tolist"):  # numpy arrays and scalars
        return o.tolist()
    if hasattr(o, "isoformat"):
        return o.isoformat()
    raise TypeError(f"{type(o).__name__} is not JSON-serializable")
