"""The in-process client: the engine on the embedded store (SQLite + a local blob folder)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from ..core.errors import IntegrityError
from ..core.manifest import Entry, Manifest
from ..core.versions import VersionInfo
from ..engine import Engine
from ..storage.blobs.local import LocalBlobStore
from ..storage.meta.sql import MetaStore
from . import transfer
from .references import open_reference
from .settings import Settings
from .statcache import StatCache

DEFAULT_ENTITY = "local"


class LocalClient:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.entity = settings.entity or DEFAULT_ENTITY
        self.blobs = LocalBlobStore(settings.dir / "blobs")
        self.meta = MetaStore.sqlite(settings.dir / "meta.sqlite")
        self.engine = Engine(self.meta, self.blobs)
        self.statcache = StatCache(settings.cache_dir / "statcache.sqlite")

    def __getattr__(self, name: str):  # noqa: ANN204
        # Every version/run/lineage call of ``Client`` is the engine's, unchanged.
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.engine, name)

    def ingest(self, paths: list[str]) -> dict[str, tuple[str, int]]:
        return transfer.ingest(self.blobs, self.statcache, paths)

    def ingest_dir(self, root: str) -> Iterator[transfer.Window]:
        with transfer.Ingest(self.blobs, self.statcache) as session:
            yield from transfer.ingest_windows(root, session)

    def ingest_bytes(self, data: bytes) -> tuple[str, int]:
        return self.blobs.put_bytes(data)

    def missing_blobs(self, entity: str, project: str, digests: list[str]) -> set[str]:
        return set(digests) - self.blobs.has(digests)

    def open_entry(self, entry: Entry, version: VersionInfo | None = None) -> BinaryIO:
        if entry.ref is not None:
            return open_reference(entry)
        return self.blobs.open(entry.digest)

    def download(self, entries: Iterable[Entry], root: Path, version: VersionInfo | None = None) -> int:
        try:
            return transfer.download(entries, root, transfer.StoreReader(self.blobs), self.statcache)
        except IntegrityError as err:
            raise transfer.damage_error(err, self.report_damaged) from err

    def report_damaged(self, digest: str, version: VersionInfo | None = None) -> str:
        if self.blobs.quarantine(digest):
            return transfer.SET_ASIDE
        return transfer.INTACT if self.blobs.has([digest]) else transfer.MISSING

    def manifest(self, key: str) -> Manifest:
        return self.engine.manifest(key)

    def close(self) -> None:
        self.meta.dispose()
        self.blobs.close()
