"""An attacker with keys of her own probes another entity's ids: every route that takes a
version id, run id, alias or entity answers exactly as for one that does not exist (404,
the same body once the names sent are swapped), and nothing names the other entity's
projects or artifacts. A link whose source the caller cannot read is one such thing: on
every path that reads it (API, UI, SDK) it is missing, never a 403 that names its source.

Real server (PostgreSQL + SeaweedFS, with its web UI), three users:
``alice`` admin on ``lab`` (where the model is logged) and writer of ``reg`` (the registry);
``mallory`` admin of her own entity and writer of ``reg``, no role on ``lab``;
``carol`` reader of ``lab`` only.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass

import httpx
import pytest
from servers import cairn_server

from cairn.engine import accounts as auth
from cairn.storage.meta.sql import MetaStore

PREFIX = "leaks"
SOURCE = "lab/train/net"  # the names mallory must never see


@dataclass
class Ids:
    """What a probe names: the victim's real things, or a ghost's that do not exist."""

    version: int  # a version of lab
    link: int  # a link in reg whose source is lab's version (or, for the ghost, nothing)
    run: str  # a run of lab
    alias: str  # an alias of the link in reg
    entity: str  # an entity mallory has no role on


def mask(text: str, sent: object) -> str:
    """``text`` with the value the probe sent replaced by a placeholder."""
    return re.sub(rf"(?<![\w-]){re.escape(str(sent))}(?![\w-])", "<X>", text)


@dataclass
class World:
    url: str
    keys: dict[str, str]
    victim: Ids
    ghost: Ids
    mine_version: int  # mallory's own
    mine_run: str
    source_run: str = ""

    def call(self, who: str, method: str, path: str, **kw) -> httpx.Response:  # noqa: ANN003
        """One request, retried as the SDK's client retries a busy or briefly unavailable
        server (429/503 with Retry-After): on a loaded host those are not answers to compare."""
        headers = {"Authorization": f"Bearer {self.keys[who]}", **kw.pop("headers", {})}
        for _ in range(10):
            r = httpx.request(method, self.url + path, headers=headers, timeout=60, follow_redirects=False, **kw)
            if r.status_code not in (429, 503) or "retry-after" not in r.headers:
                return r
            time.sleep(float(r.headers["retry-after"]))  # what the server asked for
        return r


def _ok(r: httpx.Response) -> dict:
    assert r.status_code in (200, 201), r.text
    return r.json()


@pytest.fixture(scope="module")
def world(server_stack, tmp_path_factory) -> World:
    from services import create_database

    meta_url = create_database(server_stack.meta_url, "leaks")
    meta = MetaStore(meta_url)
    keys = {user: auth.create_user(meta, user) for user in ("alice", "mallory", "carol")}
    for entity, user, role in (
        ("lab", "alice", "admin"),
        ("reg", "alice", "write"),
        ("reg", "mallory", "write"),
        ("lab", "carol", "read"),
    ):
        auth.add_member(meta, entity, user, role)
    meta.dispose()
    env = {**server_stack.s3_env, "CAIRN_DIR": str(tmp_path_factory.mktemp("leaks-home"))}
    with cairn_server(
        tmp_path_factory.mktemp("leaks-srv"), env, "--meta", meta_url, "--blobs", f"s3://cairn/{PREFIX}"
    ) as url:
        w = World(url, keys, None, None, 0, "")  # type: ignore[arg-type]
        api = "/api/v1/projects"
        blob = b"lab's secret weights " * 50
        digest = _ok(
            w.call("alice", "POST", f"{api}/lab/train/blobs/batch", content=len(blob).to_bytes(4, "big") + blob)
        )["digests"][0]
        run = _ok(w.call("alice", "POST", f"{api}/lab/train/runs", json={"name": "secret-run"}))["id"]
        v = _ok(
            w.call(
                "alice",
                "POST",
                f"{api}/lab/train/artifacts/net/versions",
                json={"type": "model", "entries": [["f.bin", digest, len(blob)]], "run_id": run},
            )
        )
        link = _ok(
            w.call(
                "alice",
                "POST",
                f"/api/v1/versions/{v['id']}/links",
                json={"entity": "reg", "project": "models", "name": "best", "aliases": ["prod"], "run_id": run},
            )
        )
        mine_run = _ok(w.call("mallory", "POST", f"{api}/mallory/own/runs", json={}))["id"]
        mine = _ok(
            w.call(
                "mallory", "POST", f"{api}/mallory/own/artifacts/mine/versions", json={"type": "model", "entries": []}
            )
        )
        w.victim = Ids(v["id"], link["id"], run, "prod", "lab")
        w.ghost = Ids(10**12, 10**12 + 1, "nosuchrun", "nosuchalias", "nosuchentity")
        w.mine_version, w.mine_run, w.source_run = mine["id"], mine_run, run
        yield w


# -- probes: (method, path, request keywords), made from the ids they name ---------------------


def _commit(**extra) -> dict:  # noqa: ANN003
    return (
        {"type": "model", "edits": {}, **extra}
        if "base_version_id" in extra
        else {"type": "model", "entries": [], **extra}
    )


OWN = "/api/v1/projects/mallory/own"

# a version id: lab's version, or reg's link to it (its source unreadable to mallory)
BY_VERSION = {
    "get": lambda w, v: ("GET", f"/api/v1/versions/{v}", {}),
    "patch": lambda w, v: ("PATCH", f"/api/v1/versions/{v}", {"json": {"aliases": ["x"]}}),
    "users": lambda w, v: ("GET", f"/api/v1/versions/{v}/users", {}),
    "links": lambda w, v: ("GET", f"/api/v1/versions/{v}/links", {}),
    "link it": lambda w, v: (
        "POST",
        f"/api/v1/versions/{v}/links",
        {"json": {"entity": "mallory", "project": "own", "name": "stolen"}},
    ),
    "chunks": lambda w, v: ("POST", "/api/v1/chunks", {"json": {"version_id": v, "keys": []}}),
    "base of a commit": lambda w, v: ("POST", f"{OWN}/artifacts/copy/versions", {"json": _commit(base_version_id=v)}),
    "base of a draft": lambda w, v: (
        "POST",
        f"{OWN}/artifacts/copy/drafts/d1/upsert",
        {"json": _commit(base_version_id=v)},
    ),
    "use": lambda w, v: ("POST", f"/api/v1/runs/{w.mine_run}/uses", {"json": {"version_id": v}}),
}
# removing needs no read of the source: only for lab's own version id (a stranger's)
BY_VERSION_REMOVE = {
    "delete": lambda w, v: ("DELETE", f"/api/v1/versions/{v}", {}),
    "unlink": lambda w, v: ("POST", f"/api/v1/versions/{v}/unlink", {}),
}
BY_RUN = {
    "get": lambda w, r: ("GET", f"/api/v1/runs/{r}", {}),
    "get in a project": lambda w, r: ("GET", f"/api/v1/runs/{r}", {"params": {"entity": "mallory", "project": "own"}}),
    "history": lambda w, r: ("GET", f"/api/v1/runs/{r}/history", {}),
    "log": lambda w, r: ("POST", f"/api/v1/runs/{r}/history", {"json": {"rows": [{"_step": 1, "x": 1}]}}),
    "patch": lambda w, r: ("PATCH", f"/api/v1/runs/{r}", {"json": {"notes": "mine now"}}),
    "finish": lambda w, r: ("POST", f"/api/v1/runs/{r}/finish", {"json": {}}),
    "use": lambda w, r: ("POST", f"/api/v1/runs/{r}/uses", {"json": {"version_id": w.mine_version}}),
    "outputs": lambda w, r: ("GET", f"/api/v1/runs/{r}/outputs", {}),
    "inputs": lambda w, r: ("GET", f"/api/v1/runs/{r}/inputs", {}),
    "commit's run": lambda w, r: ("POST", f"{OWN}/artifacts/x/versions", {"json": _commit(run_id=r)}),
    "draft's run": lambda w, r: ("POST", f"{OWN}/artifacts/x/drafts/d2/upsert", {"json": _commit(run_id=r)}),
    "version edit's run": lambda w, r: (
        "PATCH",
        f"/api/v1/versions/{w.mine_version}",
        {"json": {"aliases": ["y"], "run_id": r}},
    ),
    "linking run": lambda w, r: (
        "POST",
        f"/api/v1/versions/{w.mine_version}/links",
        {"json": {"entity": "mallory", "project": "own", "name": "l", "run_id": r}},
    ),
    "ui page": lambda w, r: ("GET", f"/runs/{r}", {}),
}
# the link by name: its alias in reg/models/best
BY_ALIAS = {
    "resolve": lambda w, a: ("GET", f"/api/v1/projects/reg/models/artifacts/best/resolve/{a}", {}),
    "ui version page": lambda w, a: ("GET", f"/reg/models/best/{a}", {}),
    "ui file page": lambda w, a: ("GET", f"/reg/models/best/{a}", {"params": {"path": "f.bin"}}),
    "ui raw file": lambda w, a: ("GET", f"/reg/models/best/{a}/raw", {"params": {"path": "f.bin"}}),
    "ui diff (a)": lambda w, a: ("GET", "/reg/models/best/diff", {"params": {"a": a, "b": a}}),
}
# an entity mallory has no role on, named in a body
BY_ENTITY = {
    "link target": lambda w, e: (
        "POST",
        f"/api/v1/versions/{w.mine_version}/links",
        {"json": {"entity": e, "project": "train", "name": "planted"}},
    ),
}


def _probe(w: World, make, victim: object, ghost: object) -> httpx.Response:  # noqa: ANN001
    method, path, kw = make(w, victim)
    got = w.call("mallory", method, path, **kw)
    method, path, kw = make(w, ghost)
    missing = w.call("mallory", method, path, **kw)
    assert got.status_code == 404, got.text
    assert (got.status_code, mask(got.text, victim)) == (missing.status_code, mask(missing.text, ghost)), (
        "another entity's thing must answer exactly as a missing one"
    )
    for secret in (SOURCE, "secret", w.source_run):
        assert secret not in mask(got.text, victim), secret
    return got


@pytest.mark.parametrize("probe", list(BY_VERSION) + list(BY_VERSION_REMOVE))
def test_another_entitys_version_id_is_missing(world: World, probe: str) -> None:
    w = world
    make = {**BY_VERSION, **BY_VERSION_REMOVE}[probe]
    _probe(w, make, w.victim.version, w.ghost.version)


@pytest.mark.parametrize("probe", list(BY_VERSION))
def test_a_link_whose_source_is_unreadable_is_missing(world: World, probe: str) -> None:
    w = world
    _probe(w, BY_VERSION[probe], w.victim.link, w.ghost.link)


@pytest.mark.parametrize("probe", list(BY_RUN))
def test_another_entitys_run_id_is_missing(world: World, probe: str) -> None:
    w = world
    _probe(w, BY_RUN[probe], w.victim.run, w.ghost.run)


@pytest.mark.parametrize("probe", list(BY_ALIAS))
def test_a_link_by_name_whose_source_is_unreadable_is_missing(world: World, probe: str) -> None:
    w = world
    _probe(w, BY_ALIAS[probe], w.victim.alias, w.ghost.alias)
    # its number too
    _probe(w, BY_ALIAS[probe], "v0", "v9")


@pytest.mark.parametrize("probe", list(BY_ENTITY))
def test_an_entity_named_in_a_body_without_a_role_is_missing(world: World, probe: str) -> None:
    w = world
    _probe(w, BY_ENTITY[probe], w.victim.entity, w.ghost.entity)


def test_the_registry_shows_no_trace_of_an_unreadable_source(world: World) -> None:
    """mallory writes reg: she sees its collection, but not the link, its source or the run
    that made it."""
    w = world
    base = "/api/v1/projects/reg/models/artifacts/best"
    assert _ok(w.call("mallory", "GET", f"{base}/versions")) == {"versions": [], "next": None}
    page = _ok(w.call("mallory", "GET", f"{base}/versions?limit=1"))
    assert page == {"versions": [], "next": None}  # a page neither holds nor counts the hidden link
    # nor the alias moves of links she cannot read: their ids, number and times
    assert _ok(w.call("mallory", "GET", f"{base}/alias-history")) == {"history": []}
    for path in (
        f"{base}/alias-history",
        "/api/v1/projects/reg/models/artifacts",
        "/reg/models",
        "/reg/models/best",
        "/reg/models/best/diff?a=v0&b=latest",
    ):
        r = w.call("mallory", "GET", path)
        assert r.status_code in (200, 404), (path, r.text)
        for secret in (SOURCE, "lab/", "secret", w.source_run):
            assert secret not in r.text, (path, secret)
    # alice, who reads both, sees it all
    assert [v["id"] for v in _ok(w.call("alice", "GET", f"{base}/versions"))["versions"]] == [w.victim.link]
    history = _ok(w.call("alice", "GET", f"{base}/alias-history"))["history"]
    assert {row["run_id"] for row in history} == {w.source_run}
    assert w.victim.link in {row["new_version_id"] for row in history}
    assert w.call("alice", "GET", "/reg/models/best/prod").status_code == 200


def test_removing_a_link_needs_no_read_of_its_source_and_tells_nothing(world: World) -> None:
    """A writer of the registry can remove a link whose source it cannot read (its own
    entity's row); the answer holds nothing of the source."""
    w = world
    extra = _ok(
        w.call(
            "alice",
            "POST",
            f"/api/v1/versions/{w.victim.version}/links",
            json={"entity": "reg", "project": "models", "name": "spare"},
        )
    )
    r = w.call("mallory", "POST", f"/api/v1/versions/{extra['id']}/unlink")
    assert r.status_code == 200 and r.json() == {"ok": True}
    again = _ok(
        w.call(
            "alice",
            "POST",
            f"/api/v1/versions/{w.victim.version}/links",
            json={"entity": "reg", "project": "models", "name": "spare"},
        )
    )
    r = w.call("mallory", "DELETE", f"/api/v1/versions/{again['id']}")
    assert r.status_code == 200 and r.json() == {"ok": True}
    assert _ok(w.call("alice", "GET", f"/api/v1/versions/{w.victim.version}"))["state"] == "COMMITTED"


def test_a_run_shows_no_input_whose_source_is_unreadable(world: World) -> None:
    """A registry's run used the link: mallory, who reads the registry but not the source,
    sees the run without that input, in the API and on its page; alice sees it in both."""
    w = world
    run = _ok(w.call("alice", "POST", "/api/v1/projects/reg/models/runs", json={"name": "evaluate"}))["id"]
    _ok(w.call("alice", "POST", f"/api/v1/runs/{run}/uses", json={"version_id": w.victim.link}))
    shown = {}
    for who in ("alice", "mallory"):
        inputs = _ok(w.call(who, "GET", f"/api/v1/runs/{run}/inputs"))["versions"]
        page = w.call(who, "GET", f"/runs/{run}")
        assert page.status_code == 200
        shown[who] = ([v["id"] for v in inputs], "best:v0" in page.text)
        assert "cannot read" not in page.text  # nor counted ("and 1 version in projects you cannot read")
    assert shown == {"alice": ([w.victim.link], True), "mallory": ([], False)}


def _counts(w: World, who: str) -> dict[str, int]:
    rows = _ok(w.call(who, "GET", "/api/v1/projects/reg/models/artifacts"))["collections"]
    return {c["name"]: c["version_count"] for c in rows if c["name"] in ("best", "mixed")}


def _page_counts(w: World, who: str) -> dict[str, int]:
    page = w.call(who, "GET", "/reg/models")
    assert page.status_code == 200, page.text
    rows = re.findall(r'href="/reg/models/(best|mixed)".*?<td class="num">(\d+)</td>', page.text, re.S)
    return {name: int(n) for name, n in rows}


def test_counts_show_only_what_the_caller_may_see(world: World) -> None:
    """A registry collection counts only the links whose source the caller may read, in the
    API's listing, in the answer to an edit, and on the project page: a count of hidden
    links would tell how many exist. ``best`` holds only lab's link; ``mixed`` one of lab's
    (alice's) and one of mallory's own."""
    w = world
    for who, vid in (("alice", w.victim.version), ("mallory", w.mine_version)):
        _ok(
            w.call(
                who,
                "POST",
                f"/api/v1/versions/{vid}/links",
                json={"entity": "reg", "project": "models", "name": "mixed"},
            )
        )
    # alice reads lab but not mallory's entity; mallory the other way round
    assert _counts(w, "alice") == {"best": 1, "mixed": 1}
    assert _counts(w, "mallory") == {"best": 0, "mixed": 1}
    assert _page_counts(w, "alice") == {"best": 1, "mixed": 1}
    assert _page_counts(w, "mallory") == {"best": 0, "mixed": 1}
    edited = _ok(w.call("mallory", "PATCH", "/api/v1/projects/reg/models/artifacts/best", json={"description": "mine"}))
    assert edited["version_count"] == 0
    mixed = _ok(w.call("mallory", "GET", "/api/v1/projects/reg/models/artifacts/mixed/versions"))["versions"]
    assert [v["source_entity"] if v.get("source_entity") else v["entity"] for v in mixed] == ["mallory"]


def test_the_sdk_says_missing_alike(world: World, monkeypatch) -> None:
    import cairn
    from cairn.client import reset_clients

    w = world
    monkeypatch.setenv("CAIRN_BASE_URL", w.url)
    monkeypatch.setenv("CAIRN_API_KEY", w.keys["mallory"])
    monkeypatch.setenv("CAIRN_ENTITY", "mallory")
    monkeypatch.setenv("CAIRN_SETTINGS", "/nonexistent/settings.json")
    reset_clients()
    try:
        errors = []
        for alias in ("prod", "nosuchalias"):
            with pytest.raises(cairn.CommError) as e:
                cairn.Api().artifact(f"reg/models/best:{alias}")
            errors.append((type(e.value), str(e.value).replace(alias, "<A>")))
        assert errors[0] == errors[1]
        assert SOURCE not in errors[0][1] and "lab" not in errors[0][1]
    finally:
        reset_clients()


def _same_shape(a: object, b: object) -> object:
    """A JSON answer with what differs between two equal requests on different days (times,
    new ids) left out: its keys and the types of its values."""
    if isinstance(a, dict):
        return {k: _same_shape(v, None) for k, v in sorted(a.items())}
    if isinstance(a, list):
        return [_same_shape(v, None) for v in a]
    return type(a).__name__


def test_a_run_id_of_another_entity_is_free_to_a_stranger(world: World) -> None:
    """Run ids are unique within a project: mallory making and using, in her own project, a
    run whose id lab uses gets exactly the answers of an id nobody uses, on every route that
    takes a run id, and nothing of lab's run; lab's run is untouched."""
    w = world
    lab = "/api/v1/projects/lab/train"
    _ok(w.call("alice", "POST", f"{lab}/runs", json={"id": "taken", "name": "secret-run"}))
    _ok(w.call("alice", "POST", "/api/v1/runs/taken/history", json={"rows": [{"_step": 0, "secret": 1}]}))
    _ok(
        w.call(
            "alice", "POST", f"{lab}/artifacts/made/versions", json={"type": "model", "entries": [], "run_id": "taken"}
        )
    )
    _ok(w.call("alice", "POST", "/api/v1/runs/taken/uses", json={"version_id": w.victim.version}))
    link = {"entity": "reg", "project": "models", "name": "by-taken", "run_id": "taken"}
    _ok(w.call("alice", "POST", f"/api/v1/versions/{w.victim.version}/links", json=link))

    def session(rid: str) -> list[tuple[int, object]]:
        own = f"{OWN}/runs"
        steps = [
            ("POST", own, {"json": {"id": rid, "resume": "must"}}),  # not hers yet: missing
            ("GET", f"/api/v1/runs/{rid}", {}),
            ("GET", f"/api/v1/runs/{rid}", {"params": {"entity": "lab", "project": "train"}}),
            ("POST", own, {"json": {"id": rid, "resume": "never"}}),  # a free id to her
            ("POST", own, {"json": {"id": rid}}),  # resumed
            ("POST", f"/api/v1/runs/{rid}/history", {"json": {"rows": [{"_step": 0, "mine": 2}]}}),
            ("GET", f"/api/v1/runs/{rid}/history", {}),
            ("GET", f"/api/v1/runs/{rid}", {}),
            ("GET", f"/api/v1/runs/{rid}", {"params": {"entity": "mallory", "project": "own"}}),
            ("POST", f"/api/v1/runs/{rid}/uses", {"json": {"version_id": w.mine_version}}),
            ("POST", f"{OWN}/artifacts/by-{rid}/versions", {"json": _commit(run_id=rid)}),
            ("POST", f"{OWN}/artifacts/by-{rid}/drafts/d-{rid}/upsert", {"json": _commit(run_id=rid)}),
            ("GET", f"/api/v1/runs/{rid}/inputs", {}),
            ("GET", f"/api/v1/runs/{rid}/outputs", {}),
            ("PATCH", f"/api/v1/runs/{rid}", {"json": {"notes": "mine"}}),
            ("POST", f"/api/v1/runs/{rid}/finish", {"json": {}}),
            ("GET", f"/runs/{rid}", {}),
            ("GET", f"/runs/{rid}/lineage", {}),
            ("GET", "/mallory/own", {}),
        ]
        out = []
        for method, path, kw in steps:
            r = w.call("mallory", method, path, **kw)
            sent = kw.get("params", {}).get("entity") == "lab"  # an answer may name what she sent
            for secret in ("secret", '"made"') if sent else ("secret", "lab/", "train", '"made"'):
                assert secret not in r.text, (path, secret, r.text[:300])
            if r.headers.get("content-type", "").startswith("application/json"):
                body = r.json()
                shown = body if path.endswith("/history") else _same_shape(body, None)
            else:
                shown = None  # a page: its secrets were checked above
            out.append((r.status_code, mask(json.dumps(shown), rid) if shown is not None else None))
        return out

    taken, free = session("taken"), session("unused")
    assert taken == free
    # reg's alias history names runs by id alone: lab's "taken", which moved an alias there,
    # is not revealed to mallory by her own run of that id
    history = w.call("mallory", "GET", "/api/v1/projects/reg/models/artifacts/by-taken/alias-history")
    assert history.status_code == 200 and "taken" not in history.text.replace("by-taken", "")
    assert [s for s, _ in taken][:4] == [404, 404, 404, 200]
    # lab's run is as alice left it
    run = _ok(w.call("alice", "GET", "/api/v1/runs/taken"))
    assert (run["entity"], run["project"], run["name"], run["state"]) == ("lab", "train", "secret-run", "running")
    assert [r["secret"] for r in _ok(w.call("alice", "GET", "/api/v1/runs/taken/history"))["rows"]] == [1]
    inputs = _ok(w.call("alice", "GET", "/api/v1/runs/taken/inputs"))["versions"]
    assert [v["id"] for v in inputs] == [w.victim.version]
    outputs = _ok(w.call("alice", "GET", "/api/v1/runs/taken/outputs"))["versions"]
    assert [v["name"] for v in outputs] == ["made"]
    users = _ok(w.call("alice", "GET", f"/api/v1/versions/{w.victim.version}/users"))["runs"]
    assert {(u["entity"], u["id"]) for u in users} >= {("lab", "taken")}
