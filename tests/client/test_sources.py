"""The typed sources of pending blobs (client/sources.py) and the uploader's hold budget:
a source hands out only the bytes that were hashed, or says the file changed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cairn.client import uploader as up
from cairn.client.rpc import Presigned, Rpc, new_pool
from cairn.client.settings import Settings
from cairn.client.sources import Bytes, HeldFile, LocalFile
from cairn.client.statcache import StatCache, signature
from cairn.core.digest import Digest
from cairn.core.errors import FileChangedError
from cairn.core.progress import Recorder


def digest(data: bytes) -> str:
    return str(Digest.of_bytes(data))


def test_a_local_file_reads_and_streams_what_was_hashed(tmp_path: Path):
    f = tmp_path / "a.bin"
    data = os.urandom(3 << 20)
    f.write_bytes(data)
    src = LocalFile(str(f), signature(os.stat(f)))
    task = Recorder().task("uploading")
    assert src.size == len(data) and not src.in_memory
    assert src.read(digest(data)) == data
    assert b"".join(src.chunks(digest(data), task)) == data
    assert task.tally.bytes_done == len(data)  # type: ignore[attr-defined]
    with src.open() as r:
        assert r.read() == data


@pytest.mark.parametrize("how", ["read", "chunks"])
def test_a_local_file_changed_since_it_was_hashed_is_refused(tmp_path: Path, how: str):
    f = tmp_path / "a.bin"
    f.write_bytes(b"before")
    src = LocalFile(str(f), signature(os.stat(f)))
    f.write_bytes(b"after!")  # same size; a new mtime
    with pytest.raises(FileChangedError) as e:
        if how == "read":
            src.read(digest(b"before"))
        else:
            b"".join(src.chunks(digest(b"before")))
    assert e.value.local_path == str(f)


def test_a_file_rewritten_with_its_old_signature_is_caught_by_its_hash(tmp_path: Path):
    f = tmp_path / "a.bin"
    f.write_bytes(b"before")
    sig = signature(os.stat(f))
    f.write_bytes(b"after!")
    os.utime(f, ns=(sig[1], sig[1]))  # the mtime put back: only the bytes tell
    src = LocalFile(str(f), signature(os.stat(f)))
    with pytest.raises(FileChangedError):
        src.read(digest(b"before"))


def test_bytes_and_held_files_hand_out_their_bytes():
    for src in (Bytes(b"abc"), HeldFile("/nowhere/x", b"abc")):
        assert src.size == 3 and src.read(digest(b"abc")) == b"abc"
        assert b"".join(src.chunks(digest(b"abc"))) == b"abc"
        assert src.open().read() == b"abc"
    assert HeldFile("/nowhere/x", b"abc").in_memory and not Bytes(b"abc").in_memory


def uploader(tmp_path: Path) -> up.Uploader:
    settings = Settings(
        dir=tmp_path / "store",
        cache_dir=tmp_path / "cache",
        base_url="http://127.0.0.1:1",
        api_key="k",
        project=None,
        entity="e",
    )
    (tmp_path / "cache").mkdir(exist_ok=True)
    pool = new_pool()
    return up.Uploader(Rpc(settings, pool), Presigned(pool), StatCache(tmp_path / "cache" / "statcache.sqlite"))


def test_held_bytes_are_budgeted_and_given_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Files read to be hashed are held up to HOLD_BUDGET; the same bytes added twice are
    held once; a release gives the budget back."""
    monkeypatch.setattr(up, "HOLD_BUDGET", 10_000)
    u = uploader(tmp_path)
    paths = []
    for i in range(3):
        p = tmp_path / f"f{i}.bin"
        p.write_bytes(bytes([i]) * 4_000)
        paths.append(str(p))
    dup = tmp_path / "dup.bin"
    dup.write_bytes(bytes([0]) * 4_000)
    got: dict[str, tuple[str, int]] = {}
    for p in [*paths, str(dup)]:  # one at a time: which files fit the budget is then fixed
        got.update(u.ingest([p]))
    sources = {p: u.source(d) for p, (d, _) in got.items()}
    held = [p for p, s in sources.items() if s is not None and s.in_memory]
    assert len(held) == 3  # two files fit; the duplicate's bytes are the first's, held once
    assert sources[str(dup)] is sources[paths[0]]
    assert u._held_bytes == 8_000
    assert isinstance(sources[paths[2]], LocalFile)  # over the budget: read again when sent
    u.release([d for d, _ in got.values()])
    assert u._held_bytes == 0 and all(u.source(d) is None for d, _ in got.values())
