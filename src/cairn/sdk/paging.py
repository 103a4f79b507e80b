"""W&B's paginated listings: ``Api.artifacts``, ``Api.artifact_collections``, a
collection's ``artifacts()``, a type's ``collections()``.

Pages of ``per_page`` items are fetched through the client's paging (``Client.versions_page``,
``collections_page``) as the listing is iterated or indexed; the first page at the call, so
that a listing of something missing fails there. ``len()`` reads every page.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar, overload

from ..core.paging import Page, check_limit

T = TypeVar("T")


class Paginator(Generic[T]):
    def __init__(self, fetch: Callable[[str | None, int], Page[T]], per_page: int) -> None:
        self.per_page = check_limit(per_page, "per_page")
        self._fetch = fetch
        self._items: list[T] = []
        self._next: str | None = None
        self._done = False
        self._more()

    def _more(self) -> bool:
        """Read the next page; False once the listing has ended."""
        if self._done:
            return False
        page = self._fetch(self._next, self.per_page)
        self._items.extend(page.items)
        self._next, self._done = page.next, page.next is None
        return True

    def __iter__(self) -> Iterator[T]:
        i = 0
        while True:
            while i < len(self._items):
                yield self._items[i]
                i += 1
            if not self._more():
                return

    def __len__(self) -> int:
        while self._more():
            pass
        return len(self._items)

    def __eq__(self, other: object) -> bool:
        """Equal to a list of the same items, as the lists these listings once were (reads every page)."""
        if isinstance(other, list | tuple | Paginator):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # equal to lists, so unhashable as they are

    def __bool__(self) -> bool:
        return next(iter(self), None) is not None

    @overload
    def __getitem__(self, i: int) -> T: ...
    @overload
    def __getitem__(self, i: slice) -> list[T]: ...
    def __getitem__(self, i: int | slice) -> T | list[T]:
        if isinstance(i, slice) or i < 0:
            len(self)  # counting from the end, or a slice: every page
            return self._items[i]
        while i >= len(self._items) and self._more():
            pass
        return self._items[i]

    def __repr__(self) -> str:
        state = "all read" if self._done else "more to read"
        return f"<{type(self).__name__} ({len(self._items)} read, {self.per_page} a page, {state})>"
