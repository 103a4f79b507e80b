"""Every test gets its own embedded store (CAIRN_DIR), cache and working folder."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def cairn_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    import cairn
    from cairn.client import reset_clients

    home = tmp_path / "cairn-home"
    monkeypatch.setenv("CAIRN_DIR", str(home))
    monkeypatch.setenv("CAIRN_CACHE_DIR", str(tmp_path / "cairn-cache"))
    for var in (
        "CAIRN_BASE_URL",
        "CAIRN_API_KEY",
        "CAIRN_PROJECT",
        "CAIRN_ENTITY",
        "CAIRN_MODE",
        "CAIRN_RUN_ID",
        "CAIRN_SILENT",
        "CAIRN_ARTIFACT_DIR",
        "CAIRN_RESUME",
    ):
        monkeypatch.delenv(var, raising=False)
    for var in ("PROJECT", "ENTITY", "MODE", "DIR", "ARTIFACT_DIR", "SILENT", "RUN_ID", "RESUME", "DISABLED"):
        monkeypatch.delenv(f"WANDB_{var}", raising=False)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    reset_clients()
    yield home
    if cairn.run is not None:
        cairn.run.finish()
    reset_clients()


@dataclass
class ServerStack:
    """Two ``cairn server`` replicas on one PostgreSQL and one SeaweedFS bucket."""

    urls: list[str]
    meta_url: str
    s3_env: dict[str, str]
    seaweed: object


@pytest.fixture(scope="session")
def server_stack(tmp_path_factory: pytest.TempPathFactory):
    from services import create_database, postgres_server, seaweed_s3
    from servers import cairn_server

    work = tmp_path_factory.mktemp("stack")
    with postgres_server(work / "pg") as pg, seaweed_s3(work / "s3") as s3:
        s3.client().create_bucket(Bucket="cairn")
        meta = "postgresql://" + create_database(pg, "registry").partition("://")[2]
        env = {**s3.env(), "CAIRN_DIR": str(work / "unused-home")}
        args = ("--meta", meta, "--blobs", "s3://cairn/registry", "--no-ui")
        with cairn_server(work / "a", env, *args) as a, cairn_server(work / "b", env, *args) as b:
            yield ServerStack([a, b], meta, s3.env(), s3)


@pytest.fixture(params=["embedded", "server"])
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, cairn_home: Path) -> str:
    """Run a test on the embedded store and again through a server on PostgreSQL + S3.

    Server tests get an entity of their own, so they share the session's servers safely."""
    from cairn.client import reset_clients

    if request.param == "server":
        stack = request.getfixturevalue("server_stack")
        monkeypatch.setenv("CAIRN_BASE_URL", stack.urls[0])
        monkeypatch.setenv("CAIRN_ENTITY", f"t{uuid.uuid4().hex[:12]}")
        reset_clients()
    return request.param


# -- lanes --------------------------------------------------------------------------
# Tests that start PostgreSQL / SeaweedFS / server replicas are marked ``services``, tests that
# drive Chromium ``browser``, from the fixtures they use, so that a new test is marked by what it
# needs rather than by someone remembering to.
_SERVICE_FIXTURES = {
    "server_stack",
    "on_stack",
    "seaweed",
    "s3_env",
    "bucket",
    "postgres",
    "pg_database",
    "secured",  # test_server_auth's server process, reused by test_server_runs
}
# Parametrized fixtures that fetch a service fixture with request.getfixturevalue for one of
# their params (the contract suites' S3 store and PostgreSQL database, the backend fixture's server).
_SERVICE_PARAMS = {("backend", "server"), ("store", "s3"), ("meta_url", "postgresql"), ("api", "postgresql")}
_BROWSER_FIXTURES = {"browser", "page"}
# Tests marked ``slow`` start many Python processes one after another (the CLI run as a user
# runs it, process races and kills) or build the wheel: the full suite runs them, the fast
# lane `-m "not services and not browser and not slow"` leaves them out (README, Develop).


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        callspec = getattr(item, "callspec", None)
        params = callspec.params.items() if callspec is not None else ()
        on_server = any((k, v) in _SERVICE_PARAMS for k, v in params if isinstance(v, str))
        module = getattr(item, "module", None)
        starts_services = any(hasattr(module, n) for n in ("postgres_server", "seaweed_s3", "cairn_server"))
        if names & _SERVICE_FIXTURES or on_server or starts_services:
            item.add_marker(pytest.mark.services)
        if names & _BROWSER_FIXTURES:
            item.add_marker(pytest.mark.browser)


# Test modules whose collection itself is costly and whose every test is a ``services`` one:
# test_api_fuzz.py builds its tests from the app's OpenAPI document when it is collected
# (schemathesis: ~4 s of CPU, in every xdist worker). A run whose -m leaves ``services`` out
# does not collect them at all. A test added there that needs no service belongs elsewhere.
_SERVICES_ONLY_MODULES = {"test_api_fuzz.py"}


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if collection_path.name in _SERVICES_ONLY_MODULES and not _selects(config, "services"):
        return True
    return None


def _selects(config: pytest.Config, marker: str) -> bool:
    """Whether the run's ``-m`` expression selects a test marked ``marker`` alone."""
    from _pytest.mark.expression import Expression  # pytest's own -m parser: the same answer as -m

    expr = config.getoption("markexpr") or ""
    return not expr or Expression.compile(expr).evaluate(lambda name, **_: name == marker)
