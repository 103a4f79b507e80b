"""What integrity checks cost (run by hand: python bench/integrity.py [--entries N]).

1. Loading a 1,000,000-entry manifest (every chunk read from SQLite and decoded, as a
   download or verify does) with every chunk checked against its key, and without.
2. Storing 50,000 x 1 KiB blobs that are all present already (a re-log that missed the stat
   cache): ``INSERT OR IGNORE`` (what the store does) against a length-checking upsert that
   would heal a packed row of the wrong length on ingest (what it does not, for this cost).
3. ``cairn verify`` of a store of N x 1 KiB files (one version), for N in --verify-files:
   seconds and peak RSS of the whole process (flat in the file count is the goal).

Prints medians of interleaved runs; write the figures into bench/RESULTS-extra.md.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from cairn.core import manifest as mf  # noqa: E402
from cairn.storage.blobs import local  # noqa: E402
from cairn.storage.meta.sql import MetaStore  # noqa: E402


def manifest_load(entries: int, runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        meta = MetaStore.sqlite(Path(tmp) / "meta.sqlite")
        chunks: dict[str, bytes] = {}
        es = (mf.Entry(f"d{i // 1000:04d}/f{i:07d}.bin", "blake3:" + f"{i:064x}", 1000) for i in range(entries))
        root = mf.build(es, chunks.__setitem__)
        meta.put_chunks(chunks)
        total = sum(len(v) for v in chunks.values())
        print(f"manifest: {entries:,} entries, {len(chunks):,} chunks, {total / 2**20:.1f} MiB encoded")
        times: dict[str, list[float]] = {"checked": [], "unchecked": []}
        for _ in range(runs):
            for mode in ("checked", "unchecked"):
                m = mf.Manifest(root.key, meta.get_chunks)
                if mode == "unchecked":
                    m._load = meta.get_chunks  # what reading cost before chunks were checked
                t = time.perf_counter()
                n = sum(1 for _ in m)
                times[mode].append(time.perf_counter() - t)
                assert n == entries
        a, b = statistics.median(times["checked"]), statistics.median(times["unchecked"])
        print(f"  load all entries: checked {a:.2f} s, unchecked {b:.2f} s (+{(a - b) / b:.1%}); runs {runs}")
        t = time.perf_counter()
        for k, v in chunks.items():
            mf.checked(lambda keys: {k: v})([k])
        print(f"  the check alone (BLAKE3 of every chunk): {time.perf_counter() - t:.3f} s")
        meta.dispose()


# the length-checking upsert measured against INSERT OR IGNORE (and not adopted: see local.py)
UPSERT = (
    "INSERT INTO blobs (digest, data) VALUES (?, ?) ON CONFLICT (digest) DO UPDATE "
    "SET data = excluded.data WHERE length(blobs.data) != length(excluded.data)"
)


def packed_present(n: int, runs: int) -> None:
    items = sorted((f"blake3:{i:064x}", os.urandom(1024)) for i in range(n))
    ignore = "INSERT OR IGNORE INTO blobs (digest, data) VALUES (?, ?)"
    times: dict[str, list[float]] = {"ignore": [], "upsert": []}
    with tempfile.TemporaryDirectory() as tmp:
        store = local.LocalBlobStore(Path(tmp) / "store")
        store.put_blobs(items)
        db: sqlite3.Connection = store._db()._conn
        for _ in range(runs):
            for mode, sql in (("ignore", ignore), ("upsert", UPSERT)):
                t = time.perf_counter()
                db.execute("BEGIN IMMEDIATE")
                db.executemany(sql, items)
                db.execute("COMMIT")
                times[mode].append(time.perf_counter() - t)
        store.close()
    a, b = statistics.median(times["upsert"]), statistics.median(times["ignore"])
    print(
        f"{n:,} present 1 KiB blobs stored again: length-checking upsert {a:.3f} s, "
        f"INSERT OR IGNORE {b:.3f} s; runs {runs}"
    )


_PEAK = """
import os, subprocess, sys, time
t = time.perf_counter()
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(p.pid, 0)
assert os.waitstatus_to_exitcode(status) == 0, status
print(time.perf_counter() - t, usage.ru_maxrss)
"""


def verify_memory(counts: list[int]) -> None:
    import shutil
    import subprocess

    cairn = str(Path(sys.executable).with_name("cairn"))
    for n in counts:
        with tempfile.TemporaryDirectory() as tmp:
            src = Path(tmp) / "src"
            for i in range(n):
                d = src / f"d{i // 1000:03d}"
                if i % 1000 == 0:
                    d.mkdir(parents=True)
                (d / f"f{i:07d}.txt").write_bytes(os.urandom(1024))
            env = {**os.environ, "CAIRN_DIR": f"{tmp}/home", "CAIRN_SILENT": "1"}
            env.pop("CAIRN_BASE_URL", None)
            subprocess.run(
                [cairn, "artifact", "put", str(src), "--name", "p/data"], env=env, check=True, stdout=subprocess.DEVNULL
            )
            shutil.rmtree(src)
            # through a small helper: a child forked from this process would count the pages it
            # shares with it (the 1,000,000-entry manifest above) in its peak
            out = subprocess.run(
                [sys.executable, "-c", _PEAK, cairn, "verify"], env=env, check=True, capture_output=True, text=True
            ).stdout.split()
            print(f"cairn verify, {n:,} x 1 KiB files: {float(out[0]):.2f} s, peak RSS {int(out[1]) / 1024:.0f} MiB")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--entries", type=int, default=1_000_000)
    ap.add_argument("--blobs", type=int, default=50_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--verify-files", type=int, nargs="*", default=[12_500, 50_000, 200_000])
    args = ap.parse_args()
    verify_memory(args.verify_files)
    manifest_load(args.entries, args.runs)
    packed_present(args.blobs, args.runs * 2)
