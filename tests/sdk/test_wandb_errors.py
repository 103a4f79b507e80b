"""The errors W&B scripts catch, as W&B documents them, on the embedded store and through
servers on PostgreSQL + SeaweedFS; and errors that cross the HTTP API keep their attributes."""

from __future__ import annotations

from pathlib import Path

import blake3
import pytest

import cairn
import cairn as wandb
from cairn.client import get_client
from cairn.client.rpc import project_path


@pytest.fixture(autouse=True)
def _on_every_backend(backend):
    return backend


def _file(name: str, text: str) -> str:
    Path(name).write_text(text)
    return name


def _log(name: str, text: str, aliases=None, type_="dataset"):
    with wandb.init(project="errs") as run:
        a = wandb.Artifact(name, type_)
        a.add_file(_file(f"{name}.txt", text))
        return run.log_artifact(a, aliases=aliases)


def test_wandb_error_names_exist_where_wandb_has_them():
    assert wandb.CommError is wandb.errors.CommError
    assert wandb.UsageError is wandb.errors.UsageError
    assert wandb.Error is wandb.errors.Error
    assert issubclass(wandb.errors.AuthenticationError, wandb.errors.CommError)
    for cls in (wandb.errors.CommError, wandb.errors.UsageError, wandb.errors.AuthenticationError):
        assert issubclass(cls, wandb.errors.Error)
    assert wandb.errors.CommError("boom").message == "boom"


def test_a_missing_artifact_from_the_api_is_a_comm_error():
    _log("present", "x")
    api = wandb.Api(overrides={"project": "errs"})
    with pytest.raises(wandb.errors.CommError) as e:
        api.artifact("absent:latest")
    assert isinstance(e.value, cairn.ArtifactNotFoundError) and "absent" in e.value.name
    with pytest.raises(wandb.CommError):
        api.artifact("present:v7")
    with pytest.raises(wandb.errors.CommError) as e:
        api.run("errs/nosuchrun")
    assert e.value.run.endswith("nosuchrun")


def test_a_name_reused_with_another_type_is_a_value_error():
    _log("thing", "x", type_="dataset")
    with pytest.raises(ValueError, match="already has type 'dataset'"):
        _log("thing", "y", type_="model")


def test_bad_input_is_a_value_error_and_a_usage_error():
    with pytest.raises(ValueError):
        wandb.Artifact("bad name!", "dataset")
    with pytest.raises(wandb.errors.UsageError):
        wandb.Artifact("ok", "bad type!")
    with pytest.raises(wandb.errors.UsageError):
        wandb.log_artifact("x.txt")  # no run


def test_verify_failures_are_value_errors(tmp_path):
    a = _log("ver", "original")
    root = a.download(tmp_path / "v")
    (Path(root) / "ver.txt").write_text("changed!")
    with pytest.raises(ValueError, match="ver.txt") as e:
        a.verify(root)
    assert e.value.path == "ver.txt"


def test_absent_entries_are_key_errors():
    a = _log("ent", "x")
    with pytest.raises(KeyError):
        a.get_entry("nope.txt")
    with pytest.raises(KeyError):
        a.get_path("nope.txt")


def test_logged_only_members_of_an_unlogged_artifact_are_attribute_errors():
    a = wandb.Artifact("fresh", "dataset")
    a.add_file(_file("f.txt", "x"))
    for member in ("version", "created_at", "updated_at"):
        with pytest.raises(AttributeError) as e:
            getattr(a, member)
        assert isinstance(e.value, wandb.errors.ArtifactNotLoggedError)
        assert e.value.member == f"Artifact.{member}"
    for call in (a.download, a.checkout, a.verify, a.files, a.delete, a.new_draft, a.logged_by, a.used_by, a.wait):
        with pytest.raises(wandb.ArtifactNotLoggedError):
            call()
    # the attribute error W&B code tests with hasattr / getattr(default) behaves as there
    assert getattr(a, "version", None) is None


def test_mutators_of_a_logged_artifact_are_attribute_errors():
    a = _log("done", "x")
    calls = [
        lambda: a.add_file(_file("g.txt", "y")),
        lambda: a.add_dir("."),
        lambda: a.add_reference("file:///tmp"),
        lambda: a.remove("done.txt"),
        lambda: a.new_file("h.txt").__enter__(),
    ]
    for call in calls:
        with pytest.raises(AttributeError) as e:
            call()
        assert isinstance(e.value, wandb.errors.ArtifactFinalizedError)
        assert isinstance(e.value, cairn.LockedError)  # cairn's own except clauses keep working
        assert "done" in e.value.artifact


def test_a_distributed_conflict_keeps_its_path_and_runs():
    with wandb.init(project="errs", group="g") as r1:
        a = wandb.Artifact("dist", "dataset")
        a.add_file(_file("p.txt", "one"))
        r1.upsert_artifact(a)
    with wandb.init(project="errs", group="g") as r2:
        b = wandb.Artifact("dist", "dataset")
        b.add_file(_file("p.txt", "two"))
        with pytest.raises(cairn.ConflictError) as e:
            r2.upsert_artifact(b)
    assert isinstance(e.value, ValueError)
    assert e.value.path == "p.txt"
    assert set(e.value.runs) == {r1.id, r2.id}


def test_an_integrity_error_keeps_its_path_and_digest(backend, tmp_path):
    a = _log("integ", "original")
    root = a.download(tmp_path / "i")
    (Path(root) / "integ.txt").write_text("changed")
    with pytest.raises(cairn.IntegrityError) as e:
        a.verify(root)
    assert (e.value.path, e.value.digest) == ("integ.txt", a.get_entry("integ.txt").digest)
    if backend == "server":  # one the server raises, rebuilt from the wire
        client = get_client()
        wrong = "blake3:" + blake3.blake3(b"other bytes").hexdigest()
        with pytest.raises(cairn.IntegrityError) as e:
            client.rpc.call("PUT", project_path(client.entity, "errs", "blobs", wrong), content=b"some bytes")
        assert e.value.digest == wrong and "nothing was stored" in str(e.value)
