"""Run the benchmark: floors, peers (W&B, DVC, MLflow) and cairn; write a table.

    python bench/run.py [--quick] [--runs N] [--only SCENARIO ...]
                        [--peers wandb,dvc,mlflow] [--datasets big small ...]
                        [--work /tmp/cairn-bench] [--out bench/RESULTS.md]
                        [--baseline LABEL=path/to/other/cairn ...]

Each scenario: one warm-up run, then N timed runs, each in a fresh folder
(nothing is deleted until everything is done: mass deletes on ext4 slow the
file creation that follows). Per run: `sync` (untimed), the timed command as a
whole process, then a timed `sync` (the "flush" column). Peak RSS comes from
wait4() and is the largest single process of the tree, not a sum.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cairn_scenarios  # noqa: E402
import data  # noqa: E402
import peers  # noqa: E402

STARTUP = "start-up"  # pseudo-dataset of the dataset-independent rows


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- one process


def cpu_busy() -> float:
    """CPU seconds spent busy since boot, all cores (first line of /proc/stat)."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:9]]
    except (OSError, ValueError):
        return 0.0
    return (sum(v) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")  # minus idle, iowait


def run_timed(argv, env, cwd, out) -> tuple[float, int, int, float, float, int]:
    """Run argv to completion; return (seconds, exit code, peak RSS in KiB,
    cores busy with *other* work meanwhile: other processes, kernel threads,
    CPU seconds (user + sys) of the tree, bytes it wrote). Bytes written are the
    tree's ru_oublock (the kernel's write_bytes of /proc/<pid>/io / 512): counted when a
    page is dirtied, so what the flush after the run writes is in, and so is a temporary
    file deleted before it reached the disk."""
    busy0 = cpu_busy()
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    _, status, usage = os.wait4(p.pid, 0)  # reap it ourselves to get its rusage
    seconds = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    other = cpu_busy() - busy0 - usage.ru_utime - usage.ru_stime
    cpu = usage.ru_utime + usage.ru_stime
    return seconds, p.returncode, usage.ru_maxrss, max(0.0, other) / seconds, cpu, usage.ru_oublock * 512


def wait_quiet(limit: float, cores: float = 0.2) -> None:
    """Wait (up to `limit` s) for a 0.5 s window with < `cores` cores busy."""
    end = time.monotonic() + limit
    while time.monotonic() < end:
        busy0 = cpu_busy()
        time.sleep(0.5)
        if (cpu_busy() - busy0) / 0.5 < cores:
            return


def prewarm(dataset: Path | None) -> None:
    """Read the dataset into the page cache: tools all start from a warm cache
    (the VM may page cold file data out between runs)."""
    if dataset is not None:
        subprocess.run(["sh", "-c", 'find "$1" -type f -exec cat {} + > /dev/null', "sh", str(dataset)], check=False)


def timed_sync() -> float:
    t0 = time.perf_counter()
    os.sync()
    return time.perf_counter() - t0


def _new_row(scn, label: str | None = None) -> dict:
    return {
        "key": scn.key,
        "label": label or scn.label,
        "group": scn.group,
        "status": "ok",
        "note": "",
        "seconds": [],
        "flush": [],
        "rss_kib": [],
        "other_cpu": [],
        "cpu": [],
        "written": [],
        "phases": [],
    }


def run_once(
    row: dict, scn, ctx, dataset: Path | None, fresh_root: Path, logs: Path, i: int, runs: int, quiet: float
) -> bool:
    """Run ``i`` (0 = the warm-up) of one scenario into ``row``; False when it failed."""
    ctx.run_index = i
    fresh = fresh_root / scn.key / str(i)
    fresh.mkdir(parents=True)
    logs.mkdir(parents=True, exist_ok=True)
    step = scn.build(ctx, dataset, fresh)
    env = {**os.environ, **step.env}
    if step.cwd:
        step.cwd.mkdir(parents=True, exist_ok=True)
    log_path = logs / f"{scn.key}-{i}.log"
    with open(log_path, "wb") as out:
        for cmd in step.setup:
            try:
                rc = subprocess.run(cmd, env=env, cwd=step.cwd, stdout=out, stderr=subprocess.STDOUT).returncode
            except OSError as e:
                rc = str(e)
            if rc:
                _failed(row, f"setup `{' '.join(cmd[:2])}`: {rc}", log_path)
                return False
        os.sync()
        prewarm(dataset)
        wait_quiet(quiet)
        out.write(f"$ {' '.join(step.argv)}\n".encode())
        out.flush()
        try:
            seconds, rc, rss, other, cpu, written = run_timed(step.argv, env, step.cwd, out)
        except OSError as e:
            _failed(row, str(e), log_path)
            return False
    if rc:
        _failed(row, f"exit {rc}", log_path)
        return False
    flush = timed_sync()
    what = "warm-up" if i == 0 else f"run {i}/{runs}"
    log(
        f"  {row['label'][:40]:40} {what:9} {seconds:8.3f}s  +sync {flush:6.3f}s  {rss / 1024:7.1f} MiB  other CPU {other:4.2f}"
        f"  cpu {cpu:6.2f}s  wrote {written / 2**20:7.1f} MiB"
    )
    if i:
        row["seconds"].append(seconds)
        row["flush"].append(flush)
        row["rss_kib"].append(rss)
        row["other_cpu"].append(other)
        row["cpu"].append(cpu)
        row["written"].append(written)
        row["phases"].append(peers.load_phases(step.phases))
    return True


def run_scenario(scn, ctx, dataset: Path | None, fresh_root: Path, logs: Path, runs: int, quiet: float = 0) -> dict:
    row = _new_row(scn)
    for i in range(runs + 1):  # run 0 is the warm-up
        if not run_once(row, scn, ctx, dataset, fresh_root, logs, i, runs, quiet):
            break
    return row


def run_compared(
    scn, variants: list[tuple[str, object]], dataset: Path | None, fresh_root: Path, logs: Path, runs: int, quiet: float
) -> list[dict]:
    """One cairn scenario for several cairn builds (label, Context), their runs interleaved
    (warm-up of each, then run 1 of each, ...) so that a machine whose load drifts weighs on
    every build alike."""
    rows = [_new_row(scn, f"{scn.label} [{label}]") for label, _ in variants]
    alive = [True] * len(variants)
    for i in range(runs + 1):
        for k, (label, ctx) in enumerate(variants):
            if alive[k]:
                alive[k] = run_once(rows[k], scn, ctx, dataset, fresh_root / label, logs / label, i, runs, quiet)
    for row, (label, _) in zip(rows, variants, strict=True):
        row["build"] = label
    return rows


def _failed(row: dict, why: str, log_path: Path) -> dict:
    log(f"  {row['key']}: FAILED ({why}), see {log_path}")
    row.update(status="failed", note=f"failed: {why}; log {log_path}")
    return row


# ---------------------------------------------------------------- report


def machine() -> dict:
    def first(path, prefix):
        try:
            for line in open(path):
                if line.startswith(prefix):
                    return line.split(":", 1)[1].strip()
        except OSError:
            pass
        return "?"

    mem_kib = first("/proc/meminfo", "MemTotal").split()[0]
    return {
        "cpu": first("/proc/cpuinfo", "model name"),
        "cores": os.cpu_count(),
        "memory": f"{int(mem_kib) / 1024**2:.1f} GiB" if mem_kib.isdigit() else "?",
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def filesystem(path: Path) -> str:
    for cmd in (["findmnt", "-n", "-o", "FSTYPE,SOURCE,OPTIONS", "-T", str(path)], ["df", "-T", str(path)]):
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, check=True)
            return " ".join(out.stdout.split()[-4:] if cmd[0] == "df" else out.stdout.split())
        except (OSError, subprocess.CalledProcessError):
            continue
    return "?"


def fmt_s(x: float) -> str:
    return f"{x:.3f}" if x < 0.1 else f"{x:.2f}"


def table(rows: list[dict]) -> list[str]:
    lines = [
        "| scenario | median s | min–max s | flush (sync) s | CPU s | written MiB | peak RSS MiB | other CPU | notes |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        if r["status"] != "ok":
            lines.append(f"| {r['label']} | – | – | – | – | – | – | – | {r['note']} |")
            continue
        s, f = r["seconds"], r["flush"]
        phases = {
            k: statistics.median(p[k] for p in r["phases"] if k in p) for k in (r["phases"][0] if r["phases"] else {})
        }
        note = " · ".join(f"{k} {fmt_s(v)}" for k, v in phases.items()) or r["note"]
        lines.append(
            f"| {r['label']} | {fmt_s(statistics.median(s))} | "
            f"{fmt_s(min(s))}–{fmt_s(max(s))} | {fmt_s(statistics.median(f))} | "
            f"{fmt_s(statistics.median(r.get('cpu') or [0]))} | {statistics.median(r.get('written') or [0]) / 2**20:.1f} | "
            f"{max(r['rss_kib']) / 1024:.0f} | "
            f"{statistics.median(r['other_cpu']):.2f} | {note} |"
        )
    return lines


def ratios(rows: list[dict]) -> list[str]:
    """cairn's rows divided by every floor's and peer's, time plus flush (medians): below 1,
    cairn took less."""
    ok = [r for r in rows if r["status"] == "ok"]
    mine = [r for r in ok if r["group"] == "cairn"]
    others = [r for r in ok if r["group"] != "cairn"]
    if not mine or not others:
        return []

    def total(r: dict) -> float:
        return statistics.median(r["seconds"]) + statistics.median(r["flush"])

    lines = ["| cairn ÷ | " + " | ".join(r["key"] for r in others) + " |", "|---|" + "---:|" * len(others)]
    for m in mine:
        lines.append(f"| {m['label']} | " + " | ".join(f"{total(m) / total(o):.2f}" for o in others) + " |")
    return ["Ratios, time + flush (medians); below 1, cairn took less:", "", *lines, ""]


def comparison(rows: list[dict]) -> list[str]:
    """Each cairn scenario run by several builds (``--baseline``): every build's time + flush
    and peak RSS divided by the first build's (this checkout). Below 1, the baseline took less."""
    builds: dict[str, dict[str, dict]] = {}
    for r in rows:
        if r.get("build") and r["status"] == "ok":
            builds.setdefault(r["key"], {})[r["build"]] = r
    if not builds:
        return []
    names = list(next(iter(builds.values())))
    this, others = names[0], names[1:]
    if not others:
        return []

    def total(r: dict) -> float:
        return statistics.median(r["seconds"]) + statistics.median(r["flush"])

    def ratio(a: float, b: float) -> str:
        return f"{a / b:.2f}" if b else "–"

    measures = {
        "time": total,
        "CPU": lambda r: statistics.median(r["cpu"]),
        "written": lambda r: statistics.median(r["written"]),
        "RSS": lambda r: max(r["rss_kib"]),
    }
    head = " | ".join(f"{b} ÷ {this} ({m})" for b in others for m in measures)
    lines = [f"| scenario | {head} |", "|---|" + "---:|" * (len(measures) * len(others))]
    for by in builds.values():
        if this not in by:
            continue
        cells = []
        for b in others:
            for measure in measures.values():
                cells.append(ratio(measure(by[b]), measure(by[this])) if b in by else "–")
        lines.append(f"| {by[this]['label'].rsplit(' [', 1)[0]} | " + " | ".join(cells) + " |")
    return [
        f"Builds compared (medians; time is time + flush, CPU is user + sys, written is the bytes the "
        f"tree wrote; above 1, {this} took less):",
        "",
        *lines,
        "",
    ]


def render(result: dict) -> str:
    m = result["machine"]
    out = [
        "# cairn benchmark results",
        "",
        f"Run {result['date']}: `{result['command']}`",
        "",
        "## Machine",
        "",
        f"- CPU: {m['cpu']}, {m['cores']} cores; memory {m['memory']}",
        f"- work dir {result['work']}: {m['filesystem']}",
        f"- kernel {m['kernel']}; Python {m['python']}",
        "- tools: " + ", ".join(f"{k} {v}" for k, v in result["versions"].items()),
        "",
        "## Method",
        "",
        f"Warm page cache (the dataset is read once before every run). Per scenario: 1 warm-up, then {result['runs']} runs, each in "
        "a fresh folder (deleted only at the end). Times are whole processes "
        "(start-up + imports included); 'flush' is a `sync` timed right after; "
        "peak RSS is the largest process of the tree (wait4); 'CPU s' its user + sys time; "
        "'written MiB' what the tree wrote (ru_oublock = /proc/<pid>/io write_bytes, counted "
        "as pages are dirtied: a WAL and temporary files count). 'other CPU' is the "
        "median number of cores busy with anything else during the timed run (other "
        "processes and kernel threads, incl. writeback): well above 0 means a noisy "
        "machine. Notes give the median in-process phase times the peer scripts "
        "report.",
        f"Load average at start {result['load'][0]}, at end {result['load'][1]}.",
        "",
    ]
    for name, rows in result["tables"].items():
        title = STARTUP if name == STARTUP else result["datasets"][name]
        out += [f"## {title}", "", *table(rows), "", *ratios(rows), *comparison(rows)]
    if result["notes"]:
        out += ["## Notes", "", *[f"- {n}" for n in result["notes"]], ""]
    return "\n".join(out)


# ---------------------------------------------------------------- main


def main() -> int:
    p = argparse.ArgumentParser(description="cairn vs peers benchmark")
    p.add_argument("--quick", action="store_true", help="the 1/10 datasets")
    p.add_argument("--runs", type=int, default=3, help="timed runs after the warm-up")
    p.add_argument(
        "--only",
        nargs="+",
        metavar="SCENARIO",
        help="scenario keys: " + " ".join(s.key for s in peers.SCENARIOS + cairn_scenarios.SCENARIOS),
    )
    p.add_argument("--peers", default=",".join(peers.PEERS), help="comma list of peers to run ('' for none)")
    p.add_argument("--datasets", nargs="+", default=list(data.DEFAULT_DATASETS), choices=sorted(data.FULL))
    p.add_argument("--no-cairn", action="store_true", help="skip the cairn rows")
    p.add_argument("--cairn", help="path of the cairn CLI (default: repo .venv)")
    p.add_argument(
        "--baseline",
        action="append",
        default=[],
        metavar="LABEL=CLI",
        help="also run every cairn scenario with another build's CLI (e.g. an older commit's "
        "venv), runs interleaved with this one's; repeatable",
    )
    p.add_argument(
        "--work", type=Path, default=data.DEFAULT_WORK, help="data, venvs and scratch runs (default %(default)s)"
    )
    p.add_argument("--venvs", type=Path, help="peer virtualenvs (default WORK/venvs)")
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "RESULTS.md")
    p.add_argument(
        "--wait-quiet",
        type=float,
        default=0,
        metavar="S",
        help="before each run wait up to S s for the CPUs to go idle",
    )
    p.add_argument("--keep", action="store_true", help="keep the run folders")
    p.add_argument(
        "--prune",
        action="store_true",
        help="delete each scenario's run folders as soon as it is done (needs far less disk; the "
        "deletes slow the file creation that follows, so absolute times suffer, but builds "
        "compared with --baseline run interleaved and suffer alike)",
    )
    a = p.parse_args()

    work = a.work.resolve()
    chosen = [k for k in a.peers.split(",") if k]
    unknown = set(chosen) - set(peers.PEERS)
    if unknown:
        p.error(f"unknown peers {sorted(unknown)}; know {list(peers.PEERS)}")
    notes: list[str] = []
    cairn_cli = None if a.no_cairn else cairn_scenarios.find_cli(a.cairn)
    if not a.no_cairn and cairn_cli is None:
        notes.append("cairn rows skipped: no `cairn` CLI found (repo .venv/bin/cairn, PATH or --cairn)")
    scenarios = [s for s in peers.SCENARIOS if s.group == "floor" or s.group in chosen]
    scenarios += cairn_scenarios.SCENARIOS if not a.no_cairn else []
    if a.only:
        known = {s.key for s in peers.SCENARIOS + cairn_scenarios.SCENARIOS}
        if set(a.only) - known:
            p.error(f"unknown scenarios {sorted(set(a.only) - known)}")
        scenarios = [s for s in scenarios if s.key in a.only]

    venv_root = (a.venvs or work / "venvs").resolve()
    venvs = {k: peers.ensure_venv(venv_root, k, log) for k in chosen if any(s.group == k for s in scenarios)}
    versions = {peers.PEERS[k]: peers.peer_version(v, k) for k, v in venvs.items()}
    baselines: list[tuple[str, Path]] = []
    for spec in a.baseline:
        label, sep, cli = spec.partition("=")
        if not sep or not label or not Path(cli).is_file():
            p.error(f"--baseline {spec!r}: give LABEL=PATH of an existing cairn CLI")
        baselines.append((label, Path(cli)))
    if baselines and cairn_cli is None:
        p.error("--baseline needs this checkout's cairn CLI too (see --cairn)")
    for label, cli in [("cairn", cairn_cli), *baselines] if cairn_cli else []:
        versions[label] = str(cli)
        compiled = cairn_scenarios.compile_bytecode(cli)
        if compiled:
            notes.append(compiled)

    specs = data.specs(a.quick)
    datasets = {n: data.ensure(specs[n], data.dataset_dir(work, a.quick, n), log) for n in a.datasets}
    load_start = " ".join(f"{x:.2f}" for x in os.getloadavg())
    stamp = time.strftime("%Y%m%d-%H%M%S")
    run_root, log_root = work / "runs" / stamp, work / "logs" / stamp
    ctx = peers.Context(work, venvs, cairn_cli, 0)
    variants = [("this", ctx)] + [(label, peers.Context(work, venvs, cli, 0)) for label, cli in baselines]

    tables: dict[str, list[dict]] = {}
    for name in [STARTUP, *datasets]:
        rows = []
        for scn in scenarios:
            if scn.startup != (name == STARTUP):
                continue
            if scn.datasets and name not in scn.datasets:
                continue
            if scn.group == "cairn" and cairn_cli is None:
                rows.append(
                    {
                        "key": scn.key,
                        "label": scn.label,
                        "group": "cairn",
                        "status": "skipped",
                        "note": "skipped: cairn CLI not installed",
                    }
                )
                continue
            log(f"[{name}] {scn.label}")
            dataset = datasets.get(name)  # None for the start-up rows
            if scn.group == "cairn" and baselines:
                rows += run_compared(scn, variants, dataset, run_root / name, log_root / name, a.runs, a.wait_quiet)
            else:
                rows.append(run_scenario(scn, ctx, dataset, run_root / name, log_root / name, a.runs, a.wait_quiet))
            if a.prune:
                # this scenario's folders: <name>/<key> alone, <name>/<build>/<key> compared
                for folder in [run_root / name / scn.key, *(run_root / name).glob(f"*/{scn.key}")]:
                    shutil.rmtree(folder, ignore_errors=True)
        if rows:
            tables[name] = rows

    result = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "command": " ".join(["python", "bench/run.py", *sys.argv[1:]]),
        "work": str(work),
        "runs": a.runs,
        "machine": {**machine(), "filesystem": filesystem(work)},
        "versions": versions,
        "datasets": {n: specs[n].describe() for n in datasets},
        "tables": tables,
        "notes": notes + [f"logs: {log_root}"],
        "load": [load_start, " ".join(f"{x:.2f}" for x in os.getloadavg())],
    }
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(render(result))
    a.out.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
    log(f"wrote {a.out} and {a.out.with_suffix('.json')}")
    if not a.keep and run_root.exists():
        log(f"removing {run_root} ...")
        shutil.rmtree(run_root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
