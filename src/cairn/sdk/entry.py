"""W&B-shaped views of manifest entries: ArtifactManifestEntry and ArtifactManifest."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from ..core.manifest import Entry

if TYPE_CHECKING:
    from .artifact import Artifact


class ArtifactManifestEntry:
    """One file of an artifact: ``path``, ``digest``, ``size``, ``ref``, ``extra``, ``local_path``."""

    def __init__(self, entry: Entry, artifact: "Artifact | None" = None, local_path: str | None = None) -> None:
        self._entry = entry
        self._artifact = artifact
        self.local_path = local_path

    path = property(lambda self: self._entry.path)
    digest = property(lambda self: self._entry.digest)
    size = property(lambda self: self._entry.size)
    ref = property(lambda self: self._entry.ref)
    extra = property(lambda self: dict(self._entry.extra))
    name = path

    def ref_target(self) -> str:
        if self._entry.ref is None:
            raise ValueError(f"artifact entry {self.path!r} is not a reference")
        return self._entry.ref

    def ref_url(self) -> str:
        return self.ref_target()

    def download(self, root: str | os.PathLike | None = None, skip_cache: bool | None = None) -> str:
        """Download this one file (verified) and return its local path."""
        if self._artifact is None:
            raise ValueError(f"artifact entry {self.path!r} belongs to no logged artifact")
        return self._artifact._download_entry(self._entry, root)

    def __repr__(self) -> str:
        return f"ArtifactManifestEntry(path={self.path!r}, digest={self.digest!r}, size={self.size})"

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, ArtifactManifestEntry) and self._entry == other._entry


class ArtifactManifest(Mapping[str, ArtifactManifestEntry]):
    """The entries of an artifact by path, read-only; ``entries`` is the W&B-style dict."""

    def __init__(self, entries: dict[str, ArtifactManifestEntry]) -> None:
        self.entries = entries

    def __getitem__(self, path: str) -> ArtifactManifestEntry:
        return self.entries[path]

    def __iter__(self) -> Iterator[str]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def get_entry_by_path(self, path: str) -> ArtifactManifestEntry | None:
        return self.entries.get(path)

    def get_entries_in_directory(self, directory: str) -> list[ArtifactManifestEntry]:
        prefix = directory.rstrip("/") + "/"
        return [e for p, e in self.entries.items() if p.startswith(prefix)]

    def to_manifest_json(self) -> dict:
        return {
            "version": 1,
            "storagePolicy": "cairn-blake3",
            "contents": {
                p: {
                    k: v
                    for k, v in {"digest": e.digest, "size": e.size, "ref": e.ref, "extra": e.extra or None}.items()
                    if v is not None
                }
                for p, e in self.entries.items()
            },
        }
