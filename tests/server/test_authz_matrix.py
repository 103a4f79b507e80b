"""The authorization matrix, on a real server over PostgreSQL + SeaweedFS with users.

For EVERY route of the OpenAPI document (a route without an entry here fails the test) the
table says what three callers get — the owner of the resource (admin on its entity), a
member with ``read`` only, and a stranger (a valid key with no role there) — and what the
owner gets when it slips another entity's id, digest, chunk key or upload id into a
request on its own entity. A stranger, and a smuggled id, must learn nothing: the answer is
exactly the one for a thing that does not exist (same status, same message once the names
sent are swapped).
"""

from __future__ import annotations

import os
import re
import secrets
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

import blake3
import httpx
import pytest
from servers import cairn_server

from cairn.engine import accounts as auth
from cairn.storage.meta.sql import MetaStore

PREFIX = "authz"  # this module's objects in the session's bucket


def digest_of(data: bytes) -> str:
    return "blake3:" + blake3.blake3(data).hexdigest()


@dataclass
class Target:
    """The names and ids a request can point at: an entity's own, another's, or none at all."""

    entity: str
    project: str
    name: str = "model"
    version_id: int = 0
    spare_version_id: int = 0  # one the owner may delete
    run_id: str = ""
    digest: str = ""
    chunk_key: str = ""
    upload_id: str = ""
    staged_digest: str = ""  # what upload_id's bytes hash to
    link_id: int = 0  # a link (registry) to version_id

    def mask(self, text: str) -> str:
        """``text`` with this target's names replaced by placeholders (to compare answers)."""
        for value, ph in (
            (self.upload_id, "<U>"),
            (self.digest, "<D>"),
            (self.staged_digest, "<S>"),
            (self.chunk_key, "<K>"),
            (self.run_id, "<R>"),
            (self.entity, "<E>"),
            (self.project, "<P>"),
        ):
            if value:
                text = text.replace(value, ph)
        for vid in (self.version_id, self.spare_version_id, self.link_id):
            text = re.sub(rf"version id {vid}\b", "version id <V>", text)
        return text


@dataclass
class World:
    url: str
    keys: dict[str, str]
    mine: Target  # acme's: owner admin, reader read, stranger nothing
    theirs: Target  # victim's own entity: nobody above has a role there
    ghost: Target  # nothing of it exists
    payload: bytes = b""
    done: set = field(default_factory=set)

    def call(self, who: str, method: str, path: str, **kw) -> httpx.Response:  # noqa: ANN003
        headers = {"Authorization": f"Bearer {self.keys[who]}", **kw.pop("headers", {})}
        return httpx.request(method, self.url + "/api/v1" + path, headers=headers, timeout=60, **kw)


def _batch(*blobs: bytes) -> bytes:
    return b"".join(struct.pack(">I", len(b)) + b for b in blobs)


def _setup_entity(w: World, who: str, t: Target, seed: bytes) -> None:
    """A run, a committed version (and a spare one) and a staged upload with its bytes sent."""
    base = f"/projects/{t.entity}/{t.project}"
    data = seed * 100
    r = w.call(who, "POST", f"{base}/blobs/batch", content=_batch(data))
    assert r.status_code == 201, r.text
    t.digest = r.json()["digests"][0]
    t.run_id = w.call(who, "POST", f"{base}/runs", json={}).json()["id"]
    entries = [["f.bin", t.digest, len(data)]]
    v = w.call(
        who,
        "POST",
        f"{base}/artifacts/{t.name}/versions",
        json={"type": "model", "entries": entries, "run_id": t.run_id},
    ).json()
    t.version_id, t.chunk_key = v["id"], v["manifest_key"]
    spare = w.call(who, "POST", f"{base}/artifacts/spare/versions", json={"type": "model", "entries": entries}).json()
    t.spare_version_id = spare["id"]
    link = w.call(
        who,
        "POST",
        f"/versions/{t.version_id}/links",
        json={"entity": t.entity, "project": t.project, "name": "linked"},
    )
    assert link.status_code == 200, link.text
    t.link_id = link.json()["id"]
    for path in (f"{base}/artifacts/doomed/versions", f"/projects/{t.entity}/doomed/artifacts/doomed/versions"):
        assert w.call(who, "POST", path, json={"type": "model", "entries": []}).status_code == 200
    staged = seed * 7
    up = w.call(who, "POST", f"{base}/blobs/uploads", json={"digest": digest_of(staged), "size": len(staged)}).json()
    assert up["direct"] is True
    assert httpx.put(up["urls"][0], content=staged).status_code == 200
    t.upload_id, t.staged_digest = up["upload_id"], digest_of(staged)


