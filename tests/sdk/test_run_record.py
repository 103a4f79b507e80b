"""A run's record as W&B documents it — config, log / history, summary, modes, WANDB_* —
written as W&B user code writes it (``import cairn as wandb``)."""

from __future__ import annotations

import argparse
import logging
import os
import math
import threading

import pytest

import cairn as wandb
from cairn.sdk import history as history_mod


@pytest.fixture(autouse=True)
def fresh_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    """The one-time warnings are once per process: each test starts with none given."""
    from cairn.sdk import values

    monkeypatch.setattr(values, "_warned", set())


def _api_run(run):  # noqa: ANN001, ANN202
    return wandb.Api().run(f"{run.entity}/{run.project}/{run.id}")


# -- config ---------------------------------------------------------------------------


def test_config_dict_attribute_update_and_persisted(backend: str) -> None:
    run = wandb.init(project="rec", config={"lr": 0.1, "layers": [64, 32]})
    assert wandb.config is run.config
    assert run.config.lr == 0.1 and run.config["layers"] == [64, 32] and "lr" in run.config
    run.config.batch_size = 32
    wandb.config.update({"epochs": 3, "opt": {"name": "adam"}})
    run.config["lr"] = 0.1  # the same value again is fine
    with pytest.raises(wandb.ConfigError, match="allow_val_change"):
        run.config.lr = 0.2
    with pytest.raises(ValueError):  # W&B's ConfigError is caught as a ValueError here too
        run.config.update({"lr": 0.3})
    run.config.update({"lr": 0.3}, allow_val_change=True)
    assert run.config.get("missing", 7) == 7
    with pytest.raises(AttributeError):
        run.config.missing  # noqa: B018
    wandb.finish()
    got = _api_run(run).config
    assert got == {"lr": 0.3, "layers": [64, 32], "batch_size": 32, "epochs": 3, "opt": {"name": "adam"}}


def test_config_from_namespace_with_include_exclude_and_allow_val_change() -> None:
    args = argparse.Namespace(lr=0.01, seed=1, debug=True)
    run = wandb.init(project="rec", config=args, config_exclude_keys=["debug"], allow_val_change=True)
    assert run.config.as_dict() == {"lr": 0.01, "seed": 1}
    run.config.lr = 0.5  # allowed for this run by init(allow_val_change=True)
    run.finish()
    assert _api_run(run).config == {"lr": 0.5, "seed": 1}
    with pytest.raises(wandb.UsageError, match="not both"):
        wandb.init(project="rec", config={"a": 1}, config_include_keys=["a"], config_exclude_keys=["b"])


def test_config_and_summary_before_init_say_to_call_init() -> None:
    with pytest.raises(wandb.UsageError, match=r"cairn.init\(\)"):
        wandb.config  # noqa: B018
    with pytest.raises(wandb.UsageError, match=r"cairn.init\(\)"):
        wandb.log({"a": 1})
    run = wandb.init(project="rec")
    run.finish()
    with pytest.raises(wandb.UsageError):
        wandb.summary  # noqa: B018


def test_config_is_stored_while_the_run_goes_on(backend: str) -> None:
    run = wandb.init(project="rec", config={"a": 1})
    run.config.b = 2
    run.log({"x": 1})
    run._history.flush()
    assert _api_run(run).config == {"a": 1, "b": 2}
    run.finish()


# -- log and steps -------------------------------------------------------------------


def test_each_log_is_a_step_and_commit_false_accumulates(backend: str) -> None:
    run = wandb.init(project="rec")
    wandb.log({"loss": 0.5})
    wandb.log({"acc": 0.1}, commit=False)
    wandb.log({"loss": 0.4})  # joins step 1, then commits it
    run.log({"loss": 0.3, "phase": "train"})
    assert run.step == 3
    run.finish()
    rows = _api_run(run).history(pandas=False)
    assert [(r["_step"], r.get("loss"), r.get("acc"), r.get("phase")) for r in rows] == [
        (0, 0.5, None, None),
        (1, 0.4, 0.1, None),
        (2, 0.3, None, "train"),
    ]
    assert all("_runtime" in r and "_timestamp" in r for r in rows)


