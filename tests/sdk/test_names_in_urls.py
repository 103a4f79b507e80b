"""Names, aliases and distributed ids that mean something in a URL (``?``, ``#``, ``%``,
``..``) reach the version they name, on the embedded store and through a server."""

from __future__ import annotations

from pathlib import Path

import pytest

import cairn as wandb


@pytest.fixture(autouse=True)
def _on_every_backend(backend):
    return backend


def _log(name: str, text: str, aliases: list[str]):
    Path("f.txt").write_text(text)
    with wandb.init(project="urls") as run:
        a = wandb.Artifact(name, "dataset")
        a.add_file("f.txt")
        return run.log_artifact(a, aliases=aliases)


@pytest.mark.parametrize("alias", ["rc?1", "rc#1", "rc%3F1", "rc%1", "rc&x=1", "ünï"])
def test_an_alias_with_url_characters_resolves_exactly(alias):
    _log("data", "plain", ["rc"])  # v0 holds the alias a truncated URL would resolve
    _log("data", "special", [alias])
    got = wandb.Api(overrides={"project": "urls"}).artifact(f"data:{alias}")
    assert got.version == "v1" and alias in got.aliases
    assert wandb.Api().artifact(f"urls/data:{alias}").get_entry("f.txt").digest == got.get_entry("f.txt").digest


@pytest.mark.parametrize("name", ["a..b", "x.y", "...", ".hidden"])
def test_dot_names_are_one_path_segment(name):
    made = _log(name, f"content of {name}", ["best"])
    api = wandb.Api(overrides={"project": "urls"})
    got = api.artifact(f"{name}:best")
    assert got.id == made.id and got.collection_name == name
    assert [v.version for v in api.artifacts("dataset", name)] == ["v0"]


def test_a_distributed_id_with_url_characters_is_one_draft():
    did = "group 1?x=#%2F"
    for i in range(2):
        Path(f"part{i}.txt").write_text(str(i))
        with wandb.init(project="urls") as run:
            a = wandb.Artifact("dist", "dataset")
            a.add_file(f"part{i}.txt")
            run.upsert_artifact(a, distributed_id=did)
    with wandb.init(project="urls") as run:
        done = run.finish_artifact(wandb.Artifact("dist", "dataset"), distributed_id=did)
    assert sorted(done.manifest.entries) == ["part0.txt", "part1.txt"]


@pytest.mark.parametrize("name", [".", ".."])
def test_dot_and_dot_dot_are_refused_as_names(name):
    """A URL cannot hold them as a segment: clients and browsers collapse them (even
    percent-encoded: the URL standard treats '%2e%2e' as '..'), so they are not names."""
    with pytest.raises(wandb.UsageError, match="cannot be reached through a URL"):
        _log(name, "x", [])
    with pytest.raises(wandb.UsageError, match="cannot be reached through a URL"):
        wandb.init(project=name)


@pytest.mark.parametrize(
    "did, says",
    [
        ("a/b", "'/'"),
        ("x" * 257, "at most 256"),
        ("nul\x00", "control"),
        ("tab\tid", "control"),
        ("   ", "non-empty"),
        ("..", "'..'"),
    ],
)
def test_bad_distributed_ids_are_refused_with_their_reason(did, says):
    Path("p.txt").write_text("p")
    with wandb.init(project="urls") as run:
        a = wandb.Artifact("dist", "dataset")
        a.add_file("p.txt")
        with pytest.raises(wandb.UsageError, match=says):
            run.upsert_artifact(a, distributed_id=did)
        with pytest.raises(ValueError, match=says):
            run.finish_artifact(wandb.Artifact("dist", "dataset"), distributed_id=did)
