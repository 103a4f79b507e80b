"""``per_page`` of W&B's listings (``Api.artifacts`` / ``artifact_versions``,
``Api.artifact_collections``, a collection's ``artifacts()``, a type's ``collections()``):
pages of that size are asked of the store as the listing is iterated, on the embedded store
and through a server; a bad ``per_page`` is refused by name."""

from __future__ import annotations

from typing import Any

import pytest

import cairn
from cairn.core.errors import UsageError

pytestmark = pytest.mark.usefixtures("backend")


def log_versions(name: str, n: int, project: str = "pg", type_: str = "dataset", tag_every: int = 0) -> None:
    with cairn.init(project=project) as run:
        for i in range(n):
            a = cairn.Artifact(name, type_)
            with a.new_file("i.txt") as f:
                f.write(f"{name} {i}")
            tags = ["even"] if tag_every and i % tag_every == 0 else None
            run.log_artifact(a, tags=tags) if tags else run.log_artifact(a)
            a.wait()


class PageSpy:
    """The page sizes and cursors the SDK asks of its (real) client."""

    def __init__(self, api: cairn.Api, monkeypatch: pytest.MonkeyPatch) -> None:
        self.asked: list[tuple[str, str | None, int]] = []
        client = api._client
        for op in ("versions_page", "collections_page"):
            real = getattr(client, op)

            def spy(*args: Any, _op: str = op, _real: Any = real) -> Any:
                self.asked.append((_op, args[-2], args[-1]))
                return _real(*args)

            monkeypatch.setattr(client, op, spy)


def test_versions_are_read_a_page_at_a_time_as_iterated(monkeypatch: pytest.MonkeyPatch):
    log_versions("data", 7)
    api = cairn.Api()
    spy = PageSpy(api, monkeypatch)
    versions = api.artifact_versions("dataset", "pg/data", per_page=3)
    assert len(spy.asked) == 1  # the first page, at the call
    it = iter(versions)
    assert [next(it).version for _ in range(3)] == ["v0", "v1", "v2"]
    assert len(spy.asked) == 1
    assert next(it).version == "v3"
    assert len(spy.asked) == 2
    assert [a.version for a in it] == ["v4", "v5", "v6"]
    assert [(op, limit) for op, _, limit in spy.asked] == [("versions_page", 3)] * 3
    assert spy.asked[0][1] is None and spy.asked[1][1] != spy.asked[2][1]
    # read again: from what was read, no page asked twice
    assert [a.version for a in versions] == [f"v{i}" for i in range(7)] and len(spy.asked) == 3
    assert len(versions) == 7 and versions[-1].version == "v6"


def test_a_version_deleted_while_iterating_skips_none_of_the_others():
    log_versions("shrinking", 6)
    api = cairn.Api()
    it = iter(api.artifacts("dataset", "pg/shrinking", per_page=2))
    seen = [next(it).version for _ in range(2)]
    api.artifact("pg/shrinking:v0").delete()  # a page by position would now skip v2
    seen += [a.version for a in it]
    assert seen == ["v0", "v1", "v2", "v3", "v4", "v5"]


def test_pages_with_a_tag_filter_and_a_collections_artifacts(monkeypatch: pytest.MonkeyPatch):
    log_versions("tagged", 7, tag_every=3)
    api = cairn.Api()
    assert [a.version for a in api.artifacts("dataset", "pg/tagged", per_page=2, tags="even")] == ["v0", "v3", "v6"]
    spy = PageSpy(api, monkeypatch)
    coll = api.artifact_collection("dataset", "pg/tagged")
    assert [a.version for a in coll.artifacts(per_page=4)] == [f"v{i}" for i in range(7)]
    assert [limit for _, _, limit in spy.asked] == [4, 4]
    assert coll.versions(per_page=1)[5].version == "v5"


def test_collections_are_read_a_page_at_a_time(monkeypatch: pytest.MonkeyPatch):
    for name in ("e", "c", "a", "d", "b"):
        log_versions(name, 1, project="colls")
    log_versions("m", 1, project="colls", type_="model")
    api = cairn.Api()
    spy = PageSpy(api, monkeypatch)
    colls = api.artifact_collections("colls", per_page=2)
    assert len(spy.asked) == 1
    assert [c.name for c in colls] == ["a", "b", "c", "d", "e", "m"]
    assert [limit for _, _, limit in spy.asked] == [2, 2, 2, 2]  # the fourth page is empty: the end
    assert [c.name for c in api.artifact_collections("colls", "dataset", per_page=4)] == ["a", "b", "c", "d", "e"]
    assert [c.name for c in api.artifact_type("dataset", "colls").collections(per_page=1)] == ["a", "b", "c", "d", "e"]
    assert api.artifact_collections("nothing-here", per_page=5) == []


