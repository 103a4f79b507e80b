"""User mistakes across the CLI, run as a user runs them (a subprocess): each one ends with a
short message naming the thing (one or two lines), a non-zero exit, and no traceback; and
none of them changes the store."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # a process per mistake, as a user runs them

CAIRN = [sys.executable, "-m", "cairn.cli"]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A store holding p/x:v0 (alias best, tag raw), a folder, a file, and a busy port."""
    base = tmp_path_factory.mktemp("mistakes")
    (base / "d").mkdir()
    (base / "d" / "a.txt").write_text("a")
    (base / "f.txt").write_text("f")
    (base / "dl" / "a.txt").mkdir(parents=True)  # a folder where a file will go
    env = _env(base)
    subprocess.run(
        [*CAIRN, "-q", "artifact", "put", "d", "-n", "p/x", "-a", "best", "--tag", "raw"],
        cwd=base,
        env=env,
        check=True,
        capture_output=True,
    )
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    yield {"base": base, "busy": busy.getsockname()[1]}
    busy.close()


def _env(base: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CAIRN_", "AWS_")) or k in ("CAIRN_LOG_LEVEL",)}
    env.update(CAIRN_DIR=str(base / "store"), CAIRN_CACHE_DIR=str(base / "cache"), HOME=str(base / "home"))
    env.update(extra)
    return env


BUSY = "{busy}"  # replaced by the busy port

# (command line, extra environment, words the message must hold, exit code)
MISTAKES = [
    # artifact put
    ("artifact put missing -n y", {}, ["'missing'", "does not exist"], 1),
    ("artifact put d -n 'bad name'", {}, ["'bad name'", "artifact name"], 1),
    ("artifact put d -n a/b/c", {}, ["'a/b'", "project name"], 1),
    ("artifact put d -n p/x -t model", {}, ["p/x", "'dataset'", "'model'"], 1),
    ("artifact put d -n y -a v2", {}, ["'v2'", "reserved"], 1),
    ("artifact put d -n y -a a:b", {}, ["'a:b'"], 1),
    ("artifact put d -n y --tag 'a\tb'", {}, ["tag", "letters"], 1),
    ("artifact put ftp://host/x -n y", {}, ["'ftp'"], 1),
    ("artifact put /dev/null -n y", {}, ["/dev/null", "not a regular file"], 1),
    ("artifact put s3://bucket/x -n y", {}, ["object store", "credentials"], 1),
    ("artifact put d", {}, ["--name"], 2),
    ("artifact put d -n y --bogus", {}, ["--bogus"], 2),
    # artifact get
    ("artifact get p/nope", {}, ["p/nope", "not found"], 1),
    ("artifact get p/x:v5", {}, ["p/x:v5", "not found"], 1),
    ("artifact get a/b/c/d", {}, ["'a/b/c/d'", "too many '/'"], 1),
    ("artifact get p/x --root f.txt", {}, ["f.txt", "not a folder"], 1),
    ("artifact get p/x --root dl", {}, ["a.txt", "folder"], 1),
    ("artifact get 'p/x:'", {}, ["'p/x:'", "empty alias"], 1),
    # show / files / diff / ls
    ("artifact show p/nope", {}, ["p/nope", "not found"], 1),
    ("artifact show p/x:nosuchalias", {}, ["p/x:nosuchalias", "not found"], 1),
    ("artifact files p/x:v9", {}, ["p/x:v9", "not found"], 1),
    ("artifact diff p/x:v0 p/x:v7", {}, ["p/x:v7", "not found"], 1),
    ("artifact diff p/x:v0", {}, ["B"], 2),
    ("artifact ls a/b/c", {}, ["'a/b/c'", "PROJECT"], 1),
    ("artifact ls 'bad name'", {}, ["'bad name'", "project name"], 1),
    ("artifact ls", {"CAIRN_PROJECT": "bad name"}, ["'bad name'", "CAIRN_PROJECT"], 1),
    # alias / tag
    ("artifact alias set p/x best2", {}, ["name the version", "p/x:v0"], 1),
    ("artifact alias set p/x:v0 v3", {}, ["'v3'", "reserved"], 1),
    ("artifact alias set p/x:v0 'a/b'", {}, ["'a/b'"], 1),
    ("artifact alias set p/nope:v0 best", {}, ["p/nope", "not found"], 1),
    ("artifact alias rm p/x:v0 nothere", {}, ["no alias 'nothere'", "best"], 1),
    ("artifact alias rm p/x:v0 latest", {}, ["'latest'", "cannot be removed"], 1),
    ("artifact alias history p/nope", {}, ["p/nope", "not found"], 1),
    ("artifact tag add p/x:v0 'a\tb'", {}, ["tag", "letters"], 1),
    ("artifact tag rm p/x:v0 nothere", {}, ["no tag 'nothere'", "raw"], 1),
    ("artifact tag add p/x:v0", {}, ["TAGS"], 2),
    # runs
    ("run show p/nosuchrun", {}, ["'p/nosuchrun'", "not found"], 1),
    ("run show a/b/c/d", {}, ["'a/b/c/d'", "RUN_ID"], 1),
    ("run ls 'bad name'", {}, ["'bad name'", "project name"], 1),
    # cache
    ("artifact cache cleanup lots", {}, ["'lots'", "10GB"], 1),
    # the store and the server the user points at
    ("artifact ls", {"CAIRN_DIR": "{base}/f.txt"}, ["f.txt"], 1),
    ("artifact put d -n y", {"CAIRN_DIR": "{base}/f.txt"}, ["f.txt"], 1),
    ("artifact ls p", {"CAIRN_BASE_URL": "http://127.0.0.1:1"}, ["http://127.0.0.1:1", "CAIRN_BASE_URL"], 1),
    ("demo --dir {base}/f.txt", {}, ["f.txt"], 1),
    ("login --key k", {}, ["--host", "CAIRN_BASE_URL"], 1),
    ("login --key k --host http://127.0.0.1:1", {}, ["http://127.0.0.1:1", "running"], 1),
    # server and admin
    ("server --port {busy}", {}, ["port {busy}", "already in use", "--port"], 1),
    ("server --port 70000", {}, ["70000"], 2),
    ("server --host no-such-host.invalid --port 0", {}, ["no-such-host.invalid", "--host"], 1),
    ("server --blobs ftp://x/y --port 0", {}, ["'ftp'", "s3://"], 1),
    ("server --meta mysql://u@h/db --port 0", {}, ["'mysql'", "postgresql://"], 1),
    ("server --meta postgresql://nobody@127.0.0.1:1/db --port 0", {}, ["127.0.0.1", "refused"], 1),
    ("server --demo --meta sqlite:///x.db --port 0", {}, ["--demo", "--meta"], 2),
    ("admin create-key nobody", {}, ["'nobody'", "create-user"], 1),
    ("admin add-member team alice --role owner", {}, ["owner", "read"], 2),
    ("nosuchcommand", {}, ["nosuchcommand"], 2),
]


def _fill(text: str, world: dict) -> str:
    return text.replace("{base}", str(world["base"])).replace("{busy}", str(world["busy"]))


@pytest.mark.parametrize("line, env, says, code", MISTAKES, ids=[m[0] for m in MISTAKES])
def test_a_mistake_gets_a_short_message(world, line, env, says, code):
    import shlex

    args = shlex.split(_fill(line, world))
    env = {k: _fill(v, world) for k, v in env.items()}
    r = subprocess.run(
        [*CAIRN, *args], cwd=world["base"], env=_env(world["base"], **env), capture_output=True, text=True, timeout=60
    )
    assert r.returncode == code, f"exit {r.returncode}\n{r.stdout}\n{r.stderr}"
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout
    if code == 1:  # cairn's own message: one or two lines, "error: ..."
        lines = r.stderr.strip().splitlines()
        assert 1 <= len(lines) <= 2 and lines[0].startswith("error: "), r.stderr
        assert len(r.stderr) < 400, r.stderr
        assert r.stdout == "", r.stdout
    else:  # click's usage error: what to type, and the error
        assert "Error: " in r.stderr and len(r.stderr.splitlines()) <= 6, r.stderr
    message = " ".join(r.stderr.split())
    for word in says:
        assert _fill(word, world) in message, f"{word!r} not in {r.stderr!r}"


def test_the_table_is_long_enough_and_the_store_unchanged(world):
    assert len(MISTAKES) >= 40
    r = subprocess.run(
        [*CAIRN, "artifact", "ls", "p", "--json"],
        cwd=world["base"],
        env=_env(world["base"]),
        capture_output=True,
        text=True,
        check=True,
    )
    import json

    [v] = json.loads(r.stdout)
    assert (v["version"], v["aliases"], v["tags"]) == ("v0", ["latest", "best"], ["raw"])


def test_debug_shows_the_traceback(world):
    r = subprocess.run(
        [*CAIRN, "--debug", "artifact", "get", "p/nope"],
        cwd=world["base"],
        env=_env(world["base"]),
        capture_output=True,
        text=True,
    )
    assert r.returncode == 1
    assert "Traceback" in r.stderr and "ArtifactNotFoundError" in r.stderr


def test_a_bug_is_not_disguised(world):
    """An error that is not the user's (here: a programming error raised inside a command)
    keeps its traceback."""
    code = (
        "import sys, cairn.cli.lookup as l\n"
        "def boom(*a, **k): raise ZeroDivisionError('bug')\n"
        "l.version = boom\n"
        "from cairn.cli.main import main\n"
        "sys.argv = ['cairn', 'artifact', 'show', 'p/x']\n"
        "main()\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code], cwd=world["base"], env=_env(world["base"]), capture_output=True, text=True
    )
    assert r.returncode == 1
    assert "Traceback" in r.stderr and "ZeroDivisionError: bug" in r.stderr
