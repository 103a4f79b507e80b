"""Floors and peer tools: their virtualenvs and the scenarios that time them.

A scenario builds a `Step` for one run: untimed setup commands, then one timed
command line. The timed command is always a whole process, so its time
includes interpreter start-up and imports, as a user would see it.

Each peer gets its own virtualenv (packages from PyPI via pip), created once
under a cache folder and reused while its marker file says it is complete.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

BENCH_DIR = Path(__file__).resolve().parent
PEERS = {"wandb": "wandb", "dvc": "dvc", "mlflow": "mlflow-skinny"}  # key -> pip name


@dataclass
class Step:
    argv: list[str]  # the timed command line
    env: dict[str, str] = field(default_factory=dict)  # added to os.environ
    cwd: Path | None = None
    setup: list[list[str]] = field(default_factory=list)  # untimed, in order
    phases: Path | None = None  # optional JSON {phase: seconds} the command writes


@dataclass
class Context:
    work: Path
    venvs: dict[str, Path]  # peer key -> venv folder (only the peers in use)
    cairn: Path | None  # the cairn CLI, if installed
    run_index: int  # 0 = warm-up, 1..N = timed runs (seeds edit k)


@dataclass
class Scenario:
    key: str  # for --only
    label: str  # row label
    group: str  # "floor", a peer key, or "cairn"
    build: Callable[[Context, Path, Path], Step]  # (ctx, dataset, fresh dir)
    datasets: tuple[str, ...] | None = None  # None = every dataset
    startup: bool = False  # dataset-independent: run once, in "start-up"


# ---------------------------------------------------------------- virtualenvs


def venv_bin(venv: Path, name: str) -> str:
    return str(venv / "bin" / name)


def ensure_venv(cache: Path, key: str, log=print) -> Path:
    """Create <cache>/<key> with the peer installed, unless already done."""
    pkg = PEERS[key]
    venv = cache / key
    marker = venv / ".bench-installed"
    if marker.exists():
        return venv
    log(f"creating virtualenv {venv} and installing {pkg} (once) ...")
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    subprocess.run([venv_bin(venv, "python"), "-m", "pip", "install", "-q", pkg], check=True)
    marker.write_text(pkg + "\n")
    return venv


def peer_version(venv: Path, key: str) -> str:
    code = f"import importlib.metadata as m; print(m.version({PEERS[key]!r}))"
    out = subprocess.run([venv_bin(venv, "python"), "-c", code], capture_output=True, text=True)
    return out.stdout.strip() or "?"


# ---------------------------------------------------------------- floors


def _python_startup(ctx, data, fresh):
    return Step([sys.executable, "-c", "pass"])


def _cp(ctx, data, fresh):
    return Step(["cp", "-r", str(data), str(fresh / "copy")])


def _cat(ctx, data, fresh):
    return Step(["sh", "-c", 'find "$1" -type f -exec cat {} + > /dev/null', "sh", str(data)])


def _stat(ctx, data, fresh):  # -printf %s %T@ makes find lstat every entry
    return Step(["sh", "-c", "find \"$1\" -printf '%s %T@\\n' > /dev/null", "sh", str(data)])


# ---------------------------------------------------------------- W&B

WANDB_SCRIPT = """
import json, sys, time
t0 = time.perf_counter()
import wandb
t1 = time.perf_counter()
run = wandb.init(project="cairn-bench", dir=sys.argv[2])
t2 = time.perf_counter()
a = wandb.Artifact("d", "dataset")
a.add_dir(sys.argv[1])
t3 = time.perf_counter()
run.log_artifact(a)
run.finish()
t4 = time.perf_counter()
json.dump({"import": t1 - t0, "init": t2 - t1, "add_dir": t3 - t2,
           "log+finish": t4 - t3}, open(sys.argv[3], "w"))
