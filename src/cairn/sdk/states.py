"""What an ``Artifact`` holds in each of its states, behind one interface.

- ``New``: files added to an artifact made in this process (``StagedEntries``).
- ``Draft``: a version's files plus edits (``new_draft()``), nothing copied.
- ``Upserted``: a new artifact or draft contributed to a distributed version; it changes no more.
- ``Committed``: a version in the store, read from its manifest as it is iterated.

``Artifact`` asks its state and never tests which one it has: each answers for itself
whether it may change, what its entries are and how it is committed.
"""

from __future__ import annotations

import abc
import heapq
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from ..core import manifest as mf
from ..core.errors import ArtifactFinalizedError
from ..core.versions import PENDING, CommitRequest, Edits, VersionInfo
from .staged import StagedEntries

if TYPE_CHECKING:
    from ..client import Client

_FROZEN = "a state that refuses edits is never edited (refuse_edit is asked first)"
Latest = Callable[[], "VersionInfo | None"]  # the collection's latest version, asked only when needed


def _path(e: mf.Entry) -> str:
    return e.path


class State(abc.ABC):
    """The interface every state answers. The editing calls (``added``, ``put``,
    ``put_files``, ``forget_local``, ``remove``) are made only after ``refuse_edit``
    let them through, so a state that never changes need not answer them."""

    version: VersionInfo | None = None  # the stored version (committed only)
    entity: str | None = None  # where it lives (None: the run's, when logged)
    project: str | None = None
    distributed_id: str | None = None  # the distributed version it was upserted to

    @property
    def state(self) -> str:
        """``PENDING`` until committed, then the version's state."""
        return PENDING

    @abc.abstractmethod
    def entries(self) -> Iterator[mf.Entry]:
        """Every entry, in path order."""

    @abc.abstractmethod
    def get(self, path: str) -> mf.Entry | None:
        """The entry at ``path``, or None."""

    def local_path(self, path: str) -> str | None:
        """The local file the entry at ``path`` was added from in this process, if any."""
        return None

    def name_of_local(self, local: str) -> str | None:
        return None

    @property
    def digest(self) -> str:
        """The artifact digest of the entries as they stand (what committing them gives)."""
        return mf.identity(self.entries())

    @property
    def size(self) -> int:
        return sum(e.size for e in self.entries())

    @property
    def file_count(self) -> int:
        return sum(1 for _ in self.entries())

    def refuse_edit(self, what: str, name: str) -> None:
        """Raise ``ArtifactFinalizedError`` when this state may not change (``what`` names
        the call, ``name`` the artifact)."""

    def added(self, path: str) -> mf.Entry | None:
        """The entry added at ``path`` in this process (a base version's is not: adding over
        it needs no overwrite=True)."""
        raise AssertionError(_FROZEN)

    def put(self, entry: mf.Entry, local: str | None) -> None:
        raise AssertionError(_FROZEN)

    def put_files(self, names: list[str], digests: list[str], sizes: list[int], locals_: list[str]) -> bool:
        """Add a window of a folder's files in one go when none of them is here yet; False
        (nothing done) when the caller must add them one by one."""
        return False

    def forget_local(self, path: str) -> None:
        """The entry at ``path`` keeps no local file (a temporary one of ``new_file``)."""

    def remove(self, path: str, is_dir: bool) -> bool:
        """Remove a file, or every file below the folder ``path``; whether anything went."""
        raise AssertionError(_FROZEN)

    @abc.abstractmethod
    def fill(self, req: CommitRequest, latest: Latest | None) -> None:
        """Put what this state commits into ``req``: its entries, or a base version (its id
        and the manifest key seen, so that a stale base is refused) and edits. ``latest``: the artifact is incremental (files on top of the latest version)."""

    def close(self) -> None:
        pass


class New(State):
    def __init__(self, staged: StagedEntries | None = None) -> None:
        self.staged = staged or StagedEntries()

    def entries(self) -> Iterator[mf.Entry]:
        return self.staged.sorted()

    def get(self, path: str) -> mf.Entry | None:
        return self.staged.get(path)

    def local_path(self, path: str) -> str | None:
        return self.staged.local_path(path)

    def name_of_local(self, local: str) -> str | None:
        return self.staged.name_of_local(local)

    def added(self, path: str) -> mf.Entry | None:
        return self.staged.get(path)

    def put(self, entry: mf.Entry, local: str | None) -> None:
        self.staged.put(entry, local or None)

    def put_files(self, names: list[str], digests: list[str], sizes: list[int], locals_: list[str]) -> bool:
        # A folder into paths the artifact does not hold yet (the common case): one bulk
        # update instead of 50,000 conflict checks (~0.1 s for "small").
        if self.staged.any_of(names):
            return False
        self.staged.put_files(names, digests, sizes, locals_)
        return True

    def forget_local(self, path: str) -> None:
        e = self.staged.get(path)
        if e is not None:
            self.staged.put(e)

    def remove(self, path: str, is_dir: bool) -> bool:
        if not is_dir and self.staged.pop(path) is not None:
            return True
        return self.staged.remove_prefix(path + "/") > 0

    def fill(self, req: CommitRequest, latest: Latest | None) -> None:
        base = latest() if latest is not None else None
        if base is not None:  # W&B's incremental artifact: the latest files, these on top
            req.base_version_id, req.base_manifest_key = base.id, base.manifest_key
            req.edits = Edits(upserts={e.path: e for e in self.staged.sorted()})
        else:
            req.entries = self.staged.for_commit()

    def close(self) -> None:
        self.staged.close()


