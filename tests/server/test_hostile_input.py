"""Hostile input through the real HTTP API, on the embedded-store server (SQLite stores
anything) and on PostgreSQL (which refuses NUL in text and enforces VARCHAR lengths): every
case is a 4xx in the one error shape with a message naming the problem, and nothing is stored."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
from servers import cairn_server

from cairn.core.limits import MAX_JSON_DEPTH

Z = "blake3:" + "0" * 64


def nested(depth: int) -> dict:
    d: dict = {}
    for _ in range(depth - 1):
        d = {"x": d}
    return d


def deep_json(depth: int) -> bytes:
    return b'{"type": "t", "metadata": ' + b'{"x": ' * depth + b"1" + b"}" * depth + b"}"


@pytest.fixture(scope="module")
def embedded_server(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    with cairn_server(home / "srv", {"CAIRN_DIR": str(home)}) as url:
        yield url


@pytest.fixture(params=["embedded", "postgresql"])
def api(request):
    """(base URL, an entity of this test's own) on either server."""
    url = (
        request.getfixturevalue("embedded_server")
        if request.param == "embedded"
        else request.getfixturevalue("server_stack").urls[0]
    )
    return url, f"t{uuid.uuid4().hex[:12]}"


def as_sent(kw: dict) -> dict:
    """``json=`` as escaped ASCII bytes, so that lone surrogates ("\\udc80") can be sent."""
    if "json" not in kw:
        return kw
    rest = {k: v for k, v in kw.items() if k != "json"}
    return {**rest, "content": json.dumps(kw["json"]).encode(), "headers": {"content-type": "application/json"}}


def stored(url: str, entity: str) -> dict:
    """Everything stored under ``entity``: projects, collections with their versions, runs."""
    out: dict = {}
    for p in httpx.get(f"{url}/api/v1/projects", params={"entity": entity}, timeout=60).json()["projects"]:
        base = f"{url}/api/v1/projects/{entity}/{p['project']}"
        cols = httpx.get(f"{base}/artifacts", timeout=60).json()["collections"]
        runs = httpx.get(f"{base}/runs", timeout=60).json()["runs"]
        out[p["project"]] = {
            "collections": {
                c["name"]: httpx.get(f"{base}/artifacts/{c['name']}/versions", timeout=60).json()["versions"]
                for c in cols
            },
            "runs": runs,
        }
    return out


C = "/projects/{e}/p/artifacts/ds/versions"
D = "/projects/{e}/p/artifacts/ds/drafts/{did}/upsert"
R = "/projects/{e}/p/runs"

# (method, path, keyword arguments of the request, words the message must hold)
CASES = [
    # NUL and invisible characters in strings
    ("POST", C, {"json": {"type": "t", "aliases": ["a\x00b"]}}, "aliases[0]"),
    ("POST", C, {"json": {"type": "t", "aliases": ["best\u200b"]}}, "U+200B (ZERO WIDTH SPACE)"),
    ("POST", C, {"json": {"type": "t", "aliases": ["\u202eevil"]}}, "U+202E"),
    ("POST", C, {"json": {"type": "t", "aliases": [".."]}}, "cannot be reached through a URL"),
    ("POST", C, {"json": {"type": "t", "tags": ["x\x00"]}}, "tags[0]"),
    ("POST", C, {"json": {"type": "t", "tags": ["x\u2060y"]}}, "tag"),
    ("POST", C, {"json": {"type": "t", "description": "a\x00b"}}, "NUL"),
    ("POST", C, {"json": {"type": "t", "description": "\udc80"}}, "surrogate"),
    ("POST", C, {"json": {"type": "t\x00"}}, "body.type"),
    ("POST", C, {"json": {"type": "t", "run_id": "r\x00"}}, "body.run_id"),
    ("POST", C, {"json": {"type": "t", "entries": [["a\x00", Z, 1]]}}, "control characters"),
    ("POST", C, {"json": {"type": "t", "entries": [["a", "uri:x", 1, "s3://b/\x00"]]}}, "body.entries[0][3]"),
    ("POST", "/projects/a%00b/p/artifacts/ds/versions", {"json": {"type": "t"}}, "entity"),
    ("POST", "/projects/{e}/p/artifacts/d%00s/versions", {"json": {"type": "t"}}, "name"),
    ("POST", R, {"json": {"id": "r\x00"}}, "body.id"),
    ("POST", R, {"json": {"name": "a\x00b"}}, "body.name"),
    ("POST", R, {"json": {"group": "g\x00"}}, "body.group"),
    ("POST", R, {"json": {"job_type": "j\x00"}}, "body.job_type"),
    ("POST", R, {"json": {"name": "a\u200bb"}}, "U+200B"),
    ("POST", R, {"json": {"config": {"k": "\ud800"}}}, "valid Unicode"),
    ("POST", D.replace("{did}", "d%00"), {"json": {"type": "t"}}, "distributed_id"),
    # strings longer than their column
    ("POST", R, {"json": {"id": "r" * 100}}, "at most 64"),
    ("POST", R, {"json": {"name": "n" * 257}}, "at most 256"),
    ("POST", R, {"json": {"group": "g" * 257}}, "at most 256"),
    ("POST", R, {"json": {"job_type": "j" * 257}}, "at most 256"),
    ("POST", C, {"json": {"type": "t", "run_id": "r" * 100}}, "at most 64"),
    ("POST", C, {"json": {"type": "t" * 129}}, "at most 128"),
    ("POST", C, {"json": {"type": "t", "aliases": ["a" * 129]}}, "at most 128"),
    ("POST", C, {"json": {"type": "t", "tags": ["a" * 129]}}, "at most 128"),
    ("POST", "/projects/" + "e" * 129 + "/p/artifacts/ds/versions", {"json": {"type": "t"}}, "at most 128"),
    ("POST", D.replace("{did}", "d" * 300), {"json": {"type": "t"}}, "at most 256"),
    (
        "POST",
        D.replace("{did}", "d"),
        {"json": {"type": "t", "entries": [["a", "uri:" + "x" * 400, 1, "http://x/"]]}},
        "at most 300",
    ),
    # names a URL cannot reach
    ("POST", "/projects/{e}/%2E%2E/artifacts/ds/versions", {"json": {"type": "t"}}, "cannot be reached through a URL"),
    ("POST", "/projects/{e}/p/artifacts/%2E/versions", {"json": {"type": "t"}}, "cannot be reached through a URL"),
    ("POST", R.replace("/p/", "/%2E/"), {"json": {}}, "cannot be reached through a URL"),
    # integers out of range
    ("POST", C, {"json": {"type": "t", "ttl_seconds": 2**63}}, "body.ttl_seconds"),
    ("POST", C, {"json": {"type": "t", "ttl_seconds": 0}}, "body.ttl_seconds"),
    ("POST", C, {"json": {"type": "t", "entries": [["a", Z, 2**63]]}}, "body.entries[0][2]"),
    ("POST", C, {"json": {"type": "t", "base_version_id": 2**63}}, "body.base_version_id"),
    ("POST", "/runs/{r}/finish", {"json": {"exit_code": 2**63}}, "body.exit_code"),
    ("POST", "/runs/{r}/uses", {"json": {"version_id": 2**63}}, "body.version_id"),
    ("GET", "/versions/9223372036854775808", {}, "version_id"),
    ("GET", "/versions/0", {}, "version_id"),
    ("DELETE", "/versions/-1", {}, "version_id"),
    # wrong JSON types
    ("POST", C, {"json": {"type": "t", "description": {"x": 1}}}, "body.description"),
    ("POST", C, {"json": {"type": "t", "description": ["x", "y"]}}, "body.description"),
    ("POST", C, {"json": {"type": "t", "run_id": 7}}, "body.run_id"),
    ("POST", C, {"json": {"type": "t", "run_id": ["a"]}}, "body.run_id"),
    ("POST", C, {"json": {"type": "t", "aliases": "best"}}, "body.aliases"),
    ("POST", C, {"json": {"type": "t", "metadata": [1, 2]}}, "body.metadata"),
    ("POST", C, {"json": {"type": "t", "entries": [["a", Z]]}}, "[path, digest, size, ref?, extra?]"),
    ("POST", C, {"json": {"type": "t", "entries": [{"path": "a"}]}}, "[path, digest, size, ref?, extra?]"),
    ("POST", C, {"json": {"type": "t", "ttl_seconds": "soon"}}, "body.ttl_seconds"),
    ("POST", C, {"json": {"type": "t", "edits": []}}, "body.edits"),
    ("POST", C, {"json": {"type": "t", "surprise": 1}}, "body.surprise"),
    ("POST", C, {"json": ["not", "an", "object"]}, "body"),
    ("POST", R, {"json": {"config": [1]}}, "body.config"),
    # nesting
    ("POST", C, {"content": deep_json(100_000), "headers": {"content-type": "application/json"}}, "body"),
    ("POST", C, {"json": {"type": "t", "metadata": nested(MAX_JSON_DEPTH + 1)}}, f"more than {MAX_JSON_DEPTH} levels"),
    ("POST", R, {"json": {"config": nested(MAX_JSON_DEPTH + 1)}}, f"more than {MAX_JSON_DEPTH} levels"),
    (
        "POST",
        R,
        {
            "content": b'{"config": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
            "headers": {"content-type": "application/json"},
        },
        "body",
    ),
    # query parameters
    ("GET", "/projects", {"params": {"entity": "a\x00"}}, "entity"),
    ("GET", "/projects/{e}/p/artifacts", {"params": {"type": "t\x00"}}, "type"),
    ("GET", "/projects/{e}/p/artifacts/ds/versions", {"params": {"tag": "a" * 200}}, "tag"),
    ("GET", "/runs/{r}", {"params": {"entity": "e\x00"}}, "entity"),
    ("GET", "/runs/r%00", {}, "run_id"),
    ("GET", "/runs/" + "r" * 65, {}, "run_id"),
    ("GET", "/projects/{e}/p/artifacts/ds/resolve/a%00", {}, "alias"),
    ("GET", "/projects/{e}/p/artifacts/ds/resolve/" + "a" * 129, {}, "alias"),
    ("GET", "/projects/{e}/p/blobs/blake3:%00", {}, "digest"),
    ("POST", "/chunks", {"json": {"version_id": 1, "keys": ["k\x00"]}}, "keys[0]"),
    ("POST", "/projects/{e}/p/blobs/missing", {"json": {"digests": ["blake3:\x00"]}}, "digests[0]"),
    ("POST", "/projects/{e}/p/blobs/urls", {"json": {"digests": [Z + "\x00"]}}, "digests[0]"),
    ("POST", "/projects/{e}/p/blobs/uploads/complete", {"json": {"upload_id": "u\x00", "digest": Z}}, "upload_id"),
]


@pytest.mark.parametrize(("method", "path", "kw", "says"), CASES, ids=range(len(CASES)))
def test_hostile_input_is_a_clear_400_and_stores_nothing(api, method, path, kw, says):
    url, entity = api
    run = ""
    if "{r}" in path:  # a run of the caller's own: authorization (which comes first) lets it through
        run = httpx.post(f"{url}/api/v1/projects/{entity}/p/runs", json={}).json()["id"]
    before = stored(url, entity)
    r = httpx.request(method, url + "/api/v1" + path.format(e=entity, r=run), timeout=60, **as_sent(kw))
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["type"] in ("UsageError", "InvalidPathError") and says in err["message"], err
    assert stored(url, entity) == before


def _version(url: str, entity: str) -> dict:
    r = httpx.post(
        f"{url}/api/v1/projects/{entity}/p/artifacts/ds/versions",
        json={"type": "t", "description": "kept", "metadata": {"a": 1}, "aliases": ["keep"]},
        timeout=60,
    )
    assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.parametrize(
    ("patch", "says"),
    [
        ({"description": "a\x00"}, "NUL"),
        ({"description": {"x": 1}}, "body.description"),
        ({"description": ["x", "y"]}, "body.description"),
        ({"ttl_seconds": 2**63}, "body.ttl_seconds"),
        ({"metadata": nested(MAX_JSON_DEPTH + 1)}, "levels deep"),
        ({"aliases": ["keep", "a\u200b"]}, "U+200B"),
        ({"aliases": ["keep", "a\x00"]}, "aliases[1]"),
        ({"tags": ["t\x00"]}, "tags[0]"),
        ({"run_id": "r" * 100}, "at most 64"),
        ({"run_id": 5}, "body.run_id"),
    ],
)
def test_bad_edits_of_a_version_change_nothing(api, patch, says):
    url, entity = api
    v = _version(url, entity)
    r = httpx.patch(f"{url}/api/v1/versions/{v['id']}", **as_sent({"json": patch}), timeout=60)
    assert r.status_code == 400, r.text
    assert says in r.json()["error"]["message"]
    after = httpx.get(f"{url}/api/v1/versions/{v['id']}", timeout=60).json()
    assert after == v


def test_stored_values_come_back_as_sent(api):
    """The longest values the limits allow, and text with newlines and other scripts, are stored."""
    url, entity = api
    base = f"{url}/api/v1/projects/{entity}/p"
    run = httpx.post(
        f"{base}/runs",
        json={
            "id": "r" * 64,
            "name": "n" * 256,
            "group": "g" * 256,
            "job_type": "j" * 256,
            "config": nested(MAX_JSON_DEPTH),
        },
        timeout=60,
    )
    assert run.status_code == 200, run.text
    body = {
        "type": "t" * 128,
        "description": "line\nnext — ✓",
        "aliases": ["a" * 128],
        "tags": ["t" * 128],
        "ttl_seconds": 100 * 365 * 86400,
        "run_id": "r" * 64,
        "metadata": nested(MAX_JSON_DEPTH),
    }
    r = httpx.post(f"{base}/artifacts/{'n' * 128}/versions", json=body, timeout=60)
    assert r.status_code == 200, r.text
    v = r.json()
    assert (v["description"], v["aliases"], v["tags"], v["run_id"]) == (
        "line\nnext — ✓",
        ["latest", "a" * 128],
        ["t" * 128],
        "r" * 64,
    )


@pytest.mark.parametrize("page", ["²", "٣", "1" * 5000, "-1", "x"])
def test_ui_page_numbers_that_are_not_plain_numbers_show_the_first_page(embedded_server, page):
    entity = f"t{uuid.uuid4().hex[:12]}"
    assert (
        httpx.post(f"{embedded_server}/api/v1/projects/{entity}/p/runs", json={"name": "r"}, timeout=60).status_code
        == 200
    )
    r = httpx.get(f"{embedded_server}/{entity}/p", params={"runs_page": page}, timeout=60)
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]


