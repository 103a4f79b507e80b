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


def cached(tmp_path, digest: str):
    hexd = digest.partition(":")[2]
    return tmp_path / "client-cache" / "blobs" / hexd[:2] / hexd[2:]


def test_fetched_files_are_linked_into_the_cache_not_copied(server_home, tmp_path):
    a = log_files({"a.bin": 300_000})
    out = a.download(tmp_path / "one")
    digest = a.manifest.entries["a.bin"].digest
    got, in_cache = os.stat(os.path.join(out, "a.bin")), os.stat(cached(tmp_path, digest))
    assert got.st_ino == in_cache.st_ino and got.st_nlink == 2


def test_using_the_cache_leaves_downloaded_files_modification_time_alone(server_home, tmp_path):
    a = log_files({"a.bin": 300_000})
    first = os.path.join(a.download(tmp_path / "one"), "a.bin")
    os.utime(first, ns=(1_000_000_000, 1_000_000_000))
    a.download(tmp_path / "two")  # served from the cache, which marks the blob as used
    assert os.stat(first).st_mtime_ns == 1_000_000_000


def test_a_linked_file_edited_in_place_is_fetched_again(server_home, tmp_path):
    a = log_files({"a.bin": 300_000})
    first = os.path.join(a.download(tmp_path / "one"), "a.bin")
    with open(first, "r+b") as f:  # in place: the cache's link sees the same bytes
        f.write(b"edited by hand")
    out = a.download(tmp_path / "two")
    assert open(os.path.join(out, "a.bin"), "rb").read() == open("src/a.bin", "rb").read()
    fresh = cached(tmp_path, a.manifest.entries["a.bin"].digest)
    assert open(fresh, "rb").read() == open("src/a.bin", "rb").read()
    assert open(first, "rb").read(14) == b"edited by hand"  # the user's edit is left alone


def test_reading_an_object_after_its_linked_file_was_edited_fetches_it_again(server_home, tmp_path):
    write("src/table.json", '{"a": 1}')
    with cairn.init() as run:
        a = cairn.Artifact("obj", "dataset")
        a.add_file("src/table.json", name="table.json")
        run.log_artifact(a)
    reset_clients()
    got = cairn.Api().artifact("obj:latest")
    linked = os.path.join(got.download(tmp_path / "one"), "table.json")
    with open(linked, "r+") as f:
        f.write('{"a": 2}')  # same length, in place: the cached blob changes with it
    assert got.get("table.json") == {"a": 1}
