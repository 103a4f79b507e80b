"""``cairn admin …``: users, API keys and roles, run on the server's stores."""

from __future__ import annotations

import click

from . import output
from .stores import store_urls

META = click.option("--meta", default=None, help="Metadata store URL (default: SQLite in CAIRN_DIR).")


@click.group()
def admin() -> None:
    """Manage users, API keys and roles (run on the server's stores).

    \b
    Examples:
      cairn admin create-user alice --meta postgresql://cairn:pw@db/cairn
      cairn admin add-member vision alice --role write
    """


@admin.command("create-user")
@click.argument("name")
@META
def create_user(name: str, meta: str | None) -> None:
    """Create user NAME with its own entity, and print its API key (shown only once).

    \b
    Example:
      cairn admin create-user alice --meta postgresql://cairn:pw@db/cairn
    """
    from ..server import auth
    from ..storage.registry import open_meta

    key = auth.create_user(open_meta(store_urls(meta, None)[0]), name)
    output.line(key)


@admin.command("create-key")
@click.argument("name")
@META
def create_key(name: str, meta: str | None) -> None:
    """Print a new API key for existing user NAME (shown only once).

    \b
    Example:
      cairn admin create-key alice
    """
    from ..server import auth
    from ..storage.registry import open_meta

    output.line(auth.create_key(open_meta(store_urls(meta, None)[0]), name))


@admin.command("add-member")
@click.argument("entity")
@click.argument("user")
@click.option("--role", type=click.Choice(["read", "write", "admin"]), required=True, help="Role on ENTITY's projects.")
@META
def add_member(entity: str, user: str, role: str, meta: str | None) -> None:
    """Give USER a ROLE on ENTITY (a team entity is created if new).

    \b
    Example:
      cairn admin add-member vision alice --role write
    """
    from ..server import auth
    from ..storage.registry import open_meta

    auth.add_member(open_meta(store_urls(meta, None)[0]), entity, user, role)
    output.line(f"{user} is now {role} on {entity}")
