"""One large file through a `cairn server` on PostgreSQL + SeaweedFS (started as
tests/services.py does) against plain boto3 on the same bucket, interleaved in one run
(issue 15: log at >= 80% of `upload_file`, download at >= 80% of `download_file`).

    python bench/server_large_file.py [--size-mib 2048] [--runs 3] [--work DIR] [--cairn-src SRC]

Each run, in this order: boto3 `upload_file` of the file to the bucket; the SDK's log of the
same file through the server (`Artifact.add_file` + `run.log_artifact`, a fresh process with
CAIRN_BASE_URL/CAIRN_API_KEY); boto3 `download_file` into an empty folder; the SDK's download
of the logged version into an empty folder (`Api().artifact(...).download`). boto3 runs with
its defaults (8 MiB parts, 10 threads), in a fresh process too, so start-up and imports count
on both sides. Before each run the file's first 8 bytes are rewritten with the run's number,
so that every log stores a new blob (no dedup across runs) without a second 2 GiB file on
disk. Reported per step: wall time, the server's CPU seconds during the step (read from
/proc: a server that re-reads the bytes shows it here) and the load average. What a step
wrote is removed after it.

`--cairn-src label=path/to/src` runs another checkout's client *and* server (e.g. main) in
the same run, on its own server process and bucket prefix, for a before/after comparison.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

ENTITY = "bench"

LOG = """
import sys, cairn
with cairn.init(project=sys.argv[2]) as run:
    a = cairn.Artifact("ckpt", "model")
    a.add_file(sys.argv[1])
    run.log_artifact(a)