def test_a_listing_of_another_type_or_no_collection_fails_at_the_call():
    log_versions("typed", 2)
    api = cairn.Api()
    with pytest.raises(cairn.ArtifactNotFoundError, match="not 'model'"):
        api.artifacts("model", "pg/typed", per_page=1)
    with pytest.raises(cairn.ArtifactNotFoundError):
        api.artifacts("dataset", "pg/missing", per_page=1)


@pytest.mark.parametrize("bad", [0, -1, 1001, 2.5, "10", True, None])
def test_a_bad_per_page_is_refused_by_name(bad: Any):
    log_versions("checked", 1)
    api = cairn.Api()
    calls = [
        lambda: api.artifacts("dataset", "pg/checked", per_page=bad),
        lambda: api.artifact_versions("dataset", "pg/checked", per_page=bad),
        lambda: api.artifact_collections("pg", per_page=bad),
        lambda: api.artifact_collection("dataset", "pg/checked").artifacts(per_page=bad),
        lambda: api.artifact_type("dataset", "pg").collections(per_page=bad),
        lambda: api.runs("pg", per_page=bad),
    ]
    for call in calls:
        with pytest.raises(UsageError, match=r"per_page must be a whole number from 1 to 1000, got") as err:
            call()
        assert repr(bad) in str(err.value)


def test_the_client_refuses_a_bad_page_request():
    log_versions("cursor", 2)
    client = cairn.Api()._client
    entity = cairn.Api().entity
    for after, limit in (("not-a-cursor", 2), (None, 0), (None, 5000)):
        with pytest.raises(UsageError):
            client.versions_page(entity, "pg", "cursor", None, after, limit)
    with pytest.raises(UsageError):
        client.collections_page(entity, "pg", None, None, 0)
    page = client.versions_page(entity, "pg", "cursor", None, None, 1)
    assert [v.index for v in page.items] == [0] and page.next is not None
    last = client.versions_page(entity, "pg", "cursor", None, page.next, 5)
    assert [v.index for v in last.items] == [1] and last.next is None


def test_runs_are_read_a_page_at_a_time_filtered_and_ordered_by_the_store(monkeypatch: pytest.MonkeyPatch):
    for i, (group, name) in enumerate([("a", "r-c"), ("b", "r-a"), ("a", "r-e"), (None, "r-b"), ("a", "r-d")]):
        with cairn.init(project="runs", group=group, name=name, job_type="train" if i % 2 else None):
            pass
    api = cairn.Api()
    asked: list[int] = []
    real = api._client.runs_page
    monkeypatch.setattr(api._client, "runs_page", lambda *a: asked.append(a[-1]) or real(*a))
    runs = api.runs("runs", per_page=2)
    assert len(asked) == 1
    assert [r.name for r in runs] == ["r-c", "r-a", "r-e", "r-b", "r-d"] and asked == [2, 2, 2]
    assert [r.name for r in api.runs("runs", {"group": "a"}, per_page=1)] == ["r-c", "r-e", "r-d"]
    assert [r.name for r in api.runs("runs", {"group": None}, per_page=3)] == ["r-b"]
    assert [r.name for r in api.runs("runs", {"jobType": "train"}, per_page=3, order="-name")] == ["r-b", "r-a"]
    assert [r.name for r in api.runs("runs", per_page=2, order="+name")] == ["r-a", "r-b", "r-c", "r-d", "r-e"]
    assert [r.name for r in api.runs("runs", per_page=4, order="-created_at")] == ["r-d", "r-b", "r-e", "r-a", "r-c"]
    assert api.runs("runs", {"state": "running"}, per_page=5) == []
    for bad, match in (({"colour": "red"}, "unsupported run filter 'colour'"), ({"group": 3}, "takes a string")):
        with pytest.raises(UsageError, match=match):
            api.runs("runs", bad, per_page=2)
    with pytest.raises(UsageError, match="unsupported run order '-speed'"):
        api.runs("runs", order="-speed")
