"""A sync base file is untrusted input (a hand edit, another tool's): a version entry keyed
by anything but a version id in ASCII digits of a sane length is left out, not a ValueError
when the ids are read back (int() refuses '²' and more than 4,300 digits)."""

from __future__ import annotations

import pytest

from cairn.client.sync_base import _valid_entry


ENTRY = {
    "dst": 1,
    "in": "e/p/n",
    "was": {"description": None, "metadata": {}, "ttl_seconds": None, "aliases": ["prod"], "tags": []},
}


@pytest.mark.parametrize("key", ["²", "١٢", "9" * 5000, "-1", "", "1 ", 7])
def test_an_entry_keyed_by_no_version_id_is_left_out(key: str):
    assert _valid_entry("7", ENTRY)  # the same entry under a version id is kept
    assert not _valid_entry(key, ENTRY)
