"""``cairn.Api`` (W&B's public API) and the module-level run functions: finding artifacts by
every reference form, listing collections, types and runs, lineage from both ends, and the
defaults (project 'uncategorized', entity 'local' or CAIRN_ENTITY)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from helpers import write

import cairn
from cairn.client import reset_clients


_sources = itertools.count()


def log(
    name: str,
    files: dict[str, str],
    project: str | None = None,
    type_: str = "dataset",
    aliases: list[str] | None = None,
    **init,
) -> cairn.Artifact:
    src = Path(f"src-{next(_sources)}")
    for rel, data in files.items():
        write(src / rel, data)
    with cairn.init(project=project, **init) as run:
        a = cairn.Artifact(name, type_)
        a.add_dir(src)
        run.log_artifact(a, aliases=aliases)
    return a


def test_default_project_and_entity():
    a = log("data", {"a.txt": "a"})
    assert a.project == "uncategorized" and a.entity == "local"
    assert a.qualified_name == "local/uncategorized/data:v0"
    api = cairn.Api()
    assert (api.entity, api.project, api.default_entity) == ("local", "uncategorized", "local")
    assert api.projects() == ["uncategorized"]


@pytest.mark.parametrize(
    "ref",
    [
        "data",
        "data:latest",
        "data:best",
        "data:v1",
        "proj/data:best",
        "local/proj/data:best",
        "proj/data:v1",
        "local/proj/data",
    ],
)
def test_api_artifact_reference_forms(monkeypatch, ref):
    log("data", {"a.txt": "0"}, project="proj")
    log("data", {"a.txt": "1"}, project="proj", aliases=["best"])
    monkeypatch.setenv("CAIRN_PROJECT", "proj")  # bare names resolve in the default project
    got = cairn.Api().artifact(ref)
    assert (got.version, got.project, got.entity) == ("v1", "proj", "local")
    assert got.qualified_name == "local/proj/data:v1"
    assert cairn.Api().artifact(ref, type="dataset").id == got.id
    with pytest.raises(cairn.ArtifactNotFoundError, match="model"):
        cairn.Api().artifact(ref, type="model")


def test_api_artifact_in_other_projects_and_versions():
    log("data", {"a.txt": "0"}, project="proj")
    log("data", {"a.txt": "1"}, project="proj")
    api = cairn.Api()
    assert api.artifact("proj/data:v0").version == "v0"
    assert api.artifact("proj/data:latest").version == "v1"
    assert api.artifact_exists("proj/data:v0")
    assert not api.artifact_exists("data:v0")  # not in the default project
    assert not api.artifact_exists("proj/data:v9")
    assert not api.artifact_exists("proj/nothing")
    assert not api.artifact_exists("proj/data:v0", type="model")
    assert cairn.Api(overrides={"project": "proj"}).artifact("data:v0").version == "v0"
    with pytest.raises(cairn.ArtifactNotFoundError) as e:
        api.artifact("other/proj/data:v0")
    assert "other/proj/data:v0" in str(e.value)


def test_cairn_entity(monkeypatch):
    monkeypatch.setenv("CAIRN_ENTITY", "team")
    reset_clients()
    a = log("data", {"a.txt": "a"}, aliases=["best"])
    assert a.entity == "team"
    assert a.qualified_name == "team/uncategorized/data:v0"
    api = cairn.Api()
    assert api.entity == "team"
    assert api.artifact("team/uncategorized/data:best").id == a.id
    assert api.artifact("data").id == a.id
    assert not api.artifact_exists("local/uncategorized/data:best")
    # an explicit entity in init wins
    other = log("data", {"a.txt": "b"}, entity="someone")
    assert other.qualified_name == "someone/uncategorized/data:v0"
    assert api.artifact("someone/uncategorized/data:latest").id == other.id


def test_artifacts_collections_and_types():
    log("images", {"a.png": "a"}, project="p")
    log("images", {"a.png": "b"}, project="p", aliases=["best"])
    log("labels", {"l.csv": "x"}, project="p")
    log("model", {"w.bin": "w"}, project="p", type_="model")
    log("elsewhere", {"x": "x"}, project="q")
    api = cairn.Api()
    versions = api.artifacts("dataset", "p/images")
    assert [(v.name, v.version) for v in versions] == [("images:v0", "v0"), ("images:v1", "v1")]
    assert [v.aliases for v in versions] == [[], ["latest", "best"]]
    with pytest.raises(cairn.ArtifactNotFoundError, match="model"):
        api.artifacts("model", "p/images")
    with pytest.raises(cairn.ArtifactNotFoundError):
        api.artifacts("dataset", "p/nothing")
    colls = api.artifact_collections("p")
    assert [(c.name, c.type) for c in colls] == [("images", "dataset"), ("labels", "dataset"), ("model", "model")]
    assert [(c.name, c.type) for c in api.artifact_collections("p", type_name="model")] == [("model", "model")]
    images = colls[0]
    assert [a.version for a in images.artifacts()] == ["v0", "v1"]
    assert images.aliases == ["best", "latest"]
    assert (images.entity, images.project) == ("local", "p")
    assert api.artifact_collection("dataset", "p/images").name == "images"
    assert api.artifact_collection_exists("p/images", "dataset")
    assert not api.artifact_collection_exists("p/images", "model")
    types = api.artifact_types("p")
    assert [t.name for t in types] == ["dataset", "model"]
    assert [c.name for c in types[0].collections()] == ["images", "labels"]
    assert api.artifact_type("model", "p").collection("model").name == "model"
    with pytest.raises(cairn.ArtifactNotFoundError):
        api.artifact_type("nope", "p")
    assert [c.name for c in api.artifact_collections("q")] == ["elsewhere"]
    assert api.artifact_collections("empty") == []
    assert api.projects() == ["p", "q"]


def test_runs_and_lineage_through_the_api():
    with cairn.init(project="p", job_type="prep", group="g", config={"seed": 1}, name="prep-run") as prep:
        write("raw.txt", "raw")
        raw = cairn.Artifact("raw", "dataset")
        raw.add_file("raw.txt")
        prep.log_artifact(raw)
    with cairn.init(project="p", job_type="train") as train:
        train.use_artifact("raw:latest")
        write("w.bin", "weights")
        m = cairn.Artifact("model", "model")
        m.add_file("w.bin")
        train.log_artifact(m)
    api = cairn.Api()
    r = api.run(f"local/p/{prep.id}")
    assert (r.id, r.name, r.project, r.entity) == (prep.id, "prep-run", "p", "local")
    assert (r.group, r.job_type, r.config, r.state) == ("g", "prep", {"seed": 1}, "finished")
    assert r.path == ["local", "p", prep.id]
    assert api.run(f"p/{train.id}") == api.run(f"local/p/{train.id}")
    with pytest.raises(cairn.NotFoundError, match=train.id):
        api.run(train.id)  # not in the default project
    with pytest.raises(cairn.NotFoundError, match="nope"):
        api.run("p/nope")
    assert [x.id for x in api.runs("p")] == [prep.id, train.id]
    assert [x.id for x in api.runs("p", filters={"jobType": "train"})] == [train.id]
    assert [x.id for x in api.runs("p", filters={"group": "g"})] == [prep.id]
    assert api.runs("empty") == []
    assert [a.name for a in api.run(f"p/{prep.id}").logged_artifacts()] == ["raw:v0"]
    assert api.run(f"p/{prep.id}").used_artifacts() == []
    t = api.run(f"p/{train.id}")
    assert [a.name for a in t.used_artifacts()] == ["raw:v0"]
    assert [a.name for a in t.logged_artifacts()] == ["model:v0"]
    # the live Run objects give the same answers
    assert [a.name for a in train.logged_artifacts()] == ["model:v0"]
    assert [a.name for a in train.used_artifacts()] == ["raw:v0"]
    # and from the artifacts' side
    assert api.artifact("p/model:latest").logged_by() == t
    assert [x.id for x in api.artifact("p/raw:v0").used_by()] == [train.id]


def test_failed_run_state():
    with pytest.raises(RuntimeError):
        with cairn.init(project="p") as run:
            raise RuntimeError("boom")
    assert cairn.Api().run(f"p/{run.id}").state == "failed"


def test_module_level_run_functions():
    assert cairn.run is None
    with pytest.raises(cairn.UsageError, match=r"cairn.init\(\)"):
        cairn.log_artifact(cairn.Artifact("x", "dataset"))
    with pytest.raises(cairn.UsageError, match=r"cairn.init\(\)"):
        cairn.use_artifact("x:latest")
    run = cairn.init(job_type="module")
    assert cairn.run is run and run.project == "uncategorized"
    write("data/a.txt", "a")
    a = cairn.Artifact("data", "dataset")
    a.add_dir("data")
    logged = cairn.log_artifact(a, aliases=["first"])
    assert logged is a and a.version == "v0" and a.aliases == ["latest", "first"]
    used = cairn.use_artifact("data:first")
    assert used.id == a.id
    # logging a path directly: the name is W&B's run-<run id>-<basename>, the type is given
    write("model.bin", "m")
    by_path = cairn.log_artifact("model.bin", type="model")
    assert (by_path.name, by_path.type) == (f"run-{run.id}-model.bin:v0", "model")
    assert sorted(by_path.manifest) == ["model.bin"]
    cairn.finish()
    assert cairn.run is None
    public = cairn.Api().run(run.id)
    assert public.state == "finished"
    assert [x.name for x in public.logged_artifacts()] == ["data:v0", f"run-{run.id}-model.bin:v0"]
    assert [x.name for x in public.used_artifacts()] == ["data:v0"]
    with pytest.raises(cairn.UsageError, match="finished"):
        run.log_artifact(a)
    cairn.finish()  # finishing with no active run is a no-op


def test_second_init_finishes_the_first_run():
    first = cairn.init()
    second = cairn.init()
    assert cairn.run is second
    assert cairn.Api().run(first.id).state == "finished"
    assert cairn.Api().run(second.id).state == "running"
    cairn.finish()
    assert cairn.Api().run(second.id).state == "finished"


def test_run_id_resume_and_config():
    with cairn.init(id="fixedid", config={"lr": 0.1}) as run:
        run.config.batch = 32
    with cairn.init(id="fixedid") as again:
        assert again.id == "fixedid"
    assert cairn.Api().run("fixedid").config == {"lr": 0.1, "batch": 32}
    # a run id is unique within its project (W&B's rule): another project may use it too
    with cairn.init(project="other", id="fixedid", resume="never", config={"lr": 1}) as other:
        other.log({"x": 1})
    assert cairn.Api().run("fixedid").project == run.project  # a bare id: the default project's
    entity = other.entity
    assert cairn.Api().run(f"{entity}/other/fixedid").config == {"lr": 1}
    assert cairn.Api().run(f"{entity}/{run.project}/fixedid").config == {"lr": 0.1, "batch": 32}
    assert [r["x"] for r in cairn.Api().run(f"{entity}/other/fixedid").scan_history()] == [1]


def test_cairn_run_is_read_from_the_current_run_module_not_assigned():
    """``cairn.run``, ``cairn.config`` and ``cairn.summary`` come from ``sdk/current.py``
    through the package's ``__getattr__``: nothing is assigned into the package."""
    from cairn.sdk import current

    assert "run" not in vars(cairn) and current.active() is None and cairn.run is None
    with pytest.raises(cairn.UsageError, match="cairn.init"):
        cairn.config  # noqa: B018
    run = cairn.init(project="p", config={"lr": 0.1})
    assert current.active() is run and cairn.run is run and "run" not in vars(cairn)
    assert cairn.config is run.config and cairn.config.lr == 0.1 and cairn.summary is run.summary
    run.finish()
    assert cairn.run is None and current.active() is None
    with pytest.raises(cairn.UsageError, match="cairn.init"):
        cairn.summary  # noqa: B018
