"""``cairn admin …``: users, API keys and roles, run on the server's stores."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import click

from . import output
from .stores import store_urls

if TYPE_CHECKING:
    from ..storage.meta.sql import MetaStore


@click.group()
def admin() -> None:
    """Manage users, API keys and roles (run on the server's stores).

    An entity admin has the admin role on one entity; a server admin (create-user
    --server-admin, or server-admin USER) has it on every entity.

    \b
    Examples:
      cairn admin create-user alice --expires 90d --meta postgresql://cairn:pw@db/cairn
      cairn admin add-member vision alice --role write
      cairn admin list-keys alice
      cairn admin revoke-key cairn_AbC
    """


_META = click.option("--meta", default=None, help="Metadata store URL (default: SQLite in CAIRN_DIR).")
_EXPIRES = click.option(
    "--expires",
    default=None,
    metavar="DURATION",
    help="The key stops working after this long: e.g. 90d, 12h, 2w, 30m (default: never).",
)


def _meta(meta: str | None) -> MetaStore:
    from ..storage.registry import open_meta

    return open_meta(store_urls(meta, None)[0])


def _duration(expires: str | None) -> timedelta | None:
    from ..engine import accounts as auth

    return auth.parse_duration(expires) if expires is not None else None


@admin.command("create-user")
@click.argument("name")
@_EXPIRES
@click.option(
    "--server-admin",
    is_flag=True,
    help="Make NAME a server admin: the admin role on every entity (sees and may change every project).",
)
@_META
def create_user(name: str, expires: str | None, server_admin: bool, meta: str | None) -> None:
    """Create user NAME with its own entity, and print its API key (shown only once).

    \b
    Example:
      cairn admin create-user alice --expires 90d --meta postgresql://cairn:pw@db/cairn
    """
    from ..engine import accounts as auth

    key = auth.create_user(_meta(meta), name, expires=_duration(expires), server_admin=server_admin)
    output.line(key)


@admin.command("create-key")
@click.argument("name")
@_EXPIRES
@_META
def create_key(name: str, expires: str | None, meta: str | None) -> None:
    """Print a new API key for existing user NAME (shown only once).

    \b
    Example:
      cairn admin create-key alice --expires 30d
    """
    from ..engine import accounts as auth

    output.line(auth.create_key(_meta(meta), name, expires=_duration(expires)))


@admin.command("list-keys")
@click.argument("user")
@_META
def list_keys(user: str, meta: str | None) -> None:
    """List USER's API keys: id, prefix, state, created, expires (keys themselves are never stored).

    \b
    Example:
      cairn admin list-keys alice
    """
    from ..engine import accounts as auth

    keys = auth.list_keys(_meta(meta), user)
    if not keys:
        output.line(f"{user} has no API keys")
        return

    def when(t: datetime | None) -> str:
        return f"{t:%Y-%m-%d %H:%M}" if t else "never"

    output.line(f"{'id':>6}  {'prefix':<12} {'state':<8} {'created':<17} expires")
    for k in keys:
        output.line(f"{k.id:>6}  {k.prefix + '…':<12} {k.state():<8} {when(k.created_at):<17} {when(k.expires_at)}")


@admin.command("revoke-key")
@click.argument("key")
@_META
def revoke_key(key: str, meta: str | None) -> None:
    """Revoke an API key, named by its id or prefix as list-keys shows it (or the whole key).

    \b
    Example:
      cairn admin revoke-key cairn_AbCd
    """
    from ..engine import accounts as auth

    user, info = auth.revoke_key(_meta(meta), key)
    if info.revoked_at is not None:
        output.line(f"key {info.id} ({info.prefix}…) of {user} was revoked already")
    else:
        output.line(f"revoked key {info.id} ({info.prefix}…) of {user}")


@admin.command("add-member")
@click.argument("entity")
@click.argument("user")
@click.option("--role", type=click.Choice(["read", "write", "admin"]), required=True, help="Role on ENTITY's projects.")
@_META
def add_member(entity: str, user: str, role: str, meta: str | None) -> None:
    """Give USER a ROLE on ENTITY (a team entity is created if new).

    \b
    Example:
      cairn admin add-member vision alice --role write
    """
    from ..engine import accounts as auth

    auth.add_member(_meta(meta), entity, user, role)
    output.line(f"{user} is now {role} on {entity}")


@admin.command("set-role")
@click.argument("entity")
@click.argument("user")
@click.argument("role", type=click.Choice(["read", "write", "admin"]))
@_META
def set_role(entity: str, user: str, role: str, meta: str | None) -> None:
    """Change the ROLE of USER, already a member of ENTITY.

    \b
    Example:
      cairn admin set-role vision alice read
    """
    from ..engine import accounts as auth

    old = auth.set_role(_meta(meta), entity, user, role)
    output.line(f"{user} is now {role} on {entity} (was {old})")


@admin.command("remove-member")
@click.argument("entity")
@click.argument("user")
@_META
def remove_member(entity: str, user: str, meta: str | None) -> None:
    """Take USER's role on ENTITY away (their keys then reach nothing of ENTITY).

    \b
    Example:
      cairn admin remove-member vision alice
    """
    from ..engine import accounts as auth

    old = auth.remove_member(_meta(meta), entity, user)
    output.line(f"{user} is no longer a member of {entity} (was {old})")


@admin.command("server-admin")
@click.argument("user")
@click.option("--revoke", is_flag=True, help="Take the server admin right away instead of granting it.")
@_META
def server_admin(user: str, revoke: bool, meta: str | None) -> None:
    """Make USER a server admin (admin on every entity), or with --revoke, no longer one.

    \b
    Example:
      cairn admin server-admin alice --revoke
    """
    from ..engine import accounts as auth

    auth.set_server_admin(_meta(meta), user, not revoke)
    output.line(f"{user} is {'no longer' if revoke else 'now'} a server admin")
