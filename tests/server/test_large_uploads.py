"""Large blobs go in parts to a staging key unique to the upload: the server hands out
presigned part URLs bound to the project's upload, completes the upload from the store's
own part list, then reads the bytes back and hashes them before copying them into place.
What a caller sends is checked (the upload id against its project and digest, the parts
against the announced size and its part list), the answer never depends on what other
projects hold, and no unread byte ever sits at (or replaces) a blob's own key."""

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


def staged_uploads_left(stack) -> list:  # noqa: ANN001
    got = stack.seaweed.client().list_multipart_uploads(Bucket="cairn", Prefix=f"{PREFIX}/staging/")
    return got.get("Uploads", [])


def log_file(tmp_path, project: str, name: str, data: bytes) -> None:  # noqa: ANN001
    (tmp_path / f"{name}.bin").write_bytes(data)
    with cairn.init(project=project) as run:
        a = cairn.Artifact(name, "model")
        a.add_file(str(tmp_path / f"{name}.bin"))
        run.log_artifact(a)


def same_but_digest(r: httpx.Response, digest: str) -> tuple[int, str]:
    return r.status_code, r.text.replace(digest, "D")


def test_a_large_file_goes_through_staging_and_reads_back_verified(tmp_path, on_stack):
    data = os.urandom(PART + 3 * MiB + 17)  # two parts
    digest = digest_of(data)
    before = staging_keys(on_stack)
    log_file(tmp_path, "big", "ckpt", data)
    assert stored(on_stack, digest) == data
    assert staging_keys(on_stack) <= before  # the staged copy is gone once checked
    assert open_uploads(on_stack, digest) == set()
    reset_clients()
    out = cairn.Api().artifact("big/ckpt:v0").download(tmp_path / "dl")
    assert open(os.path.join(out, "ckpt.bin"), "rb").read() == data


def test_the_answer_is_the_same_whoever_holds_the_blob(tmp_path, on_stack):
    """The oracle of the review: a writer of one project learns nothing of whether another
    project holds (or is writing) a digest, with wrong bytes or right ones, and its wrong
    bytes never sit at the blob's key."""
    held = os.urandom(PART + 5)
    log_file(tmp_path, "owner", "held", held)
    fresh = os.urandom(PART + 5)
    dh, df = digest_of(held), digest_of(fresh)
    # one byte announced and sent for each digest (the probe of the review)
    answers = []
    for d in (dh, df):
        r = httpx.post(f"{api(on_stack, 'prober')}/blobs/uploads", json={"digest": d, "size": 1})
        up = r.json()
        assert r.status_code == 200 and "/staging/" in urlsplit(up["urls"][0]).path
        answers.append(same_but_digest(complete(on_stack, "prober", up, d, put_parts(up, b"x")), d))
    assert answers[0] == answers[1] and answers[0][0] == 422 and "do not match" in answers[0][1]
    assert stored(on_stack, df) is None and stored(on_stack, dh) == held

    # the URLs have the same shape, both to staging keys, never to the blob's own key
    a_held, a_fresh = start(on_stack, "prober", held), start(on_stack, "prober", fresh)
    shape = {k: (v["checked"], len(v["urls"]), v["part_size"]) for k, v in (("h", a_held), ("f", a_fresh))}
    assert shape["h"] == shape["f"] == (True, 2, PART)
    for up in (a_held, a_fresh):
        assert "/staging/" in urlsplit(up["urls"][0]).path

    # wrong bytes of the announced size: the same 422 for both
    garbage = os.urandom(len(held))
    wrong = [
        same_but_digest(complete(on_stack, "prober", up, d, put_parts(up, garbage)), d)
        for up, d in ((a_held, dh), (a_fresh, df))
    ]
    assert wrong[0] == wrong[1] and wrong[0][0] == 422 and "do not match" in wrong[0][1]
    assert stored(on_stack, dh) == held and stored(on_stack, df) is None

    # right bytes: the same 201, stored, for both
    right = []
    for data, d in ((held, dh), (fresh, df)):
        up = start(on_stack, "prober", data)
        right.append(same_but_digest(complete(on_stack, "prober", up, d, put_parts(up, data)), d))
    assert right[0] == right[1] and right[0][0] == 201 and '"stored":true' in right[0][1]
    assert stored(on_stack, dh) == held and stored(on_stack, df) == fresh
    assert staged_uploads_left(on_stack) == []

    # the SDK takes the same way with the real bytes, and the blob reads back
    log_file(tmp_path, "prober", "held", held)
    reset_clients()
    out = cairn.Api().artifact("prober/held:v0").download(tmp_path / "dl")
    assert open(os.path.join(out, "held.bin"), "rb").read() == held


