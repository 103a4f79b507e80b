"""Listings read a page at a time: the page asked for, and the cursor of the next one.

A cursor is opaque text to the caller (``after``): the engine makes it from the last row it
read (a version's index, a collection's name), so that a page starts after what the caller has
seen even when rows were added or deleted meanwhile. A page may hold fewer than ``limit``
items and still have a next one (the server leaves out what the caller may not read); the
listing ends when ``next`` is None.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from .errors import UsageError

T = TypeVar("T")

MAX_PAGE = 1000  # items a page may ask for (W&B's per_page is 50 by default)


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
    if not (isinstance(after, str) and after.isdigit() and len(after) <= 12):
        raise UsageError(f"page cursor {after!r} is not one a listing of versions handed out; start from None")
    return int(after)


def offset_cursor(after: str | None) -> int:
    """The position a cursor names (0: from the first)."""
    if after is None:
        return 0
    if not (isinstance(after, str) and after.isdigit() and len(after) <= 12):
        raise UsageError(f"page cursor {after!r} is not one a listing of runs handed out; start from None")
    return int(after)
