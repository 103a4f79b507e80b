"""W&B-shaped views of manifest entries: ArtifactManifestEntry and ArtifactManifest."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from ..core.manifest import Entry

if TYPE_CHECKING:
    from .states import State

Fetch = Callable[[Entry, "str | os.PathLike | None"], str]  # downloads one entry under a root; its path


class ArtifactManifestEntry:
    """One file of an artifact: ``path``, ``digest``, ``size``, ``ref``, ``extra``, ``local_path``."""

    def __init__(self, entry: Entry, fetch: Fetch | None = None, local_path: str | None = None) -> None:
        """``fetch`` is the artifact's download of one of its entries (None: not logged)."""
        self._entry = entry
        self._fetch = fetch
        self.local_path = local_path

    path = property(lambda self: self._entry.path, doc="The file's path inside the artifact.")
    digest = property(
        lambda self: self._entry.digest, doc='The content digest ("blake3:<hex>"), or the checksum of a reference.'
    )
    size = property(lambda self: self._entry.size, doc="The size in bytes.")
    ref = property(lambda self: self._entry.ref, doc="The URI a reference entry points at; None for a stored file.")
    extra = property(lambda self: dict(self._entry.extra), doc="The extra attributes recorded with the entry (a copy).")
    name = path

    def ref_target(self) -> str:
        """The URI a reference entry points at; ValueError for a stored file."""
        if self._entry.ref is None:
            raise ValueError(f"artifact entry {self.path!r} is not a reference")
        return self._entry.ref

    def ref_url(self) -> str:
        """W&B's other name of ``ref_target``."""
        return self.ref_target()

    def download(self, root: str | os.PathLike | None = None, skip_cache: bool | None = None) -> str:
        """Download this one file (verified) and return its local path."""
        if self._fetch is None:
            raise ValueError(f"artifact entry {self.path!r} belongs to no logged artifact")
        return self._fetch(self._entry, root)

    def __repr__(self) -> str:
        return f"ArtifactManifestEntry(path={self.path!r}, digest={self.digest!r}, size={self.size})"

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, ArtifactManifestEntry) and self._entry == other._entry


class ArtifactManifest(Mapping[str, ArtifactManifestEntry]):
    """The entries of an artifact by path, read-only, read from the artifact as they are
    used: a version of millions of files is never held whole. ``entries`` is this same
    mapping (W&B's name for its dict of entries)."""

    def __init__(self, state: "Callable[[], State]", fetch: Fetch | None) -> None:
        """``state`` gives the artifact's state as it stands at each call."""
        self._state, self._fetch = state, fetch

    @property
    def entries(self) -> "ArtifactManifest":
        """The entries by path (this mapping: ``.items()``, ``[path]``, ``len()`` as on W&B's dict)."""
        return self

    def _view(self, e: Entry) -> ArtifactManifestEntry:
        return ArtifactManifestEntry(e, self._fetch, self._state().local_path(e.path))

    def __getitem__(self, path: str) -> ArtifactManifestEntry:
        e = self._state().get(path) if isinstance(path, str) else None
        if e is None:
            raise KeyError(path)
        return self._view(e)

    def __iter__(self) -> Iterator[str]:
        return (e.path for e in self._state().entries())

    def __len__(self) -> int:
        return self._state().file_count

    def items(self) -> Iterator[tuple[str, ArtifactManifestEntry]]:  # type: ignore[override]
        """(path, entry) in path order, streamed (one manifest pass, not a lookup per path)."""
        return ((e.path, self._view(e)) for e in self._state().entries())

    def values(self) -> Iterator[ArtifactManifestEntry]:  # type: ignore[override]
        """Every entry in path order, streamed."""
        return (self._view(e) for e in self._state().entries())

    def get_entry_by_path(self, path: str) -> ArtifactManifestEntry | None:
        """The entry at ``path``, or None."""
        return self.get(path)

    def get_entries_in_directory(self, directory: str) -> list[ArtifactManifestEntry]:
        """The entries below the folder ``directory``, in path order."""
        prefix = directory.rstrip("/") + "/"
        return [e for p, e in self.items() if p.startswith(prefix)]

    def to_manifest_json(self) -> dict:
        """W&B's manifest document: ``{"version": 1, "storagePolicy": …, "contents": {path: {digest, size, …}}}``."""
        return {
            "version": 1,
            "storagePolicy": "cairn-blake3",
            "contents": {
                p: {
                    k: v
                    for k, v in {"digest": e.digest, "size": e.size, "ref": e.ref, "extra": e.extra or None}.items()
                    if v is not None
                }
                for p, e in self.items()
            },
        }