@pytest.fixture(scope="module")
def world(server_stack, tmp_path_factory) -> World:
    from services import create_database

    meta_url = create_database(server_stack.meta_url, "authz_matrix")
    meta = MetaStore(meta_url)
    keys = {}
    for user in ("owner", "reader", "stranger", "victim"):
        keys[user] = auth.create_user(meta, user)
    auth.add_member(meta, "acme", "owner", "admin")
    auth.add_member(meta, "acme", "reader", "read")
    meta.dispose()
    env = {**server_stack.s3_env, "CAIRN_DIR": str(tmp_path_factory.mktemp("authz-home"))}
    with cairn_server(
        tmp_path_factory.mktemp("authz-srv"), env, "--meta", meta_url, "--blobs", f"s3://cairn/{PREFIX}", "--no-ui"
    ) as url:
        w = World(url, keys, Target("acme", "widgets"), Target("victim", "secret"), Target("ghost", "nowhere"))
        _setup_entity(w, "owner", w.mine, b"acme's weights ")
        _setup_entity(w, "victim", w.theirs, b"the victim's secret ")
        g = w.ghost
        g.version_id, g.spare_version_id, g.link_id, g.run_id = 10**12, 10**12 + 1, 10**12 + 2, "nosuchrun"
        g.digest, g.chunk_key = digest_of(os.urandom(16)), digest_of(os.urandom(16))
        g.upload_id, g.staged_digest = f"{PREFIX}/staging/{secrets.token_hex(16)}", digest_of(os.urandom(16))
        w.payload = os.urandom(3000)
        yield w


# -- the table ---------------------------------------------------------------------------


def _open_run(w: World, t: Target) -> str:
    """A run of the caller's own project that is still open (the finish row finishes the
    shared one, and a finished run's history cannot grow); it becomes the target's run, so
    that answers are masked alike. Other targets keep their run."""
    if t is w.mine:
        t.run_id = w.call("owner", "POST", f"{P(t)}/runs", json={}).json()["id"]
    return t.run_id


Request = tuple[str, str, dict]  # method, path under /api/v1, httpx keyword arguments
Make = Callable[[World, Target], Request]


@dataclass
class Row:
    make: Make  # the request, pointed at a target (its path and body name that target's things)
    owner: int
    reader: int
    stranger: int = 404  # and always the same answer as for the ghost target
    # the owner's request on its own entity carrying another entity's id/digest/key, made
    # from (world, smuggled target): answered like the same request carrying the ghost's
    smuggle: Make | None = None
    smuggled: int = 404
    about_self: bool = False  # the route names no target: nothing to compare with the ghost


def P(t: Target) -> str:  # noqa: N802
    return f"/projects/{t.entity}/{t.project}"


def _commit(w: World, t: Target, **extra) -> dict:  # noqa: ANN003
    return {"type": "model", "entries": [["g.bin", w.mine.digest, 1500]], **extra}


M = lambda w: w.mine  # noqa: E731

