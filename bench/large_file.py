"""One large file (a model checkpoint): cairn log vs `cp` + `sync`, download vs `cp`, and a
1 MiB in-place edit re-logged, interleaved in one run (issue 15).

    python bench/large_file.py [--size-mib 2048] [--runs 3] [--work DIR] [--cairn-src SRC]

Every timed step is a whole process (start-up and imports included) started after an untimed
`sync`; a step's own flush is counted: `cp` is followed by a timed `sync`, cairn's log is
durable inside its own time (syncfs before the commit) and is followed by a timed `sync`
too. The source file is created once, before anything is deleted, and every step writes into
a fresh folder. What a step wrote is removed right after it (each 2 GiB copy and store would
otherwise fill the disk: 3 runs x 2 variants is ~40 GiB) and followed by the next step's
untimed `sync`: few files (a store of a 2 GiB file is ~2,000 chunk files), not the mass
`rm -r` that slows this ext4 for minutes. The SDK path a user writes: `Artifact.add_file` +
`run.log_artifact` in a fresh process; download is `Api().artifact(...).download(root)` into
an empty folder. Runs are interleaved (cp, log, get, cp, log, ...) and medians reported,
because the machine is shared. `--cairn-src` runs another checkout's cairn (e.g. main) in
the same run for a before/after comparison.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

LOG = """
import sys, cairn
with cairn.init(project="p") as run:
    a = cairn.Artifact("ckpt", "model")
    a.add_file(sys.argv[1])
    run.log_artifact(a)
"""
GET = """
import sys, cairn
cairn.Api().artifact("p/ckpt:latest").download(sys.argv[1])
"""


def timed(cmd: list[str], env: dict[str, str] | None = None) -> float:
    subprocess.run(["sync"], check=True)
    t = time.perf_counter()
    subprocess.run(cmd, check=True, env=env)
    return time.perf_counter() - t


def flush() -> float:
    t = time.perf_counter()
    subprocess.run(["sync"], check=True)
    return time.perf_counter() - t


def make(path: Path, size: int) -> None:
    if path.exists() and path.stat().st_size == size:
        return
    rnd = random.Random(15)
    with open(path, "wb") as f:
        for _ in range(size >> 24):
            f.write(rnd.randbytes(16 << 20))
    subprocess.run(["sync"], check=True)


def edit(path: Path) -> None:
    rnd = random.Random(1)
    with open(path, "r+b") as f:
        f.seek(rnd.randrange(0, path.stat().st_size - (1 << 20)))
        f.write(rnd.randbytes(1 << 20))


START_LOAD = os.getloadavg()[0]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mib", type=int, default=2048)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--work", default="/tmp/cairn-bench-large")
    ap.add_argument("--cairn-src", action="append", default=[], help="label=path/to/src (repeatable)")
    args = ap.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    src = work / "ckpt.bin"
    make(src, args.size_mib << 20)
    here = str(Path(__file__).resolve().parents[1] / "src")
    variants = [("this", here)] + [tuple(v.split("=", 1)) for v in args.cairn_src]
    rows: dict[str, list[float]] = {}

    def add(key: str, v: float) -> None:
        rows.setdefault(key, []).append(v)

    runs = work / f"runs-{os.getpid()}"
    try:
        measure(args, src, runs, variants, add)
    finally:
        shutil.rmtree(runs, ignore_errors=True)
    report(args, rows, variants)


def measure(args, src, runs, variants, add) -> None:  # noqa: ANN001
    for r in range(args.runs):
        subprocess.run(["cat", str(src)], stdout=subprocess.DEVNULL, check=True)  # warm cache
        d = runs / f"cp{r}"
        d.mkdir(parents=True)
        t = timed(["cp", str(src), str(d / "ckpt.bin")])
        add("cp", t)
        add("cp + sync", t + flush())
        shutil.rmtree(d)
        for label, path in variants:
            env = dict(os.environ, PYTHONPATH=path, CAIRN_DIR=str(runs / f"{label}{r}"), PYTHONDONTWRITEBYTECODE="1")
            env.pop("WANDB_DIR", None)
            t = timed([sys.executable, "-c", LOG, str(src)], env)
            add(f"{label}: log", t)
            add(f"{label}: log + sync", t + flush())
            t = timed([sys.executable, "-c", GET, str(runs / f"{label}{r}-get")], env)
            add(f"{label}: download (empty folder)", t)
            add(f"{label}: download + sync", t + flush())
            shutil.rmtree(runs / f"{label}{r}-get")
            edited = runs / f"{label}{r}-edited.bin"
            shutil.copyfile(src, edited)
            edit(edited)
            t = timed([sys.executable, "-c", LOG, str(edited)], env)
            add(f"{label}: re-log after a 1 MiB edit (another path)", t)
            edited.unlink()
            shutil.rmtree(runs / f"{label}{r}")


def report(args, rows, variants) -> None:  # noqa: ANN001
    print(
        f"one file of {args.size_mib} MiB, {args.runs} interleaved runs, medians (min-max); "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load average {os.getloadavg()[0]:.1f} at the end "
        f"({START_LOAD:.1f} at the start)"
    )
    for k, v in rows.items():
        print(f"  {k:45s} {statistics.median(v):6.2f} s  ({min(v):.2f}-{max(v):.2f})")
    base = statistics.median(rows["cp + sync"])
    for label, _ in variants:
        print(
            f"  {label}: log + sync / (cp + sync) = {statistics.median(rows[f'{label}: log + sync']) / base:.2f}x; "
            f"download / cp = {statistics.median(rows[f'{label}: download (empty folder)']) / statistics.median(rows['cp']):.2f}x; "
            f"edit re-log / log = {statistics.median(rows[f'{label}: re-log after a 1 MiB edit (another path)']) / statistics.median(rows[f'{label}: log']):.2f}x"
        )


if __name__ == "__main__":
    main()
