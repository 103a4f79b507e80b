"""One large file (a model checkpoint): cairn log vs `cp` + `sync`, download vs `cp`, and a
1 MiB in-place edit re-logged, interleaved in one run (issue 15).

    python bench/large_file.py [--size-mib 2048] [--runs 3] [--work DIR] [--cairn-src SRC] [--in-place]
                               [--peers VENVS]

Each cairn step's peak RSS and CPU time (user + system; the child's own, from ``wait4``) are
reported too: on a shared machine wall times are waits, CPU time is what a step costs.
``--peers VENVS`` adds MLflow (``mlflow.log_artifact`` into a file store) and W&B offline
(``Artifact.add_file`` + ``log_artifact`` + ``finish``) to every run, each followed by a
timed ``sync`` as cairn is, with their virtualenvs created under VENVS by
``bench/peers.py`` (from PyPI, once). ``--in-place``
(for 10 GiB on a shared disk) holds one copy of the file instead of three: the source is
moved aside while the download is made and replaced by it (after a ``cmp``), and the 1 MiB
edit is made to it in place, re-logged under the same path (read once untimed first, as
the source is before the first log), and undone.

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


MLFLOW_LOG = """
import sys, mlflow
with mlflow.start_run():
    mlflow.log_artifact(sys.argv[1])
"""
WANDB_LOG = """
import sys, wandb
run = wandb.init(project="cairn-bench", dir=sys.argv[2])
a = wandb.Artifact("ckpt", "model")
a.add_file(sys.argv[1])
run.log_artifact(a)
run.finish()
"""

PEAK_RSS: dict[str, list[int]] = {}  # MiB, per step label
CPU: dict[str, list[float]] = {}  # user + system seconds, per step label


def timed(cmd: list[str], env: dict[str, str] | None = None, label: str | None = None) -> float:
    """Wall time of ``cmd`` after an untimed ``sync``; with ``label``, its peak RSS is kept
    (``wait4``'s rusage of that one child) in PEAK_RSS."""
    subprocess.run(["sync"], check=True)
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    took = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise subprocess.CalledProcessError(proc.returncode, cmd)
    if label:
        PEAK_RSS.setdefault(label, []).append(usage.ru_maxrss >> 10)
        CPU.setdefault(label, []).append(usage.ru_utime + usage.ru_stime)
    return took


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


def edit(path: Path) -> tuple[int, bytes]:
    """Overwrite 1 MiB at a seeded offset; returns (offset, the bytes that were there)."""
    rnd = random.Random(1)
    with open(path, "r+b") as f:
        at = rnd.randrange(0, path.stat().st_size - (1 << 20))
        f.seek(at)
        old = f.read(1 << 20)
        f.seek(at)
        f.write(rnd.randbytes(1 << 20))
    return at, old


def undo(path: Path, saved: tuple[int, bytes]) -> None:
    with open(path, "r+b") as f:
        f.seek(saved[0])
        f.write(saved[1])


START_LOAD = os.getloadavg()[0]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mib", type=int, default=2048)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--work", default="/tmp/cairn-bench-large")
    ap.add_argument("--cairn-src", action="append", default=[], help="label=path/to/src (repeatable)")
    ap.add_argument(
        "--in-place",
        action="store_true",
        help="hold one copy of the file, not three (for 10 GiB): the source is moved aside during the download "
        "and replaced by it, and the 1 MiB edit is made to it in place (then undone)",
    )
    ap.add_argument("--peers", help="folder of the MLflow and W&B virtualenvs (made by bench/peers.py if absent)")
    args = ap.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    src = work / "ckpt.bin"
    make(src, args.size_mib << 20)
    here = str(Path(__file__).resolve().parents[1] / "src")
    variants = [("this", here)] + [tuple(v.split("=", 1)) for v in args.cairn_src]
    if args.peers:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import peers

        args.venvs = {k: peers.ensure_venv(Path(args.peers), k) for k in ("mlflow", "wandb")}
        args.peer_versions = {k: peers.peer_version(v, k) for k, v in args.venvs.items()}
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
        if args.peers:
            measure_peers(args, src, runs / f"peers{r}", add)
        for label, path in variants:
            env = dict(os.environ, PYTHONPATH=path, CAIRN_DIR=str(runs / f"{label}{r}"), PYTHONDONTWRITEBYTECODE="1")
            env.pop("WANDB_DIR", None)
            t = timed([sys.executable, "-c", LOG, str(src)], env, f"{label}: log")
            add(f"{label}: log", t)
            add(f"{label}: log + sync", t + flush())
            get = runs / f"{label}{r}-get"
            if args.in_place:  # the source goes away while the download is made, and is that download after
                moved = src.with_name(src.name + ".away")
                src.rename(moved)
            t = timed([sys.executable, "-c", GET, str(get)], env, f"{label}: download")
            add(f"{label}: download (empty folder)", t)
            add(f"{label}: download + sync", t + flush())
            if args.in_place:
                assert same_bytes(get / src.name, moved), "the download differs from the source"
                moved.unlink()
                (get / src.name).rename(src)
                edited, saved = src, edit(src)
                # warm, as for the first log (the download and cmp above pushed it out of the page cache)
                subprocess.run(["cat", str(src)], stdout=subprocess.DEVNULL, check=True)
            else:
                edited = runs / f"{label}{r}-edited.bin"
                shutil.copyfile(src, edited)
                edit(edited)
            shutil.rmtree(get)
            t = timed([sys.executable, "-c", LOG, str(edited)], env, f"{label}: edit re-log")
            add(f"{label}: {edit_label(args)}", t)
            if args.in_place:
                undo(src, saved)
            else:
                edited.unlink()
            shutil.rmtree(runs / f"{label}{r}")


