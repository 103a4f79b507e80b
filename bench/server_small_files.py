"""50,000 x 1 KiB logged through a `cairn server` on PostgreSQL + SeaweedFS against the same
files logged into the embedded store, interleaved in one run (issue 15: through a server at
>= 50% of the embedded store's speed).

    python bench/server_small_files.py [--files 50000] [--runs 2] [--work DIR] [--cairn-src label=SRC]

Each run makes a dataset of its own (bench/data.py's layout, 100 folders, a seed per run: no
dedup across runs, ~200 MiB on ext4, removed after the run) and times, each a fresh process
with the SDK path a user writes (`Artifact.add_dir` + `run.log_artifact`): the log into a
fresh embedded store (CAIRN_DIR), then the log through the server (CAIRN_BASE_URL). Reported
per step: wall time, the process tree's CPU, the server's and SeaweedFS's CPU during the step
(from /proc), load average. `--cairn-src label=path/to/src` adds another checkout's client
and server (its own server process and bucket prefix), interleaved, for a before/after.
"""

from __future__ import annotations

import argparse
import os
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
sys.path.insert(0, str(HERE))

ENTITY = "bench"

LOG = """
import sys, cairn
with cairn.init(project=sys.argv[2]) as run:
    a = cairn.Artifact("files", "dataset")
    a.add_dir(sys.argv[1])
    run.log_artifact(a)
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", type=int, default=50_000)
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--work", default="/tmp/cairn-bench-server-small")
    ap.add_argument("--cairn-src", action="append", default=[], help="label=path/to/src (repeatable)")
    args = ap.parse_args()
    import data
    from server_stack import cpu_seconds, server_stack

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    variants = [("this", str(HERE.parent / "src"))] + [tuple(v.split("=", 1)) for v in args.cairn_src]
    start_load = os.getloadavg()
    rows: dict[str, list[float]] = {}
    tmp = Path(tempfile.mkdtemp(prefix="srvsmall-", dir=work))
    try:
        with server_stack(tmp, variants, ENTITY) as (s3, replicas):
            servers = {label: (r.url, r.key, r.pid) for label, r in replicas.items()}
            base_env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "CAIRN_SILENT": "1"}
            base_env.pop("WANDB_DIR", None)
            weed = s3.process.proc.pid

            def step(name: str, argv: list[str], env: dict[str, str], pid: int | None) -> None:
                subprocess.run(["sync"], check=True)
                server_before = cpu_seconds(pid) if pid else 0.0
                store_before = cpu_seconds(weed)
                own_before = resource.getrusage(resource.RUSAGE_CHILDREN)
                t = time.perf_counter()
                subprocess.run([sys.executable, "-c", LOG, *argv], check=True, env=env)
                subprocess.run(["sync"], check=True)  # the embedded store's flush counts
                wall = time.perf_counter() - t
                own = resource.getrusage(resource.RUSAGE_CHILDREN)
                client = own.ru_utime + own.ru_stime - own_before.ru_utime - own_before.ru_stime
                server = cpu_seconds(pid) - server_before if pid else 0.0
                store = cpu_seconds(weed) - store_before
                rows.setdefault(name, []).append(wall)
                print(
                    f"  {name:24s} {wall:6.2f} s (incl. sync)  client cpu {client:5.2f} s  server cpu {server:5.2f} s"
                    f"  SeaweedFS cpu {store:5.2f} s  load {os.getloadavg()[0]:.1f}",
                    flush=True,
                )

            for r in range(args.runs):
                print(f"run {r + 1}", flush=True)
                spec = data.Spec("small", args.files, 100, data.KIB, seed=100 + r)
                folder = tmp / f"data-{r}"
                data.ensure(spec, folder, log=lambda *_: None)
                subprocess.run(f"find {folder} -type f -exec cat {{}} + > /dev/null", shell=True, check=True)
                for label, src in variants:
                    env = {**base_env, "PYTHONPATH": src, "CAIRN_DIR": str(tmp / f"embedded-{label}-{r}")}
                    step(f"{label}: embedded", [str(folder), f"p{r}"], env, None)
                    shutil.rmtree(tmp / f"embedded-{label}-{r}", ignore_errors=True)
                    url, key, pid = servers[label]
                    env = {
                        **base_env,
                        "PYTHONPATH": src,
                        "CAIRN_BASE_URL": url,
                        "CAIRN_API_KEY": key,
                        "CAIRN_ENTITY": ENTITY,
                        "CAIRN_DIR": str(tmp / f"client-{label}-{r}"),
                        "CAIRN_CACHE_DIR": str(tmp / f"cache-{label}-{r}"),
                    }
                    step(f"{label}: server", [str(folder), f"p{r}"], env, pid)
                    shutil.rmtree(tmp / f"client-{label}-{r}", ignore_errors=True)
                    shutil.rmtree(tmp / f"cache-{label}-{r}", ignore_errors=True)
                shutil.rmtree(folder)
                data._marker(folder).unlink(missing_ok=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(
        f"\n{args.files:,} x 1 KiB through a server (PostgreSQL + SeaweedFS) vs embedded, {args.runs} interleaved "
        f"runs, medians (min-max); {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load average "
        f"{start_load[0]:.1f} at the start, {os.getloadavg()[0]:.1f} at the end"
    )
    med = {k: statistics.median(v) for k, v in rows.items()}
    for k, v in rows.items():
        print(f"  {k:32s} {med[k]:6.2f} s  ({min(v):.2f}-{max(v):.2f})")
    for label, _ in variants:
        print(f"  {label}: through the server at {med[f'{label}: embedded'] / med[f'{label}: server']:.0%} of embedded")


if __name__ == "__main__":
    main()