def test_explicit_step_merges_moves_on_and_refuses_the_past(backend: str, caplog: pytest.LogCaptureFixture) -> None:
    run = wandb.init(project="rec")
    run.log({"a": 1}, step=5)  # with step, commit defaults to False
    run.log({"b": 2}, step=5)  # the same step: merged
    run.log({"c": 3}, step=7)  # a later step commits step 5 and moves to 7
    with caplog.at_level(logging.WARNING, logger="cairn"):
        run.log({"d": 4}, step=6)  # the past: refused
    assert "step 6 is before the current step 7" in caplog.text
    run.log({"e": 5}, step=7, commit=True)
    run.log({"f": 6})  # the next step: 8
    run.finish()
    rows = _api_run(run).history(pandas=False)
    assert [{k: v for k, v in r.items() if not k.startswith("_") or k == "_step"} for r in rows] == [
        {"a": 1, "b": 2, "_step": 5},
        {"c": 3, "e": 5, "_step": 7},
        {"f": 6, "_step": 8},
    ]
    assert "d" not in _api_run(run).summary


def test_values_numbers_strings_lists_nested_numpy_nan(backend: str) -> None:
    np = pytest.importorskip("numpy")
    run = wandb.init(project="rec")
    run.log(
        {
            "i": np.int64(3),
            "f": np.float32(0.5),
            "b": np.bool_(True),
            "s": "text",
            "l": [1, 2.5],
            "n": float("nan"),
            "inf": float("inf"),
            "none": None,
            "nested": {"x": 1, "y": {"z": 2}},
            "t": np.array([4.0]),
        }
    )
    run.finish()
    (row,) = _api_run(run).history(pandas=False)
    assert row["i"] == 3 and row["f"] == 0.5 and row["b"] is True and row["s"] == "text" and row["l"] == [1, 2.5]
    assert math.isnan(row["n"]) and row["inf"] == math.inf and row["none"] is None
    assert row["nested.x"] == 1 and row["nested.y.z"] == 2 and row["t"] == 4.0


def test_unstorable_values_warn_once_naming_type_and_key(caplog: pytest.LogCaptureFixture) -> None:
    run = wandb.init(project="rec")
    with caplog.at_level(logging.WARNING, logger="cairn"):
        for i in range(5):
            run.log(
                {
                    "loss": float(i),
                    "samples": wandb.Image(f"img{i}.png"),
                    "curve": wandb.plot.line(None, "x", "y"),
                    "hist": wandb.Histogram([1, 2, 3]),
                    "audio": [wandb.Audio("a.wav")],
                }
            )
    warnings = [r.getMessage() for r in caplog.records]
    assert len([w for w in warnings if "'samples'" in w]) == 1
    assert any("wandb.Image" in w and "'samples'" in w for w in warnings)
    assert any("wandb.CustomChart" in w and "'curve'" in w for w in warnings)
    assert any("wandb.Histogram" in w and "'hist'" in w for w in warnings)
    assert any("list" in w and "'audio'" in w for w in warnings)
    run.finish()
    rows = _api_run(run).history(pandas=False)
    assert [r["loss"] for r in rows] == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert all(set(r) == {"loss", "_step", "_runtime", "_timestamp"} for r in rows)


def test_bad_log_calls_are_clear_errors() -> None:
    run = wandb.init(project="rec")
    with pytest.raises(TypeError, match="dict"):
        run.log([1, 2])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="keys must be strings"):
        run.log({1: 2})
    with pytest.raises(TypeError, match="step must be an integer"):
        run.log({"a": 1}, step="x")  # type: ignore[arg-type]
    run.finish()
    with pytest.raises(wandb.UsageError, match="finished"):
        run.log({"a": 1})


# -- summary ---------------------------------------------------------------------------


def test_summary_is_the_last_value_unless_assigned(backend: str) -> None:
    run = wandb.init(project="rec")
    for i in range(3):
        run.log({"loss": 1.0 / (i + 1), "epoch": i})
    assert run.summary["loss"] == pytest.approx(1 / 3)
    run.summary["best_acc"] = 0.9
    wandb.summary.update({"loss": 0.01})  # assigned: wins until loss is logged again
    assert run.summary.loss == 0.01
    run.log({"epoch": 3})
    run.finish()
    s = _api_run(run).summary
    assert dict(s) == {"loss": 0.01, "epoch": 3, "best_acc": 0.9}
    run2 = wandb.init(project="rec")
    run2.log({"loss": 1.0})
    run2.summary["loss"] = 0.5
    run2.log({"loss": 2.0})  # logged again: the last logged value
    run2.finish()
    assert _api_run(run2).summary["loss"] == 2.0


