"""Use cases over core + storage, owning transactions. ``Engine`` is their one facade,
shared by the in-process client and the server.

The modules of rarer operations (gc, deletion, retention, links, run history, the version
log) are imported by the method that uses them, not here: every ``cairn`` command and SDK
process builds an ``Engine``, and most never call them (bench/startup.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Unpack

from ..core.changes import CollectionChanges, RunChanges, RunOptions, VersionChanges

from ..core.manifest import Manifest
from ..core.names import ArtifactRef
from ..core.paging import Page
from ..core.versions import CollectionInfo, CommitRequest, RunInfo, VersionInfo
from ..storage.base import BlobStore
from ..storage.meta.sql import MetaStore
from . import commit as _commit
from . import drafts, runs, versions

if TYPE_CHECKING:
    from .gc import GcOptions
    from .gc_report import GcReport
    from .retention import Retention


class Engine:
    def __init__(self, meta: MetaStore, blobs: BlobStore) -> None:
        self.meta = meta
        self.blobs = blobs

    # versions
    def commit(self, req: CommitRequest) -> VersionInfo:
        return _commit.commit(self.meta, self.blobs, req)

    def upsert_draft(self, req: CommitRequest, distributed_id: str) -> None:
        drafts.upsert(self.meta, self.blobs, req, distributed_id)

    def finish_draft(self, req: CommitRequest, distributed_id: str) -> VersionInfo:
        return drafts.finish(self.meta, self.blobs, req, distributed_id)

    def resolve(self, ref: ArtifactRef, entity: str, project: str) -> VersionInfo:
        return versions.resolve(self.meta, ref, entity, project)

    def get_version(self, version_id: int) -> VersionInfo:
        return versions.get(self.meta, version_id)

    def list_versions(self, entity: str, project: str, name: str, tags: list[str] | None = None) -> list[VersionInfo]:
        return versions.list_versions(self.meta, entity, project, name, tags)

    def list_collections(self, entity: str, project: str, type_: str | None = None) -> list[CollectionInfo]:
        return versions.list_collections(self.meta, entity, project, type_)

    def versions_page(
        self, entity: str, project: str, name: str, tags: list[str] | None, after: str | None, limit: int
    ) -> Page[VersionInfo]:
        return versions.versions_page(self.meta, entity, project, name, tags, after, limit)

    def collections_page(
        self, entity: str, project: str, type_: str | None, after: str | None, limit: int
    ) -> Page[CollectionInfo]:
        return versions.collections_page(self.meta, entity, project, type_, after, limit)

    def update_collection(
        self, entity: str, project: str, name: str, **changes: Unpack[CollectionChanges]
    ) -> CollectionInfo:
        return versions.update_collection(self.meta, entity, project, name, **changes)

    def list_projects(self, entity: str | None = None) -> list[tuple[str, str]]:
        return versions.list_projects(self.meta, entity)

    def update_version(self, version_id: int, by: str | None = None, **changes: Unpack[VersionChanges]) -> VersionInfo:
        return versions.update(self.meta, version_id, by=by, **changes)

    def delete_version(
        self, version_id: int, delete_aliases: bool = False, run_id: str | None = None, by: str | None = None
    ) -> None:
        versions.delete(self.meta, version_id, delete_aliases, run_id, by)

    def version_history(self, version_id: int) -> list[dict]:
        """The recorded edits of a version (``version_log``), newest first."""
        from . import version_log

        return version_log.history(self.meta, version_id)

    def delete_collection(self, entity: str, project: str, name: str, delete_aliases: bool = False) -> int:
        from . import deletion

        return deletion.delete_collection(self.meta, entity, project, name, delete_aliases)

    def delete_project(self, entity: str, project: str, delete_aliases: bool = False) -> int:
        from . import deletion

        return deletion.delete_project(self.meta, entity, project, delete_aliases)

    def set_retention(self, entity: str, project: str, name: str | None, policy: Retention | None) -> None:
        from . import retention

        retention.set_policy(self.meta, entity, project, name, policy)

    def get_retention(self, entity: str, project: str, name: str | None) -> Retention | None:
        from . import retention

        return retention.get_policy(self.meta, entity, project, name)

    def gc(self, options: GcOptions | None = None) -> GcReport:
        from .gc import collect

        return collect(self.meta, self.blobs, options)

    def alias_history(self, entity: str, project: str, name: str) -> list[dict]:
        return versions.aliases_log(self.meta, entity, project, name)

    # links (the registry)
    def link_version(
        self,
        version_id: int,
        entity: str,
        project: str,
        name: str,
        aliases: list[str] | None = None,
        run_id: str | None = None,
    ) -> VersionInfo:
        from . import links

        return links.link(self.meta, version_id, entity, project, name, aliases, run_id)

    def unlink_version(self, version_id: int, run_id: str | None = None) -> None:
        from . import links

        links.unlink(self.meta, version_id, run_id)

    def version_links(self, version_id: int) -> list[VersionInfo]:
        from . import links

        return links.links_of(self.meta, version_id)

    def manifest(self, key: str) -> Manifest:
        return Manifest(key, self.meta.get_chunks)

    # runs and lineage
    def create_run(self, entity: str, project: str, **kw: Unpack[RunOptions]) -> RunInfo:
        return runs.create(self.meta, entity, project, **kw)

    def finish_run(
        self, run_id: str, exit_code: int = 0, config: dict | None = None, summary: dict | None = None
    ) -> None:
        runs.finish(self.meta, run_id, exit_code, config, summary)

    def log_history(
        self, run_id: str, rows: list[dict], summary: dict | None = None, config: dict | None = None
    ) -> None:
        from . import history

        history.append(self.meta, run_id, rows, summary, config)

    def run_history(
        self,
        run_id: str,
        keys: list[str] | None = None,
        min_step: int | None = None,
        max_step: int | None = None,
        limit: int | None = None,
        samples: int | None = None,
    ) -> list[str]:
        from . import history

        return history.rows(self.meta, run_id, keys, min_step, max_step, limit, samples)

    def update_run(self, run_id: str, **changes: Unpack[RunChanges]) -> None:
        from . import history

        history.update(self.meta, run_id, **changes)

    def get_run(self, run_id: str, entity: str | None = None, project: str | None = None) -> RunInfo:
        return runs.get(self.meta, run_id, entity, project)

    def runs_with_id(self, run_id: str) -> list[RunInfo]:
        """Every run of that id, of any project (a run id is unique within its project only)."""
        return runs.with_id(self.meta, run_id)

    def list_runs(self, entity: str, project: str) -> list[RunInfo]:
        return runs.list_runs(self.meta, entity, project)

    def runs_page(
        self,
        entity: str,
        project: str,
        filters: dict[str, str | None] | None,
        order: str | None,
        after: str | None,
        limit: int,
    ) -> Page[RunInfo]:
        return runs.runs_page(self.meta, entity, project, filters, order, after, limit)

    def use_version(self, run_id: str, version_id: int) -> None:
        runs.use(self.meta, run_id, version_id)

    def run_outputs(self, run_id: str) -> list[VersionInfo]:
        return runs.outputs(self.meta, run_id)

    def run_inputs(self, run_id: str) -> list[VersionInfo]:
        return runs.inputs(self.meta, run_id)

    def version_users(self, version_id: int) -> list[RunInfo]:
        return runs.users(self.meta, version_id)
