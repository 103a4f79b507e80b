"""Listings read a page at a time: the page asked for, and the cursor of the next one.

A cursor is opaque text to the caller (``after``): the engine makes it from the last row it
read (a version's index, a collection's name), so that a page starts after what the caller has
seen even when rows were added or deleted meanwhile. A page may hold fewer than ``limit``
items and still have a next one (the server leaves out what the caller may not read); the
listing ends when ``next`` is None.
"""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from .errors import UsageError
from .limits import ascii_int

T = TypeVar("T")

MAX_PAGE = 1000  # items a page may ask for (W&B's per_page is 50 by default)
MAX_CURSOR_DIGITS = 12  # a numeric cursor: a version index or a position, in ASCII digits


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next: str | None  # the cursor of the next page; None: this is the last


def check_limit(limit: Any, what: str = "per_page") -> int:
    """A page size: a whole number from 1 to MAX_PAGE."""
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_PAGE:
        raise UsageError(f"{what} must be a whole number from 1 to {MAX_PAGE}, got {limit!r}")
    return limit


def index_cursor(after: str | None) -> int:
    """The version index a cursor names (-1: from the first)."""
    if after is None:
        return -1
    start = ascii_int(after, MAX_CURSOR_DIGITS)
    if start is None:
        raise UsageError(
            f"page cursor 'after'={str(after)[:40]!r} is not one a listing of versions handed out; start from None"
        )
    return start


def offset_cursor(after: str | None) -> int:
    """The position a cursor names (0: from the first)."""
    if after is None:
        return 0
    start = ascii_int(after, MAX_CURSOR_DIGITS)
    if start is None:
        raise UsageError(
            f"page cursor 'after'={str(after)[:40]!r} is not one a listing of runs handed out; start from None"
        )
    return start


MAX_SCAN = 10 * MAX_PAGE  # rows one filled page reads at most (see fill_page)
SCAN_CHUNK = 100  # rows read at a time while filling a page


def fill_page(
    fetch: Callable[[str | None, int], Page[T]],
    keep: Callable[[list[T]], list[T]],
    cursor: Callable[[T], str],
    after: str | None,
    limit: int,
    budget: int = MAX_SCAN,
) -> Page[T]:
    """A page of up to ``limit`` items that ``keep`` lets through (what the caller may read),
    read from ``fetch(after, n)`` until it holds that many or the rows run out. ``next`` is
    the cursor of the last item returned, and None when no kept item follows: a page built
    from unfiltered rows would hand out a cursor (or an empty page) that shows rows the
    caller may not read exist. The work is bounded: after ``budget`` rows, a page with items
    ends at its last item, and one without any ends at the last row read (the caller learns
    only that more than ``budget`` rows it may not read follow)."""
    out: list[T] = []
    at, scanned = after, 0
    while True:
        n = min(max(limit + 1 - len(out), SCAN_CHUNK), MAX_PAGE)  # one past the page: does a kept item follow?
        page = fetch(at, n)
        out += keep(page.items)
        scanned += n
        if len(out) > limit:
            return Page(out[:limit], cursor(out[limit - 1]))
        if page.next is None:
            return Page(out, None)
        at = page.next
        if scanned >= budget:
            return Page(out, cursor(out[-1])) if out else Page([], at)
