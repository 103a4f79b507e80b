"""What one server process holds: the stores (no per-user or per-request state)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..engine import Engine
from ..engine import accounts as auth
from ..storage.base import BlobStore
from ..storage.meta.sql import MetaStore
from .authz import TreeKeys
from .damage import DamageChecks
from .limits import HeavyGate, Limits
from .probes import ReadyCache


@dataclass
class ServerContext:
    meta: MetaStore
    blobs: BlobStore
    max_json_bytes: int = 256 << 20
    max_blob_bytes: int = 8 << 30
    limits: Limits = field(default_factory=Limits)
    engine: Engine = field(init=False)
    tree_keys: TreeKeys = field(default_factory=TreeKeys)  # for authz.chunks
    damage: DamageChecks = field(default_factory=DamageChecks)  # what damage reports may cost
    gate: HeavyGate = field(init=False)
    ready: "ReadyCache" = field(default_factory=lambda: _ready_cache())  # /api/ready's last answer
    _csrf_secret: bytes | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.engine = Engine(self.meta, self.blobs)
        self.gate = HeavyGate(self.limits)

    def project_engine(self, entity: str, project: str) -> Engine:
        """An engine whose blob checks see only blobs uploaded (and verified) for this project."""
        return Engine(self.meta, ProjectBlobs(self.blobs, self.meta, entity, project))

    def principal(self, key: str | None) -> auth.Principal:
        return auth.authenticate(self.meta, key)

    def csrf_secret(self) -> bytes:
        """The store's CSRF secret, read once (it never changes)."""
        if self._csrf_secret is None:
            from .csrf import SETTING

            self._csrf_secret = auth.store_secret(self.meta, SETTING)
        return self._csrf_secret


def _ready_cache() -> ReadyCache:
    return ReadyCache()


class ProjectBlobs:
    """A BlobStore view in which a project holds only the blobs it uploaded: a client's claim
    that it has some content is never trusted across projects."""

    def __init__(self, blobs: BlobStore, meta: MetaStore, entity: str, project: str) -> None:
        self._blobs = blobs
        self._meta = meta
        self._entity, self._project = entity, project

    def has(self, digests: Iterable[str]) -> set[str]:
        from ..engine.blobs_index import project_has

        return project_has(self._meta, self._entity, self._project, list(digests))

    def has_stored(self, digests: Iterable[str]) -> set[str]:
        """Held by this project, and its object is in the store now (asked of the store)."""
        held = self.has(digests)
        return set(self._blobs.has(list(held))) if held else set()

    def flush(self) -> None:
        self._blobs.flush()

    def __getattr__(self, name: str) -> Any:  # every other BlobStore operation is the store's own
        return getattr(self._blobs, name)
