"""Paged listings through the server, on SQLite and on PostgreSQL: a cursor or filter that no
listing hands out is a 400 naming it (never a 500), and a page of a registry collection is
filled with the versions the caller may read only, so that neither its ``next`` nor an empty
page shows that a link the caller may not read exists."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cairn.core.errors import NotFoundError, UsageError
from cairn.core.manifest import Entry
from cairn.core.versions import CommitRequest
from cairn.engine import Engine
from cairn.engine import accounts as auth
from cairn.server.app import create_app
from cairn.storage.blobs.local import LocalBlobStore
from cairn.storage.meta.sql import MetaStore
from cairn.storage.registry import open_meta

# Readable (True) or not (False) for carol, in link order: hidden links between, first and last
PATTERN = [False, True, False, False, True, True, False, True, False, False]
BASE = "/api/v1/projects/lab/registry/artifacts/best/versions"


@dataclass
class Registry:
    meta: MetaStore
    client: TestClient
    headers: dict[str, str]  # carol's: a reader of 'lab', not of 'skunk'
    readable: list[int]  # the ids of the links carol may read, in order


@pytest.fixture(params=["sqlite", "postgresql"])
def meta(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MetaStore]:
    if request.param == "sqlite":
        store = MetaStore.sqlite(tmp_path / "meta.sqlite")
    else:
        from services import create_database

        stack = request.getfixturevalue("server_stack")  # its PostgreSQL; a database of our own
        store = open_meta(create_database(stack.meta_url, f"t_{uuid.uuid4().hex[:16]}"))
    yield store
    store.dispose()


@pytest.fixture
def registry(meta: MetaStore, tmp_path: Path) -> Registry:
    blobs = LocalBlobStore(tmp_path / "blobs")
    eng = Engine(meta, blobs)
    readable = []
    for i, open_ in enumerate(PATTERN):
        d, n = blobs.put_bytes(f"weights {i}".encode())
        blobs.flush()
        entity, project = ("lab", "train") if open_ else ("skunk", "secret")
        v = eng.commit(CommitRequest(entity, project, f"net{i}", "model", entries=[Entry("w", d, n)]))
        link = eng.link_version(v.id, "lab", "registry", "best", [])
        if open_:
            readable.append(link.id)
    eng.create_run("lab", "train", run_id="r1")
    key = auth.create_user(meta, "carol")
    auth.add_member(meta, "lab", "carol", "read")
    client = TestClient(create_app(meta, blobs), raise_server_exceptions=False)
    return Registry(meta, client, {"Authorization": f"Bearer {key}"}, readable)


def walk(reg: Registry, limit: int) -> list[dict]:
    """Every page of the collection, ``limit`` at a time, as carol reads them."""
    pages, after = [], None
    for _ in range(len(PATTERN) + 2):
        params: dict = {"limit": limit, **({"after": after} if after is not None else {})}
        r = reg.client.get(BASE, params=params, headers=reg.headers)
        assert r.status_code == 200, r.text
        pages.append(r.json())
        after = pages[-1]["next"]
        if after is None:
            return pages
    raise AssertionError(f"the listing did not end: {pages}")


@pytest.mark.parametrize("limit", [1, 2, 3, 4, 1000])
def test_pages_hold_exactly_the_readable_links_and_end_at_the_last_one(registry: Registry, limit: int):
    pages = walk(registry, limit)
    got = [v["id"] for p in pages for v in p["versions"]]
    assert got == registry.readable
    assert all(len(p["versions"]) == limit for p in pages[:-1])  # full pages while readable links follow
    assert 1 <= len(pages[-1]["versions"]) <= limit  # no empty last page: it would count hidden links
    assert len(pages) == -(-len(registry.readable) // limit)
    unpaged = registry.client.get(BASE, headers=registry.headers).json()
    assert [v["id"] for v in unpaged["versions"]] == got and unpaged["next"] is None


def test_a_cursor_past_the_last_readable_link_gives_nothing_away(registry: Registry):
    r = registry.client.get(BASE, params={"limit": 1, "after": str(len(PATTERN) - 3)}, headers=registry.headers)
    assert r.status_code == 200 and r.json() == {"versions": [], "next": None}
    hidden_first = registry.client.get(BASE, params={"limit": 1}, headers=registry.headers).json()
    assert [v["id"] for v in hidden_first["versions"]] == registry.readable[:1]


@pytest.mark.parametrize(
    "path, params, names",
    [
        ("/api/v1/projects/lab/train/runs", {"after": "²"}, "'after'"),
        ("/api/v1/projects/lab/train/runs", {"after": "²", "limit": 5}, "'after'"),
        ("/api/v1/projects/lab/train/runs", {"after": "١", "limit": 5}, "'after'"),  # Arabic-Indic one
        ("/api/v1/projects/lab/train/runs", {"after": "9" * 40, "limit": 5}, "'after'"),
        (BASE, {"after": "²"}, "'after'"),
        (BASE, {"after": "²", "limit": 5}, "'after'"),
        (BASE, {"after": "-1", "limit": 5}, "'after'"),
        (BASE, {"after": "9" * 40, "limit": 5}, "'after'"),
        ("/api/v1/projects/lab/train/runs", {"limit": 5, "filters": '{"state": "\\u0000"}'}, "run filter 'state'"),
        ("/api/v1/projects/lab/train/runs", {"limit": 5, "filters": '{"group": "a\\u0000b"}'}, "run filter 'group'"),
        ("/api/v1/projects/lab/train/runs", {"limit": 5, "filters": '{"state": "' + "s" * 17 + '"}'}, "'state'"),
        ("/api/v1/projects/lab/train/runs", {"limit": 5, "filters": '{"name": "' + "x" * 300 + '"}'}, "'name'"),
        ("/api/v1/projects/lab/train/runs", {"limit": 5, "filters": '{"jobType": "\\ud800"}'}, "'jobType'"),
    ],
)
def test_bad_cursors_and_filters_are_400s_naming_them(registry: Registry, path: str, params: dict, names: str):
    r = registry.client.get(path, params=params, headers=registry.headers)
    assert r.status_code == 400, r.text
    assert names in r.json()["error"]["message"]


def test_the_longest_filter_values_are_answered(registry: Registry):
    for f in ('{"state": "' + "s" * 16 + '"}', '{"name": "' + "x" * 256 + '"}', '{"group": "ü €"}'):
        r = registry.client.get(
            "/api/v1/projects/lab/train/runs", params={"limit": 5, "filters": f}, headers=registry.headers
        )
        assert r.status_code == 200 and r.json() == {"runs": [], "next": None}, r.text


@pytest.mark.parametrize("which", ["²", "١٢", "9" * 40, "cairn_\x00abcdef", "", "k" * 300])
def test_revoking_a_key_by_a_bad_name_is_a_usage_error(registry: Registry, which: str):
    with pytest.raises(UsageError):
        auth.revoke_key(registry.meta, which)
    with pytest.raises(NotFoundError):
        auth.revoke_key(registry.meta, "12345")
    assert [k.revoked_at for k in auth.list_keys(registry.meta, "carol")] == [None]
