"""``cairn admin verify`` on a server's own stores (PostgreSQL + S3): a store logged through a
real server, damaged in the bucket and the database, checked store-wide and by name."""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import write

import cairn
from cairn.cli.main import main
from cairn.client import reset_clients


@pytest.fixture
def own_server(server_stack, tmp_path, monkeypatch):
    """A server of this test's own (fresh database and bucket prefix): a store-wide check
    then sees only what this test made."""
    from services import create_database
    from servers import cairn_server

    name = f"v{uuid.uuid4().hex[:12]}"
    meta = "postgresql://" + create_database(server_stack.meta_url, name).partition("://")[2]
    blobs = f"s3://cairn/{name}"
    env = {**server_stack.s3_env, "CAIRN_DIR": str(tmp_path / "unused")}
    with cairn_server(tmp_path / "srv", env, "--meta", meta, "--blobs", blobs, "--no-ui") as url:
        monkeypatch.setenv("CAIRN_BASE_URL", url)
        for k, v in server_stack.s3_env.items():
            monkeypatch.setenv(k, v)
        reset_clients()
        yield {"meta": meta, "blobs": blobs, "prefix": name, "s3": server_stack.seaweed.client()}
        reset_clients()


def log(name: str, files: dict[str, bytes]) -> cairn.Artifact:
    for rel, data in files.items():
        write(Path(f"src-{name}") / rel, data)
    with cairn.init(project="p") as run:
        a = cairn.Artifact(name, "dataset")
        a.add_dir(f"src-{name}")
        run.log_artifact(a)
    return a


def broken(output: str) -> set[tuple[str, str]]:
    return {(m[1], m[2] or "-") for m in re.finditer(r"^BROKEN (\S+:v\d+)(?: (\S+))?: ", output, re.M)}


def test_admin_verify_checks_a_servers_stores(own_server):
    s3, prefix = own_server["s3"], own_server["prefix"]
    big = os.urandom(9 << 20)  # sent in parts to a staging key
    files = {"flip.bin": os.urandom(100_000), "cut.bin": os.urandom(50_000)}
    a = log("data", {**files, "gone.txt": b"small file", "big.bin": big, "ok.txt": b"fine"})
    log("clean", {"x.txt": b"x"})
    entity = a._version.entity
    runner = CliRunner()

    def verify(*args: str):  # noqa: ANN202
        return runner.invoke(
            main,
            ["admin", "verify", *args, "--meta", own_server["meta"], "--blobs", own_server["blobs"]],
            catch_exceptions=False,
        )

    assert verify().exit_code == 0

    def key(digest: str) -> str:
        return f"{prefix}/blobs/{digest[7:9]}/{digest[7:]}"

    def damage(path: str, how: str) -> None:
        k = key(a.get_entry(path).digest)
        if how == "remove":
            s3.delete_object(Bucket="cairn", Key=k)
            return
        data = s3.get_object(Bucket="cairn", Key=k)["Body"].read()
        s3.put_object(Bucket="cairn", Key=k, Body=bytes([data[0] ^ 1]) + data[1:] if how == "flip" else data[:100])

    damage("flip.bin", "flip")
    damage("cut.bin", "truncate")
    damage("gone.txt", "remove")
    damage("big.bin", "flip")
    import sqlalchemy

    engine = sqlalchemy.create_engine("postgresql+psycopg://" + own_server["meta"].partition("://")[2])
    with engine.begin() as conn:  # the clean artifact loses its manifest
        clean_key = conn.execute(
            sqlalchemy.text(
                "SELECT v.manifest_key FROM versions v JOIN artifacts a ON a.id = v.artifact_id WHERE a.name = 'clean'"
            )
        ).scalar_one()
        conn.execute(sqlalchemy.text("DELETE FROM chunks WHERE key = :k"), {"k": clean_key})
    engine.dispose()

    result = verify()
    assert result.exit_code == 1, result.output
    assert broken(result.stdout) == {
        (f"{entity}/p/data:v0", "flip.bin"),
        (f"{entity}/p/data:v0", "cut.bin"),
        (f"{entity}/p/data:v0", "gone.txt"),
        (f"{entity}/p/data:v0", "big.bin"),
        (f"{entity}/p/clean:v0", "-"),
    }
    assert f"manifest chunk {clean_key} is missing" in result.stdout
    scoped = runner.invoke(
        main,
        ["admin", "verify", f"{entity}/p/data:v0", "--meta", own_server["meta"], "--blobs", own_server["blobs"]],
        catch_exceptions=False,
    )
    assert scoped.exit_code == 1 and len(broken(scoped.stdout)) == 4 and "clean" not in scoped.stdout
    # read-only: the damaged objects are still there as they were
    assert len(s3.get_object(Bucket="cairn", Key=key(a.get_entry("cut.bin").digest))["Body"].read()) == 100
    # --set-aside, then the same files logged again through the server, heal the version
    healing = runner.invoke(
        main,
        ["admin", "verify", "--set-aside", "--meta", own_server["meta"], "--blobs", own_server["blobs"]],
        catch_exceptions=False,
    )
    assert healing.exit_code == 1 and "set aside" in healing.stderr
    reset_clients()
    again = log(
        "data",
        {
            "flip.bin": files["flip.bin"],
            "cut.bin": files["cut.bin"],
            "gone.txt": b"small file",
            "big.bin": big,
            "ok.txt": b"fine",
        },
    )
    assert again.version == "v0"
    assert (
        runner.invoke(
            main,
            ["admin", "verify", f"{entity}/p/data", "--meta", own_server["meta"], "--blobs", own_server["blobs"]],
            catch_exceptions=False,
        ).exit_code
        == 0
    )
    reset_clients()
    root = Path(cairn.Api().artifact("p/data:v0").download("dl"))
    assert (root / "big.bin").read_bytes() == big and (root / "flip.bin").read_bytes() == files["flip.bin"]
