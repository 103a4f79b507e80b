"""A real training script's shape, run as its own process: init with config, 10,000 log
calls, a checkpoint logged with log_model every 1,000 steps, the best one linked to a
registered model with link_model; then a second script use_model()s it and reads the run
back (on the embedded store, and through two server replicas on PostgreSQL + SeaweedFS).
Once more with mode="disabled", which must write nothing anywhere."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # whole training scripts, each in a process of its own

TRAIN = r"""
import json, os
import cairn as wandb

run = wandb.init(project="train", job_type="train", config={"lr": 0.01, "every": 1000, "steps": 10_000})
os.makedirs("ckpt", exist_ok=True)
best, best_path = None, None
for step in range(wandb.config.steps):
    loss = 1.0 / (step + 1)
    wandb.log({"loss": loss, "acc": step / 10_000, "lr": wandb.config.lr, "epoch": step // 1000,
               "preview": wandb.Image("sample.png"), "val": {"top1": step / 20_000}})
    if (step + 1) % wandb.config.every == 0:
        path = f"ckpt/model-{step + 1}.pt"
        with open(path, "w") as f:
            f.write(f"weights after {step + 1} steps")
        aliases = ["best"] if best is None or loss < best else []
        best, best_path = (loss, path) if aliases else (best, best_path)
        run.log_model(path, name=f"model-{run.id}", aliases=aliases)
        wandb.log({"val_loss": loss * 2}, commit=False)
run.summary["best_loss"] = best
# the best checkpoint into the registry: the same bytes, so no new version, only a link
link = run.link_model(best_path, "trainer", name=f"model-{run.id}", aliases=["production"])
print(json.dumps({"id": run.id, "entity": run.entity, "mode": run.mode, "step": run.step,
                  "link": link.qualified_name, "source": [link.source_name, link.source_project]}))
wandb.finish()
"""


READ = r"""
import json, os, sys
import cairn as wandb

# a second script: evaluates the registered model and reads the training run back
entity, train_id = sys.argv[1].split("/")[0], sys.argv[1].split("/")[-1]
with wandb.init(project="eval", job_type="eval") as ev:
    model_file = wandb.use_model(f"{entity}/model-registry/trainer:production")
    weights = open(model_file).read()
    ev.log({"eval_loss": 0.5})
    eval_id = ev.id
