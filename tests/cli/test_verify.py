"""``cairn verify`` on the embedded store: every kind of damage is reported with the version
and path it breaks, the exit status says so, and nothing in the store changes."""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import write

import cairn
from cairn.cli.main import main
from cairn.storage.blobs import local


@pytest.fixture
def cli():
    runner = CliRunner()
    return lambda *args: runner.invoke(main, list(args), catch_exceptions=False)


@pytest.fixture
def small_chunks(monkeypatch):
    """Files of 4 MiB and more are stored as chunks (the real threshold is 64 MiB)."""
    monkeypatch.setattr(local, "CHUNKED_MIN", 4 << 20)
    monkeypatch.setattr(local, "CDC_AVG", 256 << 10)
    monkeypatch.setattr(local, "CDC_MIN", 128 << 10)
    monkeypatch.setattr(local, "CDC_MAX", 1 << 20)


def home() -> Path:
    return Path(os.environ["CAIRN_DIR"])


def log(name: str, files: dict[str, bytes]) -> cairn.Artifact:
    src = Path(f"src-{name}")
    for rel, data in files.items():
        write(src / rel, data)
    with cairn.init(project="p") as run:
        a = cairn.Artifact(name, "dataset")
        a.add_dir(src)
        run.log_artifact(a)
    return a


def object_file(digest: str) -> Path:
    hexd = digest[7:]
    return home() / "blobs" / "objects" / hexd[:2] / hexd[2:]


