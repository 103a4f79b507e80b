"""What ``Artifact.files()`` returns: ``ArtifactFiles``, the files of a committed version as a
sequence read page by page (W&B's paginated ``ArtifactFiles``), and ``ArtifactFile``.

A version may hold millions of files: ``len()`` is the count the version records (no
manifest read), iterating streams the manifest in path order, and indexing reads forward
from the page last read. Only the current page of ``per_page`` files is ever held.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import overload

from ..core.manifest import Entry
from .entry import ArtifactManifestEntry, Fetch


class ArtifactFile:
    """One file of a committed artifact, as ``artifact.files()`` lists it: ``name`` (its
    path in the artifact), ``size`` and ``digest``."""

    __slots__ = ("_entry", "_fetch", "name", "size", "digest")

    def __init__(self, entry: Entry, fetch: Fetch) -> None:
        self._entry = entry
        self._fetch = fetch
        self.name = entry.path
        self.size = entry.size
        self.digest = entry.digest

    def download(self, root: str | os.PathLike = ".", replace: bool = False, exist_ok: bool = False) -> str:
        """Download this file (verified) under ``root`` and return its path; FileExistsError
        when it is there already, unless ``replace`` or ``exist_ok``."""
        dest = Path(root) / self.name
        if dest.exists() and not (replace or exist_ok):
            raise FileExistsError(f"{dest} exists; pass replace=True to overwrite it")
        return ArtifactManifestEntry(self._entry, self._fetch).download(root)

    def __repr__(self) -> str:
        return f"<ArtifactFile {self.name} ({self.size} bytes)>"


class ArtifactFiles(Sequence[ArtifactFile]):
    """The files of a committed artifact in path order, read ``per_page`` at a time."""

    def __init__(self, entries: Callable[[], Iterator[Entry]], count: int, fetch: Fetch, per_page: int = 50) -> None:
        """``entries`` starts a fresh pass over the files in path order; ``count`` is how many
        it yields."""
        if not isinstance(per_page, int) or isinstance(per_page, bool) or per_page < 1:
            raise ValueError(f"per_page must be a positive integer, not {per_page!r}")
        self._entries, self._count, self._fetch, self.per_page = entries, count, fetch, per_page
        self._pass: Iterator[Entry] | None = None  # the pass the pages are read from
        self._next = 0  # the number of the page that pass yields next
        self._page: list[ArtifactFile] = []
        self._page_no = -1

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[ArtifactFile]:
        fetch = self._fetch
        for e in self._entries():
            yield ArtifactFile(e, fetch)

    @overload
    def __getitem__(self, index: int) -> ArtifactFile: ...
    @overload
    def __getitem__(self, index: slice) -> list[ArtifactFile]: ...
    def __getitem__(self, index: int | slice) -> ArtifactFile | list[ArtifactFile]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._count))]
        i = index + self._count if index < 0 else index
        if not 0 <= i < self._count:
            raise IndexError(f"file index {index} out of range: the artifact has {self._count} files")
        page, offset = divmod(i, self.per_page)
        if page != self._page_no:
            self._read_page(page)
        return self._page[offset]

    def _read_page(self, page: int) -> None:
        if self._pass is None or page < self._next:  # a page behind the pass: start a new one
            self._pass, self._next = self._entries(), 0
        skip = (page - self._next) * self.per_page
        if skip:
            next(itertools.islice(self._pass, skip, skip), None)  # consume without keeping
        fetch = self._fetch
        self._page = [ArtifactFile(e, fetch) for e in itertools.islice(self._pass, self.per_page)]
        self._page_no, self._next = page, page + 1

    def __repr__(self) -> str:
        return f"<ArtifactFiles ({self._count} files, {self.per_page} a page)>"
