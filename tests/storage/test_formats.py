"""Known-answer tests for the formats docs/formats.md pins: a change to chunk boundaries,
chunk encoding, identity records or digests fails here loudly, instead of silently breaking
dedup against stores that exist; and stores written by earlier schema versions
(tests/storage/data/store-v6 and store-v8, made by data/make_store_v6.py at commit b0dabe3^
and data/make_store_v8.py at 8a8aa21) are opened, migrated and read back whole by this one,
and from then on never hand out an id twice; store-v10 (data/make_store_v10.py at d213ad0,
the previous version) gets the project of every run its history rows name."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import struct
from pathlib import Path

import blake3
import pytest

from cairn.core import manifest as mf
from cairn.core.digest import Digest

DATA = Path(__file__).parent / "data"


def _d(text: str) -> str:
    return str(Digest.of_bytes(text.encode()))


def test_a_content_digest_names_its_algorithm_and_is_blake3_of_the_bytes() -> None:
    assert _d("alpha") == "blake3:644a9bc57c6063e2ba4028fa73ed585170ae7db8ac7723d32be49c021a0225f5"
    assert str(Digest.of_bytes(b"")) == "blake3:af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"


def test_a_one_leaf_manifest_byte_for_byte() -> None:
    chunks: dict[str, bytes] = {}
    root = mf.build([mf.Entry("a.txt", _d("alpha"), 5)], chunks.__setitem__)
    leaf = (
        b'{"format":1,"leaf":[["a.txt","blake3:644a9bc57c6063e2ba4028fa73ed585170ae7db8ac7723d32be49c021a0225f5",5]]}'
    )
    assert chunks == {"blake3:" + blake3.blake3(leaf).hexdigest(): leaf}
    # the identity: BLAKE3 of the domain tag and each (4-byte LE path length, path, digest, "\n")
    ident = blake3.blake3(
        b"cairn.manifest.leaf.v1\0" + (5).to_bytes(4, "little") + b"a.txt" + _d("alpha").encode() + b"\n"
    ).hexdigest()
    assert root == mf.Root(
        "blake3:9c4655099a194eeee394e5399bad7097c37b03d204cc6bf0078193df82fb9808", "blake3:" + ident, 1, 5
    )
    assert root.digest == "blake3:295fdbcbb9411b3eaf4ade6186a97cc7fdb14929d77fb540fc6fe6e10dc01cde"


def test_the_empty_manifest() -> None:
    assert mf.empty_root() == mf.Root(
        "blake3:576bfe1b51136633779fce1b37fb2edca9649d7d7daddf60083497dd96e5075b",
        "blake3:a3e9dbb78401b2fdccc0232e021706654f7d88c91d05cab1e3b3ddb6ef0ab38f",
        0,
        0,
    )


def test_a_tree_of_leaves_and_a_node_keeps_its_boundaries_keys_and_digest() -> None:
    """300 entries cut into 5 leaves by their path hashes, joined by two level-1 nodes under a
    level-2 root: the chunk keys (all 8, through one hash of the sorted list) and the root are pinned."""
    entries = sorted(
        (mf.Entry(f"dir{i % 7}/file-{i:04d}.txt", _d(f"content {i}"), i * 10) for i in range(300)), key=lambda e: e.path
    )
    chunks: dict[str, bytes] = {}
    root = mf.build(entries, chunks.__setitem__)
    assert root == mf.Root(
        "blake3:4c3310912a14f27c83d7fbcee51c7b88b1aa8d3e30a616d2b019d56997a600d0",
        "blake3:eb71cbcaa2a4e55b10fe4da52208fafe75916c35b3e803a9dd2f84965fd23de5",
        300,
        448500,
    )
    assert len(chunks) == 8
    assert hashlib.sha256("".join(sorted(chunks)).encode()).hexdigest() == (
        "ca8b00737ff7be955eff08970e83b15ec1a6895a1976cbd59d4530d2e1829161"
    )
    top = json.loads(chunks[root.key])
    assert top["format"] == 1 and top["level"] == 2 and len(top["children"]) == 2
    kinds = sorted(
        (len(c["leaf"]), 0) if "leaf" in c else (len(c["children"]), c["level"])
        for c in map(json.loads, chunks.values())
    )
    assert kinds == [(1, 1), (2, 2), (4, 1), (12, 0), (20, 0), (25, 0), (101, 0), (142, 0)]
    # the digest depends on (path, digest) pairs only: sizes do not change it, identity() agrees
    assert mf.identity([e._replace(size=0) for e in entries]) == root.digest


def test_the_blob_batch_framing(tmp_path) -> None:
    """POST /api/v1/projects/{e}/{p}/blobs/batch: blobs back to back, each a 4-byte
    big-endian length then its bytes; the answer lists their digests in order."""
    # TestClient runs the app on a loop of its own thread: asyncio.run here would fail when an
    # earlier test (Playwright's sync API) left a loop running in this thread
    from fastapi.testclient import TestClient

    from cairn.server.app import create_app
    from cairn.storage.blobs.local import LocalBlobStore
    from cairn.storage.meta.sql import MetaStore

    body = b"".join(struct.pack(">I", len(b)) + b for b in (b"alpha", b"", b"x" * 3))
    assert body[:9] == b"\x00\x00\x00\x05alpha"
    meta, blobs = MetaStore.sqlite(tmp_path / "meta.sqlite"), LocalBlobStore(tmp_path / "blobs")
    with TestClient(create_app(meta, blobs)) as c:
        got = c.post("/api/v1/projects/e/p/blobs/batch", content=body)
        assert got.status_code == 201, got.text
        assert got.json() == {"digests": [_d("alpha"), str(Digest.of_bytes(b"")), _d("xxx")]}
        assert blobs.has([_d("alpha"), _d("xxx")]) == {_d("alpha"), _d("xxx")}
        for bad in (body[:-1], b"\x00\x00"):  # a truncated blob, a truncated length: a 400
            answer = c.post("/api/v1/projects/e/p/blobs/batch", content=bad)
            assert answer.status_code == 400 and "malformed blob batch" in answer.text
    meta.dispose()
    blobs.close()


@pytest.mark.parametrize("old", [6, 8])
def test_a_store_of_an_earlier_schema_is_migrated_and_reads_back_whole(tmp_path, monkeypatch, old: int) -> None:
    import cairn
    from cairn.client import reset_clients
    from cairn.storage.meta import schema

    store = tmp_path / "store"
    shutil.copytree(DATA / f"store-v{old}", store)
    with sqlite3.connect(store / "meta.sqlite") as db:
        assert db.execute("SELECT value FROM schema_info WHERE key = 'version'").fetchone() == (str(old),)
        assert "AUTOINCREMENT" not in db.execute("SELECT sql FROM sqlite_master WHERE name = 'versions'").fetchone()[0]
    monkeypatch.setenv("CAIRN_DIR", str(store))
    reset_clients()
    api = cairn.Api()
    data = api.artifact("e/old/data:first")
    # the digest the old version recorded is the one today's manifest code gives its files
    assert data.digest == "blake3:b86b378c44e1d17b33cea9e256a92c6a83a63b0217b9c8adb3b45751a710188c"
    assert (data.description, data.metadata, data.aliases) == (f"made by schema {old}", {"k": 1}, ["latest", "first"])
    root = Path(data.download(str(tmp_path / "out")))
    assert (root / "a.txt").read_text() == "alpha\n" and (root / "d" / "b.txt").read_text() == "bravo\n"
    assert (root / "big.bin").read_bytes() == bytes(range(256)) * 400  # the blob of its own under objects/
    data.verify(str(root))
    with sqlite3.connect(store / "meta.sqlite") as db:
        assert db.execute("SELECT value FROM schema_info WHERE key = 'version'").fetchone() == (
            str(schema.SCHEMA_VERSION),
        )
    link = api.artifact("e/model-registry/reg:prod")
    assert link.is_link and link.source_name == "model:v0" and link.files()[0].name == "weights.txt"
    run = api.run("e/old/oldrun01")
    assert run.state == "finished" and run.config == {"lr": 0.1} and run.summary["best"] == 0.5
    assert [r["loss"] for r in run.history(pandas=False)] == [1.0, 0.5]
    # and the migrated store takes new work
    with cairn.init(project="old", entity="e") as r:
        a = cairn.Artifact("data", "dataset")
        Path("c.txt").write_text("charlie\n")
        a.add_file("c.txt")
        logged = r.log_artifact(a)
        assert logged.version == "v1"
    # the newest collection deleted and made again: its old version's id is spent, so a
    # handle still holding it reaches nothing (before schema 9 it reached the new version)
    with cairn.init(project="old", entity="e") as r:
        scratch = cairn.Artifact("scratch", "dataset")
        scratch.add_file("c.txt")
        scratch = r.log_artifact(scratch)
        scratch.wait()
    stale = api.artifact("e/old/scratch:v0")
    api.artifact_collection("dataset", "e/old/scratch").delete()
    with cairn.init(project="old", entity="e") as r:
        fresh = cairn.Artifact("scratch", "dataset")
        Path("d.txt").write_text("delta\n")
        fresh.add_file("d.txt")
        fresh = r.log_artifact(fresh)
        fresh.wait()
    assert fresh.id != stale.id
    with pytest.raises(cairn.errors.CommError, match="not found"):
        stale.delete()
    assert (
        api.artifact("e/old/scratch:v0").id == fresh.id
        and api.artifact("e/old/scratch:latest").files()[0].name == "d.txt"
    )
    reset_clients()


def test_a_schema_10_store_gets_the_project_of_every_run_its_history_names(tmp_path) -> None:
    """store-v10 (data/make_store_v10.py): two projects have a run ``samerun``. A row of the
    alias log, the edit log, a draft and a version is given the run of its own project when
    that project has one; the registry's moves, made by the run of another project, name
    no run (which one it was cannot be told any more)."""
    from cairn.engine import Engine
    from cairn.storage.blobs.local import LocalBlobStore
    from cairn.storage.meta import schema
    from cairn.storage.meta.sql import MetaStore

    store = tmp_path / "store"
    shutil.copytree(DATA / "store-v10", store)
    meta, blobs = MetaStore.sqlite(store / "meta.sqlite"), LocalBlobStore(store / "blobs")
    try:
        assert meta.open() == 10
        eng = Engine(meta, blobs)
        own = {"run_id": "samerun", "run_entity": "e", "run_project": "old"}
        none = {"run_id": None, "run_entity": None, "run_project": None}
        runs = lambda rows: [{k: r[k] for k in own} for r in rows]  # noqa: E731
        assert runs(eng.alias_history("e", "old", "data")) == [own] * 3
        assert runs(eng.alias_history("e", "model-registry", "reg")) == [none] * 2
        data = eng.list_versions("e", "old", "data")[0]
        assert runs(eng.version_history(data.id)) == [own]
        with meta.read() as tx:
            old = tx.scalar("SELECT id FROM projects WHERE entity = 'e' AND name = 'old'")
            assert tx.tuples("SELECT finished_by, finished_by_project FROM drafts ORDER BY id") == [
                ("samerun", old),
                (None, None),
            ]
            assert tx.tuples("SELECT run_id, run_project FROM draft_entries") == [("samerun", old)]
            assert tx.tuples("SELECT run_id, run_project, link_of IS NULL FROM versions ORDER BY id") == [
                ("samerun", old, 1),
                ("samerun", old, 1),
                ("samerun", None, 0),  # the link, made by f/other's run
            ]
            assert tx.scalar("SELECT value FROM schema_info WHERE key = 'version'") == str(schema.SCHEMA_VERSION)
        # and a new move by that run of the other project names it
        link = eng.list_versions("e", "model-registry", "reg")[0]
        eng.update_version(link.id, add_aliases=["staging"], run_id="f/other/samerun")
        assert runs(eng.alias_history("e", "model-registry", "reg"))[-1] == {
            "run_id": "samerun",
            "run_entity": "f",
            "run_project": "other",
        }
        assert runs(eng.version_history(link.id)) == [{"run_id": "samerun", "run_entity": "f", "run_project": "other"}]
    finally:
        meta.dispose()
        blobs.close()