def test_summary_keeps_nested_dicts_as_wandb_does(backend: str) -> None:
    """W&B's summary is a nested document: a logged dict updates each of its leaves, an
    assigned one replaces the key, and a dict inside can be written through; the history
    keeps the flat "outer.inner" columns W&B charts."""
    import json

    run = wandb.init(project="rec")
    run.log({"val": {"loss": 1.0, "acc": 0.5}, "flat.key": 1})
    run.log({"val": {"loss": 0.5}})  # acc is kept: leaves are updated one by one
    assert run.summary["val"] == {"loss": 0.5, "acc": 0.5} and run.summary["val"]["loss"] == 0.5
    assert run.summary.val.acc == 0.5 and run.summary["flat.key"] == 1 and isinstance(run.summary["val"], dict)
    run.summary["best"] = {"acc": 0.9, "epoch": {"n": 3}}
    run.summary["best"]["epoch"]["n"] = 4  # written through a dict inside
    run.summary["val"]["extra"] = wandb.Image("x.png")  # not storable: left out with a warning
    assert json.loads(json.dumps(run.summary)) == {
        "val": {"loss": 0.5, "acc": 0.5},
        "flat.key": 1,
        "best": {"acc": 0.9, "epoch": {"n": 4}},
    }
    run.finish()
    api_run = _api_run(run)
    assert api_run.summary["best"]["epoch"]["n"] == 4 and api_run.summary["val"]["acc"] == 0.5
    rows = api_run.history(pandas=False)
    assert [r.get("val.loss") for r in rows] == [1.0, 0.5] and rows[0]["val.acc"] == 0.5
    api_run.summary["best"]["acc"] = 0.95  # the Api's summary writes through nested dicts too
    del api_run.summary["flat.key"]
    assert dict(_api_run(run).summary) == {"val": {"loss": 0.5, "acc": 0.5}, "best": {"acc": 0.95, "epoch": {"n": 4}}}
    with pytest.raises(TypeError, match="summary keys must be strings"):
        api_run.summary["best"] = {1: 2}


def test_public_run_summary_and_update_are_stored(backend: str) -> None:
    run = wandb.init(project="rec", tags=["a"], notes="first")
    run.log({"x": 1})
    run.finish()
    api_run = _api_run(run)
    api_run.summary["extra"] = 5
    api_run.summary.update({"more": 6})
    api_run.name = "renamed"
    api_run.tags = ["a", "b"]
    api_run.notes = "second"
    api_run.config["k"] = 1
    api_run.update()
    again = _api_run(run)
    assert dict(again.summary) == {"x": 1, "extra": 5, "more": 6}
    assert (again.name, again.tags, again.notes, again.config) == ("renamed", ["a", "b"], "second", {"k": 1})


# -- history through Api ---------------------------------------------------------------------


def test_history_rows_dataframe_keys_samples_and_scan(backend: str) -> None:
    pd = pytest.importorskip("pandas")
    run = wandb.init(project="rec")
    for i in range(1000):
        run.log({"loss": 1000 - i, **({"val": i} if i % 100 == 0 else {})})
    run.finish()
    api_run = _api_run(run)
    df = api_run.history()
    assert isinstance(df, pd.DataFrame) and len(df) <= 500 and df["_step"].iloc[0] == 0 and df["_step"].iloc[-1] == 999
    assert list(df["_step"]) == sorted(df["_step"])
    rows = api_run.history(samples=10, pandas=False)
    assert 2 <= len(rows) <= 10 and rows[0]["_step"] == 0 and rows[-1]["_step"] == 999
    val = api_run.history(keys=["val"], pandas=False)  # only the rows holding val, reduced to it
    assert val == [{"val": i, "_step": i} for i in range(0, 1000, 100)]
    scanned = list(api_run.scan_history(page_size=128))
    assert [r["_step"] for r in scanned] == list(range(1000))
    part = list(api_run.scan_history(keys=["loss"], min_step=10, max_step=20, page_size=3))
    assert part == [{"loss": 1000 - i, "_step": i} for i in range(10, 20)]
    assert api_run.lastHistoryStep == 999
    with pytest.raises(wandb.UsageError, match="samples"):
        api_run.history(samples=0)
    with pytest.raises(wandb.UsageError, match="keys"):
        api_run.history(keys="loss")


