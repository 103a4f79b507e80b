"""An Artifact's states (sdk/states.py) through the SDK: new, draft, upserted, committed,
each answering for itself what it holds and whether it may change; and checkout / verify
walking the folder beside the manifest."""

from __future__ import annotations

from pathlib import Path

import pytest

import cairn
from cairn.core.errors import ArtifactFinalizedError


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def logged(tmp_path: Path, files: dict[str, str], name: str = "data") -> cairn.Artifact:
    a = cairn.Artifact(name, "dataset")
    for rel, text in files.items():
        a.add_file(str(write(tmp_path / "src" / name / rel, text)), rel)
    with cairn.init(project="states") as run:
        run.log_artifact(a)
    return a


def test_a_new_artifact_becomes_committed_and_then_refuses_edits(backend, tmp_path):
    a = cairn.Artifact("data", "dataset")
    a.add_file(str(write(tmp_path / "a.txt", "a")))
    assert (a.state, a.is_draft(), a.id, a.file_count) == ("PENDING", True, None, 1)
    with cairn.init(project="states") as run:
        run.log_artifact(a)
    assert (a.state, a.is_draft(), a.version, a.file_count) == ("COMMITTED", False, "v0", 1)
    assert a.project == "states" and a.get_entry("a.txt").size == 1
    with pytest.raises(ArtifactFinalizedError, match="new_draft"):
        a.add_file(str(tmp_path / "a.txt"), "b.txt")


def test_a_draft_is_its_base_plus_edits_and_commits_as_a_new_version(backend, tmp_path):
    v0 = logged(tmp_path, {"a.txt": "a", "d/b.txt": "b", "d/c.txt": "c"})
    draft = cairn.Api().artifact("states/data:v0").new_draft()
    assert draft.is_draft() and draft.project == "states"
    draft.add_file(str(write(tmp_path / "e.txt", "e")), "e.txt")
    draft.remove("d")
    assert [e for e in draft.manifest] == ["a.txt", "e.txt"] and draft.file_count == 2
    assert draft.get_entry("a.txt").digest == v0.get_entry("a.txt").digest
    assert draft.get_added_local_path_name(str(tmp_path / "e.txt")) == "e.txt"
    with cairn.init(project="states") as run:
        run.log_artifact(draft)
    assert draft.version == "v1" and [f.name for f in draft.files()] == ["a.txt", "e.txt"]


def test_an_upserted_artifact_and_an_upserted_draft_change_no_more(backend, tmp_path):
    base = logged(tmp_path, {"a.txt": "a"}, name="dist")
    with cairn.init(project="states") as run:
        fresh = cairn.Artifact("dist", "dataset")
        fresh.add_file(str(write(tmp_path / "n.txt", "n")), "n.txt")
        run.upsert_artifact(fresh, distributed_id="job1")
        assert fresh.distributed_id == "job1" and fresh.is_draft() and fresh.project == "states"
        assert [e for e in fresh.manifest] == ["n.txt"]
        with pytest.raises(ArtifactFinalizedError, match="job1"):
            fresh.add_file(str(tmp_path / "n.txt"), "m.txt")
        draft = cairn.Api().artifact(f"{base.entity}/states/dist:v0").new_draft()
        draft.add_file(str(write(tmp_path / "p.txt", "p")), "p.txt")
        run.upsert_artifact(draft, distributed_id="job1")
        run.upsert_artifact(draft, distributed_id="job1")  # again: the same files again
        assert draft.distributed_id == "job1"
        with pytest.raises(ArtifactFinalizedError, match="job1"):
            draft.remove("a.txt")
        done = run.finish_artifact(cairn.Artifact("dist", "dataset"), distributed_id="job1")
    assert done.distributed_id is None and not done.is_draft()
    assert [f.name for f in done.files()] == ["a.txt", "n.txt", "p.txt"]


def test_verify_reports_the_first_difference_in_path_order(backend, tmp_path):
    a = logged(tmp_path, {"b.txt": "b", "d/c.txt": "c", "e.txt": "e"})
    root = Path(a.download(tmp_path / "dl"))
    a.verify(root)
    write(root / "a-stray.txt", "x")  # before every entry
    (root / "e.txt").unlink()
    with pytest.raises(cairn.IntegrityError, match="a-stray.txt is not part of") as e:
        a.verify(root)
    assert e.value.path == "a-stray.txt"
    (root / "a-stray.txt").unlink()
    write(root / "d/c.txt", "changed")
    with pytest.raises(cairn.IntegrityError, match="does not match") as e:
        a.verify(root)
    assert (e.value.path, e.value.digest) == ("d/c.txt", a.get_entry("d/c.txt").digest)
    write(root / "d/c.txt", "c")
    with pytest.raises(cairn.IntegrityError, match="missing") as e:
        a.verify(root)
    assert e.value.path == "e.txt"
    with pytest.raises(cairn.IntegrityError, match="b.txt of .* is missing"):
        a.verify(tmp_path / "nowhere")  # no folder: the first entry is missing


def test_checkout_keeps_matching_files_and_removes_the_rest_in_folders_that_sort_between(backend, tmp_path):
    """The folder and the manifest are walked side by side: a folder "d" sorts as "d/",
    after "d-x.txt" and before "d0.txt", as manifest paths do."""
    a = logged(tmp_path, {"d-x.txt": "1", "d/in.txt": "2", "d0.txt": "3"})
    root = tmp_path / "co"
    write(root / "d/in.txt", "2")
    kept = (root / "d/in.txt").stat().st_ino
    for extra in ("d/zz/deep.txt", "d.txt", "d/a.txt", "z.txt", "d-w.txt"):
        write(root / extra, "junk")
    a.checkout(root)
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    assert files == ["d-x.txt", "d/in.txt", "d0.txt"]
    assert not (root / "d/zz").exists() and (root / "d/in.txt").stat().st_ino == kept
    a.verify(root)


def test_files_by_name_are_in_path_order_and_skip_unknown_names(backend, tmp_path):
    a = logged(tmp_path, {"a.txt": "a", "b/c.txt": "c", "z.txt": "z"})
    got = a.files(names=["z.txt", "nope.txt", "a.txt", "a.txt"])
    assert [(f.name, f.size) for f in got] == [("a.txt", 1), ("z.txt", 1)]