MATRIX: dict[tuple[str, str], Row] = {
    ("GET", "/api/v1/whoami"): Row(lambda w, t: ("GET", "/whoami", {}), 200, 200, 200, about_self=True),
    ("GET", "/api/v1/projects"): Row(
        lambda w, t: ("GET", "/projects", {"params": {"entity": t.entity}}), 200, 200, 200
    ),
    ("POST", "/api/v1/projects/{entity}/{project}/blobs/missing"): Row(
        lambda w, t: ("POST", f"{P(t)}/blobs/missing", {"json": {"digests": [t.digest]}}),
        200,
        403,
        smuggle=lambda w, s: ("POST", f"{P(w.mine)}/blobs/missing", {"json": {"digests": [s.digest]}}),
        smuggled=200,
    ),
    ("PUT", "/api/v1/projects/{entity}/{project}/blobs/{digest}"): Row(
        lambda w, t: ("PUT", f"{P(t)}/blobs/{digest_of(w.payload)}", {"content": w.payload}), 201, 403
    ),
    ("GET", "/api/v1/projects/{entity}/{project}/blobs/{digest}"): Row(
        lambda w, t: ("GET", f"{P(t)}/blobs/{t.digest}", {}),
        307,
        307,
        smuggle=lambda w, s: ("GET", f"{P(w.mine)}/blobs/{s.digest}", {}),
    ),
    ("POST", "/api/v1/projects/{entity}/{project}/blobs/batch"): Row(
        lambda w, t: ("POST", f"{P(t)}/blobs/batch", {"content": _batch(w.payload)}), 201, 403
    ),
    ("POST", "/api/v1/projects/{entity}/{project}/blobs/direct"): Row(
        lambda w, t: ("POST", f"{P(t)}/blobs/direct", {"json": {"digests": [t.digest]}}),
        200,
        403,
        smuggle=lambda w, s: ("POST", f"{P(w.mine)}/blobs/direct", {"json": {"digests": [s.digest]}}),
        smuggled=200,
    ),
    ("POST", "/api/v1/projects/{entity}/{project}/blobs/direct/done"): Row(
        lambda w, t: ("POST", f"{P(t)}/blobs/direct/done", {"json": {"digests": [t.digest]}}),
        201,
        403,
        smuggle=lambda w, s: ("POST", f"{P(w.mine)}/blobs/direct/done", {"json": {"digests": [s.digest]}}),
        smuggled=201,
    ),
    ("POST", "/api/v1/projects/{entity}/{project}/blobs/uploads"): Row(
        lambda w, t: ("POST", f"{P(t)}/blobs/uploads", {"json": {"digest": digest_of(b"x" * 10), "size": 10}}), 200, 403
    ),
    ("POST", "/api/v1/projects/{entity}/{project}/blobs/uploads/complete"): Row(
        lambda w, t: (
            "POST",
            f"{P(t)}/blobs/uploads/complete",
            {"json": {"upload_id": t.upload_id, "digest": t.staged_digest}},
        ),
        201,
        403,
        smuggle=lambda w, s: (
            "POST",
            f"{P(w.mine)}/blobs/uploads/complete",
            {"json": {"upload_id": s.upload_id, "digest": s.staged_digest}},
        ),
    ),
    ("POST", "/api/v1/projects/{entity}/{project}/blobs/{digest}/damaged"): Row(
        lambda w, t: ("POST", f"{P(t)}/blobs/{t.digest}/damaged", {}),
        200,
        200,
        smuggle=lambda w, s: ("POST", f"{P(w.mine)}/blobs/{s.digest}/damaged", {}),
    ),
    ("POST", "/api/v1/projects/{entity}/{project}/blobs/urls"): Row(
        lambda w, t: ("POST", f"{P(t)}/blobs/urls", {"json": {"digests": [t.digest]}}),
        200,
        200,
        smuggle=lambda w, s: ("POST", f"{P(w.mine)}/blobs/urls", {"json": {"digests": [s.digest]}}),
        smuggled=200,
    ),
    ("POST", "/api/v1/chunks"): Row(
        lambda w, t: ("POST", "/chunks", {"json": {"version_id": t.version_id, "keys": [t.chunk_key]}}),
        200,
        200,
        smuggle=lambda w, s: ("POST", "/chunks", {"json": {"version_id": w.mine.version_id, "keys": [s.chunk_key]}}),
        smuggled=200,
    ),
    ("POST", "/api/v1/projects/{entity}/{project}/artifacts/{name}/versions"): Row(
        lambda w, t: ("POST", f"{P(t)}/artifacts/{t.name}/versions", {"json": _commit(w, t)}),
        200,
        403,
        smuggle=lambda w, s: (
            "POST",
            f"{P(w.mine)}/artifacts/copied/versions",
            {"json": {"type": "model", "base_version_id": s.version_id, "edits": {}}},
        ),
    ),
    ("GET", "/api/v1/projects/{entity}/{project}/artifacts/{name}/versions"): Row(
        lambda w, t: ("GET", f"{P(t)}/artifacts/{t.name}/versions", {}), 200, 200
    ),
    ("POST", "/api/v1/projects/{entity}/{project}/artifacts/{name}/drafts/{distributed_id}/upsert"): Row(
        lambda w, t: ("POST", f"{P(t)}/artifacts/{t.name}/drafts/d1/upsert", {"json": _commit(w, t)}),
        200,
        403,
        smuggle=lambda w, s: (
            "POST",
            f"{P(w.mine)}/artifacts/model/drafts/d2/upsert",
            {"json": _commit(w, w.mine, run_id=s.run_id)},
        ),
    ),
    ("POST", "/api/v1/projects/{entity}/{project}/artifacts/{name}/drafts/{distributed_id}/finish"): Row(
        lambda w, t: ("POST", f"{P(t)}/artifacts/{t.name}/drafts/d1/finish", {"json": _commit(w, t)}),
        200,
        403,
        smuggle=lambda w, s: (
            "POST",
            f"{P(w.mine)}/artifacts/model/drafts/d3/finish",
            {"json": _commit(w, w.mine, run_id=s.run_id)},
        ),
    ),
    ("GET", "/api/v1/projects/{entity}/{project}/artifacts/{name}/resolve/{alias}"): Row(
        lambda w, t: ("GET", f"{P(t)}/artifacts/{t.name}/resolve/latest", {}), 200, 200
    ),
    ("GET", "/api/v1/projects/{entity}/{project}/artifacts/{name}/alias-history"): Row(
        lambda w, t: ("GET", f"{P(t)}/artifacts/{t.name}/alias-history", {}), 200, 200
    ),
    ("GET", "/api/v1/projects/{entity}/{project}/artifacts"): Row(
        lambda w, t: ("GET", f"{P(t)}/artifacts", {}), 200, 200
    ),
    ("GET", "/api/v1/versions/{version_id}"): Row(lambda w, t: ("GET", f"/versions/{t.version_id}", {}), 200, 200),
    ("PATCH", "/api/v1/versions/{version_id}"): Row(
        lambda w, t: ("PATCH", f"/versions/{t.version_id}", {"json": {"description": "changed"}}),
        200,
        403,
        smuggle=lambda w, s: (
            "PATCH",
            f"/versions/{w.mine.version_id}",
            {"json": {"aliases": ["x"], "run_id": s.run_id}},
        ),
    ),
    ("DELETE", "/api/v1/versions/{version_id}"): Row(
        lambda w, t: ("DELETE", f"/versions/{t.spare_version_id}", {}), 200, 403
    ),
    ("GET", "/api/v1/versions/{version_id}/history"): Row(
        lambda w, t: ("GET", f"/versions/{t.version_id}/history", {}), 200, 200
    ),
    ("GET", "/api/v1/versions/{version_id}/users"): Row(
        lambda w, t: ("GET", f"/versions/{t.version_id}/users", {}), 200, 200
    ),
    ("POST", "/api/v1/projects/{entity}/{project}/runs"): Row(
        lambda w, t: ("POST", f"{P(t)}/runs", {"json": {}}), 200, 403
    ),
    ("GET", "/api/v1/projects/{entity}/{project}/runs"): Row(lambda w, t: ("GET", f"{P(t)}/runs", {}), 200, 200),
    ("GET", "/api/v1/runs/{run_id}"): Row(
        lambda w, t: ("GET", f"/runs/{t.run_id}", {}),
        200,
        200,
        smuggle=lambda w, s: ("GET", f"/runs/{s.run_id}", {"params": {"entity": w.mine.entity}}),
    ),
    ("POST", "/api/v1/runs/{run_id}/history"): Row(
        lambda w, t: ("POST", f"/runs/{_open_run(w, t)}/history", {"json": {"rows": [], "summary": {"acc": 1}}}),
        200,
        403,
    ),
    ("GET", "/api/v1/runs/{run_id}/history"): Row(lambda w, t: ("GET", f"/runs/{t.run_id}/history", {}), 200, 200),
    ("PATCH", "/api/v1/runs/{run_id}"): Row(
        lambda w, t: ("PATCH", f"/runs/{t.run_id}", {"json": {"notes": "changed"}}), 200, 403
    ),
    ("POST", "/api/v1/runs/{run_id}/finish"): Row(
        lambda w, t: ("POST", f"/runs/{t.run_id}/finish", {"json": {}}), 200, 403
    ),
    ("POST", "/api/v1/runs/{run_id}/uses"): Row(
        lambda w, t: ("POST", f"/runs/{t.run_id}/uses", {"json": {"version_id": w.mine.version_id}}),
        200,
        403,
        smuggle=lambda w, s: ("POST", f"/runs/{w.mine.run_id}/uses", {"json": {"version_id": s.version_id}}),
    ),
    ("GET", "/api/v1/runs/{run_id}/outputs"): Row(lambda w, t: ("GET", f"/runs/{t.run_id}/outputs", {}), 200, 200),
    ("GET", "/api/v1/runs/{run_id}/inputs"): Row(lambda w, t: ("GET", f"/runs/{t.run_id}/inputs", {}), 200, 200),
    ("PATCH", "/api/v1/projects/{entity}/{project}/artifacts/{name}"): Row(
        lambda w, t: ("PATCH", f"{P(t)}/artifacts/{t.name}", {"json": {"description": "changed"}}), 200, 403
    ),
    ("POST", "/api/v1/versions/{version_id}/links"): Row(
        lambda w, t: (
            "POST",
            f"/versions/{t.version_id}/links",
            {"json": {"entity": w.mine.entity, "project": w.mine.project, "name": "linked2"}},
        ),
        200,
        403,
    ),
    ("GET", "/api/v1/versions/{version_id}/links"): Row(
        lambda w, t: ("GET", f"/versions/{t.version_id}/links", {}), 200, 200
    ),
    ("POST", "/api/v1/versions/{version_id}/unlink"): Row(
        lambda w, t: ("POST", f"/versions/{t.link_id}/unlink", {}), 200, 403
    ),
    ("DELETE", "/api/v1/projects/{entity}/{project}/artifacts/{name}"): Row(
        lambda w, t: ("DELETE", f"{P(t)}/artifacts/doomed", {}), 200, 403
    ),
    ("DELETE", "/api/v1/projects/{entity}/{project}"): Row(
        lambda w, t: ("DELETE", f"/projects/{t.entity}/doomed", {}), 200, 403
    ),
    ("GET", "/api/v1/projects/{entity}/{project}/retention"): Row(
        lambda w, t: ("GET", f"{P(t)}/retention", {}), 200, 200
    ),
    ("PUT", "/api/v1/projects/{entity}/{project}/retention"): Row(
        lambda w, t: ("PUT", f"{P(t)}/retention", {"json": {"keep_last": 50}}), 200, 403
    ),
    ("GET", "/api/v1/projects/{entity}/{project}/artifacts/{name}/retention"): Row(
        lambda w, t: ("GET", f"{P(t)}/artifacts/{t.name}/retention", {}), 200, 200
    ),
    ("PUT", "/api/v1/projects/{entity}/{project}/artifacts/{name}/retention"): Row(
        lambda w, t: ("PUT", f"{P(t)}/artifacts/{t.name}/retention", {"json": {"keep_last": 50}}), 200, 403
    ),
}


