"""``files()``, ``manifest``, ``verify`` and ``checkout`` on a version of many files hold one
page (or one entry) at a time, never the whole version: counted, not timed. The version is
committed straight through the client (every entry naming one stored blob), so making it
costs a commit, not a file per entry."""

from __future__ import annotations

from pathlib import Path

import pytest

import cairn
from cairn.client import get_client
from cairn.core.manifest import Entry
from cairn.core.versions import CommitRequest
from cairn.sdk import files as files_mod, states

N = 20_000  # what is counted below does not grow with N: the counts are per page or per entry


def version_of(n: int) -> cairn.Artifact:
    client = get_client()
    digest, size = client.ingest_bytes(b"x")
    entries = [Entry(f"d{i // 1000:03d}/f{i:06d}", digest, size) for i in range(n)]
    info = client.commit(CommitRequest(client.entity, "p", "big", "dataset", entries=entries))
    return cairn.Api().artifact(f"{info.entity}/p/big:{info.version}")


@pytest.fixture
def big() -> cairn.Artifact:
    return version_of(N)


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """How many entries the committed state has read from the manifest, and how many
    ArtifactFile objects were made and are alive at most."""
    seen = {"read": 0, "made": 0, "alive": 0, "most_alive": 0}
    plain = states.Committed.entries

    def entries(self):  # noqa: ANN001, ANN202
        for e in plain(self):
            seen["read"] += 1
            yield e

    class Counted(files_mod.ArtifactFile):
        __slots__ = ()

        def __init__(self, *args, **kw) -> None:  # noqa: ANN002, ANN003
            super().__init__(*args, **kw)
            seen["made"] += 1
            seen["alive"] += 1
            seen["most_alive"] = max(seen["most_alive"], seen["alive"])

        def __del__(self) -> None:
            seen["alive"] -= 1

    monkeypatch.setattr(states.Committed, "entries", entries)
    monkeypatch.setattr(files_mod, "ArtifactFile", Counted)
    return seen


def test_len_reads_no_entry_and_an_index_reads_one_page(big, counted):
    files = big.files(per_page=100)
    assert len(files) == N and counted["read"] == 0
    assert files[0].name == "d000/f000000" and files[99].name == "d000/f000099"
    assert counted["made"] == 100 and counted["read"] == 100
    assert files[-1].name == f"d{(N - 1) // 1000:03d}/f{N - 1:06d}"  # read forward, kept: one page
    assert counted["made"] == 200 and counted["most_alive"] <= 200
    assert files[150].name == "d000/f000150"  # behind the pass: a new pass, again one page
    assert counted["made"] == 300 and counted["most_alive"] <= 200
    assert [f.name for f in files[5:8]] == ["d000/f000005", "d000/f000006", "d000/f000007"]
    with pytest.raises(IndexError, match=f"{N} files"):
        files[N]


def test_iterating_files_holds_one_at_a_time(big, counted):
    names = 0
    for f in big.files():
        names += f.name.startswith("d")
    assert names == N and counted["made"] == N and counted["most_alive"] <= 2


def test_the_manifest_is_read_as_used(big, counted):
    m = big.manifest
    assert len(m) == N and len(m.entries) == N and counted["read"] == 0
    assert m["d007/f007123"].size == 1 and m.get_entry_by_path("nope") is None and "d019/f019999" in m
    assert counted["read"] == 0  # lookups descend the tree to one leaf
    assert sum(1 for _p, e in m.entries.items() if e.size == 1) == N
    assert len(m.get_entries_in_directory("d003")) == 1000


def test_files_by_name_and_bad_pages(big):
    got = big.files(names=["d001/f001001", "nope", "d000/f000002"], per_page=1)
    assert len(got) == 2 and [f.name for f in got] == ["d000/f000002", "d001/f001001"] and got[1].size == 1
    with pytest.raises(ValueError, match="per_page"):
        big.files(per_page=0)


def test_checkout_and_verify_stream_the_version(tmp_path: Path, counted):
    n = 3000  # files written to disk: fewer than N
    big = version_of(n)
    root = Path(big.checkout(tmp_path / "co"))
    assert sum(1 for p in root.rglob("*") if p.is_file()) == n
    (root / "a-stray.txt").write_text("not in the version")
    read = counted["read"]
    with pytest.raises(cairn.IntegrityError, match="a-stray.txt"):
        big.verify(root)
    assert counted["read"] - read < n  # stopped at the first difference in path order
    big.checkout(root)
    assert not (root / "a-stray.txt").exists()
    big.verify(root)
