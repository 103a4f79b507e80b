"""Large blobs go in parts straight to their own key in the object store: the server hands
out presigned part URLs bound to the project's upload and completes the upload from the
store's own part list, never reading the bytes; what a caller sends is checked (the upload
id against its project and digest, the parts against the announced size and its part list),
and a blob another project holds is never completed from unread bytes."""

from __future__ import annotations

import os
from urllib.parse import urlsplit

import blake3
import httpx
import pytest

import cairn
from cairn.client import reset_clients

MiB = 1 << 20
PART = 16 * MiB  # the server's store: S3BlobStore's default part size
PREFIX = "registry"  # the session stack's blobs: s3://cairn/registry


def digest_of(data: bytes) -> str:
    return "blake3:" + blake3.blake3(data).hexdigest()


def api(stack, project: str) -> str:  # noqa: ANN001
    return f"{stack.urls[0]}/api/v1/projects/{os.environ['CAIRN_ENTITY']}/{project}"


def blob_key(digest: str) -> str:
    hexd = digest.split(":")[1]
    return f"{PREFIX}/blobs/{hexd[:2]}/{hexd}"


def stored(stack, digest: str) -> bytes | None:  # noqa: ANN001
    s3 = stack.seaweed.client()
    try:
        return s3.get_object(Bucket="cairn", Key=blob_key(digest))["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None


def open_uploads(stack, digest: str) -> set[str]:  # noqa: ANN001
    got = stack.seaweed.client().list_multipart_uploads(Bucket="cairn", Prefix=blob_key(digest))
    return {u["UploadId"] for u in got.get("Uploads", [])}


def staging_keys(stack) -> set[str]:  # noqa: ANN001
    got = stack.seaweed.client().list_objects_v2(Bucket="cairn", Prefix=f"{PREFIX}/staging/")
    return {o["Key"] for o in got.get("Contents", [])}


def start(stack, project: str, data: bytes, size: int | None = None, **extra) -> dict:  # noqa: ANN001, ANN003
    body = {"digest": digest_of(data), "size": len(data) if size is None else size, **extra}
    r = httpx.post(f"{api(stack, project)}/blobs/uploads", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def put_parts(up: dict, data: bytes) -> list[dict]:
    out = []
    for i, url in enumerate(up["urls"]):
        r = httpx.put(url, content=data[i * up["part_size"] : (i + 1) * up["part_size"]], timeout=60)
        assert r.status_code == 200, r.text
        out.append({"number": i + 1, "etag": r.headers["etag"]})
    return out


def complete(stack, project: str, up: dict, digest: str, parts: list[dict] | None) -> httpx.Response:  # noqa: ANN001
    body = {"upload_id": up["upload_id"], "digest": digest, **({"parts": parts} if parts is not None else {})}
    return httpx.post(f"{api(stack, project)}/blobs/uploads/complete", json=body, timeout=60)


def test_a_large_file_goes_straight_to_its_key_and_reads_back_verified(tmp_path, on_stack):
    data = os.urandom(PART + 3 * MiB + 17)  # two parts
    digest = digest_of(data)
    before = staging_keys(on_stack)
    (tmp_path / "ckpt.bin").write_bytes(data)
    with cairn.init(project="big") as run:
        a = cairn.Artifact("ckpt", "model")
        a.add_file(str(tmp_path / "ckpt.bin"))
        run.log_artifact(a)
    assert stored(on_stack, digest) == data
    head = on_stack.seaweed.client().head_object(Bucket="cairn", Key=blob_key(digest))
    assert head["ETag"].strip('"').endswith("-2")  # the client's two parts, completed in place: no copy
    assert staging_keys(on_stack) <= before  # nothing staged for the server to read back
    assert open_uploads(on_stack, digest) == set()
    reset_clients()
    out = cairn.Api().artifact("big/ckpt:v0").download(tmp_path / "dl")
    assert open(os.path.join(out, "ckpt.bin"), "rb").read() == data


def test_the_answer_is_the_same_whoever_holds_the_blob(tmp_path, on_stack):
    """The URLs point at the blob's own key whether or not another project holds it; the
    upload of a held blob is not completed from unread bytes: the project is asked for a
    checked upload, and garbage there is refused."""
    held = os.urandom(PART + 5)
    (tmp_path / "held.bin").write_bytes(held)
    with cairn.init(project="owner") as run:
        a = cairn.Artifact("held", "model")
        a.add_file(str(tmp_path / "held.bin"))
        run.log_artifact(a)
    fresh = os.urandom(PART + 5)
    a_held, a_fresh = start(on_stack, "prober", held), start(on_stack, "prober", fresh)
    shape = {k: (v["checked"], len(v["urls"]), v["part_size"]) for k, v in (("h", a_held), ("f", a_fresh))}
    assert shape["h"] == shape["f"] == (False, 2, PART)
    paths = {k: urlsplit(v["urls"][0]).path for k, v in (("h", a_held), ("f", a_fresh))}
    assert paths["h"].endswith(blob_key(digest_of(held))) and paths["f"].endswith(blob_key(digest_of(fresh)))

    garbage = os.urandom(len(held))
    r = complete(on_stack, "prober", a_held, digest_of(held), put_parts(a_held, garbage))
    assert r.status_code == 201 and r.json()["stored"] is False
    assert stored(on_stack, digest_of(held)) == held and open_uploads(on_stack, digest_of(held)) == set()
    checked = start(on_stack, "prober", held, checked=True)
    assert checked["checked"] is True and "/staging/" in urlsplit(checked["urls"][0]).path
    put_parts(checked, garbage)
    r = complete(on_stack, "prober", checked, digest_of(held), None)
    assert r.status_code == 422 and "do not match" in r.json()["error"]["message"]
    assert stored(on_stack, digest_of(held)) == held

    # the SDK takes the same two steps with the real bytes, and the blob reads back
    with cairn.init(project="prober") as run:
        a = cairn.Artifact("held", "model")
        a.add_file(str(tmp_path / "held.bin"))
        run.log_artifact(a)
    reset_clients()
    out = cairn.Api().artifact("prober/held:v0").download(tmp_path / "dl")
    assert open(os.path.join(out, "held.bin"), "rb").read() == held


def test_an_upload_id_is_the_projects_and_the_digests(on_stack):
    data = os.urandom(MiB)
    digest = digest_of(data)
    up = start(on_stack, "p", data)
    parts = put_parts(up, data)
    for project, d in (("q", digest), ("p", digest_of(b"other"))):
        r = complete(on_stack, project, up, d, parts)
        assert r.status_code == 404 and "has no staged upload" in r.json()["error"]["message"]
    assert stored(on_stack, digest) is None
    r = complete(on_stack, "p", {**up, "upload_id": "parts/" + up["upload_id"]}, digest, parts)
    assert r.status_code == 404  # an id that was never handed out
    assert complete(on_stack, "p", up, digest, parts).status_code == 201
    assert stored(on_stack, digest) == data
    assert complete(on_stack, "p", up, digest, parts).status_code == 404  # used up


@pytest.mark.parametrize("how", ["short part", "long last part", "part missing", "part beyond"])
def test_parts_of_the_wrong_size_are_refused_and_the_upload_aborted(on_stack, how):
    data = os.urandom(PART + MiB)
    digest = digest_of(data)
    up = start(on_stack, "sizes", data)
    first, last = data[:PART], data[PART:]
    sent = {
        "short part": [first[:-1], last],
        "long last part": [first, last + b"x"],
        "part missing": [first],
        "part beyond": [first, last, b"more"],
    }[how]
    urls = up["urls"]
    if how == "part beyond":  # a URL for part 3 is not handed out; the client signs nothing, so take the store's own
        s3 = on_stack.seaweed.client()
        upload_id = up["upload_id"].removeprefix("parts/")
        urls = [
            *urls,
            s3.generate_presigned_url(
                "upload_part",
                Params={"Bucket": "cairn", "Key": blob_key(digest), "UploadId": upload_id, "PartNumber": 3},
            ),
        ]
    for url, body in zip(urls, sent, strict=False):
        assert httpx.put(url, content=body, timeout=60).status_code == 200
    r = complete(on_stack, "sizes", up, digest, None)
    assert r.status_code == 400
    msg = r.json()["error"]["message"]
    assert "start the upload again" in msg and digest in msg
    assert stored(on_stack, digest) is None
    assert open_uploads(on_stack, digest) == set()  # aborted: its parts are gone


def test_a_part_list_that_does_not_match_is_refused(on_stack):
    data = os.urandom(PART + MiB)
    digest = digest_of(data)
    up = start(on_stack, "etags", data)
    parts = put_parts(up, data)
    wrong_lists = [
        lambda sent: [sent[0], {"number": 2, "etag": '"' + "0" * 32 + '"'}],  # other bytes than the store holds
        lambda sent: [sent[0]],  # a part left out
        lambda sent: [{**sent[0], "number": 2}, {**sent[1], "number": 1}],  # numbers swapped
    ]
    for wrong in wrong_lists:
        other = start(on_stack, "etags", data)
        r = complete(on_stack, "etags", other, digest, wrong(put_parts(other, data)))
        assert r.status_code == 400 and "does not match" in r.json()["error"]["message"], r.text
        assert stored(on_stack, digest) is None
    assert complete(on_stack, "etags", up, digest, parts).status_code == 201
    assert stored(on_stack, digest) == data
    assert open_uploads(on_stack, digest) == set()


def test_sizes_are_bounded_before_anything_is_opened(on_stack):
    s3 = on_stack.seaweed.client()
    before = s3.list_multipart_uploads(Bucket="cairn", Prefix=f"{PREFIX}/").get("Uploads", [])
    digest = digest_of(b"huge")
    r = httpx.post(f"{api(on_stack, 'huge')}/blobs/uploads", json={"digest": digest, "size": 10**18})
    assert r.status_code == 413 and str(8 << 30) in r.json()["error"]["message"]
    r = httpx.post(f"{api(on_stack, 'huge')}/blobs/uploads", json={"digest": digest, "size": -1})
    assert r.status_code == 400
    assert s3.list_multipart_uploads(Bucket="cairn", Prefix=f"{PREFIX}/").get("Uploads", []) == before