# -- batching -----------------------------------------------------------------------------


def test_log_writes_in_batches_not_per_call(backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    run = wandb.init(project="rec")
    batches: list[int] = []
    real = run._client.log_history

    def counting(run_id, rows, summary=None, config=None):  # noqa: ANN001, ANN202
        batches.append(len(rows))
        return real(run_id, rows, summary, config)

    monkeypatch.setattr(run._client, "log_history", counting, raising=False)
    run._history._client = run._client
    for i in range(10_000):
        run.log({"a": i, "b": i * 2, "c": "x"})
    run.finish()
    assert sum(batches) == 10_000
    assert len(batches) <= 10_000 // history_mod.BATCH_ROWS + 10  # size- or time-triggered batches only
    assert _api_run(run).lastHistoryStep == 9_999


def test_a_slow_store_bounds_what_log_holds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(history_mod, "BATCH_ROWS", 5)
    monkeypatch.setattr(history_mod, "MAX_PENDING", 20)
    run = wandb.init(project="rec")
    release, blocked = threading.Event(), threading.Event()
    sizes: list[int] = []
    real = run._client.log_history

    def slow(run_id, rows, summary=None, config=None):  # noqa: ANN001, ANN202
        sizes.append(len(rows))
        blocked.set()
        release.wait(30)
        return real(run_id, rows, summary, config)

    monkeypatch.setattr(run._client, "log_history", slow, raising=False)
    done = threading.Event()

    def produce() -> None:
        for i in range(200):
            run.log({"a": i})
        done.set()

    t = threading.Thread(target=produce)
    t.start()
    assert blocked.wait(30)
    assert not done.wait(0.5)  # the producer waits for the store instead of holding more rows
    release.set()
    t.join(30)
    run.finish()
    assert max(sizes) <= 20 and sum(sizes) == 200


def test_a_failed_write_is_raised_by_the_next_call(monkeypatch: pytest.MonkeyPatch) -> None:
    run = wandb.init(project="rec")

    def broken(*a, **k):  # noqa: ANN002, ANN003, ANN202
        raise wandb.StoreError("disk full")

    monkeypatch.setattr(run._client, "log_history", broken, raising=False)
    run.log({"a": 1})
    with pytest.raises(wandb.StoreError, match="disk full"):
        run._history.flush()


# -- init parameters, resume, finish -------------------------------------------------------


def test_init_attributes_tags_notes_and_renaming(backend: str) -> None:
    run = wandb.init(
        project="rec",
        entity=None if backend == "server" else "team",
        name="first",
        group="g",
        job_type="train",
        tags=["x", "y"],
        notes="hello",
    )
    entity = os.environ.get("CAIRN_ENTITY", "team")
    assert (run.project, run.entity, run.name, run.group, run.job_type) == ("rec", entity, "first", "g", "train")
    assert run.tags == ("x", "y") and run.notes == "hello" and len(run.id) == 8
    assert run.url is None if backend == "embedded" else run.url == f"{os.environ['CAIRN_BASE_URL']}/runs/{run.id}"
    run.name = "second"
    run.tags = run.tags + ("z",)
    wandb.finish()
    got = _api_run(run)
    assert (got.name, got.tags, got.notes, got.state) == ("second", ["x", "y", "z"], "hello", "finished")
    with pytest.raises(wandb.UsageError, match="tags"):
        wandb.init(project="rec", tags="not-a-list")


def test_finish_exit_code_and_context_manager(backend: str) -> None:
    run = wandb.init(project="rec")
    run.finish(exit_code=1)
    assert _api_run(run).state == "failed"
    with pytest.raises(RuntimeError), wandb.init(project="rec") as r2:
        r2.log({"a": 1})
        raise RuntimeError("boom")
    assert _api_run(r2).state == "failed" and _api_run(r2).history(pandas=False)[0]["a"] == 1


def test_resume_modes(backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(wandb.RunNotFoundError):
        wandb.init(project="rec", id="nosuchrun", resume="must")
    run = wandb.init(project="rec", id="resumable", config={"a": 1})
    run.log({"x": 1})
    run.log({"x": 2})
    run.summary["best"] = 9
    run.finish()
    with pytest.raises(wandb.ConflictError, match="resume='never'"):
        wandb.init(project="rec", id="resumable", resume="never")
    again = wandb.init(project="rec", id="resumable", resume="allow")
    assert again.step == 2 and again.config.a == 1 and again.summary["best"] == 9
    again.log({"x": 3})
    again.finish()
    assert [r["_step"] for r in _api_run(again).history(pandas=False)] == [0, 1, 2]
    with pytest.raises(wandb.UsageError, match="resume"):
        wandb.init(project="rec", resume="sometimes")
    # an id that does not exist: "allow" and "never" start a run with that id
    for mode, rid in (("allow", "newallow"), ("never", "newnever")):
        fresh = wandb.init(project="rec", id=rid, resume=mode)
        assert fresh.id == rid and not fresh.resumed and fresh.step == 0
        fresh.finish()
    monkeypatch.setenv("WANDB_RESUME", "never")  # the variable W&B users set says the same
    with pytest.raises(wandb.ConflictError):
        wandb.init(project="rec", id="newallow")


AUTO = """
import json, sys
import cairn as wandb
run = wandb.init(project="auto", resume="auto" if sys.argv[1] == "auto" else True)
start = run.step
for i in range(3):
    wandb.log({"i": start + i})
print(json.dumps({"id": run.id, "resumed": run.resumed, "start": start}), flush=True)
if sys.argv[2] == "crash":
    sys.exit(1)  # preempted
"""


def test_resume_auto_resumes_the_run_that_did_not_finish_cleanly(backend: str, tmp_path) -> None:
    """W&B's resume="auto" (and True): the run's id is kept in wandb/wandb-resume.json of
    its directory; a process restarted there resumes that run until one finishes cleanly."""
    import json
    import subprocess
    import sys

    script = tmp_path / "train.py"
    script.write_text(AUTO)
    work = tmp_path / "job"
    work.mkdir()

    def go(how: str, crash: str) -> dict:
        out = subprocess.run(
            [sys.executable, "-B", str(script), how, crash], capture_output=True, text=True, cwd=work, timeout=300
        )
        assert out.returncode == (1 if crash == "crash" else 0), out.stderr[-2000:]
        return json.loads(out.stdout.strip().splitlines()[-1])

    first = go("auto", "crash")
    resume_file = work / "wandb" / "wandb-resume.json"
    assert json.loads(resume_file.read_text()) == {"run_id": first["id"]} and not first["resumed"]
    second = go("true", "crash")  # resume=True is "auto"
    assert second == {"id": first["id"], "resumed": True, "start": 3}
    third = go("auto", "ok")
    assert third == {"id": first["id"], "resumed": True, "start": 6}
    assert not resume_file.exists()  # finished cleanly: nothing left to resume
    run = wandb.Api().run(f"{wandb.Api().default_entity}/auto/{first['id']}")
    assert run.state == "finished" and [r["i"] for r in run.history(pandas=False)] == list(range(9))
    fourth = go("auto", "ok")
    assert fourth["id"] != first["id"] and not fourth["resumed"]


def test_resume_auto_in_process_dir_env_and_bad_files(tmp_path, monkeypatch, caplog) -> None:
    import json

    run = wandb.init(project="auto", resume="auto", dir=str(tmp_path / "d"))
    path = tmp_path / "d" / "wandb" / "wandb-resume.json"
    assert json.loads(path.read_text()) == {"run_id": run.id}
    run.log({"a": 1})
    run.finish(exit_code=1)
    assert path.exists()
    # WANDB_RESUME=auto and WANDB_DIR say the same
    monkeypatch.setenv("WANDB_RESUME", "auto")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path / "d"))
    again = wandb.init(project="auto")
    assert again.id == run.id and again.resumed
    again.finish()
    assert not path.exists()
    monkeypatch.delenv("WANDB_DIR")
    # an id given wins over the file, with a warning
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"run_id": run.id}))
    with caplog.at_level(logging.WARNING, logger="cairn"):
        other = wandb.init(project="auto", id="givenid1", dir=str(tmp_path / "d"))
    assert other.id == "givenid1" and "givenid1 is given" in caplog.text
    assert json.loads(path.read_text()) == {"run_id": "givenid1"}
    other.finish()
    # a file that is not a resume file: a warning and a new run, never a crash
    for bad in ("not json", json.dumps({"run_id": "../../etc"}), json.dumps([1])):
        path.write_text(bad)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="cairn"):
            fresh = wandb.init(project="auto", dir=str(tmp_path / "d"))
        assert fresh.id != run.id and "is not a resume file" in caplog.text
        fresh.finish()
    # disabled: no resume file is written
    monkeypatch.delenv("WANDB_RESUME")
    wandb.init(project="auto", mode="disabled", resume="auto", dir=str(tmp_path / "off")).finish()
    assert not (tmp_path / "off").exists()


