"""CAIRN_HTTP_RETRIES: a number of retries in ASCII digits, from 0 to 100; anything else is
refused by name (``str.isdigit`` alone took '²', which ``int()`` then refused with a ValueError)."""

from __future__ import annotations

import pytest

from cairn.client import retry
from cairn.core.errors import UsageError


@pytest.mark.parametrize("bad", ["²", "١", "101", "-1", "3.0", "9" * 40])
def test_a_bad_number_of_retries_is_refused_by_name(monkeypatch: pytest.MonkeyPatch, bad: str):
    monkeypatch.setenv("CAIRN_HTTP_RETRIES", bad)
    with pytest.raises(UsageError, match="CAIRN_HTTP_RETRIES"):
        retry._from_env()


def test_a_number_of_retries_is_taken(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CAIRN_HTTP_RETRIES", " 7 ")
    assert retry._from_env().attempts == 8
    monkeypatch.setenv("CAIRN_HTTP_RETRIES", "0")
    assert retry._from_env().attempts == 1
