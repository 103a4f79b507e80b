"""Small blobs go from the client to the object store with presigned PUTs to staging keys,
which the server reads back and hashes before they count: that never lets one project
spoil or read another project's content, nor learn whether another project has it. Blobs
under 64 KiB go through the server in batches instead (fewer requests)."""

from __future__ import annotations

import os
from urllib.parse import urlsplit

import blake3
import httpx
import pytest

import cairn
from cairn.client import get_client, reset_clients


def digest_of(data: bytes) -> str:
    return "blake3:" + blake3.blake3(data).hexdigest()


def api(stack, entity: str, project: str) -> str:  # noqa: ANN001
    return f"{stack.urls[0]}/api/v1/projects/{entity}/{project}"


def stored_object(stack, digest: str) -> bytes:  # noqa: ANN001
    hexd = digest.split(":")[1]
    return stack.seaweed.client().get_object(Bucket="cairn", Key=f"registry/blobs/{hexd[:2]}/{hexd}")["Body"].read()


def put_direct(stack, entity: str, project: str, digest: str, data: bytes, through: bool = False) -> dict:  # noqa: ANN001
    """What a client does: ask for URLs, PUT, report. Returns the server's first answer.
    ``through``: the server is expected to refuse the bytes (send them through it instead)."""
    body = {"digests": [digest], "sizes": [len(data)]}
    grant = httpx.post(f"{api(stack, entity, project)}/blobs/direct", json=body).json()
    if digest in grant["urls"]:
        r = httpx.put(grant["urls"][digest], content=data, headers=grant["headers"])
        assert r.status_code == 200, r.text
        done = httpx.post(f"{api(stack, entity, project)}/blobs/direct/done", json={"digests": [digest]})
        assert done.status_code == 201 and done.json()["through_server"] == ([digest] if through else [])
    return grant


def log_file(tmp_path, name: str, data: bytes, project: str) -> cairn.Artifact:  # noqa: ANN001
    path = tmp_path / name
    path.write_bytes(data)
    with cairn.init(project=project) as run:
        a = cairn.Artifact(name.replace(".", "-"), "dataset")
        a.add_file(str(path))
        run.log_artifact(a)
    return a


def test_small_blobs_go_straight_to_the_store(tmp_path, on_stack, monkeypatch):
    client = get_client()
    sent_via_server: list = []
    original = type(client.uploader).send_batch
    monkeypatch.setattr(
        type(client.uploader),
        "send_batch",
        lambda self, e, p, batch, *task: (sent_via_server.append(batch), original(self, e, p, batch, *task)),
    )
    files = {f"f{i}.bin": os.urandom(100_000 + i) for i in range(5)}
    for name, data in files.items():
        (tmp_path / "d").mkdir(exist_ok=True)
        (tmp_path / "d" / name).write_bytes(data)
    with cairn.init(project="direct") as run:
        a = cairn.Artifact("five", "dataset")
        a.add_dir(str(tmp_path / "d"))
        run.log_artifact(a)
    assert sent_via_server == []
    for data in files.values():
        assert stored_object(on_stack, digest_of(data)) == data
    reset_clients()
    out = cairn.Api().artifact("direct/five:v0").download(tmp_path / "dl")
    assert {n: open(os.path.join(out, n), "rb").read() for n in files} == files


def test_tiny_blobs_go_through_the_server_in_batches(tmp_path, on_stack, monkeypatch):
    """Below BATCH_BELOW (64 KiB) a direct PUT costs the server a read-back, a copy and a
    delete per blob: such blobs travel in batches instead; larger ones still go direct."""
    from cairn.client import uploader

    client = get_client()
    kind = type(client.uploader)
    batched: list[str] = []
    direct: list[str] = []
    send_batch, put = kind.send_batch, kind.put_create_only
    monkeypatch.setattr(
        kind,
        "send_batch",
        lambda self, e, p, batch, *task: (batched.extend(d for d, _ in batch), send_batch(self, e, p, batch, *task)),
    )
    monkeypatch.setattr(
        kind, "put_create_only", lambda self, url, data, headers: (direct.append(url), put(self, url, data, headers))
    )
    tiny = {f"t{i}.bin": os.urandom(1024 + i) for i in range(20)}
    edge = {"edge.bin": os.urandom(uploader.BATCH_BELOW - 1), "big.bin": os.urandom(uploader.BATCH_BELOW)}
    files = {**tiny, **edge}
    (tmp_path / "d").mkdir()
    for name, data in files.items():
        (tmp_path / "d" / name).write_bytes(data)
    with cairn.init(project="tiny") as run:
        a = cairn.Artifact("many", "dataset")
        a.add_dir(str(tmp_path / "d"))
        run.log_artifact(a)
    assert sorted(batched) == sorted(digest_of(files[n]) for n in [*tiny, "edge.bin"])
    assert len(direct) == 1  # big.bin, at the limit
    for data in files.values():
        assert stored_object(on_stack, digest_of(data)) == data
    reset_clients()
    out = cairn.Api().artifact("tiny/many:v0").download(tmp_path / "dl")
    assert {n: open(os.path.join(out, n), "rb").read() for n in files} == files


def test_a_direct_upload_creates_but_never_replaces(on_stack):
    """A direct URL points at a staging key of the project's own; the blob's object is
    created from it only if absent, so a second upload under the same digest changes nothing."""
    entity = os.environ["CAIRN_ENTITY"]
    data = os.urandom(1000)
    digest = digest_of(data)
    put_direct(on_stack, entity, "p", digest, data)
    assert stored_object(on_stack, digest) == data
    put_direct(on_stack, entity, "p2", digest, b"other bytes", through=True)  # hashed: refused
    assert stored_object(on_stack, digest) == data
    body = {"digests": [digest], "sizes": [len(data)]}
    url = httpx.post(f"{api(on_stack, entity, 'p3')}/blobs/direct", json=body).json()["urls"][digest]
    assert "/blobs/" not in url.split("?")[0]  # never the blob's own key


