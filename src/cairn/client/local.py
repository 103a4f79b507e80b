"""The in-process client: the engine on the embedded store (SQLite + a local blob folder)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Unpack

from ..core.changes import CollectionChanges, RunChanges, RunOptions, VersionChanges

from collections.abc import Iterable, Iterator
from pathlib import Path

from ..core.errors import IntegrityError
from ..core.manifest import Entry, Manifest
from ..core.paging import Page
from ..core.names import ArtifactRef
from ..core.versions import CollectionInfo, CommitRequest, RunInfo, VersionInfo
from ..engine import Engine
from ..storage.base import BlobReader
from ..storage.blobs.local import LocalBlobStore
from ..storage.meta.sql import MetaStore
from . import transfer
from .base import Client
from .references import open_reference
from .settings import Settings
from .statcache import StatCache

if TYPE_CHECKING:
    from ..engine.retention import Retention

DEFAULT_ENTITY = "local"


class LocalClient:
    """``Client`` in process: the engine on the embedded store, blobs ingested and read here."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.entity = settings.entity or DEFAULT_ENTITY
        self.blobs = LocalBlobStore(settings.dir / "blobs")
        self.meta = MetaStore.sqlite(settings.dir / "meta.sqlite")
        self.engine = Engine(self.meta, self.blobs)
        self.statcache = StatCache(settings.cache_dir / "statcache.sqlite")

    def ingest(self, paths: list[str]) -> dict[str, tuple[str, int]]:
        return transfer.ingest(self.blobs, self.statcache, paths)

    def ingest_dir(self, root: str) -> Iterator[transfer.Window]:
        with transfer.Ingest(self.blobs, self.statcache) as session:
            yield from transfer.ingest_windows(root, session)

    def ingest_bytes(self, data: bytes) -> tuple[str, int]:
        return self.blobs.put_bytes(data)

    def missing_blobs(self, entity: str, project: str, digests: list[str]) -> set[str]:
        return set(digests) - self.blobs.has(digests)

    def open_entry(self, entry: Entry, version: VersionInfo | None = None) -> BlobReader:
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

    # versions, links, runs and lineage: the engine's, unchanged
    def commit(self, req: CommitRequest) -> VersionInfo:
        return self.engine.commit(req)

    def upsert_draft(self, req: CommitRequest, distributed_id: str) -> None:
        self.engine.upsert_draft(req, distributed_id)

    def finish_draft(self, req: CommitRequest, distributed_id: str) -> VersionInfo:
        return self.engine.finish_draft(req, distributed_id)

    def resolve(self, ref: ArtifactRef, entity: str, project: str) -> VersionInfo:
        return self.engine.resolve(ref, entity, project)

    def get_version(self, version_id: int) -> VersionInfo:
        return self.engine.get_version(version_id)

    def list_versions(self, entity: str, project: str, name: str, tags: list[str] | None = None) -> list[VersionInfo]:
        return self.engine.list_versions(entity, project, name, tags)

    def list_collections(self, entity: str, project: str, type_: str | None = None) -> list[CollectionInfo]:
        return self.engine.list_collections(entity, project, type_)

    def versions_page(
        self, entity: str, project: str, name: str, tags: list[str] | None, after: str | None, limit: int
    ) -> Page[VersionInfo]:
        return self.engine.versions_page(entity, project, name, tags, after, limit)

    def collections_page(
        self, entity: str, project: str, type_: str | None, after: str | None, limit: int
    ) -> Page[CollectionInfo]:
        return self.engine.collections_page(entity, project, type_, after, limit)

    def list_projects(self, entity: str | None = None) -> list[tuple[str, str]]:
        return self.engine.list_projects(entity)

    def update_collection(
        self, entity: str, project: str, name: str, **changes: Unpack[CollectionChanges]
    ) -> CollectionInfo:
        return self.engine.update_collection(entity, project, name, **changes)

    def update_version(self, version_id: int, **changes: Unpack[VersionChanges]) -> VersionInfo:
        return self.engine.update_version(version_id, **changes)

    def delete_version(self, version_id: int, delete_aliases: bool = False, run_id: str | None = None) -> None:
        self.engine.delete_version(version_id, delete_aliases, run_id)

    def delete_collection(self, entity: str, project: str, name: str, delete_aliases: bool = False) -> int:
        return self.engine.delete_collection(entity, project, name, delete_aliases)

    def delete_project(self, entity: str, project: str, delete_aliases: bool = False) -> int:
        return self.engine.delete_project(entity, project, delete_aliases)

    def set_retention(self, entity: str, project: str, name: str | None, policy: Retention | None) -> None:
        self.engine.set_retention(entity, project, name, policy)

    def get_retention(self, entity: str, project: str, name: str | None) -> Retention | None:
        return self.engine.get_retention(entity, project, name)

    def alias_history(self, entity: str, project: str, name: str) -> list[dict]:
        return self.engine.alias_history(entity, project, name)

    def link_version(
        self,
        version_id: int,
        entity: str,
        project: str,
        name: str,
        aliases: list[str] | None = None,
        run_id: str | None = None,
    ) -> VersionInfo:
        return self.engine.link_version(version_id, entity, project, name, aliases, run_id)

    def unlink_version(self, version_id: int, run_id: str | None = None) -> None:
        self.engine.unlink_version(version_id, run_id)

    def version_links(self, version_id: int) -> list[VersionInfo]:
        return self.engine.version_links(version_id)

    def create_run(self, entity: str, project: str, **kw: Unpack[RunOptions]) -> RunInfo:
        return self.engine.create_run(entity, project, **kw)

    def finish_run(
        self, run_id: str, exit_code: int = 0, config: dict | None = None, summary: dict | None = None
    ) -> None:
        self.engine.finish_run(run_id, exit_code, config, summary)

    def log_history(
        self, run_id: str, rows: list[dict], summary: dict | None = None, config: dict | None = None
    ) -> None:
        self.engine.log_history(run_id, rows, summary, config)

    def run_history(
        self,
        run_id: str,
        keys: list[str] | None = None,
        min_step: int | None = None,
        max_step: int | None = None,
        limit: int | None = None,
        samples: int | None = None,
    ) -> list[str]:
        return self.engine.run_history(run_id, keys, min_step, max_step, limit, samples)

    def update_run(self, run_id: str, **changes: Unpack[RunChanges]) -> None:
        self.engine.update_run(run_id, **changes)

    def get_run(self, run_id: str, entity: str | None = None, project: str | None = None) -> RunInfo:
        return self.engine.get_run(run_id, entity, project)

    def list_runs(self, entity: str, project: str) -> list[RunInfo]:
        return self.engine.list_runs(entity, project)

    def runs_page(
        self,
        entity: str,
        project: str,
        filters: dict[str, str | None] | None,
        order: str | None,
        after: str | None,
        limit: int,
    ) -> Page[RunInfo]:
        return self.engine.runs_page(entity, project, filters, order, after, limit)

    def use_version(self, run_id: str, version_id: int) -> None:
        self.engine.use_version(run_id, version_id)

    def run_outputs(self, run_id: str) -> list[VersionInfo]:
        return self.engine.run_outputs(run_id)

    def run_inputs(self, run_id: str) -> list[VersionInfo]:
        return self.engine.run_inputs(run_id)

    def version_users(self, version_id: int) -> list[RunInfo]:
        return self.engine.version_users(version_id)

    def close(self) -> None:
        self.meta.dispose()
        self.blobs.close()


# mypy checks here that LocalClient has every method of Client, typed alike
# (tests/client/test_conformance.py asks the same at run time)
_conforms: type[Client] = LocalClient
