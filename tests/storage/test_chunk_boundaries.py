"""Chunk boundaries and digests of a chunked file are pinned: any faster chunker must cut
exactly where FastCDC over the whole stream cuts (stored recipes and dedup across versions
depend on it)."""

from __future__ import annotations

import hashlib
import io
import json
import os
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


def single_cutter(data: bytes, params: tuple[int, int, int]) -> tuple[str, list[list]]:
    """The whole digest and the recipe one thread computes: FastCDC over the whole stream,
    BLAKE3 of the file and of each chunk."""
    avg, mn, mx = params
    chunks = [
        ["blake3:" + blake3.blake3(bytes(c.data)).hexdigest(), c.length]
        for c in FastCDC(avg, min_size=mn, max_size=mx).cut_buf(data)
    ]
    return "blake3:" + blake3.blake3(data).hexdigest(), chunks


REGION = 1 << 20  # with SMALL: CDC_MAX 256 KiB, head room 256 KiB


def edge_cases() -> dict[str, bytes]:
    rnd = random.Random(5)
    mn = SMALL[1]
    return {
        "empty": b"",
        "one byte": b"\x07",
        "under one region": rnd.randbytes(REGION // 3),
        "exactly one region": rnd.randbytes(REGION),
        "a multiple of the region": rnd.randbytes(4 * REGION),
        # zeros are cut every CDC_MAX bytes, and REGION is a multiple of it: a cut at the
        # first region's end, with nothing carried into the second
        "a cut exactly at a region's end": bytes(REGION) + rnd.randbytes(2 * REGION + 99),
        "zeros (every cut forced at CDC_MAX)": bytes(3 * REGION + 4321),
        "zeros then random": bytes(REGION + 5) + rnd.randbytes(2 * REGION),
        "many small chunks at the end": rnd.randbytes(2 * REGION) + b"\x01" * (mn // 2),
    }


@pytest.mark.parametrize("case", list(edge_cases()))
@pytest.mark.parametrize("buffers", [3, 4, 6])
def test_pipeline_gives_the_single_cutters_chunks_and_digests(tmp_path, monkeypatch, case, buffers):
    """The pipelined _put_chunked (read ahead, whole-file hash, cut, chunk hashes and writes
    on their own threads) stores what one thread cutting and hashing the whole stream would,
    at the edges of its regions too; every chunk reads back as its digest says."""
    data = edge_cases()[case]
    monkeypatch.setattr(local, "CHUNK_REGION", REGION)
    monkeypatch.setattr(local, "CHUNK_BUFFERS", buffers)
    monkeypatch.setattr(local, "CDC_AVG", SMALL[0])
    monkeypatch.setattr(local, "CDC_MIN", SMALL[1])
    monkeypatch.setattr(local, "CDC_MAX", SMALL[2])
    store = LocalBlobStore(tmp_path / "store")
    digest, size = store._put_chunked(io.BytesIO(data))
    want_digest, want_chunks = single_cutter(data, SMALL)
    assert (digest, size) == (want_digest, len(data))
    assert json.loads(recipe(store, digest)) == want_chunks
    store.flush()
    for d, n in want_chunks:
        with store.open(d) as r:
            got = r.read()
        assert (len(got), "blake3:" + blake3.blake3(got).hexdigest()) == (n, d)
    with LocalBlobStore(tmp_path / "store").open(digest) as r:
        assert r.read() == data


def test_the_edge_case_does_cut_at_a_region_end():
    """The case above is what it says: a FastCDC cut at exactly REGION bytes."""
    data = edge_cases()["a cut exactly at a region's end"]
    cuts = [c.offset + c.length for c in FastCDC(SMALL[0], min_size=SMALL[1], max_size=SMALL[2]).cut_buf(data)]
    assert REGION in cuts


def test_pipeline_matches_on_a_real_sized_file_across_region_sizes(tmp_path, monkeypatch):
    """Real chunk sizes (1 MiB average, 4 MiB max), 40 MiB of mixed data read in 8 MiB
    regions (the smallest allowed: 2 x CDC_MAX) and in the default 16 MiB."""
    rnd = random.Random(40)
    data = rnd.randbytes(17 << 20) + bytes(9 << 20) + rnd.randbytes((14 << 20) + 999)
    want = single_cutter(data, REAL)
    for region in (8 << 20, 16 << 20):
        monkeypatch.setattr(local, "CHUNK_REGION", region)
        store = LocalBlobStore(tmp_path / f"store{region}")
        digest, size = store._put_chunked(io.BytesIO(data))
        assert (digest, json.loads(recipe(store, digest))) == want


class FailingReader(io.BytesIO):
    """Reads like a file until ``fail_at`` bytes, then raises as a failing disk would."""

    def __init__(self, data: bytes, fail_at: int) -> None:
        super().__init__(data)
        self.fail_at = fail_at

    def readinto(self, b):  # noqa: ANN001
        if self.tell() >= self.fail_at:
            raise OSError(5, "Input/output error")
        return super().readinto(b)


@pytest.mark.parametrize("fail_at", [0, REGION, 3 * REGION])
def test_a_read_error_ahead_fails_the_put_and_names_no_chunks(tmp_path, monkeypatch, fail_at):
    """The read-ahead thread's error reaches the caller (first region or a later one, while
    earlier regions are being hashed and written); nothing is recorded, no temp file stays."""
    monkeypatch.setattr(local, "CHUNK_REGION", REGION)
    monkeypatch.setattr(local, "CDC_AVG", SMALL[0])
    monkeypatch.setattr(local, "CDC_MIN", SMALL[1])
    monkeypatch.setattr(local, "CDC_MAX", SMALL[2])
    store = LocalBlobStore(tmp_path / "store")
    with pytest.raises(OSError, match="Input/output error"):
        store._put_chunked(FailingReader(random.Random(3).randbytes(6 * REGION), fail_at))
    assert not store._recipes
    assert not list((tmp_path / "store" / "tmp").iterdir())


def test_rewrite_writes_every_chunk_again_through_the_pipeline(tmp_path, monkeypatch):
    """``rewrite`` (what a server asks for) replaces present chunk files and the packed
    small chunk; without it, present chunks are left as they are."""
    monkeypatch.setattr(local, "CHUNK_REGION", REGION)
    monkeypatch.setattr(local, "CDC_AVG", SMALL[0])
    monkeypatch.setattr(local, "CDC_MIN", SMALL[1])
    monkeypatch.setattr(local, "CDC_MAX", SMALL[2])
    data = edge_cases()["many small chunks at the end"]
    store = LocalBlobStore(tmp_path / "store")
    digest, _ = store._put_chunked(io.BytesIO(data))
    store.flush()
    large = [d for d, n in single_cutter(data, SMALL)[1] if n >= local.PACK_LIMIT]

    def inodes() -> list[int]:
        return [os.stat(store._spath(d)).st_ino for d in large]

    before = inodes()
    store._put_chunked(io.BytesIO(data))
    assert inodes() == before
    store._put_chunked(io.BytesIO(data), rewrite=True)
    after = inodes()
    assert all(a != b for a, b in zip(after, before, strict=True))
    store.flush()
    with LocalBlobStore(tmp_path / "store").open(digest) as r:
        assert r.read() == data
