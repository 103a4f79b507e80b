"""The ``cairn`` command line through click's CliRunner: put, get, ls, help texts, and errors
that exit 1 with one line on stderr (no traceback)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import write

import cairn
from cairn.cli.main import main


@pytest.fixture
def cli():
    runner = CliRunner()

    def invoke(*args: str):  # noqa: ANN202
        return runner.invoke(main, list(args), catch_exceptions=False)

    return invoke


def ok(result) -> str:  # noqa: ANN001
    assert result.exit_code == 0, f"exit {result.exit_code}: {result.output}"
    return result.stdout


def fails(result, *says: str) -> str:  # noqa: ANN001
    """The command failed with status 1 and exactly one line on stderr naming the problem."""
    assert result.exit_code == 1, f"exit {result.exit_code}: {result.output}"
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.output
    for part in says:
        assert part in lines[0]
    return lines[0]


def test_put_a_folder_then_get_it(cli, tmp_path):
    write("data/a.txt", "aaa")
    write("data/sub/b.txt", "bb")
    out = ok(cli("artifact", "put", "data", "--name", "proj/images", "--type", "dataset", "--alias", "best"))
    assert out == "new version v0 of local/proj/images (2 files, 5 B); aliases: latest, best\n"
    a = cairn.Api().artifact("proj/images:best")
    assert (a.version, a.type, sorted(a.manifest)) == ("v0", "dataset", ["a.txt", "sub/b.txt"])
    assert a.logged_by().job_type == "cli-put"
    # same content again: the same version, with the new alias
    out = ok(cli("artifact", "put", "data", "-n", "proj/images", "-a", "again", "--tag", "t1", "-d", "desc"))
    assert out == "unchanged: same content as v0 of local/proj/images; aliases moved: again\n"
    assert cairn.Api().artifact("proj/images:again").tags == ["t1"]
    # get, by alias, into a root
    out = ok(cli("artifact", "get", "proj/images:best", "--root", str(tmp_path / "dl")))
    assert out.strip() == f"local/proj/images:v0 -> {tmp_path / 'dl'}"
    assert (tmp_path / "dl/a.txt").read_text() == "aaa"
    assert (tmp_path / "dl/sub/b.txt").read_text() == "bb"
    # get with a prefix
    ok(cli("artifact", "get", "local/proj/images:v0", "--root", str(tmp_path / "part"), "--prefix", "sub/"))
    assert [p.name for p in (tmp_path / "part").rglob("*") if p.is_file()] == ["b.txt"]


def test_put_a_file_and_get_to_the_default_root(cli):
    write("model.bin", b"\x00weights")
    out = ok(cli("artifact", "put", "model.bin", "--name", "m", "--type", "model"))
    assert out == "new version v0 of local/uncategorized/m (1 file, 8 B); aliases: latest\n"
    write("model.bin", b"\x00weights v2")
    assert ok(cli("artifact", "put", "model.bin", "--name", "m", "-t", "model")).startswith(
        "new version v1 of local/uncategorized/m (1 file changed from v0, 11 B new)"
    )
    ok(cli("artifact", "get", "m:v0"))
    assert Path("artifacts/m:v0/model.bin").read_bytes() == b"\x00weights"
    ok(cli("artifact", "get", "m"))
    assert Path("artifacts/m:v1/model.bin").read_bytes() == b"\x00weights v2"


def test_put_a_file_reference(cli, tmp_path):
    ext = write(tmp_path / "ext" / "table.csv", "a,b\n")
    out = ok(cli("artifact", "put", f"file://{ext}", "--name", "refs"))
    assert "(1 file, " in out
    e = cairn.Api().artifact("refs:latest").get_entry("table.csv")
    assert e.ref == f"file://{ext}"


def test_ls(cli):
    assert ok(cli("artifact", "ls")).strip() == "no artifacts in local/uncategorized"
    assert ok(cli("artifact", "ls", "proj")).strip() == "no artifacts in local/proj"
    write("d/a.txt", "a")
    ok(cli("artifact", "put", "d", "--name", "proj/images", "--alias", "best"))
    write("d/a.txt", "b")
    ok(cli("artifact", "put", "d", "--name", "proj/images"))
    write("w.bin", "w")
    ok(cli("artifact", "put", "w.bin", "--name", "proj/model", "--type", "model"))
    ok(cli("artifact", "put", "w.bin", "--name", "other"))
    lines = [line.split() for line in ok(cli("artifact", "ls", "proj")).strip().splitlines()]
    assert lines == [
        ["version", "type", "files", "size", "aliases"],
        ["images:v0", "dataset", "1", "1", "B", "best"],
        ["images:v1", "dataset", "1", "1", "B", "latest"],
        ["model:v0", "model", "1", "1", "B", "latest"],
    ]
    default = ok(cli("artifact", "ls")).strip().splitlines()
    assert [line.split()[0] for line in default[1:]] == ["other:v0"]


def test_ls_uses_cairn_project(cli, monkeypatch):
    write("w.bin", "w")
    ok(cli("artifact", "put", "w.bin", "--name", "proj/model"))
    monkeypatch.setenv("CAIRN_PROJECT", "proj")
    assert ok(cli("artifact", "ls")).splitlines()[1].split()[0] == "model:v0"
    ok(cli("artifact", "get", "model", "--root", "dl"))  # bare names resolve in CAIRN_PROJECT
    assert Path("dl/w.bin").read_text() == "w"


@pytest.mark.parametrize(
    "args, says",
    [
        ((), ["artifact", "demo"]),
        (("artifact",), ["put", "get", "ls"]),
        (("artifact", "put"), ["PATH", "--name", "--type", "--alias", "--description", "--tag", "[default: dataset]"]),
        (("artifact", "get"), ["NAME", "--root", "--prefix"]),
        (("artifact", "ls"), ["PROJECT", "uncategorized"]),
    ],
)
def test_help_texts(cli, args, says):
    for flag in ("--help", "-h"):
        out = ok(cli(*args, flag))
        assert out.startswith("Usage: ")
        for part in says:
            assert part in out


def test_version(cli):
    assert cairn.__version__ in ok(cli("--version"))


def test_errors_exit_1_with_one_line(cli, tmp_path):
    write("d/a.txt", "a")
    ok(cli("artifact", "put", "d", "--name", "proj/images"))
    fails(cli("artifact", "put", "missing", "--name", "x"), "'missing'", "does not exist")
    fails(cli("artifact", "put", "d", "--name", "bad name"), "'bad name'", "artifact name")
    fails(cli("artifact", "put", "d", "--name", "a/b/c"), "'a/b'", "project name")
    fails(
        cli("artifact", "put", "d", "--name", "proj/images", "--type", "model"), "proj/images", "'dataset'", "'model'"
    )
    fails(cli("artifact", "put", "d", "--name", "x", "--alias", "v2"), "'v2'", "reserved")
    fails(cli("artifact", "put", "d", "--name", "x", "--alias", "a:b"), "'a:b'")
    fails(cli("artifact", "put", "ftp://host/x", "--name", "x"), "'ftp'")
    fails(cli("artifact", "put", "/dev/null", "--name", "x"), "/dev/null", "not a regular file")
    fails(cli("artifact", "get", "proj/nope"), "proj/nope", "not found")
    fails(cli("artifact", "get", "proj/images:v5"), "proj/images:v5", "not found")
    fails(cli("artifact", "get", "a/b/c/d"), "'a/b/c/d'", "too many '/'")
    # a folder in the way of a file
    (tmp_path / "dl" / "a.txt").mkdir(parents=True)
    fails(cli("artifact", "get", "proj/images", "--root", str(tmp_path / "dl")), "a.txt")
    # nothing was made by the refused commands
    assert [c.name for c in cairn.Api().artifact_collections("proj")] == ["images"]
    assert cairn.Api().artifact_collections() == []


def test_usage_errors_exit_2(cli):
    result = cli("artifact", "put", "d")  # no --name
    assert result.exit_code == 2
    assert "--name" in result.stderr


def test_alias_history_names_a_run_of_another_project_by_its_path(cli):
    """Two projects have a run ``same``: a move made by the collection's own project's run
    shows its id, one made by the other project's run its path (a run id is unique within
    its project only)."""
    from cairn.client import get_client
    from cairn.core.manifest import Entry
    from cairn.core.versions import CommitRequest

    eng = get_client().engine
    eng.create_run("e", "p", run_id="same")
    eng.create_run("f", "q", run_id="same")
    digest, size = eng.blobs.put_bytes(b"x")
    eng.blobs.flush()
    v = eng.commit(CommitRequest("e", "p", "m", "model", entries=[Entry("x", digest, size)], run_id="same"))
    eng.update_version(v.id, add_aliases=["best"], run_id="f/q/same")
    rows = {
        (m["alias"], m["run"], m["run_project"])
        for m in json.loads(ok(cli("artifact", "alias", "history", "e/p/m", "--json")))
    }
    assert rows == {("latest", "same", "e/p"), ("best", "same", "f/q")}
    table = ok(cli("artifact", "alias", "history", "e/p/m"))
    best = next(line for line in table.splitlines() if " best " in f" {line} ")
    assert "f/q/same" in best
    latest = next(line for line in table.splitlines() if " latest " in f" {line} ")
    assert "same" in latest and "e/p/same" not in latest