@pytest.mark.parametrize("path", ["/a%00b/p", "/" + "e" * 129 + "/p", "/e/%2E%2E/x"])
def test_ui_pages_refuse_malformed_names(embedded_server, path):
    r = httpx.get(embedded_server + path, timeout=60)
    assert r.status_code == 400 and "text/html" in r.headers["content-type"]


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", "/projects/e/p/blobs/missing", "POST"),
        ("OPTIONS", "/projects/e/p/blobs/batch", "POST"),
        ("OPTIONS", "/versions/1", "DELETE, GET, PATCH"),
        ("OPTIONS", "/projects/e/p/blobs/blake3:" + "0" * 64, "GET, PUT"),
    ],
)
def test_a_wrong_method_is_a_405_listing_every_method_of_the_path(embedded_server, method, path, allow):
    r = httpx.request(method, f"{embedded_server}/api/v1{path}", timeout=60)
    assert r.status_code == 405 and r.headers["allow"] == allow
    assert r.json()["error"]["message"] == "Method Not Allowed"


@pytest.mark.parametrize("deep_row", ["extra", "row"])
def test_a_streamed_commit_nested_100000_levels_is_a_400(embedded_server, deep_row):
    """A commit body past bodies.STREAM_FROM is parsed as a stream; an entry nested 100,000
    levels (in its ``extra``, or the row itself) at its very end is a 400 naming the entry,
    not a RecursionError (a 500), and nothing is stored."""
    from cairn.server.bodies import STREAM_FROM

    url, entity = embedded_server, f"t{uuid.uuid4().hex[:12]}"
    depth = 100_000
    nest = b'{"x": ' * depth + b"1" + b"}" * depth
    row = b'[%s, "%s", 1]'
    n = STREAM_FROM // len(row % (b'"f0000000"', Z.encode())) + 1000
    rows = [row % (b'"f%07d"' % i, Z.encode()) for i in range(n)]
    rows.append(
        b'["deep", "' + Z.encode() + b'", 1, null, ' + nest + b"]" if deep_row == "extra" else b"[" + nest + b"]"
    )
    body = b'{"type": "t", "entries": [' + b", ".join(rows) + b"]}"
    assert len(body) > STREAM_FROM
    before = stored(url, entity)
    r = httpx.post(
        f"{url}/api/v1/projects/{entity}/p/artifacts/ds/versions",
        content=body,
        headers={"content-type": "application/json"},
        timeout=120,
    )
    assert r.status_code == 400, r.text
    assert f"entries.{n}" in r.text and "levels deep" in r.text, r.text
    assert stored(url, entity) == before


