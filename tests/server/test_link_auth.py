"""Links and roles on a real server. Linking needs read on the source and write on the
target; a link is read through its source, so it never opens a source to a caller without
the read role on the source's entity (such a caller does not see the link at all); removing
a link needs write on its own entity only."""

from __future__ import annotations

import blake3
import httpx
import pytest
from helpers import write
from servers import cairn_server

import cairn
from cairn.client import reset_clients
from cairn.engine import accounts as auth
from cairn.storage.meta.sql import MetaStore


@pytest.fixture
def teams(tmp_path, monkeypatch):
    """Entity 'lab' (where models are logged) and 'reg' (the registry). alice writes both;
    carol reads both; bob reads only 'reg'; eve writes only 'reg'."""
    home = tmp_path / "server-home"
    meta = MetaStore.sqlite(home / "meta.sqlite")
    keys = {name: auth.create_user(meta, name) for name in ("alice", "bob", "carol", "eve")}
    for entity, user, role in [
        ("lab", "alice", "write"),
        ("reg", "alice", "write"),
        ("lab", "carol", "read"),
        ("reg", "carol", "read"),
        ("reg", "bob", "read"),
        ("reg", "eve", "write"),
    ]:
        auth.add_member(meta, entity, user, role)
    meta.dispose()
    with cairn_server(tmp_path / "srv", {"CAIRN_DIR": str(home)}, "--no-ui") as url:
        monkeypatch.setenv("CAIRN_BASE_URL", url)
        monkeypatch.setenv("CAIRN_SETTINGS", "/nonexistent/settings.json")
        yield url, keys


def as_user(monkeypatch, key: str, entity: str) -> None:
    monkeypatch.setenv("CAIRN_API_KEY", key)
    monkeypatch.setenv("CAIRN_ENTITY", entity)
    reset_clients()


def _linked(monkeypatch, keys) -> tuple[cairn.Artifact, cairn.Artifact]:
    as_user(monkeypatch, keys["alice"], "lab")
    write("net.bin", "secret weights")
    with cairn.init(project="train") as run:
        a = cairn.Artifact("net", "model")
        a.add_file("net.bin")
        link = run.link_artifact(a, "reg/models/best", aliases=["prod"])
    return a, link


def test_a_reader_of_both_entities_reads_the_link(teams, monkeypatch, tmp_path):
    url, keys = teams
    source, link = _linked(monkeypatch, keys)
    as_user(monkeypatch, keys["carol"], "reg")
    got = cairn.Api().artifact("reg/models/best:prod")
    assert got.is_link and got.source_qualified_name == "lab/train/net:v0"
    assert open(got.file(tmp_path / "c")).read() == "secret weights"
    assert [a.qualified_name for a in cairn.Api().artifact("lab/train/net:v0").linked_artifacts] == [
        link.qualified_name
    ]


def test_a_link_does_not_open_its_source_to_a_reader_of_the_target_only(teams, monkeypatch):
    url, keys = teams
    source, link = _linked(monkeypatch, keys)
    as_user(monkeypatch, keys["bob"], "reg")
    api = cairn.Api()
    with pytest.raises(cairn.CommError):
        api.artifact("reg/models/best:prod")
    with pytest.raises(cairn.CommError):
        api.artifact("reg/models/best:v0")
    assert api.artifacts("model", "reg/models/best") == []  # not listed either
    with pytest.raises(cairn.CommError):
        api.artifact("lab/train/net:v0")
    headers = {"Authorization": f"Bearer {keys['bob']}"}
    for path in (
        f"/api/v1/versions/{link.id}",
        f"/api/v1/versions/{link.id}/users",
        f"/api/v1/versions/{source.id}/links",
    ):
        r = httpx.get(url + path, headers=headers)
        assert r.status_code == 404, path  # as a missing id: a link is read through its source
        assert "secret" not in r.text and link._version.manifest_key not in r.text
    # the bytes stay behind the source's entity
    digest = "blake3:" + blake3.blake3(b"secret weights").hexdigest()
    r = httpx.post(f"{url}/api/v1/projects/lab/train/blobs/urls", json={"digests": [digest]}, headers=headers)
    assert r.status_code == 404


def test_linking_needs_read_on_the_source_and_write_on_the_target(teams, monkeypatch):
    url, keys = teams
    source, link = _linked(monkeypatch, keys)
    body = {"entity": "reg", "project": "models", "name": "other", "aliases": []}
    # eve writes 'reg' but cannot read 'lab': she cannot link lab's version
    r = httpx.post(
        f"{url}/api/v1/versions/{source.id}/links", json=body, headers={"Authorization": f"Bearer {keys['eve']}"}
    )
    assert r.status_code == 404
    # carol reads both but writes neither: she cannot link into 'reg'
    as_user(monkeypatch, keys["carol"], "reg")
    with pytest.raises(cairn.AuthError):
        cairn.Api().artifact("lab/train/net:v0").link("reg/models/other")
    # nothing was made by the refused calls
    as_user(monkeypatch, keys["alice"], "reg")
    assert [c.name for c in cairn.Api().artifact_collections("models")] == ["best"]


def test_unlinking_needs_write_on_the_link_only(teams, monkeypatch):
    url, keys = teams
    source, link = _linked(monkeypatch, keys)
    r = httpx.post(f"{url}/api/v1/versions/{link.id}/unlink", headers={"Authorization": f"Bearer {keys['bob']}"})
    assert r.status_code == 403
    r = httpx.post(f"{url}/api/v1/versions/{source.id}/unlink", headers={"Authorization": f"Bearer {keys['alice']}"})
    assert r.status_code == 400 and r.json()["error"]["type"] == "UsageError"  # not a link: a clear 4xx
    r = httpx.post(f"{url}/api/v1/versions/{link.id}/unlink", headers={"Authorization": f"Bearer {keys['eve']}"})
    assert r.status_code == 200
    as_user(monkeypatch, keys["alice"], "reg")
    with pytest.raises(cairn.CommError):
        cairn.Api().artifact("reg/models/best:prod")
    assert cairn.Api().artifact("lab/train/net:v0").state == "COMMITTED"


def test_bad_link_requests_are_4xx(teams, monkeypatch):
    url, keys = teams
    source, link = _linked(monkeypatch, keys)
    headers = {"Authorization": f"Bearer {keys['alice']}"}
    for body in (
        {"entity": "reg", "project": "models", "name": "bad name"},
        {"entity": "reg", "project": "models", "name": "x", "aliases": ["v1"]},
        {"entity": "reg", "project": "models"},
        {"entity": "reg", "project": "models", "name": "x", "aliases": "prod"},
        {"entity": "reg", "project": "models", "name": "x", "run_id": "nosuchrun"},
    ):
        r = httpx.post(f"{url}/api/v1/versions/{source.id}/links", json=body, headers=headers)
        assert 400 <= r.status_code < 500, (body, r.status_code, r.text)
    r = httpx.post(
        f"{url}/api/v1/versions/999999/links", json={"entity": "reg", "project": "m", "name": "x"}, headers=headers
    )
    assert r.status_code == 404