def test_a_bad_direct_upload_cannot_spoil_another_project(tmp_path, on_stack):
    """Project "x" sends garbage under the digest of a file project "y" will log: refused
    after the server hashed it, nothing at the blob's key; y's log then stores the file."""
    entity = os.environ["CAIRN_ENTITY"]
    good = b"the real weights of y" * 1000
    digest = digest_of(good)
    put_direct(on_stack, entity, "x", digest, b"garbage", through=True)
    with pytest.raises(Exception, match="NoSuchKey"):
        stored_object(on_stack, digest)

    log_file(tmp_path, "w.bin", good, project="y")
    assert stored_object(on_stack, digest) == good
    reset_clients()
    out = cairn.Api().artifact("y/w-bin:v0").download(tmp_path / "dl")
    assert open(os.path.join(out, "w.bin"), "rb").read() == good


def test_garbage_is_answered_alike_whoever_holds_the_digest(tmp_path, on_stack):
    """The same answers for a digest another project holds and for one nobody has."""
    entity = os.environ["CAIRN_ENTITY"]
    held = os.urandom(4000)
    log_file(tmp_path, "held.bin", held, project="holder")
    free = digest_of(os.urandom(4000))
    answers = []
    for d in (digest_of(held), free):
        body = {"digests": [d], "sizes": [4000]}
        grant = httpx.post(f"{api(on_stack, entity, 'probe')}/blobs/direct", json=body).json()
        assert httpx.put(grant["urls"][d], content=b"x" * 4000).status_code == 200
        done = httpx.post(f"{api(on_stack, entity, 'probe')}/blobs/direct/done", json={"digests": [d]})
        answers.append((done.status_code, done.text.replace(d, "D")))
    assert answers[0] == answers[1] == (201, '{"through_server":["D"]}')
    assert stored_object(on_stack, digest_of(held)) == held
    with pytest.raises(Exception, match="NoSuchKey"):
        stored_object(on_stack, free)


def test_knowing_a_digest_does_not_get_another_projects_blob(tmp_path, on_stack):
    """Project "a" uploaded its file directly; "b" knows the digest but not the bytes: it gets
    no URL, cannot report the blob as sent, and cannot commit a version naming it."""
    entity = os.environ["CAIRN_ENTITY"]
    secret = os.urandom(5000)
    digest = digest_of(secret)
    log_file(tmp_path, "secret.bin", secret, project="a")

    nobody = digest_of(os.urandom(5000))
    body = {"digests": [digest, nobody], "sizes": [5000, 5000]}
    grant = httpx.post(f"{api(on_stack, entity, 'b')}/blobs/direct", json=body).json()
    # the same answer as for a digest no project has: a URL to a staging key of b's own
    assert set(grant["urls"]) == {digest, nobody} and grant["through_server"] == []
    shape = {d: urlsplit(u).path.rsplit("/", 1)[0] for d, u in grant["urls"].items()}
    assert shape[digest] == shape[nobody]
    done = httpx.post(f"{api(on_stack, entity, 'b')}/blobs/direct/done", json={"digests": [digest, nobody]}).json()
    assert sorted(done["through_server"]) == sorted([digest, nobody])  # nothing was PUT: nothing taken
    assert httpx.put(grant["urls"][digest], content=b"not the secret".ljust(5000)).status_code == 200
    done = httpx.post(f"{api(on_stack, entity, 'b')}/blobs/direct/done", json={"digests": [digest]}).json()
    assert done["through_server"] == [digest]  # the staged bytes were hashed: they do not match
    body = {"type": "model", "entries": [["secret.bin", digest, len(secret)]]}
    r = httpx.post(f"{api(on_stack, entity, 'b')}/artifacts/stolen/versions", json=body)
    assert r.status_code == 404 and "upload the file" in r.json()["error"]["message"]


def test_a_blob_another_project_is_writing_comes_through_the_server(tmp_path, on_stack):
    """While project "c" has staged a digest (its upload not reported yet), "d" logs the same
    bytes through the server; "c"'s staged bytes are then hashed and count as well."""
    entity = os.environ["CAIRN_ENTITY"]
    data = os.urandom(3000)
    digest = digest_of(data)
    body = {"digests": [digest], "sizes": [len(data)]}
    grant = httpx.post(f"{api(on_stack, entity, 'c')}/blobs/direct", json=body).json()
    assert httpx.put(grant["urls"][digest], content=data, headers=grant["headers"]).status_code == 200

    log_file(tmp_path, "shared.bin", data, project="d")  # through the server: checks c's object

    done = httpx.post(f"{api(on_stack, entity, 'c')}/blobs/direct/done", json={"digests": [digest]}).json()
    assert done["through_server"] == []  # c's staged bytes were hashed: they match
    log_file(tmp_path, "shared.bin", data, project="c")
    for project in ("c", "d"):
        reset_clients()
        out = cairn.Api().artifact(f"{project}/shared-bin:v0").download(tmp_path / f"dl-{project}")
        assert open(os.path.join(out, "shared.bin"), "rb").read() == data


@pytest.mark.parametrize("bad", ["sha256:" + "0" * 64, "blake3:xyz"])
def test_direct_urls_only_for_content_digests(on_stack, bad):
    entity = os.environ["CAIRN_ENTITY"]
    r = httpx.post(f"{api(on_stack, entity, 'p')}/blobs/direct", json={"digests": [bad]})
    assert r.status_code == 400 and bad in r.json()["error"]["message"]