def change_file(p: Path, how: str) -> None:
    data = p.read_bytes()
    os.chmod(p, 0o644)
    if how == "remove":
        p.unlink()
        return
    p.write_bytes(bytes([data[0] ^ 0xFF]) + data[1:] if how == "flip" else data[: len(data) // 2])


def change_packed(digest: str) -> None:
    db = sqlite3.connect(home() / "blobs" / "packs.sqlite")
    with db:
        (data,) = db.execute("SELECT data FROM blobs WHERE digest = ?", (digest,)).fetchone()
        db.execute("UPDATE blobs SET data = ? WHERE digest = ?", (bytes([data[0] ^ 0xFF]) + bytes(data)[1:], digest))
    db.close()


def recipe_chunks(digest: str) -> list[str]:
    with sqlite3.connect(home() / "blobs" / "packs.sqlite") as db:
        (chunks,) = db.execute("SELECT chunks FROM recipes WHERE digest = ?", (digest,)).fetchone()
    return [c for c, _ in json.loads(chunks)]


def leaf_keys(version: cairn.Artifact) -> list[str]:
    from cairn.client import get_client

    m = get_client().manifest(version._version.manifest_key)
    return [c.key for c in m.leaves()]


def fingerprint() -> str:
    """Everything the store holds, hashed: a read-only command leaves it equal."""
    h = hashlib.sha256()
    for p in sorted(home().rglob("*")):
        if p.is_file() and not p.name.endswith(("-wal", "-shm")) and "cache" not in p.parts:
            h.update(str(p.relative_to(home())).encode())
            if p.suffix != ".sqlite":
                h.update(p.read_bytes())
    for db_name, tables in (("meta.sqlite", ["chunks", "versions"]), ("blobs/packs.sqlite", ["blobs", "recipes"])):
        with sqlite3.connect(home() / db_name) as db:
            for t in tables:
                for row in db.execute(f"SELECT * FROM {t} ORDER BY 1"):
                    h.update(repr(row).encode())
    return h.hexdigest()


def broken(output: str) -> set[tuple[str, str]]:
    """(version, path or "-") of each BROKEN line."""
    out = set()
    for line in output.splitlines():
        m = re.match(r"BROKEN (\S+:v\d+)(?: (\S+))?: ", line)
        if m:
            out.add((m[1], m[2] or "-"))
    return out


def test_verify_reports_every_kind_of_damage_with_version_and_path(cli, small_chunks):
    big = os.urandom(5 << 20)
    files = {
        "flip.bin": os.urandom(200_000),
        "cut.bin": os.urandom(200_000),
        "gone.bin": os.urandom(200_000),
        "small/flip.txt": b"tiny but damaged",
        "small/fine.txt": b"fine",
        "model.ckpt": big,
    }
    v0 = log("data", files)
    v1 = log("data", {**files, "extra.txt": b"v1 only"})  # v1 shares every blob of v0
    clean = log("clean", {"a.txt": b"untouched", "b.bin": os.urandom(100_000)})
    many = log("many", {f"f{i:04d}.txt": f"row {i}".encode() for i in range(800)})
    assert len(leaf_keys(many)) > 2

    result = cli("verify")
    assert result.exit_code == 0, result.output
    assert "no problems" in result.stdout and "BROKEN" not in result.stdout

    change_file(object_file(v0.get_entry("flip.bin").digest), "flip")
    change_file(object_file(v0.get_entry("cut.bin").digest), "truncate")
    change_file(object_file(v0.get_entry("gone.bin").digest), "remove")
    change_packed(v0.get_entry("small/flip.txt").digest)
    change_file(object_file(recipe_chunks(v0.get_entry("model.ckpt").digest)[1]), "flip")
    lost_leaf = leaf_keys(many)[1]
    with sqlite3.connect(home() / "meta.sqlite") as db:
        db.execute("DELETE FROM chunks WHERE key = ?", (lost_leaf,))
    before = fingerprint()

    result = cli("verify")
    assert result.exit_code == 1
    assert "problem(s)" in result.stderr and "Traceback" not in result.output
    want = {
        (f"local/p/data:{v}", path)
        for v in ("v0", "v1")
        for path in ("flip.bin", "cut.bin", "gone.bin", "small/flip.txt", "model.ckpt")
    }
    want.add(("local/p/many:v0", "-"))
    assert broken(result.stdout) == want
    lines = result.stdout.splitlines()
    assert any("gone.bin: blob" in ln and "is missing" in ln for ln in lines)
    assert any("cut.bin: blob" in ln and "is damaged" in ln for ln in lines)
    assert any(lost_leaf in ln and "is missing" in ln and "entries up to" in ln for ln in lines)
    assert "clean" not in result.stdout
    assert fingerprint() == before  # read-only

    # one version, one artifact, an alias
    one = cli("verify", "p/data:v1")
    assert one.exit_code == 1 and {v for v, _ in broken(one.stdout)} == {"local/p/data:v1"}
    assert len(broken(one.stdout)) == 5
    assert cli("verify", "p/clean").exit_code == 0
    assert cli("verify", "local/p/clean:latest").exit_code == 0
    assert broken(cli("verify", "p/many").stdout) == {("local/p/many:v0", "-")}
    assert fingerprint() == before
    assert clean.version == "v0" and v1.version == "v1"

    # --set-aside, then logging the same files again, heals every damaged file
    healing = cli("verify", "--set-aside")
    assert healing.exit_code == 1 and "set aside: log the same files again" in healing.stderr
    assert fingerprint() != before
    again = log("data", {**files, "extra.txt": b"v1 only"})
    assert again.version == "v1"  # identical content: no new version, only bytes stored anew
    log("data", files)
    after = cli("verify")
    assert after.exit_code == 1 and broken(after.stdout) == {("local/p/many:v0", "-")}  # metadata does not heal
    assert cli("verify", "p/data").exit_code == 0


def test_a_tampered_manifest_chunk_is_reported(cli):
    a = log("data", {"model.bin": os.urandom(3000), "notes.txt": b"hello"})
    with sqlite3.connect(home() / "meta.sqlite") as db:
        key, data = db.execute("SELECT key, data FROM chunks WHERE key = ?", (a._version.manifest_key,)).fetchone()
        db.execute("UPDATE chunks SET data = ? WHERE key = ?", (bytes(data).replace(b"model.bin", b"evil.bin"), key))
    result = cli("verify", "p/data")
    assert result.exit_code == 1
    assert f"BROKEN local/p/data:v0: manifest chunk {key} does not match its key" in result.stdout


def test_verify_names_what_it_cannot_find(cli):
    log("data", {"a.txt": b"x"})
    result = cli("verify", "p/nope")
    assert result.exit_code == 1 and "nope" in result.stderr and "Traceback" not in result.output
    result = cli("verify", "p/data:v7")
    assert result.exit_code == 1 and "v7" in result.stderr


def test_verify_of_no_store_creates_none(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("CAIRN_DIR", str(tmp_path / "nothing-here"))
    result = cli("verify")
    assert result.exit_code == 1 and "no cairn store" in result.stderr
    assert not (tmp_path / "nothing-here").exists()


def test_verify_refuses_a_server_url(cli, monkeypatch):
    monkeypatch.setenv("CAIRN_BASE_URL", "http://127.0.0.1:9")
    result = cli("verify")
    assert result.exit_code == 1 and "cairn admin verify" in result.stderr


def test_verify_reports_progress_through_the_reporter_in_force():
    from cairn.core import progress
    from cairn.engine.verify import verify
    from cairn.storage.blobs.local import LocalBlobStore
    from cairn.storage.meta.sql import MetaStore

    log("data", {f"f{i}.txt": f"{i}".encode() for i in range(30)})
    meta, blobs = MetaStore.sqlite(home() / "meta.sqlite"), LocalBlobStore(home() / "blobs")
    found = []
    with progress.reporting(progress.Recorder()) as rec:
        report = verify(meta, blobs, found.append)
        scoped = verify(meta, blobs, found.append, entity="local", project="p", name="data", index=0)
    meta.dispose()
    blobs.close()
    assert found == [] and report.ok and scoped.ok and report.files == scoped.files == 30
    labels = [(t.label, t.files_total, t.files_done) for t in rec.tasks]
    assert labels == [("re-hashing blobs", 30, 30), ("checking versions", 30, 30), ("checking versions", 30, 30)]
    assert all(t.ended is not None for t in rec.tasks)
