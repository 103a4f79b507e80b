"""Artifact behaviours W&B documents (docs.wandb.ai and the SDK's docstrings), written the way
W&B user code writes them, on the embedded store and through servers on PostgreSQL + SeaweedFS."""

from __future__ import annotations

import os
from pathlib import Path

import blake3
import pytest

import cairn as wandb
from cairn.client import get_client
from cairn.core.versions import CommitRequest


@pytest.fixture(autouse=True)
def _on_every_backend(backend):
    return backend


def _write(files: dict[str, str]) -> None:
    for name, text in files.items():
        Path(name).parent.mkdir(parents=True, exist_ok=True)
        Path(name).write_text(text)


def _log(name: str, files: dict[str, str], aliases=None, incremental=False, project="docs") -> wandb.Artifact:
    _write(files)
    with wandb.init(project=project) as run:
        a = wandb.Artifact(name, "dataset", incremental=incremental)
        for f in files:
            a.add_file(f, name=f)
        return run.log_artifact(a, aliases=aliases)


def test_an_incremental_artifact_starts_from_the_latest_contents():
    first = _log("inc", {"a.txt": "a", "b.txt": "b"}, incremental=True)  # no latest yet: just its files
    assert sorted(first.manifest.entries) == ["a.txt", "b.txt"]
    second = _log("inc", {"c.txt": "c", "b.txt": "b2"}, incremental=True)
    assert second.version == "v1"
    assert sorted(second.manifest.entries) == ["a.txt", "b.txt", "c.txt"]
    assert second.get_entry("b.txt").digest == "blake3:" + blake3.blake3(b"b2").hexdigest()
    assert second.get_entry("a.txt").digest == first.get_entry("a.txt").digest
    plain = _log("inc", {"d.txt": "d"})  # without incremental: only its own files
    assert sorted(plain.manifest.entries) == ["d.txt"]
    assert wandb.Artifact("x", "dataset", incremental=True).incremental


@pytest.mark.parametrize(
    "type_, name",
    [
        ("job", "anything"),
        ("wandb-history", "h"),
        ("wandb-run-table", "t"),
        ("run_table", "run-abc"),
        ("code", "source-main"),
    ],
)
def test_reserved_types_are_refused(type_, name):
    with pytest.raises(ValueError, match="reserved"):
        wandb.Artifact(name, type_)
    client = get_client()  # and by the store itself, whatever the caller skips
    req = CommitRequest(entity=client.entity, project="docs", name=name, type=type_, entries=[])
    with pytest.raises(wandb.UsageError, match="reserved"):
        client.commit(req)


def test_types_close_to_reserved_ones_are_fine():
    for type_, name in [("run_table", "table"), ("code", "main"), ("jobs", "x"), ("my-wandb-type", "y")]:
        assert wandb.Artifact(name, type_).type == type_


def test_add_file_is_tmp_renames_deterministically():
    _write({"scratch/model.tar.gz": "weights", "other/copy.tar.gz": "weights", "x.bin": "other"})
    a = wandb.Artifact("tmp", "model")
    e1 = a.add_file("scratch/model.tar.gz", is_tmp=True)
    hex20 = blake3.blake3(b"weights").hexdigest()[:20]
    assert e1.path == f"{hex20}.tar.gz"
    e2 = a.add_file("other/copy.tar.gz", name="sub/copy.tar.gz", is_tmp=True)
    assert e2.path == f"sub/{hex20}.tar.gz"
    assert a.add_file("x.bin", is_tmp=False).path == "x.bin"
    with wandb.init(project="docs") as run:
        logged = run.log_artifact(a)
    assert sorted(logged.manifest.entries) == [f"{hex20}.tar.gz", f"sub/{hex20}.tar.gz", "x.bin"]


def test_get_added_local_path_name():
    _write({"data/x.txt": "x", "data/sub/y.txt": "y", "z.txt": "z"})
    a = wandb.Artifact("local-names", "dataset")
    a.add_file("z.txt", name="renamed.txt")
    a.add_dir("data", name="d")
    assert a.get_added_local_path_name("z.txt") == "renamed.txt"
    assert a.get_added_local_path_name(os.path.abspath("z.txt")) == "renamed.txt"
    assert a.get_added_local_path_name("data/sub/y.txt") == "d/sub/y.txt"
    assert a.get_added_local_path_name("nowhere.txt") is None
    with wandb.init(project="docs") as run:
        logged = run.log_artifact(a)
    draft = logged.new_draft()
    _write({"w.txt": "w"})
    draft.add_file("w.txt", name="new/w.txt")
    assert draft.get_added_local_path_name("w.txt") == "new/w.txt"


