"""Auth on a real server: keys are required once users exist, roles gate every project,
and keys are stored hashed."""

from __future__ import annotations

import httpx
import pytest
from helpers import write
from servers import cairn_server

import cairn
from cairn.client import reset_clients
from cairn.engine import accounts as auth
from cairn.storage.meta.sql import MetaStore


@pytest.fixture
def secured(tmp_path, monkeypatch):
    """A server on its own embedded store with users alice (team 'vision' write), bob
    (team 'vision' read) and eve (no role on 'vision')."""
    home = tmp_path / "server-home"
    meta = MetaStore.sqlite(home / "meta.sqlite")
    keys = {name: auth.create_user(meta, name) for name in ("alice", "bob", "eve")}
    auth.add_member(meta, "vision", "alice", "write")
    auth.add_member(meta, "vision", "bob", "read")
    meta.dispose()
    with cairn_server(tmp_path / "srv", {"CAIRN_DIR": str(home)}, "--no-ui") as url:
        monkeypatch.setenv("CAIRN_BASE_URL", url)
        yield url, keys, home


def as_user(monkeypatch, key: str | None, entity: str = "vision") -> None:
    if key is None:
        monkeypatch.delenv("CAIRN_API_KEY", raising=False)
    else:
        monkeypatch.setenv("CAIRN_API_KEY", key)
    monkeypatch.setenv("CAIRN_ENTITY", entity)
    monkeypatch.setenv("CAIRN_SETTINGS", "/nonexistent/settings.json")
    reset_clients()


def log_model(content: str = "weights") -> cairn.Artifact:
    write("model.bin", content)
    with cairn.init(project="cls") as run:
        a = cairn.Artifact("model", "model")
        a.add_file("model.bin")
        run.log_artifact(a)
    return a


def test_writer_logs_reader_reads(secured, monkeypatch):
    url, keys, _ = secured
    as_user(monkeypatch, keys["alice"])
    a = log_model()
    assert a.qualified_name == "vision/cls/model:v0"
    as_user(monkeypatch, keys["bob"])
    got = cairn.Api().artifact("vision/cls/model:latest")
    assert got.digest == a.digest
    assert open(got.file("dl")).read() == "weights"


def test_no_key_and_wrong_key_are_401(secured, monkeypatch):
    url, keys, _ = secured
    r = httpx.get(f"{url}/api/v1/projects/vision/cls/artifacts")
    assert r.status_code == 401
    assert r.json()["error"]["type"] == "AuthError"
    r = httpx.get(f"{url}/api/v1/projects/vision/cls/artifacts", headers={"Authorization": "Bearer cairn_wrong"})
    assert r.status_code == 401
    as_user(monkeypatch, None)
    with pytest.raises(cairn.StoreError, match="API key"):
        cairn.Api().artifact("vision/cls/model:latest")


def test_read_only_key_cannot_write(secured, monkeypatch):
    url, keys, _ = secured
    as_user(monkeypatch, keys["bob"])
    with pytest.raises(cairn.StoreError, match="'write' role on entity 'vision'"):
        log_model()
    # nothing was stored for the refused write
    as_user(monkeypatch, keys["alice"])
    assert not cairn.Api().artifact_exists("vision/cls/model:latest")


def test_other_entity_learns_nothing(secured, monkeypatch):
    """A key without a role on an entity gets, for everything in it, exactly the answer it
    gets for a thing that does not exist (404), and never a name it did not send."""
    url, keys, _ = secured
    as_user(monkeypatch, keys["alice"])
    log_model()
    h = {"Authorization": f"Bearer {keys['eve']}"}
    version_id = cairn.Api().artifact("vision/cls/model:latest").id
    for real, fake in (
        ("/api/v1/projects/vision/cls/artifacts", "/api/v1/projects/nosuchentity/cls/artifacts"),
        (
            "/api/v1/projects/vision/cls/artifacts/model/resolve/latest",
            "/api/v1/projects/nosuchentity/cls/artifacts/model/resolve/latest",
        ),
        ("/api/v1/projects/vision/nosuchproject/artifacts", "/api/v1/projects/nosuchentity/nosuchproject/artifacts"),
        (f"/api/v1/versions/{version_id}", "/api/v1/versions/999999"),
    ):
        r, missing = httpx.get(url + real, headers=h), httpx.get(url + fake, headers=h)
        assert r.status_code == missing.status_code == 404, real
        assert r.json()["error"]["type"] == missing.json()["error"]["type"]
        assert (
            r.json()["error"]["message"].replace("vision", "nosuchentity").replace(str(version_id), "999999")
            == missing.json()["error"]["message"]
        )
        assert "model" not in r.text.replace(real, "")
    digest = cairn.Api().artifact("vision/cls/model:latest").manifest.entries["model.bin"].digest
    for path, body in (
        ("/api/v1/projects/vision/cls/blobs/urls", {"digests": [digest]}),
        ("/api/v1/projects/vision/cls/blobs/missing", {"digests": [digest]}),
        ("/api/v1/projects/vision/cls/blobs/direct", {"digests": [digest]}),
        ("/api/v1/projects/vision/cls/blobs/direct/done", {"digests": [digest]}),
    ):
        r = httpx.post(url + path, headers=h, json=body)
        assert r.status_code == 404, path
        assert digest not in r.text
    r = httpx.get(url + "/api/v1/projects", headers=h)
    assert r.json() == {"projects": []}
    # eve's own entity works
    as_user(monkeypatch, keys["eve"], entity="eve")
    assert log_model("eve's").qualified_name == "eve/cls/model:v0"


def test_keys_are_stored_hashed(secured):
    _, keys, home = secured
    meta = MetaStore.sqlite(home / "meta.sqlite")
    with meta.read() as tx:
        stored = tx.tuples("SELECT key_hash, prefix FROM api_keys")
    meta.dispose()
    raw = (home / "meta.sqlite").read_bytes()
    for key in keys.values():
        assert key.encode() not in raw
        assert auth.hash_key(key) in {h for h, _ in stored}


def test_cli_admin_and_login(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from cairn.cli.main import main

    home = tmp_path / "home"
    monkeypatch.setenv("CAIRN_DIR", str(home))
    runner = CliRunner()
    res = runner.invoke(main, ["admin", "create-user", "carol"])
    assert res.exit_code == 0, res.output
    key = res.output.strip()
    assert key.startswith("cairn_")
    res = runner.invoke(main, ["admin", "add-member", "team1", "carol", "--role", "read"])
    assert res.exit_code == 0 and "carol is now read on team1" in res.output
    res = runner.invoke(main, ["admin", "add-member", "team1", "nobody", "--role", "read"])
    assert res.exit_code == 1 and "no user 'nobody'" in res.output
    with cairn_server(tmp_path / "srv", {"CAIRN_DIR": str(home)}, "--no-ui") as url:
        monkeypatch.setenv("CAIRN_SETTINGS", str(tmp_path / "settings.json"))
        res = runner.invoke(main, ["login", "--host", url, "--key", key])
        assert res.exit_code == 0 and "as carol" in res.output, res.output
        assert oct((tmp_path / "settings.json").stat().st_mode)[-3:] == "600"
        res = runner.invoke(main, ["login", "--host", url, "--key", "cairn_bad"])
        assert res.exit_code == 1 and "not valid" in res.output
        # the saved key is used by the SDK
        monkeypatch.setenv("CAIRN_BASE_URL", url)
        monkeypatch.delenv("CAIRN_API_KEY", raising=False)
        reset_clients()
        assert cairn.Api().entity == "carol"
