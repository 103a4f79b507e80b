"""Process start-up: what ``import cairn`` and a ``cairn`` command cost before any work.

    python bench/startup.py                                          # this checkout
    python bench/startup.py --baseline /work/wt/base/.venv/bin/python --runs 15
    python bench/startup.py --baseline A/bin/python --baseline B/bin/python   # several

Each case is a fresh process; its CPU time (user + sys, from getrusage(RUSAGE_CHILDREN))
and wall time are taken, and the medians reported. With --baseline the two builds run
interleaved (case by case, build by build, round after round), so that the load of a
shared machine falls on both alike. The ``cairn`` executable of a build is the one next
to its python. Bytecode is compiled first (``compileall``) for each build, since
PYTHONDONTWRITEBYTECODE=1 would otherwise leave stale .pyc to be recompiled on every run.
The store cases run in an empty temporary CAIRN_DIR, one per build.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CASES: dict[str, list[str]] = {
    "import cairn": ["{python}", "-c", "import cairn"],
    "import cairn as wandb; init(); finish()": [
        "{python}",
        "-c",
        "import cairn as wandb; r = wandb.init(project='startup'); r.finish()",
    ],
    "import cairn.cli.main + client.local": ["{python}", "-c", "import cairn.cli.main; import cairn.client.local"],
    "cairn --version": ["{cairn}", "--version"],
    "cairn --help": ["{cairn}", "--help"],
    "cairn artifact ls startup": ["{cairn}", "artifact", "ls", "startup"],
}


def _compile(python: str) -> None:
    where = subprocess.run(
        [python, "-c", "import os, cairn; print(os.path.dirname(cairn.__file__))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    subprocess.run([python, "-m", "compileall", "-q", where], check=True)


def _one(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """CPU (user + sys) and wall seconds of one process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15, help="timed runs of each case per build (default 15)")
    parser.add_argument(
        "--baseline",
        action="append",
        default=[],
        help="the python of another build (its `cairn` is next to it); may be given more than once",
    )
    parser.add_argument("--only", nargs="*", choices=list(CASES), help="run these cases only")
    args = parser.parse_args()

    builds = {"this": sys.executable}
    for i, python in enumerate(args.baseline, 1):
        builds[f"baseline{i}"] = python
        print(f"baseline{i}: {python}")
    for python in builds.values():
        _compile(python)
    cases = {name: CASES[name] for name in (args.only or CASES)}
    times: dict[tuple[str, str], list[tuple[float, float]]] = {(c, b): [] for c in cases for b in builds}
    print(f"load average at start: {os.getloadavg()}")
    with tempfile.TemporaryDirectory(prefix="cairn-startup-") as tmp:
        envs = {}  # a store per build: their schema versions may differ
        for build in builds:
            envs[build] = {**os.environ, "CAIRN_DIR": str(Path(tmp) / build)}
            envs[build].pop("CAIRN_BASE_URL", None)
        for round_ in range(args.runs + 1):  # the first round warms the file cache, and is dropped
            for case, template in cases.items():
                for build, python in builds.items():
                    cairn = str(Path(python).parent / "cairn")
                    argv = [part.format(python=python, cairn=cairn) for part in template]
                    measured = _one(argv, envs[build])
                    if round_:
                        times[(case, build)].append(measured)
    print(f"load average at end:   {os.getloadavg()}")
    print(f"medians of {args.runs} runs, ms (CPU = user + sys)")
    header = "".join(f" | {b} CPU | {b} wall" for b in builds)
    print(f"| case{header} |")
    print("|---" + "|---:" * (2 * len(builds)) + "|")
    for case in cases:
        cells = ""
        for build in builds:
            cpu = statistics.median(t[0] for t in times[(case, build)]) * 1000
            wall = statistics.median(t[1] for t in times[(case, build)]) * 1000
            cells += f" | {cpu:.0f} | {wall:.0f}"
        print(f"| {case}{cells} |")


if __name__ == "__main__":
    main()
