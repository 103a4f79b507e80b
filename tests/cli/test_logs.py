"""Logs: the library's ``cairn`` logger shown by -v / CAIRN_LOG_LEVEL (and not otherwise), and
the server's access log — one line per request with method, path, status, duration and user,
never a key — as text or JSON lines."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import httpx
from servers import cairn_server

from cairn.cli.logs import level_from

CAIRN = [sys.executable, "-m", "cairn.cli"]


def test_levels():
    assert level_from(0, None) == logging.WARNING
    assert level_from(1, None) == logging.INFO
    assert level_from(2, "ERROR") == logging.DEBUG
    assert level_from(0, "debug") == logging.DEBUG
    assert level_from(0, "15") == 15
    assert level_from(0, "nonsense") == logging.WARNING
    assert level_from(0, "²") == level_from(0, "١٥") == level_from(0, "9" * 40) == logging.WARNING  # not ASCII digits


def _ls_unreachable(*flags: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*CAIRN, *flags, "artifact", "ls", "p"],
        capture_output=True,
        text=True,
        env={**os.environ, "CAIRN_BASE_URL": "http://127.0.0.1:1", **env},
        timeout=120,
    )


def test_retries_are_logged_with_verbose_or_log_level_only():
    quiet = _ls_unreachable(CAIRN_HTTP_RETRIES="3")
    assert quiet.returncode == 1 and quiet.stderr.count("\n") == 1 and "retrying" not in quiet.stderr
    for r in (
        _ls_unreachable("-v", CAIRN_HTTP_RETRIES="3"),
        _ls_unreachable(CAIRN_LOG_LEVEL="INFO", CAIRN_HTTP_RETRIES="3"),
    ):
        retries = [line for line in r.stderr.splitlines() if "retrying" in line]
        assert len(retries) == 3, r.stderr
        assert retries[0].startswith(
            "INFO cairn.client.retry: GET /api/v1/whoami: NewConnectionError from http://127.0.0.1:1; retrying (1 of 3)"
        ), r.stderr
        assert r.stderr.splitlines()[-1].startswith("error: cannot reach the cairn server")


def _requests(url: str, key: str) -> None:
    h = {"Authorization": f"Bearer {key}"}
    assert httpx.get(f"{url}/api/v1/whoami", headers=h).status_code == 200
    assert httpx.get(f"{url}/api/v1/projects/alice/p/artifacts/nope/versions?x=1", headers=h).status_code == 404
    assert httpx.get(f"{url}/api/v1/whoami", headers={"Authorization": "Bearer wrong-key"}).status_code == 401


def _make_user(home) -> str:  # noqa: ANN001
    r = subprocess.run(
        [*CAIRN, "admin", "create-user", "alice"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "CAIRN_DIR": str(home)},
    )
    return r.stdout.strip()


def test_access_log_as_text(tmp_path):
    home = tmp_path / "store"
    key = _make_user(home)
    env = {"CAIRN_DIR": str(home)}
    with cairn_server(tmp_path / "srv", env, "--no-ui") as url:
        _requests(url, key)
    log = next((tmp_path / "srv").glob("server-*.log")).read_text()
    lines = [line for line in log.splitlines() if " cairn.access: " in line and "/api/health" not in line]
    assert len(lines) == 3, log
    assert lines[0].split(" cairn.access: ")[1].startswith("GET /api/v1/whoami 200 ")
    assert lines[0].endswith(" user=alice")
    assert "GET /api/v1/projects/alice/p/artifacts/nope/versions 404 " in lines[1]  # no query string
    assert " 401 " in lines[2] and lines[2].endswith(" user=-")
    assert key not in log and "wrong-key" not in log


def test_access_log_as_json(tmp_path):
    home = tmp_path / "store"
    key = _make_user(home)
    env = {"CAIRN_DIR": str(home), "CAIRN_LOG_JSON": "1"}
    with cairn_server(tmp_path / "srv", env, "--no-ui") as url:
        _requests(url, key)
    log = next((tmp_path / "srv").glob("server-*.log")).read_text()
    docs = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    access = [d for d in docs if d["logger"] == "cairn.access" and d["path"] != "/api/health"]
    assert [(d["method"], d["path"], d["status"], d["user"]) for d in access] == [
        ("GET", "/api/v1/whoami", 200, "alice"),
        ("GET", "/api/v1/projects/alice/p/artifacts/nope/versions", 404, "alice"),
        ("GET", "/api/v1/whoami", 401, "-"),
    ]
    assert all(isinstance(d["duration_ms"], float) and d["level"] == "info" and d["time"].endswith("Z") for d in access)
    assert key not in log and "wrong-key" not in log
