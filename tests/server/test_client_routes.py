"""The server's routes and ``HttpClient`` cannot drift apart.

Every operation of the ``Client`` protocol is run through an ``HttpClient`` against the real
app (uvicorn over an embedded store); each request it sends is recorded and must be a route of
the app's OpenAPI document, with a body that the route's request model takes (every field it
sends declared, every required one sent). The other way round, every route of the document is
one the client used, or is listed in ``NOT_THE_CLIENTS`` with the reason. And the keyword
contracts of the edit operations (``core/changes.py``) name the fields of the server's request
models."""

from __future__ import annotations

import contextlib
import json
import re
import types
import typing
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import urllib3

from cairn.client.base import Client
from cairn.client.http import HttpClient
from cairn.client.settings import Settings
from cairn.core import changes
from cairn.core.manifest import Entry
from cairn.core.names import ArtifactRef
from cairn.core.versions import CommitRequest, Edits
from cairn.engine.retention import Retention
from cairn.server import models

API = "/api/v1"

PROJECT = f"{API}/projects/{{entity}}/{{project}}"

# Routes of the API that HttpClient has no use for, each with the reason.
NOT_THE_CLIENTS: dict[tuple[str, str], str] = {
    ("GET", f"{API}/versions/{{version_id}}/history"): "the UI's history of a version (who changed what, when)",
}
# The blob transfers the client uses only when the server's blob store hands out presigned
# URLs (S3), and those it uses only when it does not (the bytes go through the server).
WITH_PRESIGNED: dict[tuple[str, str], str] = {
    ("POST", f"{PROJECT}/blobs/direct/done"): "blobs of 64 KiB to 8 MiB PUT to staging keys, then checked in",
    ("POST", f"{PROJECT}/blobs/uploads/complete"): "a large blob's multipart upload, completed",
}
WITHOUT_PRESIGNED: dict[tuple[str, str], str] = {
    ("PUT", f"{PROJECT}/blobs/{{digest}}"): "a large blob streamed through the server",
}

# Operations that need no request of their own (they hand work to the ones that do).
NO_REQUEST = {"ingest", "ingest_dir", "ingest_bytes"}

MiB = 1 << 20


def protocol_operations() -> list[str]:
    return sorted(n for n, v in vars(Client).items() if not n.startswith("_") and callable(v))


@contextlib.contextmanager
def recording(url: str, home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Recorder]:
    """An HttpClient of the server at ``url`` whose requests to it are recorded."""
    rec = Recorder(url)
    real = urllib3.PoolManager.urlopen

    def urlopen(pool: urllib3.PoolManager, method: str, url: str, *args: Any, **kw: Any) -> Any:
        rec.request(method, url, kw.get("body"), kw.get("headers") or {})
        return real(pool, method, url, *args, **kw)

    monkeypatch.setattr(urllib3.PoolManager, "urlopen", urlopen)
    rec.client = HttpClient(Settings(home / "home", home / "cache", url, None, None, None))
    try:
        yield rec
    finally:
        rec.client.close()


