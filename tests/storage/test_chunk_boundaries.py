"""Chunk boundaries and digests of a chunked file are pinned: any faster chunker must cut
exactly where FastCDC over the whole stream cuts (stored recipes and dedup across versions
depend on it)."""

from __future__ import annotations

import hashlib
import json
import random

import blake3
import pytest
from pyfastcdc import FastCDC

from cairn.storage.blobs import local
from cairn.storage.blobs.local import LocalBlobStore

REAL = (1 << 20, 256 << 10, 4 << 20)
SMALL = (64 << 10, 16 << 10, 256 << 10)


def pinned_data() -> bytes:
    # random stretches, a zero run longer than CDC_MAX (forced cuts), a repeated byte, and a
    # tail that is not a multiple of anything
    rnd = random.Random(15)
    return b"".join(
        [
            rnd.randbytes(9 << 20),
            bytes(5 << 20),
            rnd.randbytes(3 << 20),
            b"\x01" * 300_000,
            rnd.randbytes((2 << 20) + 12345),
        ]
    )


def recipe(store: LocalBlobStore, digest: str) -> str:
    return store._recipes[digest][1]  # written at flush; read before it


@pytest.mark.parametrize(
    ("params", "count", "sha"),
    [
        (REAL, 13, "eb9f52c3d22e2b433b8bccab3c73192460dae3b6e58fce1ed583350fd8c0b7c8"),
        (SMALL, 207, "91930d352aabc760213ba9b2083c46b9a50485806d1453cd54f918a7370961c4"),
    ],
)
def test_known_answer_chunks_and_digest(tmp_path, monkeypatch, params, count, sha):
    """Values computed by the single-threaded cut_stream chunker."""
    monkeypatch.setattr(local, "CHUNKED_MIN", 4 << 20)
    monkeypatch.setattr(local, "CDC_AVG", params[0])
    monkeypatch.setattr(local, "CDC_MIN", params[1])
    monkeypatch.setattr(local, "CDC_MAX", params[2])
    f = tmp_path / "model.bin"
    f.write_bytes(pinned_data())
    store = LocalBlobStore(tmp_path / "store")
    digest, size = store.put_file(f)
    assert digest == "blake3:ac55844f752f7d64be1b75d60394aa004f681f384cb6c1f43be994ef8428f757"
    assert size == 20235289
    chunks = recipe(store, digest)
    assert len(json.loads(chunks)) == count
    assert hashlib.sha256(chunks.encode()).hexdigest() == sha
    store.flush()
    with LocalBlobStore(tmp_path / "store").open(digest) as r:
        assert r.read() == pinned_data()


@pytest.mark.parametrize("region", [512 << 10, 700_001, 8 << 20])
@pytest.mark.parametrize("seed", range(4))
def test_cuts_match_fastcdc_over_the_whole_stream(tmp_path, monkeypatch, seed, region):
    """Random sizes, read in regions of several sizes (CHUNK_REGION: the cutter carries a
    region's tail into the next): the chunks are FastCDC's cut_stream chunks, each stored
    under its own BLAKE3 digest."""
    rnd = random.Random(seed)
    avg, mn, mx = SMALL
    monkeypatch.setattr(local, "CHUNK_REGION", region)
    monkeypatch.setattr(local, "CHUNKED_MIN", 1 << 20)
    monkeypatch.setattr(local, "CDC_AVG", avg)
    monkeypatch.setattr(local, "CDC_MIN", mn)
    monkeypatch.setattr(local, "CDC_MAX", mx)
    data = rnd.randbytes(rnd.randrange(1 << 20, 7 << 20))
    f = tmp_path / "x.bin"
    f.write_bytes(data)
    store = LocalBlobStore(tmp_path / "store")
    digest, size = store.put_file(f)
    with open(f, "rb") as s:
        want = [
            ("blake3:" + blake3.blake3(bytes(c.data)).hexdigest(), c.length)
            for c in FastCDC(avg, min_size=mn, max_size=mx).cut_stream(s)
        ]
    assert json.loads(recipe(store, digest)) == [list(p) for p in want]
    assert (digest, size) == ("blake3:" + blake3.blake3(data).hexdigest(), len(data))


def test_a_failed_chunk_write_fails_the_put_and_leaves_no_temp_file(tmp_path, monkeypatch):
    monkeypatch.setattr(local, "CHUNKED_MIN", 1 << 20)
    monkeypatch.setattr(local, "CDC_AVG", SMALL[0])
    monkeypatch.setattr(local, "CDC_MIN", SMALL[1])
    monkeypatch.setattr(local, "CDC_MAX", SMALL[2])
    f = tmp_path / "x.bin"
    f.write_bytes(random.Random(7).randbytes(4 << 20))
    store = LocalBlobStore(tmp_path / "store")
    real_install = store._install
    calls = []

    def install(tmp, digest, size, rewrite=False):
        calls.append(digest)
        if len(calls) == 5:
            raise OSError(28, "No space left on device")
        return real_install(tmp, digest, size, rewrite)

    monkeypatch.setattr(store, "_install", install)
    with pytest.raises(OSError, match="No space left"):
        store.put_file(f)
    assert not list((tmp_path / "store" / "tmp").iterdir())
    assert not store._recipes  # nothing names chunks that may be missing
