"""==== PLUG-IN POINT: the cairn scenarios ====

Edit this module as cairn's CLI takes shape; run.py picks up `SCENARIOS`.

The two command builders take the dataset path and a fresh CAIRN_DIR (a new,
empty folder for every run) and return the command line to time. Each
scenario wraps one of them in a `Step` (untimed setup + timed command), the
same shape the peers in peers.py use. When the `cairn` CLI is not installed,
run.py skips these rows and says so in the results.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from peers import BENCH_DIR, Context, Scenario, Step

REPO_CLI = BENCH_DIR.parent / ".venv" / "bin" / "cairn"


def find_cli(explicit: str | None = None) -> Path | None:
    """--cairn PATH, else the repo's .venv, else `cairn` on PATH."""
    for cand in (explicit, REPO_CLI, shutil.which("cairn")):
        if cand and Path(cand).is_file():
            return Path(cand)
    return None


def compile_bytecode(cli: Path) -> str | None:
    """Compile the tested cairn's modules to bytecode, as installing a wheel does.

    An editable install writes bytecode on first import, unless PYTHONDONTWRITEBYTECODE is
    set (it is on the bench machine): then every command compiled cairn's ~45 modules from
    source again, ~0.05 s a start. The peers' virtual environments are pip installs, which
    always compile. Returns a note for the results, or None when nothing was done.
    """
    python = cli.parent / "python"
    if not python.is_file():
        return None
    where = subprocess.run(
        [str(python), "-c", "import cairn, os; print(os.path.dirname(cairn.__file__))"], capture_output=True, text=True
    )
    if where.returncode != 0:
        return None
    subprocess.run([str(python), "-m", "compileall", "-q", where.stdout.strip()], check=True)
    return f"cairn's modules compiled to bytecode first ({where.stdout.strip()}), as a wheel install does"


def put_cmd(cli: Path, dataset: Path, name: str) -> list[str]:
    return [str(cli), "artifact", "put", str(dataset), "--name", name, "--type", "dataset"]


def get_cmd(cli: Path, name: str, root: Path) -> list[str]:
    return [str(cli), "artifact", "get", f"{name}:latest", "--root", str(root)]


def _env(fresh: Path) -> dict[str, str]:
    return {"CAIRN_DIR": str(fresh / "cairn")}


def _put(ctx: Context, data: Path, fresh: Path) -> Step:
    return Step(put_cmd(ctx.cairn, data, data.name), env=_env(fresh))


def _put_again(ctx: Context, data: Path, fresh: Path) -> Step:
    cmd = put_cmd(ctx.cairn, data, data.name)
    return Step(cmd, env=_env(fresh), setup=[cmd])


def _put_edit(ctx: Context, data: Path, fresh: Path) -> Step:
    copy = fresh / "data"
    cmd = put_cmd(ctx.cairn, copy, data.name)
    target = copy / next(p.name for p in sorted(data.iterdir()))
    edit = [sys.executable, str(BENCH_DIR / "data.py"), "edit", str(target), str(ctx.run_index + 1)]
    return Step(cmd, env=_env(fresh), setup=[["cp", "-r", str(data), str(copy)], cmd, edit])


# the SDK path a user writes, in a fresh process (W&B's wandb.init / add_dir / log_artifact)
SDK_LOG = """
import sys
import cairn as wandb
run = wandb.init(project="bench", job_type="log")
art = wandb.Artifact(sys.argv[2], type="dataset")
art.add_dir(sys.argv[1])
run.log_artifact(art)
run.finish()
"""


def _sdk(ctx: Context, data: Path, fresh: Path) -> Step:
    python = ctx.cairn.parent / "python"
    return Step([str(python), "-c", SDK_LOG, str(data), data.name], env=_env(fresh))


def _get(ctx: Context, data: Path, fresh: Path) -> Step:
    return Step(
        get_cmd(ctx.cairn, data.name, fresh / "out"), env=_env(fresh), setup=[put_cmd(ctx.cairn, data, data.name)]
    )


def _get_again(ctx: Context, data: Path, fresh: Path) -> Step:
    cmd = get_cmd(ctx.cairn, data.name, fresh / "out")
    return Step(cmd, env=_env(fresh), setup=[put_cmd(ctx.cairn, data, data.name), cmd])


SCENARIOS = [
    Scenario("cairn-put", "cairn: artifact put", "cairn", _put),
    Scenario("cairn-sdk", "cairn: SDK add_dir + log_artifact", "cairn", _sdk),
    Scenario("cairn-again", "cairn: artifact put again, unchanged", "cairn", _put_again),
    Scenario("cairn-edit", "cairn: artifact put after 1 MiB edit", "cairn", _put_edit, datasets=("large",)),
    Scenario("cairn-get", "cairn: artifact get (fresh root)", "cairn", _get),
    Scenario("cairn-get-again", "cairn: artifact get into a folder that already matches", "cairn", _get_again),
]
