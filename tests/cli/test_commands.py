"""Every ``cairn`` command as a user runs it (a subprocess), on the embedded store and through
a server on PostgreSQL + S3: what it prints, its --json parsed, its exit codes, its --help."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import click
import pytest

CAIRN = [sys.executable, "-m", "cairn.cli"]


def cairn(*args: str, code: int = 0, cwd: str | None = None) -> subprocess.CompletedProcess:
    r = subprocess.run([*CAIRN, *args], capture_output=True, text=True, cwd=cwd, env=dict(os.environ), timeout=120)
    assert r.returncode == code, f"cairn {' '.join(args)}: exit {r.returncode}\n{r.stdout}\n{r.stderr}"
    assert "Traceback" not in r.stderr, r.stderr
    return r


def js(*args: str) -> object:
    return json.loads(cairn(*args, "--json").stdout)


def write(path, text: str) -> None:  # noqa: ANN001
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.mark.slow  # a Python process per command, ~60 of them
def test_every_command_on_both_stores(backend, tmp_path):
    d = tmp_path / "data"
    write(d / "a.txt", "a")
    write(d / "sub/b.txt", "bb")

    # put: a new version, then the same content again, then a change
    first = js("artifact", "put", str(d), "--name", "p/x", "--alias", "best", "--tag", "raw")
    assert first["created"] is True and first["version"]["version"] == "v0"
    assert first["version"]["files"] == 2 and first["version"]["size"] == 3
    assert first["version"]["aliases"] == ["latest", "best"] and first["version"]["tags"] == ["raw"]
    same = js("artifact", "put", str(d), "--name", "p/x")
    assert (same["created"], same["same_as"], same["aliases_moved"]) == (False, "v0", [])
    write(d / "a.txt", "A2")
    write(d / "c.txt", "ccc")
    (d / "sub/b.txt").unlink()
    out = cairn("artifact", "put", str(d), "--name", "p/x").stdout
    assert out.startswith("new version v1 of ") and "p/x (3 files changed from v0, 5 B new); aliases: latest" in out
    # the v0 content again: no new version, and 'latest' moving back is said
    write(d / "a.txt", "a")
    write(d / "sub/b.txt", "bb")
    (d / "c.txt").unlink()
    out = cairn("artifact", "put", str(d), "--name", "p/x").stdout
    assert out.startswith("unchanged: same content as v0 of ") and out.endswith("; aliases moved: latest\n")

    # ls / show / files
    listed = js("artifact", "ls", "p")
    assert [(v["collection"], v["version"]) for v in listed] == [("x", "v0"), ("x", "v1")]
    entity = listed[0]["entity"]
    assert js("artifact", "ls", f"{entity}/p") == listed
    assert "x:v0" in cairn("artifact", "ls", "p").stdout
    shown = js("artifact", "show", "p/x")  # latest is v0 again
    assert shown["version"] == "v0" and shown["digest"].startswith("blake3:") and shown["files"] == 2
    assert shown["producer"]["job_type"] == "cli-put" and shown["consumers"] == []
    text = cairn("artifact", "show", "p/x:best").stdout
    assert (
        f"version:     {entity}/p/x:v0" in text and "aliases:     latest, best" in text and "tags:        raw" in text
    )
    assert [e["path"] for e in js("artifact", "files", "p/x:v1")] == ["a.txt", "c.txt"]
    assert js("artifact", "files", "p/x:v0", "sub/") == [
        {"path": "sub/b.txt", "size": 2, "digest": js("artifact", "files", "p/x:v0")[1]["digest"]}
    ]
    assert cairn("artifact", "files", "p/x:v0").stdout.splitlines()[1].endswith("  sub/b.txt")

    # diff
    diff = js("artifact", "diff", "p/x:v0", "p/x:v1")
    assert [e["path"] for e in diff["added"]] == ["c.txt"]
    assert [e["path"] for e in diff["removed"]] == ["sub/b.txt"]
    assert [(c["path"], c["old_size"], c["new_size"]) for c in diff["changed"]] == [("a.txt", 1, 2)]
    assert diff["stat"] == {
        "added": 1,
        "added_bytes": 3,
        "removed": 1,
        "removed_bytes": 2,
        "changed": 1,
        "changed_delta_bytes": 1,
    }
    assert js("artifact", "diff", "p/x:v0", "p/x:v1", "--stat") == {
        "a": diff["a"],
        "b": diff["b"],
        "stat": diff["stat"],
    }
    lines = cairn("artifact", "diff", "p/x:v0", "p/x:v1").stdout.splitlines()
    assert lines[:3] == ["M a.txt  (1 B -> 2 B)", "+ c.txt  (3 B)", "- sub/b.txt  (2 B)"]
    assert lines[3].endswith("1 added (3 B), 1 removed (2 B), 1 changed (+1 B)")
    assert len(cairn("artifact", "diff", "p/x:v0", "p/x:v1", "--stat").stdout.splitlines()) == 1

    # alias set / rm / history
    assert cairn("artifact", "alias", "set", "p/x:v1", "prod").stdout.startswith("prod: (new) -> v1 of ")
    assert cairn("artifact", "alias", "set", "p/x:v0", "prod").stdout.startswith("prod: v1 -> v0 of ")
    assert js("artifact", "show", "p/x:prod")["version"] == "v0"
    cairn("artifact", "alias", "rm", "p/x:v0", "prod")
    cairn("artifact", "show", "p/x:prod", code=1)
    history = js("artifact", "alias", "history", "p/x", "prod")
    assert [(h["from"], h["to"]) for h in history] == [(None, "v1"), ("v1", "v0"), ("v0", None)]
    moves = [(h["alias"], h["from"], h["to"]) for h in js("artifact", "alias", "history", "p/x")]
    assert moves[:3] == [("latest", None, "v0"), ("best", None, "v0"), ("latest", "v0", "v1")]
    assert ("latest", "v1", "v0") in moves
    assert "prod" in cairn("artifact", "alias", "history", "p/x").stdout

    # tag add / rm
    assert cairn("artifact", "tag", "add", "p/x:v1", "t1", "t2").stdout.endswith("p/x:v1 tags: t1, t2\n")
    cairn("artifact", "tag", "rm", "p/x:v1", "t1")
    assert js("artifact", "show", "p/x:v1")["tags"] == ["t2"]

    # get, into a root and by prefix
    got = js("artifact", "get", "p/x:v1", "--root", str(tmp_path / "out"))
    assert got["root"] == str(tmp_path / "out") and got["version"]["version"] == "v1"
    assert (tmp_path / "out/a.txt").read_text() == "A2" and (tmp_path / "out/c.txt").read_text() == "ccc"
    cairn("artifact", "get", "p/x:v0", "--root", str(tmp_path / "part"), "--prefix", "sub/")
    assert sorted(p.name for p in (tmp_path / "part").rglob("*") if p.is_file()) == ["b.txt"]

    # runs: ls and show, with inputs and outputs
    runs = js("run", "ls", "p")
    assert len(runs) == 4 and {r["job_type"] for r in runs} == {"cli-put"}
    made_v1 = next(
        r
        for r in runs
        if js("run", "show", r["path"])["outputs"][:1] and js("run", "show", r["path"])["outputs"][0]["version"] == "v1"
    )
    shown = js("run", "show", made_v1["path"])
    assert shown["id"] == made_v1["id"] and shown["inputs"] == [] and shown["state"] == "finished"
    assert js("run", "show", f"p/{made_v1['id']}")["id"] == made_v1["id"]
    assert "outputs:  " in cairn("run", "show", made_v1["path"]).stdout
    assert made_v1["id"] in cairn("run", "ls", "p").stdout

    # cache
    assert cairn("artifact", "cache", "cleanup", "0").stdout.startswith("freed ")

    # retention and rm (the lifecycle commands, in the same tree)
    cairn("retention", "set", "p", "--keep-last", "5")
    assert js("retention", "show", "p")["keep_last"] == 5
    assert cairn("artifact", "rm", "p/x:v1").stdout.startswith(f"deleted {entity}/p/x:v1")
    assert [v["version"] for v in js("artifact", "ls", "p")] == ["v0"]

    # what is not there: exit 1
    cairn("artifact", "show", "p/nope", code=1)
    cairn("run", "show", "p/nosuchrun", code=1)
    assert js("artifact", "ls", "empty") == [] and js("run", "ls", "empty") == []


@pytest.mark.slow
def test_demo_can_be_made_again_and_again(tmp_path):
    for _ in range(3):
        out = cairn("demo").stdout
        assert "single run:" in out and "incremental:" in out
    names = [(v["collection"], v["version"]) for v in js("artifact", "ls", "demo")]
    assert names == [("images", "v0"), ("images", "v1"), ("predictions", "v0"), ("showcase", "v0")]


def _commands(group: click.Group, prefix: tuple[str, ...] = ()):  # noqa: ANN202
    ctx = click.Context(group)
    for name in group.list_commands(ctx):  # the root group loads its commands on demand
        cmd = group.get_command(ctx, name)
        assert cmd is not None, name
        yield (*prefix, name), cmd
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, (*prefix, name))


def test_every_command_has_help_with_an_example():
    from click.testing import CliRunner

    from cairn.cli.main import main

    seen = 0
    for path, cmd in _commands(main):
        r = CliRunner().invoke(main, [*path, "--help"])  # in-process: 25 interpreters are slow on 2 cores
        assert r.exit_code == 0, r.output
        out = r.stdout
        assert out.startswith("Usage: "), path
        if not isinstance(cmd, click.Group) or path in (("artifact",), ("admin",)):
            assert "Example" in out, f"{' '.join(path)} --help has no example"
        read_only = {"ls", "show", "files", "diff", "history"}
        if path[-1] in read_only:
            assert "--json" in out, f"{' '.join(path)} has no --json"
        seen += 1
    assert seen >= 20
    assert "Examples:" in cairn("--help").stdout


@pytest.mark.slow
def test_server_on_a_busy_port_says_so_before_serving(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = cairn("server", "--port", str(port), code=1)
    assert (
        r.stderr.strip()
        == f"error: port {port} on 127.0.0.1 is already in use; stop what serves there or pass --port N"
    )
    assert "cairn server on" not in r.stdout
