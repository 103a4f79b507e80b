"""The client of ``mode="disabled"``: every call succeeds or says clearly that nothing is
kept, and none touches a store, a file or a folder (W&B users disable runs in CI).

Files added to an artifact are read and hashed, so names, digests and sizes are what they
would be; their bytes are not kept. A logged artifact gets a version that exists only in
this process; reading one back (files, download) is a UsageError, and using one by name
an ArtifactNotFoundError. Linking one to a registry makes a link that exists only in this
process as well.
"""

from __future__ import annotations

from typing import Unpack

from ..core.changes import CollectionChanges, RunChanges, RunOptions, VersionChanges

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.digest import digest_of, hasher
from ..core.errors import ArtifactNotFoundError, RunNotFoundError, UsageError
from ..core.manifest import Entry, Manifest
from ..core.paging import Page
from ..core.names import ArtifactRef
from ..core.progress import NULL_TASK, Task
from ..core.versions import COMMITTED, CollectionInfo, CommitRequest, RunInfo, RunState, VersionInfo
from ..storage.base import BlobReader
from . import transfer
from .base import Client

if TYPE_CHECKING:
    from ..engine.retention import Retention

DEFAULT_ENTITY = "local"
_NOTHING = "mode='disabled' stores nothing, so there is nothing to read back; run without mode='disabled' (or WANDB_MODE / CAIRN_MODE) to keep it"


class HashOnlyBlobs:
    """A BlobStore that hashes what it is given and keeps none of it."""

    def has(self, digests: Iterable[str]) -> set[str]:
        return set()

    def put_file(
        self,
        path: Path,
        size_hint: int | None = None,
        task: Task = NULL_TASK,
        rewrite: bool = False,
        digest: str | None = None,  # hashed in the one pass that writes it anyway: not needed
    ) -> tuple[str, int]:
        h, size = hasher(), 0
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
                size += len(chunk)
                task.advance(nbytes=len(chunk))
        return digest_of(h), size

    def put_bytes(self, data: bytes) -> tuple[str, int]:
        h = hasher()
        h.update(data)
        return digest_of(h), len(data)

    def put_blobs(self, items: list[tuple[str, bytes]], hashed: bool = False, rewrite: bool = False) -> None:
        pass

    def flush(self) -> None:
        pass

    def open(self, digest: str) -> BlobReader:
        raise UsageError(_NOTHING)

    def delete(self, digest: str) -> None:
        pass

    def iter_digests(self) -> Iterator[str]:
        return iter(())


