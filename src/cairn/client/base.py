"""The one seam between the SDK and the engine.

``Client`` is what the SDK calls. ``LocalClient`` runs the engine in-process on the embedded
store; a server client speaks HTTP to ``cairn server`` with the same methods and errors.
"""

from __future__ import annotations

from typing import Unpack

from ..core.changes import CollectionChanges, RunChanges, RunOptions, VersionChanges

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from ..core.manifest import Entry, Manifest
from ..core.names import ArtifactRef
from ..core.paging import Page
from ..core.versions import CollectionInfo, CommitRequest, RunInfo, VersionInfo
from ..storage.base import BlobReader

if TYPE_CHECKING:
    from ..engine.retention import Retention
    from .transfer import Window


class Client(Protocol):
    @property
    def entity(self) -> str:
        """The default entity of this client (a server's: the caller's own)."""

    # bytes
    def ingest(self, paths: list[str]) -> dict[str, tuple[str, int]]:
        """Store local files (read once, stat cache honoured); {path: (digest, size)}."""

    def ingest_dir(self, root: str) -> Iterator[Window]:
        """Store every file below the folder ``root``, window by window (a window's state is
        all that is held), in relative-path order. Everything is stored once the iteration
        ends."""

    def ingest_bytes(self, data: bytes) -> tuple[str, int]:
        """Store bytes; (digest, size)."""

    def missing_blobs(self, entity: str, project: str, digests: list[str]) -> set[str]:
        """Those of ``digests`` the store lacks (for a server: that the caller's project may
        not use without sending the bytes)."""

    def open_entry(self, entry: Entry, version: VersionInfo | None = None) -> BlobReader:
        """A reader of an entry's bytes (blob or reference) of ``version`` (None: an entry
        just added, not yet logged); the caller verifies the digest."""

    def download(self, entries: Iterable[Entry], root: Path, version: VersionInfo | None = None) -> int:
        """Write entries of ``version`` (sorted by path) under root, verified, skipping files
        that already match, window by window; returns how many."""

    def report_damaged(self, digest: str, version: VersionInfo | None = None) -> str:
        """Tell the store that the blob ``digest`` (of ``version``) read wrong or not at all.
        The store checks its copy again and sets a damaged one aside, so that the next ingest
        of the same bytes stores them anew. Returns ``transfer.SET_ASIDE``, ``MISSING`` (the
        store lacks it: an ingest stores it) or ``INTACT`` (the read went wrong, not the copy)."""

    def manifest(self, key: str) -> Manifest:
        """The manifest tree stored under ``key``."""

    # versions
    def commit(self, req: CommitRequest) -> VersionInfo: ...
    def upsert_draft(self, req: CommitRequest, distributed_id: str) -> None: ...
    def finish_draft(self, req: CommitRequest, distributed_id: str) -> VersionInfo: ...
    def resolve(self, ref: ArtifactRef, entity: str, project: str) -> VersionInfo: ...
    def get_version(self, version_id: int) -> VersionInfo: ...
    def list_versions(
        self, entity: str, project: str, name: str, tags: list[str] | None = None
    ) -> list[VersionInfo]: ...
    def list_collections(self, entity: str, project: str, type_: str | None = None) -> list[CollectionInfo]: ...
    def versions_page(
        self, entity: str, project: str, name: str, tags: list[str] | None, after: str | None, limit: int
    ) -> Page[VersionInfo]:
        """``list_versions`` a page at a time: up to ``limit`` versions after the cursor
        ``after`` (None: the first page), and the cursor of the next page (core/paging.py)."""

    def collections_page(
        self, entity: str, project: str, type_: str | None, after: str | None, limit: int
    ) -> Page[CollectionInfo]:
        """``list_collections`` a page at a time (as ``versions_page``)."""

    def list_projects(self, entity: str | None = None) -> list[tuple[str, str]]: ...
    def update_collection(
        self, entity: str, project: str, name: str, **changes: Unpack[CollectionChanges]
    ) -> CollectionInfo: ...
    def update_version(self, version_id: int, **changes: Unpack[VersionChanges]) -> VersionInfo: ...
    def delete_version(self, version_id: int, delete_aliases: bool = False, run_id: str | None = None) -> None: ...
    def delete_collection(self, entity: str, project: str, name: str, delete_aliases: bool = False) -> int: ...
    def delete_project(self, entity: str, project: str, delete_aliases: bool = False) -> int: ...
    def set_retention(self, entity: str, project: str, name: str | None, policy: Retention | None) -> None: ...
    def get_retention(self, entity: str, project: str, name: str | None) -> Retention | None: ...
    def alias_history(self, entity: str, project: str, name: str) -> list[dict]: ...

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
        """Link a committed version into the collection entity/project/name; the link."""

    def unlink_version(self, version_id: int, run_id: str | None = None) -> None:
        """Remove a link (a ValueError for a logged version)."""

    def version_links(self, version_id: int) -> list[VersionInfo]:
        """The links to a version (that the caller may read)."""

    # runs and lineage
    def create_run(self, entity: str, project: str, **kw: Unpack[RunOptions]) -> RunInfo: ...
    def finish_run(
        self, run_id: str, exit_code: int = 0, config: dict | None = None, summary: dict | None = None
    ) -> None: ...
    def log_history(
        self, run_id: str, rows: list[dict], summary: dict | None = None, config: dict | None = None
    ) -> None:
        """Append history rows (each with an increasing integer ``_step``) and store the
        summary and config, if given, in one transaction."""

    def run_history(
        self,
        run_id: str,
        keys: list[str] | None = None,
        min_step: int | None = None,
        max_step: int | None = None,
        limit: int | None = None,
        samples: int | None = None,
    ) -> list[str]:
        """History rows as JSON texts in step order (see ``engine.history.rows``)."""

    def update_run(self, run_id: str, **changes: Unpack[RunChanges]) -> None:
        """Replace a run's summary, config, tags, notes or name."""

    def get_run(self, run_id: str, entity: str | None = None, project: str | None = None) -> RunInfo: ...
    def list_runs(self, entity: str, project: str) -> list[RunInfo]: ...
    def runs_page(
        self,
        entity: str,
        project: str,
        filters: dict[str, str | None] | None,
        order: str | None,
        after: str | None,
        limit: int,
    ) -> Page[RunInfo]:
        """``list_runs`` a page at a time (as ``versions_page``): runs whose fields equal
        ``filters``, by W&B's ``order`` (see ``engine.runs.runs_page``)."""

    def use_version(self, run_id: str, version_id: int) -> None: ...
    def run_outputs(self, run_id: str) -> list[VersionInfo]: ...
    def run_inputs(self, run_id: str) -> list[VersionInfo]: ...
    def version_users(self, version_id: int) -> list[RunInfo]: ...