"""


def _wandb_env(fresh: Path) -> dict[str, str]:
    # Offline: nothing is uploaded, but add_dir still copies every file into
    # the staging folder under WANDB_DATA_DIR, so point all of W&B's folders
    # into the fresh run folder (else they pile up in ~/.local/share/wandb).
    return {
        "WANDB_MODE": "offline",
        "WANDB_SILENT": "true",
        "WANDB_DIR": str(fresh),
        "WANDB_DATA_DIR": str(fresh / "data"),
        "WANDB_CACHE_DIR": str(fresh / "cache"),
        "WANDB_CONFIG_DIR": str(fresh / "config"),
    }


def _wandb(ctx, data, fresh):
    py = venv_bin(ctx.venvs["wandb"], "python")
    return Step(
        [py, "-c", WANDB_SCRIPT, str(data), str(fresh), str(fresh / "phases.json")],
        env=_wandb_env(fresh),
        phases=fresh / "phases.json",
    )


def _wandb_import(ctx, data, fresh):
    return Step([venv_bin(ctx.venvs["wandb"], "python"), "-c", "import wandb"])


# ---------------------------------------------------------------- DVC


def _dvc_repo(ctx, data, fresh, adds: int, edit: bool = False) -> Step:
    """Fresh repo with a real copy of the data (DVC rewrites hard-linked
    files, so `cp -al` would change what is measured), `adds` untimed
    `dvc add`s, an optional 1 MiB edit, then a timed `dvc add`."""
    dvc = venv_bin(ctx.venvs["dvc"], "dvc")
    repo = fresh / "repo"
    setup = [[dvc, "init", "--no-scm", "-q"], ["cp", "-r", str(data), str(repo / "data")]]
    setup += [[dvc, "add", "-q", "data"]] * adds
    if edit:
        target = repo / "data" / next(p.name for p in sorted(data.iterdir()))
        setup.append([sys.executable, str(BENCH_DIR / "data.py"), "edit", str(target), str(ctx.run_index + 1)])
    env = {"DVC_NO_ANALYTICS": "1", "DVC_SITE_CACHE_DIR": str(fresh / "site")}
    return Step([dvc, "add", "-q", "data"], env=env, cwd=repo, setup=setup)  # run.py makes cwd


def _dvc_add(ctx, data, fresh):
    return _dvc_repo(ctx, data, fresh, adds=0)


def _dvc_again(ctx, data, fresh):
    return _dvc_repo(ctx, data, fresh, adds=1)


def _dvc_edit(ctx, data, fresh):
    return _dvc_repo(ctx, data, fresh, adds=1, edit=True)


def _dvc_version(ctx, data, fresh):
    return Step([venv_bin(ctx.venvs["dvc"], "dvc"), "--version"], env={"DVC_NO_ANALYTICS": "1"})


# ---------------------------------------------------------------- MLflow

MLFLOW_SCRIPT = """
import json, sys, time
t0 = time.perf_counter()
import mlflow
t1 = time.perf_counter()
with mlflow.start_run():
    t2 = time.perf_counter()
    mlflow.log_artifacts(sys.argv[1])
    t3 = time.perf_counter()
t4 = time.perf_counter()
json.dump({"import": t1 - t0, "start_run": t2 - t1, "log_artifacts": t3 - t2,
           "end_run": t4 - t3}, open(sys.argv[2], "w"))
"""


def _mlflow(ctx, data, fresh):
    py = venv_bin(ctx.venvs["mlflow"], "python")
    env = {"MLFLOW_ALLOW_FILE_STORE": "true", "MLFLOW_TRACKING_URI": (fresh / "mlruns").as_uri()}
    return Step([py, "-c", MLFLOW_SCRIPT, str(data), str(fresh / "phases.json")], env=env, phases=fresh / "phases.json")


def _mlflow_import(ctx, data, fresh):
    return Step([venv_bin(ctx.venvs["mlflow"], "python"), "-c", "import mlflow"])


SCENARIOS = [
    Scenario("python", "python -c pass", "floor", _python_startup, startup=True),
    Scenario("wandb-import", "W&B: import wandb", "wandb", _wandb_import, startup=True),
    Scenario("dvc-version", "DVC: dvc --version", "dvc", _dvc_version, startup=True),
    Scenario("mlflow-import", "MLflow: import mlflow", "mlflow", _mlflow_import, startup=True),
    Scenario("stat", "floor: stat walk (find -printf)", "floor", _stat),
    Scenario("cat", "floor: cat every file > /dev/null", "floor", _cat),
    Scenario("cp", "floor: cp -r", "floor", _cp),
    Scenario("wandb", "W&B offline: add_dir + log_artifact", "wandb", _wandb),
    Scenario("dvc-add", "DVC: dvc add (fresh repo)", "dvc", _dvc_add),
    Scenario("dvc-again", "DVC: dvc add again, unchanged", "dvc", _dvc_again),
    Scenario("dvc-edit", "DVC: dvc add after 1 MiB edit", "dvc", _dvc_edit, datasets=("large",)),
    Scenario("mlflow", "MLflow: log_artifacts (file store)", "mlflow", _mlflow),
]


def load_phases(path: Path | None) -> dict[str, float]:
    try:
        return json.loads(path.read_text()) if path else {}
    except (OSError, ValueError):
        return {}
