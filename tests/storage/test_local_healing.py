"""The local blob store heals: an ingest of a present blob replaces a file of the wrong size,
a reader's report sets a damaged copy aside so the next ingest stores it anew, and no
temp file outlives a failed write (a real full disk: a small tmpfs, and a file-size limit)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import blake3
import pytest

from cairn.storage.blobs import local
from cairn.storage.blobs.local import LocalBlobStore


def digest_of(data: bytes) -> str:
    return "blake3:" + blake3.blake3(data).hexdigest()


def object_path(root: Path, digest: str) -> Path:
    hexd = digest[7:]
    return root / "objects" / hexd[:2] / hexd[2:]


def rewrite(p: Path, data: bytes) -> None:
    os.chmod(p, 0o644)
    p.write_bytes(data)
    os.chmod(p, 0o444)


def packed(root: Path, digest: str) -> bytes | None:
    with sqlite3.connect(root / "packs.sqlite") as db:
        row = db.execute("SELECT data FROM blobs WHERE digest = ?", (digest,)).fetchone()
    return None if row is None else bytes(row[0])


def set_packed(root: Path, digest: str, data: bytes) -> None:
    db = sqlite3.connect(root / "packs.sqlite")
    with db:
        db.execute("UPDATE blobs SET data = ? WHERE digest = ?", (data, digest))
    db.close()


def read(store: LocalBlobStore, digest: str) -> bytes:
    with store.open(digest) as f:
        return f.read()


def test_ingest_replaces_a_truncated_or_missing_file(tmp_path):
    root = tmp_path / "store"
    store = LocalBlobStore(root)
    data = os.urandom(300_000)
    src = tmp_path / "w.bin"
    src.write_bytes(data)
    d, _ = store.put_file(src)
    store.flush()
    rewrite(object_path(root, d), data[:1000])  # truncated
    assert store.put_file(src) == (d, len(data))
    assert read(store, d) == data
    object_path(root, d).unlink()  # missing
    store.put_bytes(data)
    assert read(store, d) == data
    assert object_path(root, d).stat().st_mode & 0o777 == 0o444


@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_a_damaged_packed_row_heals_on_the_ingest_after_a_report(tmp_path, damage):
    root = tmp_path / "store"
    store = LocalBlobStore(root)
    data = os.urandom(2000)
    d = digest_of(data)
    store.put_blobs([(d, data)])
    bad = bytes([data[0] ^ 1]) + data[1:] if damage == "flip" else data[:10]
    set_packed(root, d, bad)
    # a present row is not read by an ingest (its cost: see local._INSERT_SMALL) ...
    store.put_blobs([(d, data)])
    store.put_bytes(data)
    assert packed(root, d) == bad
    # ... a reader's report sets it aside, and then the same ingest heals it
    assert store.quarantine(d) is True
    assert store.has([d]) == set()
    assert [p.read_bytes() for p in (root / "quarantine").iterdir()] == [bad]
    store.put_blobs([(d, data)])
    assert packed(root, d) == data
    # a missing row is stored again by any ingest
    with sqlite3.connect(root / "packs.sqlite") as db:
        db.execute("DELETE FROM blobs WHERE digest = ?", (d,))
    store.put_bytes(data)
    assert packed(root, d) == data


def test_quarantine_sets_a_damaged_file_aside_and_leaves_a_sound_one(tmp_path):
    root = tmp_path / "store"
    store = LocalBlobStore(root)
    good, bad = os.urandom(100_000), os.urandom(100_000)
    dg, db = store.put_bytes(good)[0], store.put_bytes(bad)[0]
    store.flush()
    assert store.quarantine(dg) is False and read(store, dg) == good
    assert store.quarantine("blake3:" + "0" * 64) is False  # absent: nothing to do
    damaged = bytearray(bad)
    damaged[500] ^= 0xFF
    rewrite(object_path(root, db), bytes(damaged))
    assert store.has([db]) == {db}  # the same process had seen it: a report must forget that
    assert store.quarantine(db) is True
    assert not object_path(root, db).exists() and store.has([db]) == set()
    (aside,) = (root / "quarantine").iterdir()
    assert aside.name.startswith(db[7:]) and aside.read_bytes() == bytes(damaged)
    store.put_bytes(bad)
    assert read(store, db) == bad


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(local, "CHUNKED_MIN", 4 << 20)
    monkeypatch.setattr(local, "CDC_AVG", 256 << 10)
    monkeypatch.setattr(local, "CDC_MIN", 128 << 10)
    monkeypatch.setattr(local, "CDC_MAX", 1 << 20)


def recipe(root: Path, digest: str) -> list[str]:
    with sqlite3.connect(root / "packs.sqlite") as db:
        row = db.execute("SELECT chunks FROM recipes WHERE digest = ?", (digest,)).fetchone()
    return [] if row is None else [c for c, _ in json.loads(row[0])]


@pytest.mark.parametrize("damage", ["flip", "truncate", "remove"])
def test_a_chunked_file_with_a_damaged_chunk_heals_on_the_next_ingest(tmp_path, small_chunks, damage):
    root = tmp_path / "store"
    store = LocalBlobStore(root)
    data = os.urandom(5 << 20)
    src = tmp_path / "model.bin"
    src.write_bytes(data)
    d, _ = store.put_file(src)
    store.flush()
    chunks = recipe(root, d)
    assert len(chunks) > 2
    victim = object_path(root, chunks[1])
    content = victim.read_bytes()
    if damage == "flip":
        rewrite(victim, bytes([content[0] ^ 1]) + content[1:])
    elif damage == "truncate":
        rewrite(victim, content[:-1])
    else:
        os.chmod(victim, 0o644)
        victim.unlink()
    assert store.quarantine(d) is True
    assert store.has([d]) == set() and recipe(root, d) == []
    assert store.put_file(src) == (d, len(data))
    store.flush()
    assert read(store, d) == data and recipe(root, d) == chunks


def test_stale_temp_files_go_at_start_up_and_fresh_ones_stay(tmp_path):
    root = tmp_path / "store"
    (root / "tmp").mkdir(parents=True)
    stale, fresh = root / "tmp" / "a", root / "tmp" / "b"
    stale.write_bytes(b"x" * 1000)
    fresh.write_bytes(b"y")  # another process's write in progress
    old = time.time() - local.STALE_TMP_AGE - 60
    os.utime(stale, (old, old))
    store = LocalBlobStore(root)
    store.put_bytes(b"first use")
    assert sorted(p.name for p in (root / "tmp").iterdir()) == ["b"]


# -- a full disk ----------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path):
    """A real 8 MiB filesystem (tmpfs), mounted for this test (the tests run as root)."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mnt)], check=True)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=True)


