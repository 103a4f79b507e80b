"""A route that authorization does not cover stops the app from being built."""

from __future__ import annotations

import re

import pytest
from fastapi import APIRouter, FastAPI

from cairn.server import authz
from cairn.server.app import create_app
from cairn.storage.blobs.local import LocalBlobStore
from cairn.storage.meta.sql import MetaStore


@pytest.fixture
def app(tmp_path) -> FastAPI:
    return create_app(MetaStore.sqlite(tmp_path / "meta.sqlite"), LocalBlobStore(tmp_path / "blobs"))


def test_every_api_route_is_checked(app):
    authz.check_routes(app)  # the app as built passes


@pytest.mark.parametrize(
    "path, gated, why",
    [
        ("/api/v1/projects/{entity}/{project}/secrets", False, "does not run authz.gate"),
        ("/api/v1/things/{thing_id}", True, "path parameter(s) ['thing_id']"),
        ("/api/v1/everything", True, "names no entity, version or run"),
        ("/api/v1/projects/{project}/loose", True, "without the entity that owns them"),
    ],
)
def test_an_uncovered_route_is_refused(app, path, gated, why):
    extra = APIRouter(dependencies=[authz.Depends(authz.gate)] if gated else [])

    @extra.get(path)
    def handler() -> dict:
        return {}

    app.include_router(extra)
    with pytest.raises(RuntimeError, match=re.escape(why)):
        authz.check_routes(app)
