"""The client's download cache: repeated downloads make no transfer; the cap evicts LRU."""

from __future__ import annotations

import os
import shutil

import pytest
from helpers import write
from servers import cairn_server

import cairn
from cairn.client import reset_clients


@pytest.fixture
def server_home(tmp_path, monkeypatch):
    home = tmp_path / "server-home"
    with cairn_server(tmp_path / "srv", {"CAIRN_DIR": str(home)}, "--no-ui") as url:
        monkeypatch.setenv("CAIRN_BASE_URL", url)
        monkeypatch.setenv("CAIRN_CACHE_DIR", str(tmp_path / "client-cache"))
        reset_clients()
        yield home


def log_files(sizes: dict[str, int]) -> cairn.Artifact:
    for name, size in sizes.items():
        write(f"src/{name}", os.urandom(size))
    with cairn.init() as run:
        a = cairn.Artifact("data", "dataset")
        a.add_dir("src")
        run.log_artifact(a)
    reset_clients()  # a new process: nothing of the logged files is held in memory
    return cairn.Api().artifact("data:latest")


def test_second_download_needs_no_server_blobs(server_home, tmp_path):
    a = log_files({"a.bin": 200_000, "b.bin": 300_000, "c.txt": 100})
    a.download(tmp_path / "one")
    shutil.rmtree(server_home / "blobs")  # the server can no longer send any bytes
    out = a.download(tmp_path / "two")
    for name in ("a.bin", "b.bin", "c.txt"):
        assert open(os.path.join(out, name), "rb").read() == open(f"src/{name}", "rb").read()


def test_cache_cap_evicts_least_recently_used(server_home, tmp_path, monkeypatch):
    monkeypatch.setenv("CAIRN_CACHE_MAX", "400KB")
    reset_clients()
    a = log_files({"a.bin": 300_000, "b.bin": 300_000})
    a.download(tmp_path / "one")
    cache = tmp_path / "client-cache" / "blobs"
    held = sum(p.stat().st_size for p in cache.rglob("*") if p.is_file())
    assert 0 < held <= 400 * 1024


def test_cli_cache_cleanup(server_home, tmp_path):
    from click.testing import CliRunner

    from cairn.cli.main import main

    a = log_files({"a.bin": 300_000, "b.bin": 300_000})
    a.download(tmp_path / "one")
    res = CliRunner().invoke(main, ["artifact", "cache", "cleanup", "0"])
    assert res.exit_code == 0, res.output
    assert "the cache now holds 0 B" in res.output
    res = CliRunner().invoke(main, ["artifact", "cache", "cleanup", "lots"])
    assert res.exit_code == 1 and "not understood" in res.output