"""
GET = """
import sys, cairn
cairn.Api().artifact(sys.argv[2] + "/ckpt:latest").download(sys.argv[1])
"""
BOTO_PUT = """
import sys, boto3
boto3.client("s3").upload_file(sys.argv[1], sys.argv[2], sys.argv[3])
"""
BOTO_GET = """
import sys, boto3
boto3.client("s3").download_file(sys.argv[2], sys.argv[3], sys.argv[1])
"""


def stamp(path: Path, n: int) -> None:
    with open(path, "r+b") as f:
        f.write(n.to_bytes(8, "big"))


def make(path: Path, size: int) -> None:
    if path.exists() and path.stat().st_size == size:
        return
    rnd = random.Random(15)
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, 16 << 20)
            f.write(rnd.randbytes(n))
            left -= n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size-mib", type=int, default=2048)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--work", default="/tmp/cairn-bench-server-large")
    ap.add_argument("--cairn-src", action="append", default=[], help="label=path/to/src (repeatable)")
    args = ap.parse_args()
    from server_stack import cpu_seconds, server_stack

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    src = work / "ckpt.bin"
    make(src, args.size_mib << 20)
    variants = [("this", str(HERE.parent / "src"))] + [tuple(v.split("=", 1)) for v in args.cairn_src]
    start_load = os.getloadavg()
    rows: dict[str, list[tuple[float, float | None, float]]] = {}
    tmp = Path(tempfile.mkdtemp(prefix="srvlarge-", dir=work))
    try:
        with server_stack(tmp, variants, ENTITY) as (s3, replicas):
            client = s3.client()
            servers = {label: (r.url, r.key, r.pid) for label, r in replicas.items()}
            base_env = {**os.environ, **s3.env(), "PYTHONDONTWRITEBYTECODE": "1", "CAIRN_SILENT": "1"}

            weed = s3.process.proc.pid

            def step(name: str, code: str, argv: list[str], env: dict[str, str], pid: int | None) -> None:
                subprocess.run(["sync"], check=True)
                before = cpu_seconds(pid) if pid else None
                store_before = cpu_seconds(weed)
                own_before = resource.getrusage(resource.RUSAGE_CHILDREN)
                t = time.perf_counter()
                subprocess.run([sys.executable, "-c", code, *argv], check=True, env=env)
                wall = time.perf_counter() - t
                own = resource.getrusage(resource.RUSAGE_CHILDREN)
                client = own.ru_utime + own.ru_stime - own_before.ru_utime - own_before.ru_stime
                cpu = cpu_seconds(pid) - before if pid else None
                store = cpu_seconds(weed) - store_before
                load = os.getloadavg()[0]
                rows.setdefault(name, []).append((wall, cpu, load))
                print(
                    f"  {name:24s} {wall:6.2f} s  client cpu {client:5.2f} s  SeaweedFS cpu {store:5.2f} s  "
                    f"server cpu {'-' if cpu is None else f'{cpu:.2f} s'}  load {load:.1f}",
                    flush=True,
                )

            for r in range(args.runs):
                print(f"run {r + 1}", flush=True)
                stamp(src, r + 1)
                subprocess.run(["cat", str(src)], stdout=subprocess.DEVNULL, check=True)  # warm cache
                step("boto3 upload_file", BOTO_PUT, [str(src), "cairn", f"raw/{r}"], base_env, None)
                for label, _ in variants:
                    url, key, pid = servers[label]
                    env = {
                        **base_env,
                        "PYTHONPATH": dict(variants)[label],
                        "CAIRN_BASE_URL": url,
                        "CAIRN_API_KEY": key,
                        "CAIRN_ENTITY": ENTITY,
                        "CAIRN_DIR": str(tmp / f"client-{label}-{r}"),
                        "CAIRN_CACHE_DIR": str(tmp / f"cache-{label}-{r}"),
                    }
                    env.pop("WANDB_DIR", None)
                    step(f"{label}: log", LOG, [str(src), f"p{r}"], env, pid)
                    shutil.rmtree(tmp / f"client-{label}-{r}", ignore_errors=True)
                dest = tmp / f"boto-get-{r}"
                dest.mkdir()
                step("boto3 download_file", BOTO_GET, [str(dest / "ckpt.bin"), "cairn", f"raw/{r}"], base_env, None)
                shutil.rmtree(dest)
                client.delete_object(Bucket="cairn", Key=f"raw/{r}")
                for label, _ in variants:
                    url, key, pid = servers[label]
                    env = {
                        **base_env,
                        "PYTHONPATH": dict(variants)[label],
                        "CAIRN_BASE_URL": url,
                        "CAIRN_API_KEY": key,
                        "CAIRN_ENTITY": ENTITY,
                        "CAIRN_DIR": str(tmp / f"client-{label}-{r}"),
                        "CAIRN_CACHE_DIR": str(tmp / f"cache-{label}-{r}"),
                    }
                    env.pop("WANDB_DIR", None)
                    step(f"{label}: download", GET, [str(tmp / f"get-{label}-{r}"), f"p{r}"], env, pid)
                    shutil.rmtree(tmp / f"get-{label}-{r}", ignore_errors=True)
                    shutil.rmtree(tmp / f"cache-{label}-{r}", ignore_errors=True)
                    shutil.rmtree(tmp / f"client-{label}-{r}", ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    report(args, rows, variants, start_load)


def report(args, rows, variants, start_load) -> None:  # noqa: ANN001
    print(
        f"\none file of {args.size_mib} MiB through a server (PostgreSQL + SeaweedFS), {args.runs} interleaved "
        f"runs, medians (min-max); {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load average "
        f"{start_load[0]:.1f} at the start, {os.getloadavg()[0]:.1f} at the end"
    )
    med = {k: statistics.median(w for w, _, _ in v) for k, v in rows.items()}
    for k, v in rows.items():
        walls = [w for w, _, _ in v]
        cpus = [c for _, c, _ in v if c is not None]
        cpu = f"  server cpu {statistics.median(cpus):5.2f} s" if cpus else ""
        print(f"  {k:32s} {med[k]:6.2f} s  ({min(walls):.2f}-{max(walls):.2f}){cpu}")
    for label, _ in variants:
        print(
            f"  {label}: log at {med['boto3 upload_file'] / med[f'{label}: log']:.0%} of boto3 upload_file, "
            f"download at {med['boto3 download_file'] / med[f'{label}: download']:.0%} of boto3 download_file"
        )


if __name__ == "__main__":
    main()
