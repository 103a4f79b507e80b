"""Huge files are stored as content-defined chunks: edits store only what changed."""

from __future__ import annotations

import os
import random
from pathlib import Path

import blake3
import pytest

from cairn.storage.blobs import local
from cairn.storage.blobs.local import LocalBlobStore


@pytest.fixture
def small_threshold(monkeypatch):
    # the real threshold is 64 MiB; 4 MiB keeps the test quick with the same code path
    monkeypatch.setattr(local, "CHUNKED_MIN", 4 << 20)
    monkeypatch.setattr(local, "CDC_AVG", 64 << 10)
    monkeypatch.setattr(local, "CDC_MIN", 16 << 10)
    monkeypatch.setattr(local, "CDC_MAX", 256 << 10)


def stored_bytes(root: Path) -> int:
    files = sum(p.stat().st_size for p in (root / "objects").rglob("*") if p.is_file())
    import sqlite3

    with sqlite3.connect(root / "packs.sqlite") as db:
        packed = db.execute("SELECT coalesce(sum(length(data)), 0) FROM blobs").fetchone()[0]
    return files + packed


def test_in_place_edits_store_only_the_changed_chunks(tmp_path, small_threshold):
    store = LocalBlobStore(tmp_path / "store")
    rnd = random.Random(3)
    data = bytearray(rnd.randbytes(8 << 20))
    f = tmp_path / "model.bin"
    digests = []
    for k in range(5):
        if k:
            off = rnd.randrange(0, len(data) - (64 << 10))
            data[off : off + (64 << 10)] = rnd.randbytes(64 << 10)
        f.write_bytes(data)
        d, size = store.put_file(f)
        store.flush()
        assert d == "blake3:" + blake3.blake3(bytes(data)).hexdigest() and size == len(data)
        digests.append((d, bytes(data)))
    assert stored_bytes(tmp_path / "store") < 1.5 * len(data)  # not 5x
    reopened = LocalBlobStore(tmp_path / "store")
    for d, content in digests:
        assert d in reopened.has([d])
        with reopened.open(d) as r:
            assert r.read() == content


def test_recipe_is_recorded_only_at_flush(tmp_path, small_threshold):
    store = LocalBlobStore(tmp_path / "store")
    f = tmp_path / "x.bin"
    f.write_bytes(os.urandom(5 << 20))
    d, _ = store.put_file(f)
    assert d in store.has([d])  # this process knows it
    assert d not in LocalBlobStore(tmp_path / "store").has([d])  # not durable yet: others don't
    store.flush()
    assert d in LocalBlobStore(tmp_path / "store").has([d])


def test_chunked_file_downloads_verified_through_the_sdk(tmp_path, small_threshold):
    import cairn

    src = tmp_path / "weights.bin"
    src.write_bytes(os.urandom(6 << 20))
    with cairn.init() as run:
        a = cairn.Artifact("model", "model")
        a.add_file(str(src))
        run.log_artifact(a)
    out = cairn.Api().artifact("model:latest").download(tmp_path / "dl")
    assert (Path(out) / "weights.bin").read_bytes() == src.read_bytes()


@pytest.mark.parametrize("size", [0, 1000, (64 << 10) - 1, 64 << 10, 3 << 20])
def test_each_file_size_lands_in_its_place(tmp_path, size):
    """Under 64 KiB: a row of the pack, no file written at all; from 64 KiB: one read-only
    object file; nothing is left in tmp/ either way."""
    store = LocalBlobStore(tmp_path / "store")
    f = tmp_path / "x.bin"
    f.write_bytes(os.urandom(size))
    d, n = store.put_file(f)
    store.flush()
    assert n == size and d == "blake3:" + blake3.blake3(f.read_bytes()).hexdigest()
    objects = [p for p in (tmp_path / "store" / "objects").rglob("*") if p.is_file()]
    assert len(objects) == (0 if size < (64 << 10) else 1)
    assert not any((tmp_path / "store" / "tmp").glob("*"))
    with store.open(d) as r:
        assert r.read() == f.read_bytes()


def test_a_damaged_pack_file_is_a_store_error_naming_it(tmp_path):
    from cairn.core.errors import StoreError

    root = tmp_path / "blobs"
    root.mkdir()
    (root / "packs.sqlite").write_bytes(b"not a database at all " * 200)
    store = LocalBlobStore(root)
    with pytest.raises(StoreError) as err:
        store.put_bytes(b"small blob")
    assert "packs.sqlite" in str(err.value) and "not a database" in str(err.value)
    assert (root / "packs.sqlite").read_bytes() == b"not a database at all " * 200  # left as it was


@pytest.mark.parametrize("damage", ["flip", "truncate", "remove"])
def test_a_damaged_chunk_fails_the_download_names_the_file_and_is_set_aside(tmp_path, small_threshold, damage):
    """The threaded chunk copy checks every chunk: a damaged or missing one fails the
    download with the file's name, leaves nothing at the destination, and the store sets
    the blob aside so that logging the same file again heals it."""
    import sqlite3
    import json

    import cairn
    from cairn.core.errors import IntegrityError

    src = tmp_path / "weights.bin"
    src.write_bytes(os.urandom(6 << 20))
    with cairn.init() as run:
        a = cairn.Artifact("model", "model")
        a.add_file(str(src))
        run.log_artifact(a)
    root = Path(os.environ["CAIRN_DIR"]) / "blobs"
    with sqlite3.connect(root / "packs.sqlite") as db:
        (chunks,) = db.execute("SELECT chunks FROM recipes").fetchone()
    victim = next(d for d, n in json.loads(chunks)[2:] if n >= 64 << 10)[7:]  # a file, not a packed row
    victim = root / "objects" / victim[:2] / victim[2:]
    os.chmod(victim, 0o644)
    if damage == "flip":
        content = bytearray(victim.read_bytes())
        content[100] ^= 1
        victim.write_bytes(content)
    elif damage == "truncate":
        victim.write_bytes(victim.read_bytes()[:-1])
    else:
        victim.unlink()
    with pytest.raises(IntegrityError, match="weights.bin"):
        cairn.Api().artifact("model:latest").download(tmp_path / "dl")
    assert not (tmp_path / "dl" / "weights.bin").exists()
    assert [p.name for p in (tmp_path / "dl").iterdir()] == []  # no temp file left either
    with cairn.init() as run:  # the same bytes again: stored anew
        a = cairn.Artifact("model", "model")
        a.add_file(str(src))
        run.log_artifact(a)
    out = cairn.Api().artifact("model:latest").download(tmp_path / "dl2")
    assert (Path(out) / "weights.bin").read_bytes() == src.read_bytes()
