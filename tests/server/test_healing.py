"""Damage found by a reader heals on the next log of the same file, and a manifest changed
where it is stored is refused: on the embedded store and through a server on PostgreSQL + S3."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest
from helpers import write

import cairn
from cairn.client import reset_clients

S3_BUCKET, S3_PREFIX = "cairn", "registry"


def log_folder(files: dict[str, bytes], name: str = "data") -> cairn.Artifact:
    for rel, data in files.items():
        write(Path("src") / rel, data)
    with cairn.init(project="heal") as run:
        a = cairn.Artifact(name, "dataset")
        a.add_dir("src")
        run.log_artifact(a)
    return a


def damage_blob(backend: str, stack, digest: str, how: str) -> None:  # noqa: ANN001
    """Flip a byte of, truncate, or remove the stored copy of ``digest``."""
    hexd = digest[7:]

    def changed(data: bytes) -> bytes:
        return bytes([data[0] ^ 0xFF]) + data[1:] if how == "flip" else data[: len(data) // 2]

    if backend == "server":
        s3 = stack.seaweed.client()
        key = f"{S3_PREFIX}/blobs/{hexd[:2]}/{hexd}"
        if how == "remove":
            s3.delete_object(Bucket=S3_BUCKET, Key=key)
        else:
            data = s3.get_object(Bucket=S3_BUCKET, Key=key)["Body"].read()
            s3.put_object(Bucket=S3_BUCKET, Key=key, Body=changed(data))
        return
    blobs = Path(os.environ["CAIRN_DIR"]) / "blobs"
    obj = blobs / "objects" / hexd[:2] / hexd[2:]
    if obj.exists():
        if how == "remove":
            obj.unlink()
        else:
            data = obj.read_bytes()
            os.chmod(obj, 0o644)
            obj.write_bytes(changed(data))
        return
    db = sqlite3.connect(blobs / "packs.sqlite")
    with db:
        if how == "remove":
            assert db.execute("DELETE FROM blobs WHERE digest = ?", (digest,)).rowcount == 1
        else:
            (data,) = db.execute("SELECT data FROM blobs WHERE digest = ?", (digest,)).fetchone()
            db.execute("UPDATE blobs SET data = ? WHERE digest = ?", (changed(bytes(data)), digest))
    db.close()


@pytest.mark.parametrize("how", ["flip", "truncate", "remove"])
@pytest.mark.parametrize("size", [1000, 300_000])
def test_a_damaged_blob_heals_on_the_next_log_of_the_same_file(tmp_path, backend, request, size, how):
    stack = request.getfixturevalue("server_stack") if backend == "server" else None
    content = os.urandom(size)
    a = log_folder({"sub/w.bin": content, "ok.txt": b"fine"})
    digest = a.get_entry("sub/w.bin").digest
    damage_blob(backend, stack, digest, how)
    reset_clients()  # a fresh process: nothing cached of what it logged
    with pytest.raises(cairn.IntegrityError) as e:
        cairn.Api().artifact("heal/data:latest").download(tmp_path / "dl")
    msg = str(e.value)
    assert e.value.path == "sub/w.bin" and e.value.digest == digest and digest in msg
    assert ("set aside" if how != "remove" else "missing") in msg
    assert "Log the same file again" in msg
    assert not (tmp_path / "dl" / "sub" / "w.bin").exists()
    # what the message says works: log the same file again (unchanged: the stat cache knows it)
    b = log_folder({"sub/w.bin": content, "ok.txt": b"fine"})
    assert b.version == "v0" and b.digest == a.digest  # the same content: no new version
    reset_clients()
    root = Path(cairn.Api().artifact("heal/data:v0").download(tmp_path / "dl2"))
    assert (root / "sub" / "w.bin").read_bytes() == content


def test_a_damaged_table_blob_heals_too(backend, request):
    stack = request.getfixturevalue("server_stack") if backend == "server" else None
    table = cairn.Table(columns=["a"], data=[[1], [2]])
    with cairn.init(project="heal") as run:
        a = cairn.Artifact("tables", "dataset")
        a.add(table, "scores")
        run.log_artifact(a)
    digest = a.get_entry("scores.table.json").digest
    damage_blob(backend, stack, digest, "flip")
    reset_clients()
    with pytest.raises(cairn.IntegrityError, match="set aside"):
        cairn.Api().artifact("heal/tables:latest").get("scores")
    with cairn.init(project="heal") as run:
        b = cairn.Artifact("tables", "dataset")
        b.add(table, "scores")
        run.log_artifact(b)
    reset_clients()
    assert cairn.Api().artifact("heal/tables:latest").get("scores").data == [[1], [2]]


def test_an_intact_blob_reported_damaged_stays(backend):
    from cairn.client import get_client

    a = log_folder({"x.bin": os.urandom(5000)})
    version = cairn.Api().artifact("heal/data:latest")._version
    assert get_client().report_damaged(a.get_entry("x.bin").digest, version) == "intact"
    reset_clients()
    cairn.Api().artifact("heal/data:latest").download("dl")
    assert Path("dl/x.bin").exists()


# -- manifests are checked against their keys -------------------------------------------------


def tamper_chunk(backend: str, stack, rename: tuple[str, str]) -> str:  # noqa: ANN001
    """Rename an entry inside its stored leaf chunk, leaving the chunk's key as it was."""
    old, new = rename
    if backend == "server":
        import sqlalchemy

        engine = sqlalchemy.create_engine("postgresql+psycopg://" + stack.meta_url.partition("://")[2])
        try:
            with engine.begin() as conn:
                rows = conn.execute(sqlalchemy.text("SELECT key, data FROM chunks")).all()
                key, data = next((k, bytes(d)) for k, d in rows if f'"{old}"'.encode() in bytes(d))
                conn.execute(
                    sqlalchemy.text("UPDATE chunks SET data = :d WHERE key = :k"),
                    {"d": data.replace(f'"{old}"'.encode(), f'"{new}"'.encode()), "k": key},
                )
        finally:
            engine.dispose()
        return key
    db = sqlite3.connect(Path(os.environ["CAIRN_DIR"]) / "meta.sqlite")
    with db:
        key, data = next(
            (k, bytes(d)) for k, d in db.execute("SELECT key, data FROM chunks") if f'"{old}"'.encode() in bytes(d)
        )
        leaf = json.loads(data)
        assert "leaf" in leaf
        db.execute(
            "UPDATE chunks SET data = ? WHERE key = ?", (data.replace(f'"{old}"'.encode(), f'"{new}"'.encode()), key)
        )
    db.close()
    return key


def test_an_entry_renamed_inside_a_stored_manifest_chunk_is_refused(tmp_path, backend, request):
    stack = request.getfixturevalue("server_stack") if backend == "server" else None
    name = f"m{os.urandom(4).hex()}"
    a = log_folder({"model.bin": os.urandom(3000), "notes.txt": b"hello"}, name=name)
    target = tmp_path / "good"
    cairn.Api().artifact(f"heal/{name}:latest").download(target)
    key = tamper_chunk(backend, stack, ("model.bin", "evil.bin"))
    reset_clients()
    got = cairn.Api().artifact(f"heal/{name}:latest")
    with pytest.raises(cairn.IntegrityError, match=key):
        got.download(tmp_path / "dl")
    assert not (tmp_path / "dl" / "evil.bin").exists()
    with pytest.raises(cairn.IntegrityError, match="does not match its key"):
        got.verify(target)
    with pytest.raises(cairn.IntegrityError):
        got.get_entry("evil.bin")
    assert a.digest == got.digest  # the version itself is unchanged; only its stored chunk lies
