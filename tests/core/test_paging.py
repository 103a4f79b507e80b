"""core/paging.py: cursors are ASCII digits of a sane length, and a filled page holds only
the items kept, ends at the last of them, and reads a bounded number of rows."""

from __future__ import annotations

import pytest

from cairn.core.errors import UsageError
from cairn.core.limits import ascii_int
from cairn.core.paging import Page, fill_page, index_cursor, offset_cursor


@pytest.mark.parametrize("bad", ["²", "١", "1²", "-1", "+1", " 1", "1 ", "", "1" * 13, "0x1", "1.0", 1, None])
def test_a_cursor_that_is_not_ascii_digits_is_refused_by_name(bad: object):
    for read in (index_cursor, offset_cursor):
        if bad is None:
            assert read(bad) in (-1, 0)
            continue
        with pytest.raises(UsageError, match="page cursor 'after'"):
            read(bad)  # type: ignore[arg-type]


def test_ascii_int():
    assert ascii_int("0") == 0 and ascii_int("007") == 7 and ascii_int("9" * 18) == 10**18 - 1
    for bad in ("9" * 19, "²", "١٢", "", " 1", "-1", None, 5):
        assert ascii_int(bad) is None
    assert ascii_int("123", 2) is None


class Rows:
    """Rows 0..n-1 read ``n`` at a time after a cursor (the row's number), counting reads."""

    def __init__(self, n: int) -> None:
        self.n, self.read = n, 0

    def fetch(self, after: str | None, limit: int) -> Page[int]:
        start = -1 if after is None else int(after)
        rows = list(range(start + 1, min(start + 1 + limit, self.n)))
        self.read += len(rows)
        return Page(rows, str(rows[-1]) if len(rows) == limit else None)


def walk(rows: Rows, keep: set[int], limit: int, budget: int) -> list[Page[int]]:
    pages, after = [], None
    for _ in range(rows.n + 2):
        page = fill_page(rows.fetch, lambda xs: [x for x in xs if x in keep], str, after, limit, budget)
        pages.append(page)
        if page.next is None:
            return pages
        after = page.next
    raise AssertionError("the listing did not end")


@pytest.mark.parametrize("limit", [1, 2, 5, 1000])
def test_pages_hold_the_kept_rows_only_and_end_at_the_last(limit: int):
    keep = {3, 4, 250, 251, 252, 999}
    pages = walk(Rows(1500), keep, limit, budget=10_000)
    assert [x for p in pages for x in p.items] == sorted(keep)
    assert all(len(p.items) == limit for p in pages[:-1]) and pages[-1].items
    assert pages[-1].items[-1] == 999  # and not an empty page for the 500 rows after it


def test_a_page_reads_at_most_its_budget_of_rows_and_still_ends():
    rows = Rows(5000)
    first = fill_page(rows.fetch, lambda xs: [x for x in xs if x in {1, 4000}], str, None, 5, budget=300)
    assert first.items == [1] and first.next == "1" and rows.read <= 300  # ends at its last item
    rows.read = 0
    empty = fill_page(rows.fetch, lambda xs: [x for x in xs if x == 4000], str, "1", 5, budget=300)
    assert empty.items == [] and empty.next is not None and rows.read <= 300  # no item: the last row read
    assert int(empty.next) > 1  # progress: the next page starts further on
    pages = walk(Rows(5000), {1, 4000}, 5, budget=300)
    assert [x for p in pages for x in p.items] == [1, 4000] and pages[-1].next is None
