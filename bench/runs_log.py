"""100,000 ``wandb.log`` calls of 5 metrics: time per call and peak memory.

cairn on the embedded store, cairn through a ``cairn server`` (on its own embedded store,
over loopback HTTP), and W&B offline (``WANDB_MODE=offline``) in its own virtualenv (see
``peers.py``), each in a fresh process on the same machine. Each process times the loop
of ``log`` calls alone, then ``finish`` (which stores what is still buffered), and reports
its peak RSS and its RSS before the loop.

    python bench/runs_log.py [--calls 100000] [--runs 3] [--work /tmp/cairn-runs-bench]
                             [--venvs DIR] [--no-wandb] [--out bench/RESULTS-runs.md]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import peers

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent

SCRIPT = r"""
import json, os, resource, sys, time
calls = int(sys.argv[1])
t0 = time.perf_counter()
import {module} as wandb
imported = time.perf_counter() - t0
run = wandb.init(project="bench-log", config={{"lr": 0.001, "batch": 64}})
rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
for i in range(calls):
    wandb.log({{"loss": 1.0 / (i + 1), "acc": i / calls, "lr": 0.001, "epoch": i // 1000, "grad_norm": (i % 97) / 97}})
loop = time.perf_counter() - t
t = time.perf_counter()
wandb.finish()
finish = time.perf_counter() - t
print(json.dumps({{"import_s": imported, "loop_s": loop, "finish_s": finish,
                  "rss_before_mib": rss0 / 1024, "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def one(python: str, module: str, calls: int, env: dict, cwd: Path) -> dict:
    cwd.mkdir(parents=True, exist_ok=True)
    script = cwd / "log_bench.py"
    script.write_text(SCRIPT.format(module=module))
    out = subprocess.run(
        [python, str(script), str(calls)],
        env={**os.environ, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    if out.returncode != 0:
        raise RuntimeError(f"{module} run failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


class Server:
    """``cairn server`` on a fresh embedded store, for the through-a-server rows."""

    def __init__(self, home: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        home.mkdir(parents=True, exist_ok=True)
        self.log = open(home / "server.log", "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cairn.cli", "server", "--host", "127.0.0.1", "--port", str(self.port), "--no-ui"],
            env={**os.environ, "CAIRN_DIR": str(home / "store")},
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        import httpx

        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(self.url + "/api/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("cairn server did not start")
            time.sleep(0.1)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        self.log.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--calls", type=int, default=100_000)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--work", type=Path, default=Path("/tmp/cairn-runs-bench"))
    p.add_argument("--venvs", type=Path, default=None)
    p.add_argument("--no-wandb", action="store_true")
    p.add_argument("--out", type=Path, default=BENCH_DIR / "RESULTS-runs.md")
    a = p.parse_args()
    work = a.work.resolve()
    shutil.rmtree(work / "runs", ignore_errors=True)
    results: dict[str, list[dict]] = {}
    rows = [("cairn, embedded store", sys.executable, "cairn", lambda i: {"CAIRN_DIR": str(work / "runs" / f"emb{i}")})]
    server = Server(work / "runs" / "server")
    rows.append(
        (
            "cairn, through a server",
            sys.executable,
            "cairn",
            lambda i: {"CAIRN_BASE_URL": server.url, "CAIRN_DIR": str(work / "runs" / f"srv{i}")},
        )
    )
    versions = {}
    if not a.no_wandb:
        venv = peers.ensure_venv((a.venvs or work / "venvs").resolve(), "wandb", print)
        versions["wandb"] = peers.peer_version(venv, "wandb")
        rows.append(
            (
                "W&B offline",
                peers.venv_bin(venv, "python"),
                "wandb",
                lambda i: {
                    "WANDB_MODE": "offline",
                    "WANDB_DIR": str(work / "runs" / f"wb{i}"),
                    "WANDB_CACHE_DIR": str(work / "runs" / f"wb{i}" / "cache"),
                    "WANDB_CONFIG_DIR": str(work / "runs" / f"wb{i}" / "config"),
                    "WANDB_DATA_DIR": str(work / "runs" / f"wb{i}" / "data"),
                    "WANDB_SILENT": "true",
                    "WANDB_CONSOLE": "off",
                },
            )
        )
    try:
        for label, python, module, env in rows:
            for i in range(a.runs + 1):  # the first is a warm-up
                got = one(python, module, a.calls, env(i), work / "runs" / f"cwd-{module}-{i}")
                print(label, i, got, flush=True)
                if i:
                    results.setdefault(label, []).append(got)
    finally:
        server.stop()
    write(a.out, a.calls, a.runs, results, versions)


def write(out: Path, calls: int, runs: int, results: dict[str, list[dict]], versions: dict) -> None:
    med = statistics.median
    lines = [
        "# Run history: `wandb.log` calls",
        "",
        f"{calls:,} `log` calls of 5 metrics each, in one process per run (median of {runs} runs after a warm-up), "
        f"on {os.cpu_count()} cores; load average at the end {' '.join(f'{x:.2f}' for x in os.getloadavg())}. "
        "Loop: the log calls alone. Finish: `wandb.finish()`, which stores what is still buffered "
        "(W&B: waits for its service process). Peak RSS of the script's process (W&B also runs a "
        "separate service process, not counted).",
        "",
        f"Tools: cairn {REPO}, " + ", ".join(f"{k} {v}" for k, v in versions.items()),
        "",
        "| setup | per call (µs) | loop (s) | finish (s) | RSS before loop (MiB) | peak RSS (MiB) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, rs in results.items():
        loop = med(r["loop_s"] for r in rs)
        lines.append(
            f"| {label} | {loop / calls * 1e6:.1f} | {loop:.2f} | {med(r['finish_s'] for r in rs):.2f} | "
            f"{med(r['rss_before_mib'] for r in rs):.0f} | {med(r['peak_rss_mib'] for r in rs):.0f} |"
        )
    out.write_text("\n".join(lines) + "\n")
    print(out.read_text())


if __name__ == "__main__":
    main()
