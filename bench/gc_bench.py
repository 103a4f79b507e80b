"""gc on a big embedded store: time, peak memory, and how much it slows concurrent logging.

    python bench/gc_bench.py                       # 1,000 versions x 1,000 blobs = 1,000,000 blobs
    python bench/gc_bench.py --versions 100        # a tenth of it

The store is built through the engine (blobs put in batches, versions committed from
entries), not from files: building 1,000,000 files would measure the filesystem, not gc.
Every blob is 64-96 bytes (packed); each version has its own 1,000 blobs. 10% of the
versions are then deleted, so gc has 100,000 blobs to give back.

Measured, each gc as its own process (`cairn gc`, peak RSS from getrusage):
  1. a gc that marks (walks every manifest, lists every blob);
  2. a gc past the grace period that removes what it marked;
  3. a logger process logging a 200-file folder again and again: its median time per log
     alone, and while a gc of the same store runs.
Writes a section into bench/RESULTS.md when --out is given.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GC = r"""
import atexit, resource, sys
atexit.register(lambda: sys.stderr.write("PEAK_RSS_KIB %d\n" % resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))
from cairn.cli.main import run
sys.argv = ["cairn", "gc", *sys.argv[1:]]
run()
"""

LOGGER = r"""
import os, sys, time, json
import cairn
root, out, stop = sys.argv[1], sys.argv[2], sys.argv[3]
times = []
n = 0
while not os.path.exists(stop) and len(times) < 400:
    n += 1
    with open(os.path.join(root, "changing.txt"), "w") as f:
        f.write(str(n))
    t = time.perf_counter()
    a = cairn.Artifact("logged", "dataset")
    a.add_dir(root)
    a.save()
    times.append(time.perf_counter() - t)
    with open(out, "w") as f:
        json.dump(times, f)
"""


def build(home: Path, versions: int, per_version: int) -> float:
    os.environ["CAIRN_DIR"] = str(home)
    from cairn.client import get_client
    from cairn.core import manifest as mf
    from cairn.core.digest import hasher
    from cairn.core.versions import CommitRequest

    c = get_client()
    t = time.perf_counter()
    for v in range(versions):
        items, entries = [], []
        for i in range(per_version):
            data = f"version {v} blob {i} ".encode() * 4
            h = hasher()
            h.update(data)
            d = "blake3:" + h.hexdigest()
            items.append((d, data))
            entries.append(mf.Entry(f"d{i // 100}/f{i}.bin", d, len(data)))
        c.blobs.put_blobs(items, hashed=True)
        c.engine.commit(
            CommitRequest(entity="local", project="bench", name=f"a{v % 50}", type="dataset", entries=entries)
        )
        if v % 100 == 99:
            print(f"  built {v + 1} versions ({time.perf_counter() - t:.0f} s)", flush=True)
    from cairn.engine import versions as ver

    deleted = 0
    for v in (
        c.engine.list_versions("local", "bench", "a0")
        + c.engine.list_versions("local", "bench", "a1")
        + c.engine.list_versions("local", "bench", "a2")
        + c.engine.list_versions("local", "bench", "a3")
        + c.engine.list_versions("local", "bench", "a4")
    ):
        ver.delete(c.meta, v.id, delete_aliases=True)
        deleted += 1
    print(f"  deleted {deleted} versions", flush=True)
    from cairn.engine import gcmarks

    gcmarks.set_grace(c.meta, 5.0)
    return time.perf_counter() - t


def run_gc(home: Path, *args: str) -> tuple[float, int, str]:
    """One `cairn gc` process: (seconds, peak RSS in MiB, its report)."""
    t = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", GC, *args],
        env={**os.environ, "CAIRN_DIR": str(home)},
        capture_output=True,
        text=True,
        check=True,
    )
    dt = time.perf_counter() - t
    peak = int(out.stderr.rpartition("PEAK_RSS_KIB ")[2].split()[0])
    return dt, peak // 1024, out.stdout


def log_times(home: Path, work: Path, during_gc: bool) -> list[float]:
    folder = work / "logged"
    if not folder.exists():
        folder.mkdir()
        for i in range(200):
            (folder / f"f{i}.txt").write_bytes(os.urandom(2000))
    out, stop = work / "times.json", work / "stop"
    stop.unlink(missing_ok=True)
    env = {**os.environ, "CAIRN_DIR": str(home), "CAIRN_CACHE_DIR": str(work / "cache")}
    p = subprocess.Popen([sys.executable, "-c", LOGGER, str(folder), str(out), str(stop)], env=env)
    if during_gc:
        while not out.exists():
            time.sleep(0.05)
        run_gc(home)
    else:
        time.sleep(15)
    stop.touch()
    p.wait()
    return json.loads(out.read_text())[1:]  # the first log warms up


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--versions", type=int, default=1000)
    ap.add_argument("--per-version", type=int, default=1000)
    ap.add_argument("--work", default=None)
    ap.add_argument("--out", default=None, help="append the results to this markdown file")
    args = ap.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="cairn-gc-bench-"))
    home = work / "store"
    shutil.rmtree(home, ignore_errors=True)
    print(f"building {args.versions} versions x {args.per_version} blobs in {home}", flush=True)
    built = build(home, args.versions, args.per_version)
    results = {}
    results["mark"] = run_gc(home)
    time.sleep(6)
    results["sweep"] = run_gc(home)
    results["again"] = run_gc(home)
    alone = log_times(home, work, during_gc=False)
    during = log_times(home, work, during_gc=True)
    lines = [
        f"## gc ({time.strftime('%Y-%m-%d %H:%M')}, {args.versions:,} versions x {args.per_version:,} blobs "
        f"= {args.versions * args.per_version:,} blobs; 10% of versions deleted)",
        "",
        f"built in {built:.0f} s",
        "",
        "| run | time | peak RSS |",
        "|---|---|---|",
    ]
    for k, (dt, rss, _) in results.items():
        lines.append(f"| gc {k} | {dt:.1f} s | {rss} MiB |")
    lines += [
        "",
        f"logging a 200-file folder again (one file changed each time): median {statistics.median(alone):.3f} s "
        f"alone ({len(alone)} logs), {statistics.median(during):.3f} s while gc runs ({len(during)} logs): "
        f"x{statistics.median(during) / statistics.median(alone):.2f}",
        "",
        "gc reports:",
        "",
        *[f"    {k}: " + " | ".join(r.strip().splitlines()) for k, (_, _, r) in results.items()],
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.out:
        with open(args.out, "a") as f:
            f.write("\n" + text)


if __name__ == "__main__":
    main()
