"""Key management: list, revoke and expire keys, change and remove roles, server admins —
through ``cairn admin`` on the store, and what the server then lets each key do."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from click.testing import CliRunner

from cairn.cli.main import main
from cairn.engine import accounts as auth
from cairn.storage.meta.sql import MetaStore


@pytest.fixture
def home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("CAIRN_DIR", str(home))
    return home


def cli(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(main, ["admin", *args])
    return res.exit_code, res.output


@pytest.fixture
def server(home, serve_store):
    """A real server (uvicorn, in a thread) on the CAIRN_DIR store; ``call(key, method, path, **kw)``."""
    with serve_store(home, lambda h: {}) as s, httpx.Client(base_url=s.url + "/api/v1") as client:

        def call(key: str | None, method: str, path: str, **kw):  # noqa: ANN003, ANN202
            headers = {"Authorization": f"Bearer {key}"} if key else {}
            return client.request(method, path, headers=headers, **kw)

        yield call


def make_run(call, key: str, entity: str, project: str = "p"):  # noqa: ANN001, ANN201
    return call(key, "POST", f"/projects/{entity}/{project}/runs", json={})


def test_list_and_revoke_keys(home, server):
    code, alice = cli("create-user", "alice")
    assert code == 0
    code, second = cli("create-key", "alice", "--expires", "90d")
    second = second.strip()
    code, out = cli("list-keys", "alice")
    assert code == 0
    lines = out.strip().splitlines()
    assert lines[0].split() == ["id", "prefix", "state", "created", "expires"]
    assert len(lines) == 3 and all("active" in line for line in lines[1:])
    assert alice.strip()[:10] in lines[1] and second[:10] in lines[2]
    assert lines[1].rstrip().endswith("never") and not lines[2].rstrip().endswith("never")
    assert alice.strip() not in out and second not in out  # only prefixes are shown

    assert server(second, "GET", "/whoami").json()["user"] == "alice"
    key_id = lines[2].split()[0]
    code, out = cli("revoke-key", key_id)
    assert code == 0 and f"revoked key {key_id}" in out and "alice" in out
    r = server(second, "GET", "/whoami")
    assert r.status_code == 401 and "unknown or revoked" in r.json()["error"]["message"]
    assert server(alice.strip(), "GET", "/whoami").status_code == 200  # the other key still works
    code, out = cli("list-keys", "alice")
    assert "revoked" in out.splitlines()[2]
    code, out = cli("revoke-key", key_id)
    assert code == 0 and "revoked already" in out
    # by prefix, and by the whole key
    code, out = cli("revoke-key", alice.strip()[:10])
    assert code == 0 and "revoked key" in out
    assert server(alice.strip(), "GET", "/whoami").status_code == 401


def test_key_management_refuses_bad_input(home):
    assert cli("create-user", "bob")[0] == 0
    code, out = cli("list-keys", "nobody")
    assert code == 1 and "no user 'nobody'" in out
    code, out = cli("revoke-key", "cairn_zzzz")
    assert code == 1 and "no API key 'cairn_zzzz'" in out
    code, out = cli("revoke-key", "999999")
    assert code == 1 and "no API key '999999'" in out
    code, out = cli("revoke-key", "nonsense")
    assert code == 1 and "by its id or its prefix" in out
    code, out = cli("create-key", "bob", "--expires", "soon")
    assert code == 1 and "expiry must be" in out and "'soon'" in out
    code, out = cli("create-key", "bob", "--expires", "0d")
    assert code == 1 and "expiry must be" in out
    code, out = cli("create-key", "nobody")
    assert code == 1 and "no user 'nobody'" in out
    code, out = cli("set-role", "team", "bob", "owner")
    assert code == 2 and "'owner' is not one of" in out
    code, out = cli("set-role", "team", "bob", "read")
    assert code == 1 and "no entity 'team'" in out
    assert cli("add-member", "team", "bob", "--role", "read")[0] == 0
    assert cli("create-user", "carol")[0] == 0
    code, out = cli("set-role", "team", "carol", "write")
    assert code == 1 and "not a member of 'team'" in out
    code, out = cli("remove-member", "team", "nobody")
    assert code == 1 and "no user 'nobody'" in out
    code, out = cli("remove-member", "bob", "bob")
    assert code == 1 and "own entity" in out
    code, out = cli("server-admin", "nobody")
    assert code == 1 and "no user 'nobody'" in out
    assert auth.ROLES  # the roles the CLI offers are the ones the server knows
    with pytest.raises(auth.UsageError, match="role must be one of"):
        auth.set_role(MetaStore.sqlite(home / "meta.sqlite"), "team", "bob", "owner")


def test_set_role_and_remove_member_take_effect(home, server):
    _, owner = cli("create-user", "owner")
    _, bob = cli("create-user", "bob")
    owner, bob = owner.strip(), bob.strip()
    assert cli("add-member", "team", "owner", "--role", "admin")[0] == 0
    assert cli("add-member", "team", "bob", "--role", "write")[0] == 0
    assert make_run(server, bob, "team").status_code == 200

    code, out = cli("set-role", "team", "bob", "read")
    assert code == 0 and "bob is now read on team (was write)" in out
    r = make_run(server, bob, "team")
    assert r.status_code == 403 and "'write' role on entity 'team'" in r.json()["error"]["message"]
    assert server(bob, "GET", "/projects/team/p/runs").status_code == 200

    code, out = cli("remove-member", "team", "bob")
    assert code == 0 and "bob is no longer a member of team (was read)" in out
    r, missing = server(bob, "GET", "/projects/team/p/runs"), server(bob, "GET", "/projects/nosuch/p/runs")
    assert r.status_code == missing.status_code == 404
    assert server(bob, "GET", "/projects").json() == {"projects": []}


def test_expired_key_is_refused_with_a_clear_401(home, server):
    _, key = cli("create-user", "dave", "--expires", "1h")
    key = key.strip()
    assert server(key, "GET", "/whoami").status_code == 200
    meta = MetaStore.sqlite(home / "meta.sqlite")
    past = (datetime.now(UTC) - timedelta(minutes=1)).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
    with meta.write() as tx:  # an hour later
        tx.execute("UPDATE api_keys SET expires_at = :t", {"t": past})
    meta.dispose()
    r = server(key, "GET", "/whoami")
    assert r.status_code == 401
    assert "expired on" in r.json()["error"]["message"] and "create-key" in r.json()["error"]["message"]
    code, out = cli("list-keys", "dave")
    assert "expired" in out.splitlines()[1]


def test_server_admin_is_admin_on_every_entity(home, server):
    _, alice = cli("create-user", "alice")
    _, root = cli("create-user", "root", "--server-admin")
    _, eve = cli("create-user", "eve")
    alice, root, eve = alice.strip(), root.strip(), eve.strip()
    assert make_run(server, alice, "alice", "secret").status_code == 200
    # an entity admin is admin on its own entity only
    assert server(eve, "GET", "/projects/alice/secret/runs").status_code == 404
    assert server(root, "GET", "/whoami").json()["server_admin"] is True
    assert server(eve, "GET", "/whoami").json()["server_admin"] is False
    assert {"entity": "alice", "project": "secret"} in server(root, "GET", "/projects").json()["projects"]
    assert len(server(root, "GET", "/projects/alice/secret/runs").json()["runs"]) == 1
    assert make_run(server, root, "alice", "secret").status_code == 200  # and may write

    code, out = cli("server-admin", "eve")
    assert code == 0 and "eve is now a server admin" in out
    assert server(eve, "GET", "/projects/alice/secret/runs").status_code == 200
    code, out = cli("server-admin", "eve", "--revoke")
    assert code == 0 and "no longer" in out
    assert server(eve, "GET", "/projects/alice/secret/runs").status_code == 404


def _log_in_process(home) -> dict:  # noqa: ANN001
    import cairn

    (home / "work" / "w.bin").write_bytes(b"written before any user " * 50)
    with cairn.init(project="early") as run:
        a = cairn.Artifact("weights", "model")
        a.add_file("w.bin")
        run.log_artifact(a)
    digest = a.manifest.entries["w.bin"].digest
    meta = MetaStore.sqlite(home / "meta.sqlite")
    try:
        return {"digest": digest, "key": auth.create_user(meta, "first"), "other": auth.create_user(meta, "other")}
    finally:
        meta.dispose()


def test_versions_written_before_the_first_user_are_served_to_their_project(tmp_path, serve_store):
    """The first user turns an open store into a keyed one: what its versions reference,
    written in-process, is indexed for their projects — and for no other project."""
    home = tmp_path / "store"

    def build(h):  # noqa: ANN001, ANN202
        info = _log_in_process(h)
        meta = MetaStore.sqlite(h / "meta.sqlite")
        auth.add_member(meta, "team", "first", "admin")
        meta.dispose()
        return info

    with serve_store(home, build) as s:
        d, key = s.info["digest"], {"Authorization": f"Bearer {s.info['key']}"}
        r = httpx.get(f"{s.url}/api/v1/projects/local/early/blobs/{d}", headers=key)
        assert r.status_code == 404  # "first" has no role on "local": it is not there for them
        meta = MetaStore.sqlite(home / "meta.sqlite")
        auth.add_member(meta, "local", "first", "read")
        meta.dispose()
        r = httpx.get(f"{s.url}/api/v1/projects/local/early/blobs/{d}", headers=key)
        assert r.status_code == 200 and r.content == b"written before any user " * 50
        r = httpx.get(f"{s.url}/api/v1/projects/team/p/blobs/{d}", headers=key)
        assert r.status_code == 404  # another project of theirs does not hold it