def test_a_bad_row_deep_in_a_streamed_commit_is_a_400_naming_that_row(embedded_server):
    """A streamed commit's rows are validated a piece at a time (bodies.VALIDATE rows per
    call, so that no call holds the GIL for long): a bad row past the first pieces of a
    window is still named by its index in the whole body, and nothing is stored."""
    from cairn.server.bodies import STREAM_FROM, VALIDATE, WINDOW

    url, entity = embedded_server, f"t{uuid.uuid4().hex[:12]}"
    row = b'["f%07d", "%s", 1]'
    n = STREAM_FROM // len(row % (0, Z.encode())) + 1000
    bad = WINDOW * 2 + VALIDATE * 3 + 17  # in the third window, its fourth piece
    assert bad < n
    rows = [row % (i, Z.encode()) if i != bad else b'["f%07d", "%s", "one"]' % (i, Z.encode()) for i in range(n)]
    body = b'{"type": "t", "entries": [' + b", ".join(rows) + b"]}"
    assert len(body) > STREAM_FROM
    before = stored(url, entity)
    r = httpx.post(
        f"{url}/api/v1/projects/{entity}/p/artifacts/ds/versions",
        content=body,
        headers={"content-type": "application/json"},
        timeout=120,
    )
    assert r.status_code == 400, r.text
    assert f"body.entries[{bad}][2]" in r.json()["error"]["message"], r.text
    assert stored(url, entity) == before
