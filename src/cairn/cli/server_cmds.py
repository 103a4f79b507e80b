"""``cairn server``, ``cairn admin …``, ``cairn login`` and ``cairn artifact cache …``."""

from __future__ import annotations

import os

import click

from . import output
from .main import artifact, friendly, main


def _store_urls(meta: str | None, blobs: str | None) -> tuple[str, str]:
    from ..client.settings import Settings

    s = Settings.from_env()
    return meta or f"sqlite:///{s.dir / 'meta.sqlite'}", blobs or str(s.dir / "blobs")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=int, help="Port to listen on.")
@click.option("--meta", default=None, help="Metadata store URL: sqlite:///path or postgresql://user:pw@host/db (default: SQLite in CAIRN_DIR).")
@click.option("--blobs", default=None, help="Blob store: a folder or s3://bucket/prefix (default: CAIRN_DIR/blobs). S3 endpoint and keys come from AWS_*.")
@click.option("--demo", is_flag=True, help="Create the demo project first if the store has no projects.")
@click.option("--no-ui", is_flag=True, help="Serve the HTTP API only, without the web UI.")
@friendly
def server(host: str, port: int, meta: str | None, blobs: str | None, demo: bool, no_ui: bool) -> None:
    """Serve the registry over HTTP (API, OpenAPI docs at /api/docs, and the web UI at /).

    Replicas are stateless: run several on one PostgreSQL and one bucket.
    """
    import uvicorn

    from ..server import auth
    from ..server.app import create_app
    from ..storage.registry import open_blobs, open_meta

    meta_url, blobs_url = _store_urls(meta, blobs)
    meta_store, blob_store = open_meta(meta_url), open_blobs(blobs_url)
    if demo:
        if meta or blobs:
            raise click.UsageError("--demo builds the demo in the embedded store; do not combine it with --meta/--blobs")
        from ..engine import versions
        from .demo import make_demo

        if not versions.list_projects(meta_store):  # the SDK writes to this same CAIRN_DIR store
            for text in make_demo():
                output.line(text)
    app = create_app(meta_store, blob_store, ui=not no_ui)
    if not auth.users_exist(meta_store):
        output.line("note: no users exist, so every request is served as admin without a key; "
                    "create one with 'cairn admin create-user NAME' to require keys")
    output.line(f"cairn server on http://{host}:{port}  (metadata: {meta_store._safe_url()}, blobs: {blobs_url})")
    uvicorn.run(app, host=host, port=port, log_level=os.environ.get("CAIRN_LOG_LEVEL", "warning"))


@main.group()
def admin() -> None:
    """Manage users, API keys and roles (run on the server's stores)."""


@admin.command("create-user")
@click.argument("name")
@click.option("--meta", default=None, help="Metadata store URL (default: SQLite in CAIRN_DIR).")
@friendly
def create_user(name: str, meta: str | None) -> None:
    """Create user NAME with its own entity, and print its API key (shown only once)."""
    from ..server import auth
    from ..storage.registry import open_meta

    key = auth.create_user(open_meta(_store_urls(meta, None)[0]), name)
    output.line(key)


@admin.command("create-key")
@click.argument("name")
@click.option("--meta", default=None, help="Metadata store URL (default: SQLite in CAIRN_DIR).")
@friendly
def create_key(name: str, meta: str | None) -> None:
    """Print a new API key for existing user NAME (shown only once)."""
    from ..server import auth
    from ..storage.registry import open_meta

    output.line(auth.create_key(open_meta(_store_urls(meta, None)[0]), name))


@admin.command("add-member")
@click.argument("entity")
@click.argument("user")
@click.option("--role", type=click.Choice(["read", "write", "admin"]), required=True, help="Role on ENTITY's projects.")
@click.option("--meta", default=None, help="Metadata store URL (default: SQLite in CAIRN_DIR).")
@friendly
def add_member(entity: str, user: str, role: str, meta: str | None) -> None:
    """Give USER a ROLE on ENTITY (a team entity is created if new)."""
    from ..server import auth
    from ..storage.registry import open_meta

    auth.add_member(open_meta(_store_urls(meta, None)[0]), entity, user, role)
    output.line(f"{user} is now {role} on {entity}")


@main.command()
@click.option("--key", prompt="API key", hide_input=True, help="The API key to store.")
@click.option("--host", default=None, help="Server URL (default: CAIRN_BASE_URL).")
@friendly
def login(key: str, host: str | None) -> None:
    """Check an API key against the server and save it for later commands and runs."""
    from ..client.http import HttpClient
    from ..client.login import save_key
    from ..client.settings import Settings
    from ..core.errors import UsageError

    base = host or os.environ.get("CAIRN_BASE_URL")
    if not base:
        raise UsageError("no server given: pass --host URL or set CAIRN_BASE_URL")
    settings = Settings.from_env()
    client = HttpClient(Settings(**{**settings.__dict__, "base_url": base, "api_key": key}))
    who = client._json("GET", "/api/v1/whoami")
    path = save_key(base, key)
    output.line(f"logged in to {base} as {who['user']} (key saved in {path})")


@artifact.group()
def cache() -> None:
    """The local download cache (CAIRN_CACHE_DIR)."""


@cache.command("cleanup")
@click.argument("size")
@friendly
def cache_cleanup(size: str) -> None:
    """Evict least recently used blobs until the cache holds at most SIZE (e.g. 10GB, 0)."""
    from ..client.cache import BlobCache
    from ..core.sizes import parse_size
    from ..client.settings import Settings

    c = BlobCache(Settings.from_env().cache_dir)
    freed = c.cleanup(parse_size(size))
    output.line(f"freed {output.human_size(freed)}; the cache now holds {output.human_size(c.size())}")
