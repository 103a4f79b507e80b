"""W&B's registry as W&B user code writes it: links, and the model helpers, on the embedded
store and through servers on PostgreSQL + SeaweedFS."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import cairn
import cairn as wandb
from cairn.client import get_client
from cairn.client.rpc import project_path


@pytest.fixture(autouse=True)
def _on_every_backend(backend):
    return backend


def _model(name: str, content: str, type_: str = "model") -> wandb.Artifact:
    Path(f"{name}.bin").write_text(content)
    a = wandb.Artifact(name, type_)
    a.add_file(f"{name}.bin")
    return a


def _blobs_on_disk() -> int:
    root = Path(os.environ["CAIRN_DIR"]) / "blobs"
    return sum(1 for p in root.rglob("*") if p.is_file())


def test_link_artifact_logs_a_draft_first_and_links_it():
    with wandb.init(project="train") as run:
        art = _model("net", "weights-1")
        link = run.link_artifact(art, "wandb-registry-model/best", aliases=["prod"])
        assert art.version == "v0" and not art.is_link  # the draft was logged by this run
        assert link.is_link
        assert link.qualified_name == f"{run.entity}/wandb-registry-model/best:v0"
        assert (link.version, link.aliases) == ("v0", ["latest", "prod"])
        assert (link.source_name, link.source_version, link.source_project) == ("net:v0", "v0", "train")
        assert link.source_entity == run.entity and link.type == "model"
        assert link.source_artifact.qualified_name == art.qualified_name
        assert [x.qualified_name for x in art.linked_artifacts] == [link.qualified_name]
        assert link.linked_artifacts == []
        assert link.logged_by().id == run.id  # the source's producing run
    got = wandb.Api().artifact("wandb-registry-model/best:prod")
    assert got.is_link and got.id == link.id and got.source_version == "v0"
    assert got.collection.name == "best" and got.source_collection.name == "net"


def test_each_link_gets_the_next_version_and_latest_of_its_collection():
    with wandb.init(project="train") as run:
        first = run.log_artifact(_model("net", "w1"))
        second = run.log_artifact(_model("net", "w2"))
        l0 = run.link_artifact(first, "reg/best", aliases=["candidate"])
        l1 = run.link_artifact(second, "reg/best")
        assert (l0.version, l1.version) == ("v0", "v1")
        again = run.link_artifact(first, "reg/best", aliases=["prod"])  # the same source: the same link
    assert again.id == l0.id and again.version == "v0"
    assert again.aliases == ["latest", "candidate", "prod"]
    api = wandb.Api(overrides={"project": "train"})
    assert [(v.version, v.source_version) for v in api.artifacts("model", "reg/best")] == [("v0", "v0"), ("v1", "v1")]
    assert api.artifact("reg/best:latest").source_version == "v0"
    assert api.artifact("reg/best:v1").get_entry("net.bin").digest == second.get_entry("net.bin").digest


def test_artifact_link_outside_a_run_saves_the_draft_first():
    link = _model("solo", "alone").link("reg/solo-models", aliases=["x"])
    assert link.is_link and link.source_name == "solo:v0"
    assert link.source_artifact.logged_by().job_type == "auto"


def test_a_link_is_a_pointer_not_a_copy(backend, tmp_path):
    with wandb.init(project="train") as run:
        art = run.log_artifact(_model("big", "x" * 100_000))
        before = _blobs_on_disk() if backend == "embedded" else None
        link = run.link_artifact(art, "registry/big")
    assert link._version.manifest_key == art._version.manifest_key and link.digest == art.digest
    if backend == "embedded":
        assert _blobs_on_disk() == before
    else:  # the registry project got no bytes of its own: they are read from the source's
        client = get_client()
        digest = art.get_entry("big.bin").digest
        path = project_path(run.entity, "registry", "blobs", "missing")
        missing = client.rpc.json("POST", path, json_body={"digests": [digest]})
        assert missing["missing"] == [digest]
    root = wandb.Api().artifact(f"{run.entity}/registry/big:latest").download(tmp_path / "dl")
    assert (Path(root) / "big.bin").read_text() == "x" * 100_000


def test_unlink_removes_only_the_link():
    with wandb.init(project="train") as run:
        art = run.log_artifact(_model("net", "w"))
        l0 = run.link_artifact(art, "reg/best", aliases=["prod"])
        other = run.log_artifact(_model("net", "w2"))
        l1 = run.link_artifact(other, "reg/best")
    api = wandb.Api(overrides={"project": "train"})
    api.artifact("reg/best:latest").unlink()
    assert api.artifact("reg/best:latest").id == l0.id  # latest moved back to the remaining link
    assert [v.version for v in api.artifacts("model", "reg/best")] == ["v0"]
    assert api.artifact("net:v1").id == other.id  # the source is untouched
    with pytest.raises(ValueError, match="not a link"):
        api.artifact("net:v0").unlink()
    with pytest.raises(wandb.errors.ArtifactNotLoggedError):
        _model("never", "logged").unlink()
    # delete() of a link removes the link only, with its aliases
    api.artifact("reg/best:prod").delete()
    assert api.artifacts("model", "reg/best") == []
    assert api.artifact("net:v0").state == "COMMITTED"
    assert l1.id != l0.id


def test_deleting_a_source_removes_its_links():
    with wandb.init(project="train") as run:
        art = run.log_artifact(_model("net", "w"), aliases=["best"])
        run.link_artifact(art, "reg/best")
    art.delete(delete_aliases=True)
    with pytest.raises(wandb.CommError):
        wandb.Api(overrides={"project": "train"}).artifact("reg/best:latest")
    assert [c.name for c in wandb.Api().artifact_collections("reg")] == ["best"]  # the collection stays, empty


def test_a_collection_holds_logged_versions_or_links_not_both():
    with wandb.init(project="train") as run:
        art = run.log_artifact(_model("net", "w"))
        run.link_artifact(art, "reg/best")
    with pytest.raises(wandb.UsageError, match="collection of links"):
        _log_into("reg", "best")
    with wandb.init(project="train") as run:
        with pytest.raises(ValueError, match="collection of logged versions"):
            run.link_artifact(art, "train/net")
        data = run.log_artifact(_model("table", "rows", type_="dataset"))
        with pytest.raises(ValueError, match="type 'model'"):
            run.link_artifact(data, "reg/best")


def _log_into(project: str, name: str) -> None:
    with wandb.init(project=project) as run:
        run.log_artifact(_model(name, "content"))


def test_bad_target_paths_are_refused():
    with wandb.init(project="train") as run:
        art = run.log_artifact(_model("net", "w"))
        for bad, says in [
            ("a/b/c/d", "collection"),
            ("reg/best:v1", "not a version"),
            ("reg//x", "collection"),
            ("reg/bad name", "collection name"),
            ("", "target_path"),
        ]:
            with pytest.raises(wandb.UsageError, match=says):
                run.link_artifact(art, bad)
        with pytest.raises(wandb.UsageError, match="reserved"):
            run.link_artifact(art, "reg/best", aliases=["v3"])


def test_a_link_shows_its_sources_edits_and_keeps_its_own_aliases():
    with wandb.init(project="train") as run:
        art = run.log_artifact(_model("net", "w"))
        link = run.link_artifact(art, "reg/best")
    art.description = "the good one"
    art.metadata = {"acc": 0.9}
    art.save()
    api = wandb.Api(overrides={"project": "train"})
    got = api.artifact("reg/best:latest")
    assert (got.description, got.metadata) == ("the good one", {"acc": 0.9})
    got.aliases = got.aliases + ["prod"]
    got.save()
    assert api.artifact("reg/best:prod").id == link.id
    assert "prod" not in api.artifact("net:v0").aliases  # the link's aliases are its own
    got = api.artifact("reg/best:prod")
    got.description = "edited through the link"
    with pytest.raises(wandb.UsageError, match="source"):
        got.save()


def test_a_draft_of_a_link_is_a_draft_of_its_source():
    with wandb.init(project="train") as run:
        art = run.log_artifact(_model("net", "w"))
        run.link_artifact(art, "reg/best")
    draft = wandb.Api(overrides={"project": "train"}).artifact("reg/best:latest").new_draft()
    Path("extra.txt").write_text("more")
    draft.add_file("extra.txt")
    draft.save()
    assert draft.qualified_name.endswith("/train/net:v1")


def test_log_model_use_model_and_link_model():
    Path("ckpt").mkdir()
    Path("ckpt/weights.pt").write_text("w")
    Path("ckpt/config.json").write_text("{}")
    Path("one.pt").write_text("single")
    with wandb.init(project="train") as run:
        folder = run.log_model("ckpt", aliases=["epoch-1"])
        single = run.log_model("one.pt", name="single-model")
        assert folder.type == "model" and folder.name == f"run-{run.id}-ckpt:v0"
        assert folder.aliases == ["latest", "epoch-1"]
        link = run.link_model("one.pt", "classifier", name="single-model", aliases=["staging"])
        assert link.qualified_name == f"{run.entity}/model-registry/classifier:v0"
        assert link.aliases == ["latest", "staging"] and link.source_name == "single-model:v0"
        assert link.source_artifact.id == single.id  # the same files: the existing version
    with wandb.init(project="train") as run:
        path = run.use_model(f"run-{folder.logged_by().id}-ckpt:epoch-1")
        assert sorted(os.listdir(path)) == ["config.json", "weights.pt"]
        one = run.use_model("single-model:latest")
        assert one.endswith("one.pt") and open(one).read() == "single"
        assert [a.name for a in run.used_artifacts()] == [folder.name, single.name]
        registered = run.use_model(f"{run.entity}/model-registry/classifier:staging")
        assert open(registered).read() == "single"


def test_model_helpers_refuse_what_wandb_refuses():
    with wandb.init(project="train") as run:
        run.log_artifact(_model("rows", "data", type_="dataset"))
        with pytest.raises(AssertionError, match="'dataset'") as e:
            run.use_model("rows:latest")
        assert isinstance(e.value, wandb.NotAModelError)
        Path("m.pt").write_text("m")
        with pytest.raises(AssertionError, match="name only"):
            run.link_model("m.pt", "team/model-registry/clf")
        with pytest.raises(AssertionError, match="'dataset'"):
            run.link_model("m.pt", "clf", name="rows")
    with pytest.raises(wandb.UsageError, match="init"):
        wandb.log_model("m.pt")


def test_module_level_model_shortcuts():
    Path("w.pt").write_text("weights")
    with wandb.init(project="train") as run:
        logged = wandb.log_model("w.pt", name="shortcut")
        link = wandb.link_model("w.pt", "shortcut-registered", name="shortcut")
        assert link.source_name == "shortcut:v0" and logged.version == "v0"
        assert open(wandb.use_model("shortcut:latest")).read() == "weights"
        assert run.entity == link.entity


def test_log_artifact_of_a_path_without_a_name():
    Path("preds.csv").write_text("a,b")
    with wandb.init(project="train") as run:
        a = run.log_artifact("preds.csv", type="predictions")
        assert a.name == f"run-{run.id}-preds.csv:v0"
        assert cairn.Api().artifact(f"train/run-{run.id}-preds.csv:latest").id == a.id


def test_a_link_of_a_link_points_at_the_source():
    with wandb.init(project="train") as run:
        art = run.log_artifact(_model("net", "w"))
        first = run.link_artifact(art, "reg/candidates")
        second = first.link("reg/production", aliases=["live"])
    assert second.source_qualified_name == art.qualified_name
    assert second.source_artifact.id == art.id
    assert sorted(x.qualified_name for x in art.linked_artifacts) == sorted(
        [first.qualified_name, second.qualified_name]
    )
    assert sorted(x.qualified_name for x in first.source_artifact.linked_artifacts) == sorted(
        [first.qualified_name, second.qualified_name]
    )


def test_deleting_a_source_collection_or_a_link_collection():
    with wandb.init(project="train") as run:
        kept = run.log_artifact(_model("keep", "k"))
        art = run.log_artifact(_model("net", "w"))
        run.link_artifact(kept, "reg/best")
        run.link_artifact(art, "reg/best", aliases=["prod"])
    api = wandb.Api(overrides={"project": "train"})
    assert api.artifact("reg/best:latest").source_name == "net:v0"
    api.artifact_collection("model", "net").delete(delete_aliases=True)
    assert not api.artifact_exists("reg/best:prod")
    assert api.artifact("reg/best:latest").source_name == "keep:v0"  # latest moved back
    assert [v.version for v in api.artifacts("model", "reg/best")] == ["v0"]
    api.artifact_collection("model", "reg/best").delete()  # only the links go
    assert not api.artifact_collection_exists("reg/best", "model")
    assert api.artifact("keep:v0").state == "COMMITTED"
