"""Bad input over HTTP gets a clear 4xx in the one error shape, never a 500, and stores nothing."""

from __future__ import annotations

import httpx
import pytest
from servers import cairn_server


@pytest.fixture(scope="module")
def open_server(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    with cairn_server(home / "srv", {"CAIRN_DIR": str(home)}, "--no-ui") as url:
        yield url


def commit(url, body, name="ds", **kw):
    return httpx.post(
        f"{url}/api/v1/projects/local/p/artifacts/{name}/versions",
        timeout=30,
        **kw,
        **({"json": body} if body is not None else {}),
    )


def count_versions(url):
    r = httpx.get(f"{url}/api/v1/projects/local/p/artifacts")
    return sum(c["version_count"] for c in r.json()["collections"])


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        ({"type": "dataset", "entries": [["../x", "blake3:" + "0" * 64, 1]]}, 400, "'..' is not allowed"),
        ({"type": "dataset", "entries": [["/etc/passwd", "blake3:" + "0" * 64, 1]]}, 400, "absolute paths"),
        (
            {"type": "dataset", "entries": [["", "blake3:" + "0" * 64, 1]]},
            400,
            "body.entries[0][0] (''): String should have at least 1 character",
        ),
        (
            {"type": "dataset", "entries": [["a", "md5:abc", 1]]},
            400,
            "body.entries[0][1] ('md5:abc'): must be a blob digest",
        ),
        (
            {"type": "dataset", "entries": [["a", "md5:abc", 1, None]]},
            400,
            "body.entries[0][1] ('md5:abc'): must be a digest naming its algorithm",
        ),
        ({"type": "dataset", "entries": [["a", "uri:x", 1, None]]}, 400, "a stored file needs a blake3 digest"),
        (
            {"type": "dataset", "entries": [["a", "blake3:" + "0" * 64, -1]]},
            400,
            "body.entries[0][2] (-1): Input should be greater than or equal to 0",
        ),
        ({"type": "dataset", "entries": "nope"}, 400, "body.entries ('nope'): Input should be a valid array"),
        ({"type": 3}, 400, "body.type (3): Input should be a valid string"),
        ({"type": "dataset", "entries": [["a", "blake3:" + "1" * 64, 1]]}, 404, "missing from the blob store"),
        ({"type": "bad type!", "entries": []}, 400, "body.type ('bad type!'): must be letters, digits"),
        ({"type": "dataset", "aliases": ["v3"], "entries": []}, 400, "reserved"),
    ],
)
def test_bad_commits_are_refused(open_server, body, status, needle):
    before = count_versions(open_server)
    r = commit(open_server, body)
    assert r.status_code == status, r.text
    assert needle in r.json()["error"]["message"]
    assert count_versions(open_server) == before


def test_malformed_json_and_unknown_names(open_server):
    r = commit(open_server, None, content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400 and "Invalid JSON" in r.json()["error"]["message"]
    r = commit(open_server, {"type": "t", "entries": []}, name="bad name")
    assert r.status_code == 400
    r = httpx.get(f"{open_server}/api/v1/projects/local/p/artifacts/nosuch/resolve/latest")
    assert r.status_code == 404 and r.json()["error"]["type"] == "ArtifactNotFoundError"
    r = httpx.get(f"{open_server}/api/v1/versions/999999")
    assert r.status_code == 404
    r = httpx.post(f"{open_server}/api/v1/runs/nosuchrun/finish", json={})
    assert r.status_code == 404
    r = httpx.get(f"{open_server}/api/v1/nowhere")
    assert r.status_code == 404 and "error" in r.json()


def test_oversized_request_is_413(open_server):
    big = b"x" * (257 << 20)
    r = httpx.post(
        f"{open_server}/api/v1/projects/local/p/artifacts/ds/versions",
        content=big,
        headers={"content-type": "application/json"},
        timeout=60,
    )
    assert r.status_code == 413 and "larger than this server accepts" in r.json()["error"]["message"]


def test_blob_upload_must_match_its_digest(open_server):
    url = f"{open_server}/api/v1/projects/local/p/blobs/blake3:" + "2" * 64
    r = httpx.put(url, content=b"not those bytes")
    assert r.status_code == 422 and "nothing was stored" in r.json()["error"]["message"]
    r = httpx.post(f"{open_server}/api/v1/projects/local/p/blobs/missing", json={"digests": ["blake3:" + "2" * 64]})
    assert r.json()["missing"] == ["blake3:" + "2" * 64]
    r = httpx.put(f"{open_server}/api/v1/projects/local/p/blobs/sha1:abc", content=b"x")
    assert r.status_code == 400


def test_openapi_documents_the_api(open_server):
    spec = httpx.get(f"{open_server}/api/openapi.json").json()
    assert "/api/v1/projects/{entity}/{project}/artifacts/{name}/versions" in spec["paths"]
    assert "/api/v1/projects/{entity}/{project}/blobs/missing" in spec["paths"]


def test_dedup_never_crosses_projects(open_server):
    """A blob uploaded to one project cannot be claimed by another without sending it."""
    import blake3

    data = b"secret weights of project a"
    digest = "blake3:" + blake3.blake3(data).hexdigest()
    r = httpx.put(f"{open_server}/api/v1/projects/local/a/blobs/{digest}", content=data)
    assert r.status_code == 201
    r = httpx.post(f"{open_server}/api/v1/projects/local/b/blobs/missing", json={"digests": [digest]})
    assert r.json()["missing"] == [digest]
    body = {"type": "model", "entries": [["w.bin", digest, len(data)]]}
    r = httpx.post(f"{open_server}/api/v1/projects/local/b/artifacts/stolen/versions", json=body)
    assert r.status_code == 404 and "upload the file" in r.json()["error"]["message"]
    r = httpx.post(f"{open_server}/api/v1/projects/local/a/artifacts/mine/versions", json=body)
    assert r.status_code == 200 and r.json()["index"] == 0


def test_unreachable_server_is_a_clear_error(monkeypatch):
    from services import free_ports

    import cairn
    from cairn.client import reset_clients
    from cairn.client.retry import RetryPolicy

    monkeypatch.setattr("cairn.client.retry.POLICY", RetryPolicy(attempts=2))
    monkeypatch.setenv("CAIRN_BASE_URL", f"http://127.0.0.1:{free_ports(1)[0]}")
    monkeypatch.setenv("CAIRN_ENTITY", "someone")
    reset_clients()
    with pytest.raises(cairn.StoreError, match="cannot reach the cairn server at http://127.0.0.1"):
        cairn.Api().artifact("x:latest")
