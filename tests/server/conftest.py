"""A real uvicorn server on a free 127.0.0.1 port over a temporary embedded store, and a
real Chromium (Debian's, through Playwright) to drive it."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class UIServer:
    url: str
    home: Path
    info: dict = field(default_factory=dict)  # what the builder made (names, keys, run ids)

    @property
    def meta(self):  # noqa: ANN201
        from cairn.storage.meta.sql import MetaStore

        return MetaStore.sqlite(self.home / "meta.sqlite")


def _build(home: Path, build: Callable[[Path], dict]) -> dict:
    """Run ``build`` with the SDK pointed at ``home`` (the module's own store)."""
    from cairn.client import reset_clients

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CAIRN_DIR", str(home))
        mp.setenv("CAIRN_CACHE_DIR", str(home / "cache"))
        for var in ("CAIRN_BASE_URL", "CAIRN_API_KEY", "CAIRN_PROJECT", "CAIRN_ENTITY"):
            mp.delenv(var, raising=False)
        work = home / "work"
        work.mkdir(parents=True, exist_ok=True)
        mp.chdir(work)
        reset_clients()
        try:
            return build(home)
        finally:
            import cairn

            if cairn.run is not None:
                cairn.run.finish()
            reset_clients()


@contextlib.contextmanager
def serve(home: Path, build: Callable[[Path], dict]) -> Iterator[UIServer]:
    """Build a store in ``home`` (``build(home)`` runs with the SDK pointed at it, in ``home/work``),
    then serve it with uvicorn in a thread."""
    import uvicorn

    from cairn.server.app import create_app
    from cairn.storage.blobs.local import LocalBlobStore
    from cairn.storage.meta.sql import MetaStore

    info = _build(home, build)
    meta, blobs = MetaStore.sqlite(home / "meta.sqlite"), LocalBlobStore(home / "blobs")
    app = create_app(meta, blobs)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))  # a free port, held from here on: no race with other tests
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the UI server did not start")
        time.sleep(0.02)
    try:
        yield UIServer(f"http://127.0.0.1:{port}", home, info)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        meta.dispose()
        blobs.close()


@pytest.fixture
def serve_store() -> Callable:
    """``serve`` itself, for a test that builds and serves a store of its own."""
    return serve


@pytest.fixture(scope="module")
def ui_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[UIServer]:
    """The test module's ``build_store(home) -> dict`` store, served without users (open access)."""
    with serve(tmp_path_factory.mktemp("ui-store"), request.module.build_store) as s:
        yield s


@pytest.fixture(scope="module")
def ui_server_with_users(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[UIServer]:
    """The module's ``build_store_with_users(home) -> dict`` store (it creates users, so keys are needed)."""
    with serve(tmp_path_factory.mktemp("ui-store-users"), request.module.build_store_with_users) as s:
        yield s


@pytest.fixture
def on_stack(server_stack, monkeypatch):  # noqa: ANN001, ANN201
    """The session's two replicas on PostgreSQL + SeaweedFS, with an entity of this test's own."""
    from cairn.client import reset_clients

    monkeypatch.setenv("CAIRN_ENTITY", f"t{uuid.uuid4().hex[:12]}")
    monkeypatch.setenv("CAIRN_BASE_URL", server_stack.urls[1])
    reset_clients()
    return server_stack


@pytest.fixture(scope="session")
def browser() -> Iterator:
    if not os.path.exists(CHROMIUM):  # ./dev.sh test installs it; a missing browser is a failure
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (./dev.sh test does it)")
    from playwright import sync_api

    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser, tmp_path: Path) -> Iterator:  # noqa: ANN001
    """A fresh browser context (no cookies) and page; downloads land in tmp_path."""
    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    p = context.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda exc: errors.append(str(exc)))
    p.js_errors = errors  # type: ignore[attr-defined]
    try:
        yield p
    finally:
        context.close()
        shutil.rmtree(tmp_path / "downloads", ignore_errors=True)
