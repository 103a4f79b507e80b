"""A schema-driven fuzz run over the whole HTTP API (schemathesis): every operation of the
OpenAPI document, with valid and invalid requests generated from its own schema, against a
real ``cairn server`` on PostgreSQL and S3, with an admin key. No answer is a 5xx, and every
answer (status, content type, body) is one the document declares.

Bounded and repeatable: a pinned seed, derandomized generation, a few examples per operation."""

from __future__ import annotations

import re

import pytest
import schemathesis
from hypothesis import HealthCheck, seed, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance
from servers import cairn_server

ENTITY = "fuzzer"

# Checks left out, and why:
# - positive_data_acceptance: a request can fit the schema and still be refused with a 400
#   that names why (alias 'v3' is reserved, '..' is not a name, an unknown upload key):
#   rules no JSON Schema states. A 5xx or an undeclared answer still fails the run.
EXCLUDED = [positive_data_acceptance]


@pytest.fixture(scope="module")
def fuzz_server(server_stack, tmp_path_factory):
    """A server of its own (a database with a user in it needs keys; the session's servers
    serve open access) on the session's PostgreSQL and SeaweedFS."""
    from services import create_database

    from cairn.engine import accounts as auth
    from cairn.storage.registry import open_meta

    meta_url = "postgresql://" + create_database(server_stack.meta_url, "fuzz").partition("://")[2]
    meta = open_meta(meta_url)
    try:
        key = auth.create_user(meta, ENTITY)
    finally:
        meta.dispose()
    work = tmp_path_factory.mktemp("fuzz")
    env = {**server_stack.s3_env, "CAIRN_DIR": str(work / "unused-home")}
    with cairn_server(work / "srv", env, "--meta", meta_url, "--blobs", "s3://cairn/fuzz", "--no-ui") as url:
        yield url, key


def _document() -> dict:
    """The OpenAPI document, built by the app itself (what every server serves at
    /api/openapi.json): schemathesis needs it when tests are collected, before servers start."""
    import tempfile

    from cairn.server.app import create_app
    from cairn.storage.blobs.local import LocalBlobStore
    from cairn.storage.meta.sql import MetaStore

    with tempfile.TemporaryDirectory() as d:
        meta = MetaStore.sqlite(f"{d}/meta.sqlite")
        try:
            return create_app(meta, LocalBlobStore(f"{d}/blobs"), ui=False).openapi()
        finally:
            meta.dispose()


schema = schemathesis.openapi.from_dict(_document())


def test_the_fuzzed_document_is_the_served_one(fuzz_server):
    import httpx

    url, _ = fuzz_server
    assert httpx.get(f"{url}/api/openapi.json").json() == _document()


@schema.parametrize()
@seed(20261127)
@settings(max_examples=8, derandomize=True, deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_no_5xx_and_every_answer_is_declared(case, fuzz_server):
    url, key = fuzz_server
    # The admin's own entity, so that generated requests get past authorization and reach
    # the engine; the table tests in test_hostile_input.py cover hostile entity names.
    # A negative case whose entity is the invalid part keeps it.
    entity = (case.path_parameters or {}).get("entity")
    if isinstance(entity, str) and re.fullmatch(r"[A-Za-z0-9_.-]{1,128}", entity):
        case.path_parameters["entity"] = ENTITY
    # Likewise a well-formed run or version id becomes a fresh one of the admin's own (a random
    # one would only ever be a 404), so that generated bodies and queries reach the engine: a
    # run's history and edits, a version's edits, links and unlinking, deletions.
    own_ids(url, key, case)
    case.call_and_validate(
        base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60, excluded_checks=EXCLUDED
    )


def own_ids(url: str, key: str, case) -> None:  # noqa: ANN001
    import httpx

    params = case.path_parameters or {}
    api, headers = f"{url}/api/v1/projects/{ENTITY}/fuzzed", {"Authorization": f"Bearer {key}"}
    run_id = params.get("run_id")
    if isinstance(run_id, str) and re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", run_id):
        r = httpx.post(f"{api}/runs", json={}, headers=headers, timeout=60)
        params["run_id"] = r.json()["id"]
    version_id = params.get("version_id")
    if isinstance(version_id, int) and not isinstance(version_id, bool) and 1 <= version_id < 2**63:
        r = httpx.post(
            f"{api}/artifacts/logged/versions", json={"type": "t", "entries": []}, headers=headers, timeout=60
        )
        params["version_id"] = r.json()["id"]
        if case.path.endswith("/unlink"):  # a link to unlink
            r = httpx.post(
                f"{url}/api/v1/versions/{params['version_id']}/links",
                headers=headers,
                timeout=60,
                json={"entity": ENTITY, "project": "fuzzed", "name": "linked"},
            )
            params["version_id"] = r.json()["id"]
