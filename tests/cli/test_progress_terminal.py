"""Progress as a user sees it: bars on a terminal (a pseudo-terminal here), one summary line
per phase when stderr is not a terminal, nothing with --quiet or CAIRN_SILENT; the SDK draws
the same bars on a terminal and nothing elsewhere."""

from __future__ import annotations

import os
import pty
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow  # each test runs cairn in a process of its own (on a pseudo-terminal)

BAR = "━"  # rich's bar glyph
CAIRN = [sys.executable, "-m", "cairn.cli"]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CAIRN_SILENT", "CAIRN_PROGRESS_DELAY")}
    env.update(COLUMNS="120", CAIRN_PROGRESS_DELAY="0", **extra)
    return env


def on_terminal(args: list[str], **env: str) -> tuple[int, str, str]:
    """Run with stderr (and stdin) on a pseudo-terminal; (exit code, stdout, terminal text)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(args, stdin=slave, stdout=subprocess.PIPE, stderr=slave, env=_env(**env))
    os.close(slave)
    seen = bytearray()
    while True:
        try:
            got = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not got:
            break
        seen += got
    os.close(master)
    out = proc.stdout.read().decode()
    proc.stdout.close()
    return proc.wait(), out, seen.decode(errors="replace")


def piped(args: list[str], **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, env=_env(**env))


@pytest.fixture
def data(tmp_path):
    d = tmp_path / "data"
    d.mkdir()
    for i in range(20):
        (d / f"f{i}.bin").write_bytes(os.urandom(100_000))
    return d


def test_put_and_get_on_a_terminal_draw_bars(data, tmp_path):
    code, out, term = on_terminal([*CAIRN, "artifact", "put", str(data), "--name", "p/d"])
    assert code == 0, term
    assert out.startswith("new version v0") or "p/d:v0" in out
    assert "storing" in term and BAR in term and "20/20 files" in term
    assert "Traceback" not in term
    code, out, term = on_terminal([*CAIRN, "artifact", "get", "p/d:v0", "--root", str(tmp_path / "out")])
    assert code == 0, term
    assert "downloading" in term and BAR in term and "20/20 files" in term


def test_not_a_terminal_gets_one_summary_line_per_phase(data, tmp_path):
    r = piped([*CAIRN, "artifact", "put", str(data), "--name", "p/d"])
    assert r.returncode == 0, r.stderr
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("storing: 20 files, 1.9 MiB in "), r.stderr
    assert BAR not in r.stderr and "\x1b[" not in r.stderr
    r = piped([*CAIRN, "artifact", "get", "p/d:v0", "--root", str(tmp_path / "out")])
    assert r.returncode == 0, r.stderr
    assert r.stderr.startswith("downloading: 20 files, 1.9 MiB in ") and r.stderr.count("\n") == 1


@pytest.mark.parametrize("how", ["--quiet", "-q", "CAIRN_SILENT"])
def test_quiet_and_silent_turn_progress_off(data, how):
    args = [*CAIRN, how] if how != "CAIRN_SILENT" else CAIRN
    env = {"CAIRN_SILENT": "1"} if how == "CAIRN_SILENT" else {}
    code, out, term = on_terminal([*args, "artifact", "put", str(data), "--name", "p/d"], **env)
    assert code == 0, term
    assert term == ""
    r = piped([*args, "artifact", "put", str(data), "--name", "p/e"], **env)
    assert r.returncode == 0 and r.stderr == ""


SDK_SCRIPT = """
import sys, cairn
with cairn.init(project="p") as run:
    a = cairn.Artifact("s", "dataset")
    a.add_dir(sys.argv[1])
    run.log_artifact(a)
cairn.Api().artifact("p/s:latest").download(sys.argv[2])
print("done")
"""


def test_the_sdk_draws_bars_only_on_a_terminal_and_not_when_silent(data, tmp_path):
    args = [sys.executable, "-c", SDK_SCRIPT, str(data)]
    code, out, term = on_terminal([*args, str(tmp_path / "o1")])
    assert (code, out) == (0, "done\n"), term
    assert "storing" in term and "downloading" in term and BAR in term
    code, out, term = on_terminal([*args, str(tmp_path / "o2")], CAIRN_SILENT="true")
    assert (code, out, term) == (0, "done\n", "")
    r = piped([*args, str(tmp_path / "o3")])
    assert (r.returncode, r.stdout, r.stderr) == (0, "done\n", "")


def test_gc_and_verify_draw_their_phases_on_a_terminal_and_summarise_them_elsewhere(data):
    code, _, term = on_terminal([*CAIRN, "artifact", "put", str(data), "--name", "p/d"])
    assert code == 0, term
    code, out, term = on_terminal([*CAIRN, "gc"])
    assert code == 0, term
    assert BAR in term and "gc: walking manifests" in term and "gc: listing blobs" in term
    assert "Traceback" not in term
    code, out, term = on_terminal([*CAIRN, "verify"])
    assert code == 0, term
    assert BAR in term and "re-hashing blobs" in term and "20/20 files" in term
    r = piped([*CAIRN, "gc"])
    assert r.returncode == 0, r.stderr
    assert "gc: listing blobs: 20 files" in r.stderr and BAR not in r.stderr
    r = piped([*CAIRN, "-q", "verify"])
    assert r.returncode == 0 and "re-hashing" not in r.stderr