def test_unused_parameters_warn_once_by_name(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="cairn"):
        for _ in range(2):
            run = wandb.init(project="rec", save_code=True, sync_tensorboard=True, dir="somewhere", reinit=True)
            run.define_metric("loss", summary="min")
            run.finish()
    text = [r.getMessage() for r in caplog.records]
    for name in ("save_code", "sync_tensorboard", "dir"):
        assert len([t for t in text if f"({name}=...)" in t and "init" in t]) == 1, name
    assert len([t for t in text if "define_metric" in t]) == 1


def test_every_parameter_that_is_not_acted_on_warns_once_by_name(caplog: pytest.LogCaptureFixture) -> None:
    """The artifact, Api, Table and registry calls say which of W&B's parameters they ignore,
    once each; the parameters they act on give no warning."""
    from pathlib import Path

    Path("f.txt").write_text("x")
    with caplog.at_level(logging.WARNING, logger="cairn"):
        for _ in range(2):
            run = wandb.init(project="warn")
            a = wandb.Artifact("data", "dataset", use_as="input")
            a.add_file("f.txt")
            run.log_artifact(a, aliases=["x"])
            run.use_artifact("data:latest", use_as="input", aliases=["y"])
            model = run.log_model("f.txt", name="m", aliases=["best"])
            run.link_artifact(model, "reg", aliases=["prod"])
            run.link_model("f.txt", "reg2", name="m", aliases=["prod"])
            run.use_model("m:best")
            model.link("reg3", aliases=["a"])
            wandb.Api(timeout=5, overrides={"entity": run.entity, "run": "x"}, api_key="k")
            wandb.Table(columns=["a"], data=[[1]], dtype=[int], allow_mixed_types=True)
            wandb.Api().artifact("warn/data:latest").save(settings={"x": 1})
            run.finish()
    text = [r.getMessage() for r in caplog.records]
    expected = [
        "Artifact(use_as=...)",
        "run.use_artifact(use_as=...)",
        "run.use_artifact(aliases=...)",
        "Api(timeout=...)",
        "Api(overrides['run']=...)",
        "Api(api_key=...)",
        "Table(dtype=...)",
        "Table(allow_mixed_types=...)",
        "Artifact.save(settings=...)",
    ]
    for name in expected:
        assert len([t for t in text if t.startswith(name) and "ignored" in t]) == 1, (name, text)
    assert len(text) == len(expected), text  # link / model / alias parameters are all acted on