class Recorder:
    """The requests sent to the server, by the outermost Client operation that sent them."""

    def __init__(self, url: str) -> None:
        self.base = url
        self.client: HttpClient
        self.doing: list[str] = []
        self.sent: dict[str, list[tuple[str, str, Any, dict]]] = {}

    def request(self, method: str, url: str, body: Any, headers: dict) -> None:
        if url.startswith(self.base):  # not a presigned transfer to the blob store
            op = self.doing[0] if self.doing else "?"
            self.sent.setdefault(op, []).append((method, urlsplit(url).path, body, dict(headers)))

    def during(self, op: str, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` with its requests recorded as ``op``'s (work an operation hands back)."""
        self.doing.append(op)
        try:
            return fn()
        finally:
            self.doing.pop()

    def __getattr__(self, op: str) -> Callable:
        """``rec.commit(...)``: the client's operation, its requests recorded under its name."""
        fn = getattr(self.client, op)

        def call(*args: Any, **kw: Any) -> Any:
            self.doing.append(op)
            try:
                out = fn(*args, **kw)
                if isinstance(out, types.GeneratorType):  # ingest_dir works as it is iterated
                    out = list(out)
                self.sent.setdefault(op, [])
                return out
            finally:
                self.doing.pop()

        return call


def run_every_operation(c: Recorder, work: Path) -> None:
    e, p = c.during("entity", lambda: c.client.entity), f"routes-{uuid.uuid4().hex[:8]}"
    (work / "d").mkdir(parents=True)
    (work / "d" / "small.txt").write_bytes(b"small file")
    (work / "big.bin").write_bytes(bytes(range(256)) * (9 * MiB // 256))  # past the direct-upload size
    (work / "mid.bin").write_bytes(bytes(range(256)) * (256 * 1024 // 256))  # direct, not batched
    stored = c.ingest([str(work / "big.bin"), str(work / "mid.bin")])
    windows = c.ingest_dir(str(work / "d"))
    d_small, n_small = c.ingest_bytes(b"some bytes")
    assert windows and stored
    big = Entry("big.bin", *stored[str(work / "big.bin")])
    mid = Entry("mid.bin", *stored[str(work / "mid.bin")])
    small = Entry("b.txt", d_small, n_small)
    c.missing_blobs(e, p, [small.digest, big.digest])
    run = c.create_run(e, p, name="maker")
    v1 = c.commit(CommitRequest(e, p, "data", "dataset", [big, mid, small], aliases=["best"], run_id=run.id))
    c.upsert_draft(CommitRequest(e, p, "data", "dataset", [small], run_id=run.id), "shard")
    v2 = c.finish_draft(CommitRequest(e, p, "data", "dataset", [], run_id=run.id), "shard")
    edit = Edits(upserts={"c.txt": Entry("c.txt", d_small, n_small)})
    c.commit(CommitRequest(e, p, "data", "dataset", None, base_version_id=v1.id, edits=edit))
    assert c.resolve(ArtifactRef("data", "best"), e, p).id == v1.id
    c.get_version(v1.id)
    c.list_versions(e, p, "data")
    c.list_collections(e, p)
    first = c.versions_page(e, p, "data", None, None, 1)
    assert [v.index for v in c.versions_page(e, p, "data", None, first.next, 5).items] == [1, 2]
    assert [x.name for x in c.collections_page(e, p, None, None, 1).items] == ["data"]
    c.list_projects()
    c.update_collection(e, p, "data", description="the data", tags=["raw"])
    c.update_version(v2.id, description="second", add_aliases=["next"], add_tags=["t"], metadata={"k": 1})
    c.alias_history(e, p, "data")
    with c.open_entry(small, v1) as r:
        assert r.read() == b"some bytes"
    c.download([big, small], work / "out", v1)
    assert (work / "out" / "big.bin").stat().st_size == big.size
    c.report_damaged(small.digest, v1)
    tree = c.manifest(v1.manifest_key)  # read as it is walked
    assert [x.path for x in c.during("manifest", lambda: list(tree))] == ["b.txt", "big.bin", "mid.bin"]
    c.set_retention(e, p, "data", Retention(keep_last=5))
    c.get_retention(e, p, "data")
    c.set_retention(e, p, None, Retention(keep_last=9))
    c.get_retention(e, p, None)
    link = c.link_version(v1.id, e, p, "registry-data", aliases=["prod"])
    c.version_links(v1.id)
    c.unlink_version(link.id)
    c.log_history(run.id, [{"_step": 0, "loss": 1.0}], summary={"loss": 1.0})
    c.run_history(run.id)
    c.update_run(run.id, notes="a note", tags=["x"])
    c.finish_run(run.id, 0)
    user = c.create_run(e, p, name="user")
    c.use_version(user.id, v1.id)
    c.get_run(run.id)
    c.list_runs(e, p)
    assert [r.id for r in c.runs_page(e, p, {"name": "user"}, "-created_at", None, 1).items] == [user.id]
    c.run_outputs(run.id)
    c.run_inputs(user.id)
    c.version_users(v1.id)
    c.delete_version(v2.id, delete_aliases=True)
    c.delete_collection(e, p, "data", delete_aliases=True)
    c.delete_project(e, p, delete_aliases=True)


def operation_of(doc: dict, method: str, path: str) -> tuple[str, dict] | None:
    """The OpenAPI path template and operation that serve ``method path``, if any."""
    for template, ops in doc["paths"].items():
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
        if method.lower() in ops and re.match(pattern, path):
            return template, ops[method.lower()]
    return None


def body_problems(doc: dict, op: dict, body: Any, headers: dict) -> list[str]:
    """What is wrong with the body sent against the route's declared request body."""
    declared = (op.get("requestBody") or {}).get("content", {})
    kind = {k.lower(): v for k, v in headers.items()}.get("content-type", "").split(";")[0]
    if body is None:
        return ["a request body is required"] if (op.get("requestBody") or {}).get("required") else []
    if kind not in declared:
        return [f"sends {kind or 'a body'} but the route takes {sorted(declared) or 'no body'}"]
    if kind != "application/json":
        return []
    schema = declared[kind]["schema"]
    if "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    sent = json.loads(body)
    fields = set(schema.get("properties", {}))
    problems = [f"sends {k!r}, which the model does not declare" for k in sorted(set(sent) - fields)]
    problems += [f"leaves out the required {k!r}" for k in sorted(set(schema.get("required", [])) - set(sent))]
    return problems


def test_the_client_and_the_routes_agree_on_a_server_that_serves_the_bytes(
    serve_store: Callable, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    with (
        serve_store(tmp_path / "store", lambda home: {}) as server,
        recording(server.url, tmp_path, monkeypatch) as rec,
    ):
        check_routes(rec, tmp_path / "work", presigned=False)


def test_the_client_and_the_routes_agree_on_a_server_that_presigns_s3(
    server_stack: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    with recording(server_stack.urls[0], tmp_path, monkeypatch) as rec:
        check_routes(rec, tmp_path / "work", presigned=True)


def check_routes(rec: Recorder, work: Path, presigned: bool) -> None:
    run_every_operation(rec, work)
    doc = json.loads(rec.during("openapi", lambda: rec.client.rpc.call("GET", "/api/openapi.json")).data)
    del rec.sent["openapi"]

    assert set(protocol_operations()) <= set(rec.sent), "operations the scenario does not run"
    silent = sorted(op for op, sent in rec.sent.items() if not sent and op not in NO_REQUEST)
    assert not silent, f"operations that sent no request: {silent}"

    used: dict[tuple[str, str], list[str]] = {}
    problems = []
    for op, sent in sorted(rec.sent.items()):
        for method, path, body, headers in sent:
            found = operation_of(doc, method, path)
            if found is None:
                problems.append(f"{op}: {method} {path} is no route of the API")
                continue
            template, spec = found
            used.setdefault((method, template), []).append(op)
            problems += [f"{op}: {method} {template}: {p}" for p in body_problems(doc, spec, body, headers)]
    assert not problems, "\n".join(problems)

    routes = {(m.upper(), t) for t, ops in doc["paths"].items() for m in ops}
    listed = set(NOT_THE_CLIENTS) | set(WITH_PRESIGNED) | set(WITHOUT_PRESIGNED)
    assert routes >= listed, f"listed routes that no longer exist: {sorted(listed - routes)}"
    not_here = set(NOT_THE_CLIENTS) | set(WITHOUT_PRESIGNED if presigned else WITH_PRESIGNED)
    unused = sorted(routes - set(used) - not_here)
    assert not unused, f"routes the client did not use and no list names: {unused}"
    wrongly = sorted(set(used) & not_here)
    assert not wrongly, f"routes the client used that a list says it does not use here: {wrongly}"


@pytest.mark.parametrize(
    ("contract", "model", "renamed"),
    [
        (changes.CollectionChanges, models.CollectionPatch, {}),
        (changes.VersionChanges, models.VersionPatch, {}),
        (changes.RunChanges, models.RunPatch, {}),
        (changes.RunOptions, models.RunCreate, {"run_id": "id"}),
    ],
    ids=lambda x: getattr(x, "__name__", ""),
)
def test_the_edit_contracts_are_the_request_models(contract: type, model: type, renamed: dict[str, str]):
    keys = {renamed.get(k, k) for k in typing.get_type_hints(contract)}
    assert keys == set(model.model_fields)


def test_the_request_check_finds_a_stray_field_and_a_missing_one():
    doc = {"components": {"schemas": {"M": {"properties": {"a": {}, "b": {}}, "required": ["a"]}}}}
    op = {"requestBody": {"required": True, "content": {"application/json": {"schema": {"$ref": "#/x/M"}}}}}
    json_ = {"Content-Type": "application/json"}
    assert body_problems(doc, op, b'{"a": 1}', json_) == []
    assert body_problems(doc, op, b'{"b": 1, "c": 2}', json_) == [
        "sends 'c', which the model does not declare",
        "leaves out the required 'a'",
    ]
    assert body_problems(doc, op, b"\x00", {"Content-Type": "application/octet-stream"})
    assert body_problems(doc, op, None, {}) == ["a request body is required"]
    assert operation_of({"paths": {"/v/{id}/x": {"get": {}}}}, "GET", "/v/12/x") == ("/v/{id}/x", {})
    assert operation_of({"paths": {"/v/{id}/x": {"get": {}}}}, "GET", "/v/12/y/x") is None