def measure_peers(args, src, d, add) -> None:  # noqa: ANN001
    """MLflow's and W&B's log of the same file, each into a fresh folder, then a timed sync."""
    import peers

    d.mkdir(parents=True)
    env = dict(os.environ, MLFLOW_ALLOW_FILE_STORE="true", MLFLOW_TRACKING_URI=(d / "mlruns").as_uri())
    py = peers.venv_bin(args.venvs["mlflow"], "python")
    t = timed([py, "-c", MLFLOW_LOG, str(src)], env, "MLflow: log_artifact")
    add("MLflow: log_artifact", t)
    add("MLflow: log_artifact + sync", t + flush())
    shutil.rmtree(d / "mlruns")
    w = d / "wandb"
    w.mkdir()
    env = dict(os.environ, **peers._wandb_env(w))
    py = peers.venv_bin(args.venvs["wandb"], "python")
    t = timed([py, "-c", WANDB_LOG, str(src), str(w)], env, "W&B offline: log_artifact")
    add("W&B offline: log_artifact", t)
    add("W&B offline: log_artifact + sync", t + flush())
    shutil.rmtree(d)


def edit_label(args) -> str:  # noqa: ANN001
    return "re-log after a 1 MiB edit " + ("(in place)" if args.in_place else "(another path)")


def same_bytes(a: Path, b: Path) -> bool:
    """``cmp`` of two files (the download's own check is what is timed; this is the bench's)."""
    return subprocess.run(["cmp", "-s", str(a), str(b)]).returncode == 0


def report(args, rows, variants) -> None:  # noqa: ANN001
    print(
        f"one file of {args.size_mib} MiB, {args.runs} interleaved runs, medians (min-max); "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load average {os.getloadavg()[0]:.1f} at the end "
        f"({START_LOAD:.1f} at the start)"
    )
    for k, v in rows.items():
        print(f"  {k:45s} {statistics.median(v):6.2f} s  ({min(v):.2f}-{max(v):.2f})")
    for k, v in CPU.items():
        print(f"  CPU (user + sys), {k:34s} {statistics.median(v):6.2f} s  ({min(v):.2f}-{max(v):.2f})")
    for k, v in PEAK_RSS.items():
        print(f"  peak RSS, {k:34s} {max(v):6d} MiB")
    if args.peers:
        print(f"  peers: {args.peer_versions}")
        for label, _ in variants:
            mine = statistics.median(rows[f"{label}: log + sync"])
            for peer in ("MLflow: log_artifact + sync", "W&B offline: log_artifact + sync"):
                print(f"  {peer} / {label}: log + sync = {statistics.median(rows[peer]) / mine:.2f}x")
    base = statistics.median(rows["cp + sync"])
    for label, _ in variants:
        print(
            f"  {label}: log + sync / (cp + sync) = {statistics.median(rows[f'{label}: log + sync']) / base:.2f}x; "
            f"download / cp = {statistics.median(rows[f'{label}: download (empty folder)']) / statistics.median(rows['cp']):.2f}x; "
            f"edit re-log / log = {statistics.median(rows[f'{label}: {edit_label(args)}']) / statistics.median(rows[f'{label}: log']):.2f}x"
        )


if __name__ == "__main__":
    main()