def test_reinit_as_wandb_documents_it() -> None:
    first = wandb.init(project="re")
    assert wandb.init(project="re", reinit="return_previous") is first
    assert wandb.init(project="re", reinit=False) is first and not first._finished
    side = wandb.init(project="re", reinit="create_new")  # another run; the active one stays
    assert wandb.run is first and side is not first and not first._finished
    side.log({"a": 1})
    wandb.log({"b": 2})  # goes to the active run, not to the new one
    side.finish()
    second = wandb.init(project="re", reinit="finish_previous")
    assert first._finished and wandb.run is second
    third = wandb.init(project="re")  # left out: cairn finishes the previous run too
    assert second._finished and wandb.run is third
    third.finish()
    assert [[sorted(row) for row in _api_run(r).history(pandas=False)] for r in (side, first)] == [
        [["_runtime", "_step", "_timestamp", "a"]],
        [["_runtime", "_step", "_timestamp", "b"]],
    ]
    with pytest.raises(wandb.UsageError, match="reinit must be"):
        wandb.init(project="re", reinit="sometimes")


def test_api_runs_order_and_overrides(backend: str) -> None:
    ids = []
    for name in ("b", "a", "c"):
        with wandb.init(project="order", name=name) as run:
            ids.append(run.id)
    api = wandb.Api(overrides={"project": "order"})
    assert [r.id for r in api.runs("order")] == ids
    assert [r.id for r in api.runs("order", order="-created_at")] == ids[::-1]
    assert [r.name for r in api.runs("order", order="+name")] == ["a", "b", "c"]
    with pytest.raises(wandb.UsageError, match="unsupported run order"):
        api.runs("order", order="summary_metrics.loss")