def _routes() -> list[tuple[str, str]]:
    from cairn.server.app import create_app
    from cairn.storage.blobs.local import LocalBlobStore
    from cairn.storage.meta.sql import MetaStore as Meta

    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory(prefix="cairn-openapi-") as tmp:  # collected at import: leave nothing
        d = Path(tmp)
        app = create_app(Meta.sqlite(d / "meta.sqlite"), LocalBlobStore(d / "blobs"))
        return [(m.upper(), p) for p, ops in app.openapi()["paths"].items() for m in ops]


ROUTES = _routes()


def test_every_route_has_a_row():
    """A route added without a row here fails: decide who may call it, then add the row."""
    assert sorted(set(ROUTES) - set(MATRIX)) == []
    assert sorted(set(MATRIX) - set(ROUTES)) == []  # no row for a route that is gone


def _answer(r: httpx.Response, t: Target) -> tuple[int, str]:
    """Status and body with the target's names masked; URLs (signed, random) masked too."""
    text = t.mask(r.text)
    return r.status_code, re.sub(r"https?://[^\"]+", "<url>", text)


@pytest.mark.parametrize("route", ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_matrix(world: World, route: tuple[str, str]) -> None:
    row = MATRIX[route]
    w = world
    for who, want in (("stranger", row.stranger), ("reader", row.reader), ("owner", row.owner)):
        method, path, kw = row.make(w, w.mine)
        r = w.call(who, method, path, follow_redirects=False, **kw)
        assert r.status_code == want, (who, r.text)
        assert w.theirs.digest not in r.text and w.theirs.entity not in r.text
        if who == "stranger" and not row.about_self:
            method, path, kw = row.make(w, w.ghost)
            missing = w.call(who, method, path, follow_redirects=False, **kw)
            assert _answer(r, w.mine) == _answer(missing, w.ghost), "a stranger must learn nothing"
    if row.smuggle is not None:
        method, path, kw = row.smuggle(w, w.theirs)
        r = w.call("owner", method, path, follow_redirects=False, **kw)
        assert r.status_code == row.smuggled, r.text
        method, path, kw = row.smuggle(w, w.ghost)
        missing = w.call("owner", method, path, follow_redirects=False, **kw)
        assert _answer(r, w.theirs) == _answer(missing, w.ghost), "another entity's id must answer as a missing one"
        assert w.theirs.entity not in r.text and "secret" not in r.text


# -- the attacks of issue 11, one by one --------------------------------------------------


def test_copy_by_base_version_id_is_refused(world: World) -> None:
    w, theirs = world, world.theirs
    body = {"type": "model", "base_version_id": theirs.version_id, "edits": {}}
    r = w.call("owner", "POST", f"{P(w.mine)}/artifacts/stolen/versions", json=body)
    assert (
        r.status_code == 404 and r.json()["error"]["message"] == f"artifact 'version id {theirs.version_id}' not found"
    )
    assert w.call("owner", "GET", f"{P(w.mine)}/artifacts/stolen/versions").status_code == 404  # nothing made
    # a draft whose base is the owner's own version in another of its projects still works,
    # and that project then serves the files the new version references
    body = {"type": "model", "base_version_id": w.mine.version_id, "edits": {}}
    v = w.call("owner", "POST", "/projects/acme/elsewhere/artifacts/copy/versions", json=body).json()
    assert v["digest"] == w.call("owner", "GET", f"/versions/{w.mine.version_id}").json()["digest"]
    assert w.call("owner", "GET", f"/projects/acme/elsewhere/blobs/{w.mine.digest}").status_code == 307


def test_a_digest_never_reads_another_projects_bytes(world: World) -> None:
    w, theirs, base = world, world.theirs, P(world.mine)
    for params in ({}, {"direct": "false"}, {"direct": "false", "filename": "x.bin"}):
        r = w.call("owner", "GET", f"{base}/blobs/{theirs.digest}", params=params, follow_redirects=False)
        assert r.status_code == 404 and b"secret" not in r.content, params
    got = w.call("owner", "POST", f"{base}/blobs/urls", json={"digests": [theirs.digest]}).json()
    assert got["urls"] == {} and got["missing"] == [theirs.digest]
    # a direct URL for it is a staging key of acme's own; bytes PUT there are hashed, not trusted
    body = {"digests": [theirs.digest], "sizes": [len(b"guess")]}
    grant = w.call("owner", "POST", f"{base}/blobs/direct", json=body).json()
    url = grant["urls"][theirs.digest]
    assert "/staging/" in url and theirs.digest.split(":")[1] not in url
    assert httpx.put(url, content=b"guess").status_code == 200
    done = w.call("owner", "POST", f"{base}/blobs/direct/done", json={"digests": [theirs.digest]}).json()
    assert done["through_server"] == [theirs.digest]
    r = w.call(
        "owner",
        "POST",
        f"{base}/artifacts/stolen2/versions",
        json={"type": "model", "entries": [["s.bin", theirs.digest, 2000]]},
    )
    assert r.status_code == 404 and "upload the file" in r.json()["error"]["message"]
    # the victim still reads its own
    assert (
        w.call("victim", "GET", f"{P(theirs)}/blobs/{theirs.digest}", params={"direct": "false"}).content
        == b"the victim's secret " * 100
    )


def test_chunks_only_from_a_readable_versions_tree(world: World) -> None:
    w, theirs = world, world.theirs
    r = w.call("owner", "POST", "/chunks", json={"keys": [theirs.chunk_key]})
    assert r.status_code == 400 and "version_id" in r.json()["error"]["message"]
    r = w.call("owner", "POST", "/chunks", json={"version_id": theirs.version_id, "keys": [theirs.chunk_key]})
    assert r.status_code == 404
    r = w.call("owner", "POST", "/chunks", json={"version_id": w.mine.version_id, "keys": [theirs.chunk_key]})
    assert r.status_code == 200 and r.json() == {"chunks": {}}
    r = w.call("owner", "POST", "/chunks", json={"version_id": w.mine.version_id, "keys": [w.mine.chunk_key]})
    assert list(r.json()["chunks"]) == [w.mine.chunk_key]


def test_another_projects_staged_upload_cannot_be_completed(world: World) -> None:
    w = world
    data = b"victim's second upload " * 10
    up = w.call(
        "victim", "POST", f"{P(w.theirs)}/blobs/uploads", json={"digest": digest_of(data), "size": len(data)}
    ).json()
    assert httpx.put(up["urls"][0], content=data).status_code == 200
    body = {"upload_id": up["upload_id"], "digest": digest_of(data)}
    r = w.call("owner", "POST", f"{P(w.mine)}/blobs/uploads/complete", json=body)
    assert r.status_code == 404 and "has no staged upload" in r.json()["error"]["message"]
    assert w.call("owner", "GET", f"{P(w.mine)}/blobs/{digest_of(data)}", follow_redirects=False).status_code == 404
    # another digest under the victim's own key is refused the same way
    r = w.call("victim", "POST", f"{P(w.theirs)}/blobs/uploads/complete", json={**body, "digest": digest_of(b"other")})
    assert r.status_code == 404
    assert w.call("victim", "POST", f"{P(w.theirs)}/blobs/uploads/complete", json=body).status_code == 201
    r = w.call("victim", "POST", f"{P(w.theirs)}/blobs/uploads/complete", json=body)
    assert r.status_code == 201 and r.json()["stored"] is True  # a retry (its answer lost): the victim holds it
    r = w.call("owner", "POST", f"{P(w.mine)}/blobs/uploads/complete", json=body)
    assert r.status_code == 404 and "has no staged upload" in r.json()["error"]["message"]  # used up


def test_a_staged_upload_above_the_largest_blob_is_refused(world: World, server_stack) -> None:
    w = world
    s3 = server_stack.seaweed.client()
    before = s3.list_multipart_uploads(Bucket="cairn", Prefix=f"{PREFIX}/").get("Uploads", [])
    r = w.call("owner", "POST", f"{P(w.mine)}/blobs/uploads", json={"digest": digest_of(b"huge"), "size": 10**18})
    assert r.status_code == 413
    msg = r.json()["error"]["message"]
    assert "1000000000000000000 bytes" in msg and str(8 << 30) in msg
    assert s3.list_multipart_uploads(Bucket="cairn", Prefix=f"{PREFIX}/").get("Uploads", []) == before
