"""``cairn server`` and ``cairn login``."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

import click

from ..core.errors import UsageError
from . import output
from .stores import store_urls

if TYPE_CHECKING:
    import socket


def _listen(host: str, port: int) -> socket.socket:
    """A listening socket on host:port, or a UsageError saying the port is taken (before
    the server says that it serves)."""
    import socket

    try:
        family, kind, proto, _, addr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as e:
        raise UsageError(
            f"cannot listen on {host!r}: {e.strerror}; pass --host with an address of this machine"
        ) from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(addr)
        sock.listen(2048)
    except OSError as e:
        sock.close()
        if e.errno in (98, 48):  # EADDRINUSE on Linux, macOS
            raise UsageError(
                f"port {port} on {host} is already in use; stop what serves there or pass --port N"
            ) from None
        raise UsageError(f"cannot listen on {host}:{port}: {e.strerror}; pass another --host or --port") from None
    sock.set_inheritable(True)
    return sock


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on.")
@click.option(
    "--meta",
    default=None,
    help="Metadata store URL: sqlite:///path or postgresql://user:pw@host/db (default: SQLite in CAIRN_DIR).",
)
@click.option(
    "--blobs",
    default=None,
    help="Blob store: a folder or s3://bucket/prefix (default: CAIRN_DIR/blobs). S3 endpoint and keys come from AWS_*.",
)
@click.option("--demo", is_flag=True, help="Create the demo project first if the store has no projects.")
@click.option("--no-ui", is_flag=True, help="Serve the HTTP API only, without the web UI.")
@click.option(
    "--log-json",
    is_flag=True,
    default=None,
    help="Write logs and the access log as JSON lines (also CAIRN_LOG_JSON=1).",
)
@click.option(
    "--worker-nice",
    default=5,
    show_default=True,
    type=click.IntRange(0, 19),
    envvar="CAIRN_WORKER_NICE",
    help="Run worker threads (heavy requests) this many nice levels below the event loop, so that "
    "/api/health and new requests are answered first on a busy host; 0 leaves them equal. Linux only "
    "(also CAIRN_WORKER_NICE).",
)
def server(
    host: str,
    port: int,
    meta: str | None,
    blobs: str | None,
    demo: bool,
    no_ui: bool,
    log_json: bool | None,
    worker_nice: int,
) -> None:
    """Serve the registry over HTTP (API, OpenAPI docs at /api/docs, and the web UI at /).

    Replicas are stateless: run several on one PostgreSQL and one bucket. Each request is
    logged on stderr (method, path, status, duration, user).

    \b
    Examples:
      cairn server --port 8080
      cairn server --meta postgresql://cairn:pw@db/cairn --blobs s3://bucket/cairn --log-json
    """
    import uvicorn

    from ..engine import accounts as auth
    from ..server.app import create_app
    from ..server.priority import lower_worker_threads
    from ..storage.registry import open_blobs, open_meta
    from .logs import setup_server_logging

    if demo and (meta or blobs):
        raise click.UsageError("--demo builds the demo in the embedded store; do not combine it with --meta/--blobs")
    sock = _listen(host, port)
    setup_server_logging(log_json)
    # before any store opens a pool: every thread but this one (the event loop's) is lowered
    lower_worker_threads(worker_nice)
    meta_url, blobs_url = store_urls(meta, blobs)
    meta_store, blob_store = open_meta(meta_url), open_blobs(blobs_url)
    if demo:
        from ..engine import versions
        from .demo import make_demo

        if not versions.list_projects(meta_store):  # the SDK writes to this same CAIRN_DIR store
            for text in make_demo():
                output.line(text)
    app = create_app(meta_store, blob_store, ui=not no_ui)
    if not auth.users_exist(meta_store):
        output.line(
            "note: no users exist, so every request is served as admin without a key; "
            "create one with 'cairn admin create-user NAME' to require keys"
        )
    bound = sock.getsockname()[1]
    output.line(f"cairn server on http://{host}:{bound}  (metadata: {meta_store._safe_url()}, blobs: {blobs_url})")
    # logging is set up above (setup_server_logging); the access log is cairn's own
    config = uvicorn.Config(app, host=host, port=bound, access_log=False, log_config=None)
    # Heavy requests run Python in worker threads; the event loop waits for the GIL at most a
    # switch interval before it may take it: 1 ms instead of 5 ms (tests/server/test_health_latency.py)
    sys.setswitchinterval(0.001)
    uvicorn.Server(config).run(sockets=[sock])


@click.command()
@click.option("--key", prompt="API key", hide_input=True, help="The API key to store.")
@click.option("--host", default=None, help="Server URL (default: CAIRN_BASE_URL).")
def login(key: str, host: str | None) -> None:
    """Check an API key against the server and save it for later commands and runs.

    \b
    Example:
      CAIRN_BASE_URL=http://server:8080 cairn login
    """
    from ..client.login import save_key
    from ..client.rpc import Rpc, new_pool
    from ..client.settings import Settings

    base = host or os.environ.get("CAIRN_BASE_URL")
    if not base:
        raise UsageError("no server given: pass --host URL or set CAIRN_BASE_URL")
    settings = Settings.from_env()
    rpc = Rpc(Settings(**{**settings.__dict__, "base_url": base, "api_key": key}), new_pool())
    who = rpc.json("GET", "/api/v1/whoami")
    for url in rpc.servers.urls:  # every replica of CAIRN_BASE_URL="http://a,http://b"
        path = save_key(url, key)
    output.line(f"logged in to {rpc.servers} as {who['user']} (key saved in {path})")