def used(path: Path) -> int:
    st = os.statvfs(path)
    return (st.f_blocks - st.f_bfree) * st.f_frsize


@pytest.mark.parametrize("how", ["larger than the disk", "on an almost full disk", "chunked"])
def test_a_write_that_fills_the_disk_leaves_no_temp_file(tmp_path, small_disk, monkeypatch, how):
    if how == "chunked":
        monkeypatch.setattr(local, "CHUNKED_MIN", 4 << 20)
    store = LocalBlobStore(small_disk / "store")
    store.put_bytes(b"set up")  # the store's own files exist before the disk fills
    filler = small_disk / "filler"
    size = 12 << 20
    if how == "on an almost full disk":
        st = os.statvfs(small_disk)
        filler.write_bytes(b"\0" * (st.f_bavail * st.f_frsize - (100 << 10)))
        size = 300_000
    baseline = used(small_disk)
    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(size))
    with pytest.raises(OSError) as e:
        store.put_file(src)
    assert e.value.errno == 28  # ENOSPC: the real thing
    assert list((small_disk / "store" / "tmp").iterdir()) == []
    if how != "chunked":  # chunks stored before the disk filled are whole blobs, not temp files
        assert used(small_disk) <= baseline + (64 << 10)  # the partial copy is gone
    # and the store works again once there is room
    filler.unlink(missing_ok=True)
    for d in list(store.iter_digests()):  # chunks stored before the disk filled: what gc reclaims
        if d != digest_of(b"set up"):
            store.delete(d)
    again = tmp_path / "again.bin"
    again.write_bytes(os.urandom(1 << 20))
    assert store.put_file(again)[0] == digest_of(again.read_bytes())
    store.flush()
    assert read(store, digest_of(again.read_bytes())) == again.read_bytes()


_FSIZE_CHILD = textwrap.dedent("""
    import os, resource, signal, sys
    from pathlib import Path
    from cairn.storage.blobs.local import LocalBlobStore
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
    store = LocalBlobStore(Path(sys.argv[1]))
    store.put_bytes(b"set up")
    data = Path(sys.argv[2]).read_bytes()
    resource.setrlimit(resource.RLIMIT_FSIZE, (4 << 20, 4 << 20))
    for put in (lambda: store.put_file(Path(sys.argv[2])), lambda: store.put_bytes(data)):
        try:
            put()
        except OSError as e:
            print(e.errno)
        else:
            print("stored")
""")


def test_a_write_past_the_file_size_limit_leaves_no_temp_file(tmp_path):
    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(6 << 20))
    out = subprocess.run(
        [sys.executable, "-c", _FSIZE_CHILD, str(tmp_path / "store"), str(src)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.split() == ["27", "27"]  # EFBIG, twice: put_file and put_bytes both failed
    assert list((tmp_path / "store" / "tmp").iterdir()) == []
    assert list((tmp_path / "store" / "objects").rglob("*.*")) == []