class NullClient:
    """``Client`` for disabled runs."""

    def __init__(self, entity: str | None = None) -> None:
        self.entity = entity or DEFAULT_ENTITY
        self._blobs = HashOnlyBlobs()
        self._next_version = 0
        self._made: dict[int, VersionInfo] = {}  # this process's versions: what a link points at

    # bytes
    def ingest(self, paths: list[str]) -> dict[str, tuple[str, int]]:
        return transfer.ingest(self._blobs, None, paths)

    def ingest_dir(self, root: str) -> Iterator[transfer.Window]:
        with transfer.Ingest(self._blobs, None) as session:
            yield from transfer.ingest_windows(root, session)

    def ingest_bytes(self, data: bytes) -> tuple[str, int]:
        return self._blobs.put_bytes(data)

    def missing_blobs(self, entity: str, project: str, digests: list[str]) -> set[str]:
        return set()  # nothing is sent: there is nowhere to keep it

    def open_entry(self, entry: Entry, version: VersionInfo | None = None) -> BlobReader:
        raise UsageError(_NOTHING)

    def download(self, entries: Iterable[Entry], root: Path, version: VersionInfo | None = None) -> int:
        raise UsageError(_NOTHING)

    def report_damaged(self, digest: str, version: VersionInfo | None = None) -> str:
        raise UsageError(_NOTHING)

    def manifest(self, key: str) -> Manifest:
        raise UsageError(_NOTHING)

    # versions
    def commit(self, req: CommitRequest) -> VersionInfo:
        self._next_version -= 1  # negative ids: never a stored version's
        now = datetime.now(UTC)
        entries = req.entries or []
        made = self._made[self._next_version] = VersionInfo(
            id=self._next_version,
            entity=req.entity,
            project=req.project,
            name=req.name,
            type=req.type,
            index=0,
            digest="",
            manifest_key="",
            file_count=len(entries),
            size=sum(e.size for e in entries),
            description=req.description,
            metadata=dict(req.metadata or {}),
            state=COMMITTED,
            aliases=tuple(dict.fromkeys(["latest", *(req.aliases or [])])),
            tags=tuple(req.tags or ()),
            ttl_seconds=req.ttl_seconds,
            created_at=now,
            updated_at=now,
            run_id=req.run_id,
        )
        return made

    def upsert_draft(self, req: CommitRequest, distributed_id: str) -> None:
        pass

    def finish_draft(self, req: CommitRequest, distributed_id: str) -> VersionInfo:
        return self.commit(req)

    def resolve(self, ref: ArtifactRef, entity: str, project: str) -> VersionInfo:
        raise ArtifactNotFoundError(str(ref), _NOTHING)

    def link_version(
        self,
        version_id: int,
        entity: str,
        project: str,
        name: str,
        aliases: list[str] | None = None,
        run_id: str | None = None,
    ) -> VersionInfo:
        source = self._made.get(version_id)
        if source is None:
            raise UsageError(_NOTHING)
        self._next_version -= 1
        link = self._made[self._next_version] = VersionInfo(
            id=self._next_version,
            entity=entity,
            project=project,
            name=name,
            type=source.type,
            index=0,
            digest=source.digest,
            manifest_key="",
            file_count=source.file_count,
            size=source.size,
            description=source.description,
            metadata=source.metadata,
            state=COMMITTED,
            aliases=tuple(dict.fromkeys(["latest", *(aliases or [])])),
            tags=source.tags,
            ttl_seconds=None,
            created_at=source.created_at,
            updated_at=source.updated_at,
            run_id=run_id,
            link_of=source.id,
            source_entity=source.entity,
            source_project=source.project,
            source_name=source.name,
            source_index=source.index,
        )
        return link

    def unlink_version(self, version_id: int, run_id: str | None = None) -> None:
        raise UsageError(_NOTHING)

    def version_links(self, version_id: int) -> list[VersionInfo]:
        return [v for v in self._made.values() if v.link_of == version_id]

    def get_version(self, version_id: int) -> VersionInfo:
        raise UsageError(_NOTHING)

    def list_versions(self, entity: str, project: str, name: str, tags: list[str] | None = None) -> list[VersionInfo]:
        return []

    def list_collections(self, entity: str, project: str, type_: str | None = None) -> list[CollectionInfo]:
        return []

    def versions_page(
        self, entity: str, project: str, name: str, tags: list[str] | None, after: str | None, limit: int
    ) -> Page[VersionInfo]:
        return Page([], None)

    def collections_page(
        self, entity: str, project: str, type_: str | None, after: str | None, limit: int
    ) -> Page[CollectionInfo]:
        return Page([], None)

    def list_projects(self, entity: str | None = None) -> list[tuple[str, str]]:
        return []

    def update_collection(
        self, entity: str, project: str, name: str, **changes: Unpack[CollectionChanges]
    ) -> CollectionInfo:
        raise UsageError(_NOTHING)

    def update_version(self, version_id: int, **changes: Unpack[VersionChanges]) -> VersionInfo:
        raise UsageError(_NOTHING)

    def delete_version(self, version_id: int, delete_aliases: bool = False, run_id: str | None = None) -> None:
        raise UsageError(_NOTHING)

    def delete_collection(self, entity: str, project: str, name: str, delete_aliases: bool = False) -> int:
        raise UsageError(_NOTHING)

    def delete_project(self, entity: str, project: str, delete_aliases: bool = False) -> int:
        raise UsageError(_NOTHING)

    def set_retention(self, entity: str, project: str, name: str | None, policy: Retention | None) -> None:
        raise UsageError(_NOTHING)

    def get_retention(self, entity: str, project: str, name: str | None) -> Retention | None:
        return None

    def alias_history(self, entity: str, project: str, name: str) -> list[dict]:
        return []

    # runs and lineage
    def create_run(self, entity: str, project: str, **kw: Unpack[RunOptions]) -> RunInfo:
        from ..engine.runs import new_run_id

        rid = kw.get("run_id") or new_run_id()
        return RunInfo(
            id=rid,
            entity=entity,
            project=project,
            name=kw.get("name") or rid,
            group=kw.get("group"),
            job_type=kw.get("job_type"),
            config=dict(kw.get("config") or {}),
            state=RunState.RUNNING,
            created_at=datetime.now(UTC),
            finished_at=None,
            tags=tuple(kw.get("tags") or ()),
            notes=kw.get("notes"),
        )

    def finish_run(
        self, run_id: str, exit_code: int = 0, config: dict | None = None, summary: dict | None = None
    ) -> None:
        pass

    def log_history(
        self, run_id: str, rows: list[dict], summary: dict | None = None, config: dict | None = None
    ) -> None:
        pass

    def run_history(
        self,
        run_id: str,
        keys: list[str] | None = None,
        min_step: int | None = None,
        max_step: int | None = None,
        limit: int | None = None,
        samples: int | None = None,
    ) -> list[str]:
        return []

    def update_run(self, run_id: str, **changes: Unpack[RunChanges]) -> None:
        pass

    def get_run(self, run_id: str, entity: str | None = None, project: str | None = None) -> RunInfo:
        raise RunNotFoundError(run_id)

    def list_runs(self, entity: str, project: str) -> list[RunInfo]:
        return []

    def runs_page(
        self,
        entity: str,
        project: str,
        filters: dict[str, str | None] | None,
        order: str | None,
        after: str | None,
        limit: int,
    ) -> Page[RunInfo]:
        return Page([], None)

    def use_version(self, run_id: str, version_id: int) -> None:
        pass

    def run_outputs(self, run_id: str) -> list[VersionInfo]:
        return []

    def run_inputs(self, run_id: str) -> list[VersionInfo]:
        return []

    def version_users(self, version_id: int) -> list[RunInfo]:
        return []

    def close(self) -> None:
        pass


# mypy checks here that NullClient has every method of Client, typed alike
_conforms: type[Client] = NullClient