api = wandb.Api()
run = api.run(sys.argv[1])
rows = run.history(samples=100_000, pandas=False)
val = run.history(keys=["val_loss", "loss"], pandas=False) + run.history(keys=["val_loss"], pandas=False)[-1:]
df = run.history(samples=50)
best = api.artifact(f"{run.entity}/train/model-{run.id}:best", type="model")
link = api.artifact(f"{entity}/model-registry/trainer:production")
path = best.download()
print(json.dumps({
    "rows": len(rows), "first": rows[0], "last": rows[-1], "val": len(val),
    "df": [len(df), sorted(df.columns)], "summary": dict(run.summary), "config": run.config,
    "state": run.state, "best": best.version, "files": sorted(os.listdir(path)),
    "outputs": len(run.logged_artifacts()), "weights": weights, "model_file": os.path.basename(model_file),
    "link": [link.is_link, link.version, link.source_version, link.source_name, link.type, link.aliases],
    "eval_inputs": [a.qualified_name for a in api.run(f"{entity}/eval/{eval_id}").used_artifacts()],
}))
"""


def _script(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def _run(script: Path, *args: str, env: dict | None = None, cwd: Path | None = None) -> dict:
    out = subprocess.run(
        [sys.executable, "-B", str(script), *args],
        capture_output=True,
        text=True,
        env=env or dict(os.environ),
        cwd=cwd,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_train_register_then_use_and_read_back(backend: str, tmp_path: Path, request) -> None:  # noqa: ANN001
    """Through a server, the training script writes to one replica and the second script
    reads through the other (one PostgreSQL and one S3 bucket behind both)."""
    train = _run(_script(tmp_path, "train.py", TRAIN))
    assert train["step"] == 10_000 and train["mode"] == "online"
    entity = train["entity"]
    assert train["link"] == f"{entity}/model-registry/trainer:v0"
    assert train["source"] == [f"model-{train['id']}:v9", "train"]  # the best (last) checkpoint, not a copy
    env = dict(os.environ)
    if backend == "server":
        env["CAIRN_BASE_URL"] = request.getfixturevalue("server_stack").urls[1]
    got = _run(_script(tmp_path, "read.py", READ), f"{entity}/train/{train['id']}", env=env)
    # val_loss, logged with commit=False after a step is committed, joins the next step's row:
    # steps 1000, 2000, … 9000 with that step's loss, and a last row (step 10000) of its own
    assert got["rows"] == 10_001 and got["val"] == 10
    assert got["first"]["_step"] == 0 and got["first"]["loss"] == 1.0 and "preview" not in got["first"]
    assert got["first"]["val.top1"] == 0.0  # a nested value is the history's dotted column
    assert got["last"] == {
        "val_loss": 2 / 10_000,
        "_step": 10_000,
        "_runtime": got["last"]["_runtime"],
        "_timestamp": got["last"]["_timestamp"],
    }
    assert got["df"][0] == 50 and {"loss", "acc", "lr", "epoch", "_step", "val.top1"} <= set(got["df"][1])
    assert got["summary"]["best_loss"] == 1 / 10_000 and got["summary"]["loss"] == 1 / 10_000
    assert got["summary"]["val"] == {"top1": 9_999 / 20_000}  # and the summary's nested dict
    assert got["config"] == {"lr": 0.01, "every": 1000, "steps": 10_000}
    assert got["state"] == "finished" and got["outputs"] == 10
    assert got["best"] == "v9" and got["files"] == ["model-10000.pt"]
    # the second script used the registered model: the linked bytes, recorded as its input
    assert got["weights"] == "weights after 10000 steps" and got["model_file"] == "model-10000.pt"
    assert got["link"] == [True, "v0", "v9", f"model-{train['id']}:v9", "model", ["latest", "production"]]
    assert got["eval_inputs"] == [f"{entity}/model-registry/trainer:v0"]


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def test_disabled_writes_nothing_anywhere(tmp_path: Path) -> None:
    """Every place cairn could write is inside ``sandbox``; afterwards it holds only what the
    script wrote itself (its checkpoints)."""
    sandbox = tmp_path / "sandbox"
    home, tmp, work = sandbox / "home", sandbox / "tmp", sandbox / "work"
    for d in (home, tmp, work):
        d.mkdir(parents=True)
    script = _script(tmp_path, "train.py", TRAIN)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CAIRN_", "WANDB_", "XDG_"))}
    env.update(
        HOME=str(home),
        TMPDIR=str(tmp),
        WANDB_MODE="disabled",
        CAIRN_DIR=str(sandbox / "store"),
        CAIRN_CACHE_DIR=str(sandbox / "cache"),
    )
    before = _tree(sandbox)
    got = _run(script, env=env, cwd=work)
    assert got["mode"] == "disabled" and got["step"] == 10_000
    written = _tree(sandbox) - before
    assert written == {"work/ckpt"} | {f"work/ckpt/model-{n}.pt" for n in range(1000, 10_001, 1000)}
    # and the default store, without CAIRN_DIR / CAIRN_CACHE_DIR: still nothing
    del env["CAIRN_DIR"], env["CAIRN_CACHE_DIR"]
    before = _tree(sandbox)
    _run(script, env=env, cwd=work)
    assert _tree(sandbox) == before


UNFINISHED = r"""
import json, sys
import cairn as wandb

run = wandb.init(project="train")
for i in range(10):
    wandb.log({"loss": i})
print(json.dumps({"id": run.id, "entity": run.entity}), flush=True)
if sys.argv[1] == "crash":
    raise RuntimeError("training diverged")
"""


def test_a_script_that_never_calls_finish_keeps_its_history(tmp_path: Path) -> None:
    """What is still buffered at exit is stored; an uncaught exception marks the run failed."""
    import cairn

    script = _script(tmp_path, "unfinished.py", UNFINISHED)
    for how, state in (("ok", "finished"), ("crash", "failed")):
        out = subprocess.run([sys.executable, "-B", str(script), how], capture_output=True, text=True, timeout=300)
        assert out.returncode == (0 if how == "ok" else 1), out.stderr[-2000:]
        ids = json.loads(out.stdout.strip().splitlines()[-1])
        run = cairn.Api().run(f"{ids['entity']}/train/{ids['id']}")
        assert run.state == state and [r["loss"] for r in run.history(pandas=False)] == list(range(10))