def test_nothing_replaces_a_verified_object(tmp_path, on_stack):
    data = os.urandom(PART + MiB)
    digest = digest_of(data)
    log_file(tmp_path, "keeper", "blob", data)
    for garbage in (b"x", os.urandom(len(data)), os.urandom(2 * PART + 1)):  # shorter, same size, longer
        r = httpx.post(f"{api(on_stack, 'vandal')}/blobs/uploads", json={"digest": digest, "size": len(garbage)})
        up = r.json()
        assert complete(on_stack, "vandal", up, digest, put_parts(up, garbage)).status_code == 422
        assert stored(on_stack, digest) == data
    r = httpx.post(f"{api(on_stack, 'vandal')}/blobs/missing", json={"digests": [digest]})
    assert r.json()["missing"] == [digest]  # refused bytes grant nothing


def test_a_retried_completion_after_a_lost_answer_succeeds(on_stack):
    """The first answer never reaches the client (its automatic retry sends the same body):
    the retry answers stored as the first did; another project's retry of it still 404s."""
    data = os.urandom(PART + MiB)
    digest = digest_of(data)
    up = start(on_stack, "retry", data)
    parts = put_parts(up, data)
    first = complete(on_stack, "retry", up, digest, parts)
    again = complete(on_stack, "retry", up, digest, parts)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json() == {"digest": digest, "stored": True}
    assert stored(on_stack, digest) == data
    assert complete(on_stack, "other", up, digest, parts).status_code == 404


def test_a_deleted_projects_blob_is_not_adopted_by_digest(tmp_path, on_stack):
    """After a project is deleted its objects stay until gc; knowing a digest, another
    project gets nothing of it without sending the bytes, however often it starts."""
    data = os.urandom(PART + MiB)
    digest = digest_of(data)
    log_file(tmp_path, "gone", "blob", data)
    assert httpx.delete(api(on_stack, "gone")).status_code == 200
    assert stored(on_stack, digest) == data  # until gc
    ups = [start(on_stack, "adopter", data) for _ in range(2)]
    assert all("/staging/" in urlsplit(up["urls"][0]).path for up in ups)
    r = httpx.post(f"{api(on_stack, 'adopter')}/blobs/missing", json={"digests": [digest]})
    assert r.json()["missing"] == [digest]
    for up in ups:  # completing without sending a byte
        r = complete(on_stack, "adopter", up, digest, None)
        assert r.status_code == 400 and "never arrived" in r.json()["error"]["message"]
    # the small-blob path: direct URLs, done without a PUT
    body = {"digests": [digest], "sizes": [len(data)]}
    assert httpx.post(f"{api(on_stack, 'adopter')}/blobs/direct", json=body).status_code == 413  # not small
    grant = httpx.post(f"{api(on_stack, 'adopter')}/blobs/direct", json={"digests": [digest], "sizes": [10]})
    assert grant.status_code == 200 and digest in grant.json()["urls"]
    r = httpx.post(f"{api(on_stack, 'adopter')}/blobs/direct/done", json={"digests": [digest]})
    assert r.json()["through_server"] == [digest]
    r = httpx.post(f"{api(on_stack, 'adopter')}/blobs/missing", json={"digests": [digest]})
    assert r.json()["missing"] == [digest]
    assert stored(on_stack, digest) == data


def test_an_upload_id_is_the_projects_and_the_digests(on_stack):
    data = os.urandom(MiB)
    digest = digest_of(data)
    up = start(on_stack, "p", data)
    parts = put_parts(up, data)
    for project, d in (("q", digest), ("p", digest_of(b"other"))):
        r = complete(on_stack, project, up, d, parts)
        assert r.status_code == 404 and "has no staged upload" in r.json()["error"]["message"]
    assert stored(on_stack, digest) is None
    never = up["upload_id"][:-32] + "0" * 32
    assert complete(on_stack, "p", {**up, "upload_id": never}, digest, parts).status_code == 404
    assert complete(on_stack, "p", up, digest, parts).status_code == 201
    assert stored(on_stack, digest) == data
    r = complete(on_stack, "q", up, digest, parts)
    assert r.status_code == 404  # used up, and another project's retry of it learns nothing


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
    s3 = on_stack.seaweed.client()
    if how == "part beyond":  # a URL for part 3 is not handed out; the client signs nothing, so take the store's own
        (upload_id,) = [u["UploadId"] for u in staged_uploads_left(on_stack) if u["Key"] == up["upload_id"]]
        urls = [
            *urls,
            s3.generate_presigned_url(
                "upload_part",
                Params={"Bucket": "cairn", "Key": up["upload_id"], "UploadId": upload_id, "PartNumber": 3},
            ),
        ]
    for n, (url, body) in enumerate(zip(urls, sent, strict=False), 1):
        if how in ("short part", "long last part") and body not in (first, last):
            # its URL signs the part's length: refused; sent past the URL (a store that does
            # not check a signed length), the completion refuses it
            assert httpx.put(url, content=body, timeout=60).status_code == 403
            (upload_id,) = [u["UploadId"] for u in staged_uploads_left(on_stack) if u["Key"] == up["upload_id"]]
            s3.upload_part(Bucket="cairn", Key=up["upload_id"], UploadId=upload_id, PartNumber=n, Body=body)
        else:
            assert httpx.put(url, content=body, timeout=60).status_code == 200
    r = complete(on_stack, "sizes", up, digest, None)
    assert r.status_code == 400
    msg = r.json()["error"]["message"]
    assert "start the upload again" in msg and digest in msg
    assert stored(on_stack, digest) is None
    assert up["upload_id"] not in {u["Key"] for u in staged_uploads_left(on_stack)}  # aborted: parts gone
    assert up["upload_id"] not in staging_keys(on_stack)


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
    assert up["upload_id"] not in {u["Key"] for u in staged_uploads_left(on_stack)}