# -- modes and WANDB_* ----------------------------------------------------------------------------


def test_offline_uses_the_embedded_store_even_with_a_server_set(monkeypatch: pytest.MonkeyPatch, cairn_home) -> None:
    monkeypatch.setenv("CAIRN_BASE_URL", "http://127.0.0.1:9")  # nothing listens there
    run = wandb.init(project="rec", mode="offline")
    run.log({"a": 1})
    assert run.offline and run.url is None
    run.finish()
    assert (cairn_home / "meta.sqlite").exists()
    monkeypatch.delenv("CAIRN_BASE_URL")
    from cairn.client import reset_clients

    reset_clients()
    assert _api_run(run).summary["a"] == 1


def test_wandb_variables_are_honoured_where_cairn_ones_are_unset(
    monkeypatch: pytest.MonkeyPatch, tmp_path, caplog: pytest.LogCaptureFixture
) -> None:
    from cairn.client import reset_clients

    monkeypatch.setenv("WANDB_PROJECT", "wproj")
    monkeypatch.setenv("WANDB_ENTITY", "went")
    run = wandb.init()
    assert (run.project, run.entity) == ("wproj", "went")
    run.finish()
    monkeypatch.setenv("CAIRN_PROJECT", "cproj")
    run = wandb.init()
    assert (run.project, run.entity) == ("cproj", "went")
    run.finish()
    monkeypatch.setenv("WANDB_MODE", "disabled")
    assert wandb.init().disabled
    wandb.finish()
    monkeypatch.setenv("CAIRN_MODE", "offline")
    assert wandb.init().offline
    wandb.finish()
    monkeypatch.delenv("CAIRN_MODE")
    monkeypatch.setenv("WANDB_MODE", "sometimes")
    with pytest.raises(wandb.UsageError, match="mode must be one of"):
        wandb.init()
    monkeypatch.delenv("WANDB_MODE")
    # WANDB_DIR: the embedded store goes in $WANDB_DIR/cairn when CAIRN_DIR is unset
    monkeypatch.delenv("CAIRN_DIR")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path / "wdir"))
    reset_clients()
    run = wandb.init()
    run.finish()
    assert (tmp_path / "wdir" / "cairn" / "meta.sqlite").exists()
    # WANDB_SILENT: the one-time warnings are not shown
    monkeypatch.setenv("WANDB_SILENT", "true")
    with caplog.at_level(logging.WARNING, logger="cairn"):
        run = wandb.init(magic=True)
        run.finish()
    assert "magic" not in caplog.text


def test_wandb_artifact_dir_is_the_default_download_root(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    src = tmp_path / "f.txt"
    src.write_text("hi")
    with wandb.init(project="rec") as run:
        a = wandb.Artifact("data", "dataset")
        a.add_file(str(src))
        run.log_artifact(a)
    monkeypatch.setenv("WANDB_ARTIFACT_DIR", str(tmp_path / "wart"))
    root = wandb.Api().artifact("rec/data:latest").download()
    assert str(root).startswith(str(tmp_path / "wart")) and (tmp_path / "wart").exists()


def test_api_overrides_base_url_reaches_a_server(server_stack, monkeypatch: pytest.MonkeyPatch) -> None:
    """W&B's ``Api(overrides={"base_url": ...})``: a script with no server set reads what
    another wrote through one replica, through the other."""
    import uuid

    from cairn.client import reset_clients

    entity = f"t{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("CAIRN_BASE_URL", server_stack.urls[0])
    monkeypatch.setenv("CAIRN_ENTITY", entity)
    reset_clients()
    with wandb.init(project="over") as run:
        run.log({"x": 1})
    monkeypatch.delenv("CAIRN_BASE_URL")
    reset_clients()
    with pytest.raises(wandb.CommError):  # the embedded store has no such run
        wandb.Api().run(f"{entity}/over/{run.id}")
    api = wandb.Api(overrides={"base_url": server_stack.urls[1], "entity": entity})
    assert api.run(f"over/{run.id}").summary["x"] == 1