class Upserted(State):
    """A new artifact or draft (``contributed``) given to the distributed version
    ``distributed_id``: it reads as before and changes no more."""

    def __init__(self, contributed: State, distributed_id: str, entity: str, project: str) -> None:
        # upserted again: the same files, contributed again
        self.contributed: State = contributed.contributed if isinstance(contributed, Upserted) else contributed
        self.distributed_id, self.entity, self.project = distributed_id, entity, project

    def entries(self) -> Iterator[mf.Entry]:
        return self.contributed.entries()

    def get(self, path: str) -> mf.Entry | None:
        return self.contributed.get(path)

    def local_path(self, path: str) -> str | None:
        return self.contributed.local_path(path)

    def name_of_local(self, local: str) -> str | None:
        return self.contributed.name_of_local(local)

    def refuse_edit(self, what: str, name: str) -> None:
        raise ArtifactFinalizedError(
            what,
            name,
            f"it was already upserted to distributed_id {self.distributed_id!r}; make a new Artifact "
            "object for further contributions",
        )

    def fill(self, req: CommitRequest, latest: Latest | None) -> None:
        self.contributed.fill(req, latest)

    def close(self) -> None:
        self.contributed.close()


class Draft(State):
    """The files of ``base`` with ``edits`` on top; ``local_paths``: the local file of each
    entry added in this process."""

    def __init__(self, base: VersionInfo, client: "Client") -> None:
        self.base, self.client = base, client
        self.edits = Edits()
        self.local_paths: dict[str, str] = {}
        self.entity, self.project = base.entity, base.project

    def _manifest(self) -> mf.Manifest:
        return self.client.manifest(self.base.manifest_key)

    def entries(self) -> Iterator[mf.Entry]:
        """The base's entries as they are read, less those removed or replaced, merged with
        the added ones: only the edits are held."""
        edits = self.edits
        upserts, removes, prefixes = edits.upserts, edits.removes, tuple(edits.remove_prefixes)
        kept = (
            e
            for e in self._manifest()
            if e.path not in upserts and e.path not in removes and not (prefixes and e.path.startswith(prefixes))
        )
        return heapq.merge(kept, sorted(upserts.values(), key=_path), key=_path)

    def get(self, path: str) -> mf.Entry | None:
        edits = self.edits
        if path in edits.upserts:
            return edits.upserts[path]
        if path in edits.removes or any(path.startswith(p) for p in edits.remove_prefixes):
            return None
        return self._manifest().get(path)

    def local_path(self, path: str) -> str | None:
        return self.local_paths.get(path)

    def name_of_local(self, local: str) -> str | None:
        return next((p for p, loc in self.local_paths.items() if loc == local), None)

    def added(self, path: str) -> mf.Entry | None:
        return self.edits.upserts.get(path)

    def put(self, entry: mf.Entry, local: str | None) -> None:
        self.edits.upserts[entry.path] = entry
        self.edits.removes.discard(entry.path)
        if local:
            self.local_paths[entry.path] = local

    def forget_local(self, path: str) -> None:
        self.local_paths.pop(path, None)

    def remove(self, path: str, is_dir: bool) -> bool:
        edits, manifest = self.edits, self._manifest()
        if not is_dir and self.get(path) is not None:
            edits.upserts.pop(path, None)
            if manifest.get(path) is not None:
                edits.removes.add(path)
            return True
        removed = False
        prefix = path + "/"
        for p in [p for p in edits.upserts if p.startswith(prefix)]:
            del edits.upserts[p]
            removed = True
        if next(iter(manifest.prefix(prefix)), None) is not None:
            edits.remove_prefixes.add(prefix)
            removed = True
        return removed

    def fill(self, req: CommitRequest, latest: Latest | None) -> None:
        req.base_version_id, req.edits = self.base.id, self.edits
        req.base_manifest_key = self.base.manifest_key


class Committed(State):
    """A stored version; its entries are read from the manifest as they are iterated."""

    version: VersionInfo  # never None here

    def __init__(self, version: VersionInfo, client: "Client") -> None:
        self.version, self.client = version, client
        self.entity, self.project = version.entity, version.project

    @property
    def state(self) -> str:
        return self.version.state

    def _manifest(self) -> mf.Manifest:
        return self.client.manifest(self.version.manifest_key)

    def entries(self) -> Iterator[mf.Entry]:
        return iter(self._manifest())

    def get(self, path: str) -> mf.Entry | None:
        return self._manifest().get(path)

    @property
    def digest(self) -> str:
        return self.version.digest

    @property
    def size(self) -> int:
        return self.version.size

    @property
    def file_count(self) -> int:
        return self.version.file_count

    def refuse_edit(self, what: str, name: str) -> None:
        raise ArtifactFinalizedError(
            what,
            self.version.qualified_name,
            "it is logged and can no longer change; call new_draft() to make a new version from it",
        )

    def fill(self, req: CommitRequest, latest: Latest | None) -> None:
        req.base_version_id, req.edits = self.version.id, Edits()
        req.base_manifest_key = self.version.manifest_key