def test_sizes_are_bounded_before_anything_is_opened(on_stack):
    s3 = on_stack.seaweed.client()
    before = s3.list_multipart_uploads(Bucket="cairn", Prefix=f"{PREFIX}/").get("Uploads", [])
    digest = digest_of(b"huge")
    r = httpx.post(f"{api(on_stack, 'huge')}/blobs/uploads", json={"digest": digest, "size": 10**18})
    assert r.status_code == 413 and str(8 << 30) in r.json()["error"]["message"]
    r = httpx.post(f"{api(on_stack, 'huge')}/blobs/uploads", json={"digest": digest, "size": -1})
    assert r.status_code == 400
    assert s3.list_multipart_uploads(Bucket="cairn", Prefix=f"{PREFIX}/").get("Uploads", []) == before


def test_a_claim_whose_object_is_found_wrong_is_dropped(on_stack):
    """An older server let a project write a blob's key unread under its claim. The next
    checked upload of that digest writes its verified bytes over what was planted there,
    and the claim goes, so the planter cannot keep the digest unstorable."""
    from cairn.engine import records
    from cairn.storage.meta.tx import insert
    from cairn.storage.registry import open_meta

    data = os.urandom(PART + MiB)
    digest = digest_of(data)
    on_stack.seaweed.client().put_object(Bucket="cairn", Key=blob_key(digest), Body=os.urandom(len(data)))
    meta = open_meta(on_stack.meta_url)
    try:
        with meta.write() as tx:
            pid = records.project_id(tx, os.environ["CAIRN_ENTITY"], "planter", create=True)
            insert(tx, "blob_claims", {"digest": digest, "project_id": pid, "created_at": tx.now()})
        up = start(on_stack, "honest", data)
        r = complete(on_stack, "honest", up, digest, put_parts(up, data))
        assert r.status_code == 201 and r.json()["stored"] is True
        assert stored(on_stack, digest) == data  # the planted bytes are gone
        with meta.read() as tx:
            assert tx.scalars("SELECT project_id FROM blob_claims WHERE digest = :d", {"d": digest}) == []
    finally:
        meta.dispose()


def test_a_completion_that_fails_midway_keeps_the_upload_for_its_retry(on_stack):
    """A completion that fails for a passing reason (here: gc is removing that digest, a
    503) leaves the staged upload in place; the retry, once the reason is gone, stores it."""
    from cairn.engine import gcmarks
    from cairn.storage.meta.tx import insert
    from cairn.storage.registry import open_meta

    data = os.urandom(PART + MiB)
    digest = digest_of(data)
    up = start(on_stack, "flaky", data)
    parts = put_parts(up, data)
    meta = open_meta(on_stack.meta_url)
    try:
        with meta.write() as tx:
            insert(tx, "gc_marks", {"kind": gcmarks.BLOB, "digest": digest, "state": gcmarks.DELETING, "at": tx.now()})
        r = complete(on_stack, "flaky", up, digest, parts)
        assert r.status_code == 503 and "garbage collection" in r.json()["error"]["message"]
        assert up["upload_id"] in {u["Key"] for u in staged_uploads_left(on_stack)}  # still there
        with meta.write() as tx:
            tx.execute("DELETE FROM gc_marks WHERE digest = :d", {"d": digest})
    finally:
        meta.dispose()
    r = complete(on_stack, "flaky", up, digest, parts)
    assert r.status_code == 201 and r.json()["stored"] is True
    assert stored(on_stack, digest) == data
