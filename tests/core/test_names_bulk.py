"""The bulk path check agrees with the per-path one: ``all_canonical(paths)`` is True only
when ``normalize_path(p) == p`` for every path, and ``join_names`` gives what
``join_name`` gives, or its error."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cairn.core.errors import InvalidPathError
from cairn.core.names import all_canonical, join_name, join_names, normalize_path

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# path-ish text: separators, dots, colons, control characters and non-ASCII, so that every
# rule of normalize_path is hit often
PART = st.text(alphabet=st.sampled_from(list("ab.:/\\ \n\x00\x1f\x7féé\u00a0")), max_size=8)


def canonical(p: str) -> bool:
    try:
        return normalize_path(p) == p
    except InvalidPathError:
        return False


@SETTINGS
@given(st.lists(PART, max_size=6), st.lists(st.sampled_from(["a/b", "x.txt", "d/é/f", "a.b/c..d"]), max_size=4))
def test_bulk_check_never_passes_a_path_the_single_check_refuses(odd: list[str], fine: list[str]):
    paths = fine + odd
    if all_canonical(paths):
        assert all(canonical(p) for p in paths)


def test_bulk_check_passes_ordinary_paths_and_refuses_each_kind_of_bad_one():
    ok = [f"folder{i % 7}/file {i}.bin" for i in range(1000)] + ["..a/b.", "a\\b", "é/ü", ".hidden/x"]
    assert all_canonical(ok)
    for bad in ["", "/a", "a/", "a//b", ".", "..", "./a", "a/.", "a/./b", "a/../b", "c:x", "a\nb", "a\x00b", "a\x1fb"]:
        assert not all_canonical([*ok, bad]), bad
        assert not all_canonical([bad, *ok]), bad
    assert not all_canonical(["a", 3])  # not a string


@pytest.mark.parametrize("prefix", [None, "", "models", "models/", "a/b"])
def test_join_names_is_join_name_in_bulk(prefix):
    rels = ["x", "y/z", "é f"]
    assert join_names(prefix, rels) == [join_name(prefix, r) for r in rels]


def test_join_names_reports_the_bad_name_as_join_name_does():
    with pytest.raises(InvalidPathError) as bulk:
        join_names(None, ["fine", "bad\x01name"])
    with pytest.raises(InvalidPathError) as single:
        join_name(None, "bad\x01name")
    assert str(bulk.value) == str(single.value)
    assert join_names("m", ["a/./b"]) == ["m/a/b"]  # normalised, as join_name does


def test_a_name_that_is_not_utf8_is_refused_in_bulk_and_alone():
    bad = "data/caf\udce9.txt"  # what os.listdir gives for Latin-1 bytes
    assert not all_canonical(["ok", bad])
    with pytest.raises(InvalidPathError) as err:
        normalize_path(bad)
    assert "not valid UTF-8" in str(err.value)