def test_a_reference_with_an_unknown_scheme_is_tracked_only(tmp_path):
    a = wandb.Artifact("tracked", "dataset")
    with pytest.raises(ValueError, match="name="):
        a.add_reference("nfs://server/share/data.bin")
    [entry] = a.add_reference("nfs://server/share/data.bin", name="data.bin")
    assert entry.ref == "nfs://server/share/data.bin"
    with wandb.init(project="docs") as run:
        logged = run.log_artifact(a)
    got = wandb.Api(overrides={"project": "docs"}).artifact("tracked:latest")
    assert got.get_entry("data.bin").ref == "nfs://server/share/data.bin"
    assert logged.digest == got.digest
    with pytest.raises(ValueError):
        got.download(tmp_path / "strict")  # nothing to read behind an unknown scheme
    root = got.download(tmp_path / "lenient", allow_missing_references=True)
    assert os.listdir(root) == []


def test_assigning_aliases_then_save_takes_effect_including_dropping_latest():
    _log("al", {"a.txt": "0"})
    v1 = _log("al", {"a.txt": "1"})
    api = wandb.Api(overrides={"project": "docs"})
    v1.aliases.append("best")
    v1.save()
    assert api.artifact("al:best").version == "v1"
    got = api.artifact("al:v1")
    got.aliases = ["best", "prod"]  # "latest" dropped
    got.save()
    assert api.artifact("al:v1").aliases == ["best", "prod"]
    with pytest.raises(wandb.CommError):
        api.artifact("al:latest")
    got = api.artifact("al:v0")
    got.aliases = got.aliases + ["latest"]  # taken back on purpose
    got.save()
    assert api.artifact("al:latest").version == "v0"


def test_checkout_and_download_default_roots():
    a = _log("roots", {"a.txt": "a"})
    assert Path(a.download()) == Path("artifacts") / "roots:v0"
    Path("artifacts/roots").mkdir(parents=True)
    Path("artifacts/roots/stray.txt").write_text("not part of it")
    root = a.checkout()
    assert Path(root) == Path("artifacts") / "roots"
    assert sorted(os.listdir(root)) == ["a.txt"]


def test_delete_refuses_a_version_with_aliases_unless_told():
    _log("del", {"a.txt": "0"})
    v1 = _log("del", {"a.txt": "1"}, aliases=["best"])
    with pytest.raises(ValueError, match="delete_aliases=True"):
        v1.delete()
    v1.delete(delete_aliases=True)
    api = wandb.Api(overrides={"project": "docs"})
    assert api.artifact("del:latest").version == "v0"
    assert not api.artifact_exists("del:best")


def test_collection_edits_are_saved():
    a = _log("coll", {"a.txt": "a"})
    coll = a.collection
    assert (coll.name, coll.type, coll.is_sequence()) == ("coll", "dataset", True)
    coll.description = "every version of the coll data"
    coll.tags = ["tabular", "raw data"]
    coll.save()
    api = wandb.Api(overrides={"project": "docs"})
    again = api.artifact_collection("dataset", "coll")
    assert again.description == "every version of the coll data"
    assert again.tags == ["raw data", "tabular"]
    with pytest.raises(ValueError):
        again.tags = ["not/a tag"]
    again.tags = []
    again.save()
    assert api.artifact_collection("dataset", "docs/coll").tags == []
    assert api.artifact("coll:v0").collection.description == "every version of the coll data"


def test_collection_source_version_and_url(backend):
    a = _log("urls", {"a.txt": "a"})
    assert a.collection.name == "urls" and a.source_version == "v0" and a.source_name == "urls:v0"
    if backend == "embedded":
        assert a.url == ""  # as W&B's without an app to link to
    else:
        assert a.url == f"{get_client().base_url}/{a.entity}/docs/urls/v0"


def test_api_overrides_and_lookups():
    _log("api-a", {"a.txt": "a", "b.txt": "b", "c.txt": "c"}, project="elsewhere")
    with wandb.init(project="elsewhere") as run:
        entity = run.entity
    api = wandb.Api(overrides={"entity": entity, "project": "elsewhere"})
    got = api.artifact("api-a:latest")
    assert got.project == "elsewhere"
    assert api.artifact_collection_exists("api-a", "dataset")
    assert api.artifact_collection_exists("elsewhere/api-a", "dataset")
    assert not api.artifact_collection_exists("api-a", "model")
    assert not api.artifact_collection_exists("nothing", "dataset")
    assert [t.name for t in api.artifact_types()] == ["dataset"]
    assert api.artifact_type("dataset").collection("api-a").name == "api-a"
    with pytest.raises(wandb.CommError):
        api.artifact_type("model")
    assert [f.name for f in got.files(names=["a.txt", "c.txt"], per_page=1)] == ["a.txt", "c.txt"]
    assert [f.name for f in got.files()] == ["a.txt", "b.txt", "c.txt"]
