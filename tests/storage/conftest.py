"""Real backing services for the storage contract suites: one SeaweedFS and one PostgreSQL
per test session, with a fresh bucket / database per test."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from pathlib import Path

import pytest
from services import create_database, postgres_server, seaweed_s3


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory):
    with seaweed_s3(tmp_path_factory.mktemp("seaweed")) as s3:
        yield s3
        s3.process.stop(timeout=2)  # its graceful shutdown sometimes idles ~10-30 s; nothing here to keep


@pytest.fixture
def s3_env(seaweed, monkeypatch: pytest.MonkeyPatch):
    """The session's SeaweedFS, running, with the AWS_* variables pointing at it."""
    seaweed.process.start()  # no-op unless a test stopped it and failed before restarting it
    for k, v in seaweed.env().items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")  # fail fast in tests; the default is 4
    return seaweed


@pytest.fixture
def bucket(s3_env) -> str:
    name = f"t-{uuid.uuid4().hex[:16]}"
    s3_env.client().create_bucket(Bucket=name)
    return name


@pytest.fixture(scope="session")
def postgres() -> str:
    # Not under pytest's base temp dir: as root, PostgreSQL runs as another user that must
    # traverse to its data dir, and every pytest session that starts (other runs on this
    # machine) resets /tmp/pytest-of-<user> to 0700.
    workdir = Path(tempfile.mkdtemp(prefix="cairn-pg-"))
    try:
        with postgres_server(workdir) as url:
            yield url
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def pg_database(postgres: str) -> str:
    """A fresh, empty database on the session's PostgreSQL, as a plain postgresql:// URL."""
    url = create_database(postgres, f"t_{uuid.uuid4().hex[:16]}")
    return "postgresql://" + url.partition("://")[2]
