"""Users, API keys (stored hashed, shown once), entities and roles: what is stored.

A user owns the entity of its own name (admin there); teams are entities whose members
have ``read``, ``write`` or ``admin``. A project belongs to an entity; a key reaches a
project only through a role on that entity. A *server admin* is distinct from those entity
admins: it has the admin role on every entity (it sees and may change every project).
A store with no users at all serves everyone as admin (the single-user, local case) — the
server says so when it starts. What a caller may do with a given request is decided in
``server/authz``; this module only stores and reads the facts, each in one transaction (the
server's routes and ``cairn admin`` call it; neither writes SQL of its own).

Keys may expire (``expires_at``); an expired or revoked key is refused with a 401 that
says so. Key management (list, revoke, members, roles) is for whoever runs ``cairn admin``
on the server's metadata store.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ..core.errors import (
    AuthError,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    UsageError,
)
from ..core.limits import MAX_KEY, ascii_int, check_text
from ..core.names import check_name
from ..storage.meta.sql import MetaStore
from ..storage.meta.tx import Tx, as_utc, insert, insert_ignore

ROLES = {"read": 1, "write": 2, "admin": 3}
KEY_PREFIX = "cairn_"
PREFIX_LEN = 10  # the stored, listable start of a key: "cairn_" and 4 random characters


@dataclass(frozen=True)
class Principal:
    user_id: int | None
    name: str
    open_access: bool = False  # no users exist: everyone is admin
    server_admin: bool = False  # admin on every entity


@dataclass(frozen=True)
class KeyInfo:
    id: int
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

    def state(self, now: datetime | None = None) -> str:
        now = now or datetime.now(UTC)
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"


def hash_key(key: str) -> str:
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def users_exist(meta: MetaStore) -> bool:
    with meta.read() as tx:
        return tx.scalar("SELECT 1 FROM users LIMIT 1") is not None


def _user_id(tx: Tx, name: str) -> int | None:
    return tx.scalar("SELECT id FROM users WHERE name = :n", {"n": name})


def _need_user(tx: Tx, name: str) -> int:
    uid = _user_id(tx, name)
    if uid is None:
        raise NotFoundError(f"no user {name!r}; create it with 'cairn admin create-user {name}'")
    return uid


def parse_duration(text: str) -> timedelta:
    """``90d``, ``12h``, ``2w``, ``30m``: a positive duration for key expiry."""
    m = re.fullmatch(r"\s*(\d{1,6})\s*([mhdw])\s*", text or "")
    if not m or int(m.group(1)) == 0:
        raise UsageError(f"expiry must be a positive number and a unit m, h, d or w (e.g. 90d), got {text!r}")
    unit = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[m.group(2)]
    return timedelta(**{unit: int(m.group(1))})


def _stored_time(tx: Tx, at: datetime) -> datetime | str:
    """``at`` in the form ``tx.now()`` stores (text on SQLite, an aware datetime on PostgreSQL)."""
    at = at.astimezone(UTC)
    if tx.dialect == "sqlite":
        return at.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
    return at


def create_user(meta: MetaStore, name: str, *, expires: timedelta | None = None, server_admin: bool = False) -> str:
    """Create user ``name`` (and its entity) and return a new API key, shown only this once.

    The first user turns an open store into a keyed one: the blobs its versions reference,
    written in-process until then, are indexed for their projects (``blobs_index``) so that
    the server serves them to the projects that hold them, and to no other."""
    check_name(name, "user name")
    first = not users_exist(meta)
    with meta.write() as tx:
        if _user_id(tx, name) is not None:
            raise ConflictError(f"user {name!r} exists already; use 'cairn admin create-key {name}' for a new key")
        if tx.scalar("SELECT name FROM entities WHERE name = :n", {"n": name}) is not None:
            raise ConflictError(f"{name!r} is already a team entity; pick another user name")
        uid = insert(
            tx, "users", {"name": name, "created_at": tx.now(), "server_admin": int(server_admin)}, returning="id"
        )
        insert(tx, "entities", {"name": name, "kind": "user", "created_at": tx.now()})
        insert(tx, "memberships", {"entity": name, "user_id": uid, "role": "admin"})
        key = _new_key(tx, uid, expires)
    if first:
        from .blobs_index import index_versions

        index_versions(meta)
    return key


def create_key(meta: MetaStore, name: str, *, expires: timedelta | None = None) -> str:
    with meta.write() as tx:
        return _new_key(tx, _need_user(tx, name), expires)


def _new_key(tx: Tx, user_id: int, expires: timedelta | None) -> str:
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    row = {"user_id": user_id, "key_hash": hash_key(key), "prefix": key[:PREFIX_LEN], "created_at": tx.now()}
    if expires is not None:
        row["expires_at"] = _stored_time(tx, datetime.now(UTC) + expires)
    insert(tx, "api_keys", row)
    return key


def list_keys(meta: MetaStore, user: str) -> list[KeyInfo]:
    """Every key of ``user`` (active, expired and revoked), oldest first."""
    with meta.read() as tx:
        uid = _need_user(tx, user)
        rows = tx.rows(
            "SELECT id, prefix, created_at, expires_at, revoked_at FROM api_keys WHERE user_id = :u ORDER BY id",
            {"u": uid},
        )
    return [KeyInfo(r.id, r.prefix, as_utc(r.created_at), as_utc(r.expires_at), as_utc(r.revoked_at)) for r in rows]


def revoke_key(meta: MetaStore, which: str) -> tuple[str, KeyInfo]:
    """Revoke one key, named by its id (as ``list-keys`` shows it) or by its listed prefix
    (``cairn_ab12``; a whole key works too). Returns (user name, the key as it was).
    NotFoundError for no such key; UsageError when a prefix matches several keys."""
    with meta.write() as tx:
        check_text(which, "an API key's id or prefix", MAX_KEY)  # no NUL: PostgreSQL refuses it in text
        if (key_id := ascii_int(which)) is not None:
            rows = tx.rows(
                "SELECT k.*, u.name AS user_name FROM api_keys k JOIN users u ON k.user_id = u.id WHERE k.id = :id",
                {"id": key_id},
            )
        elif which.startswith(KEY_PREFIX) and len(which) >= PREFIX_LEN:
            rows = tx.rows(
                "SELECT k.*, u.name AS user_name FROM api_keys k JOIN users u ON k.user_id = u.id WHERE k.prefix = :p",
                {"p": which[:PREFIX_LEN]},
            )
            if len(which) > PREFIX_LEN:  # a whole key: exactly that one
                rows = [r for r in rows if hmac.compare_digest(r.key_hash, hash_key(which))]
        else:
            raise UsageError(
                f"name a key by its id or its prefix ({KEY_PREFIX}…, {PREFIX_LEN} characters) "
                f"as 'cairn admin list-keys USER' shows them, got {which!r}"
            )
        if not rows:
            raise NotFoundError(f"no API key {which!r}; 'cairn admin list-keys USER' lists a user's keys")
        if len(rows) > 1:
            ids = ", ".join(str(r.id) for r in rows)
            raise UsageError(f"prefix {which!r} matches {len(rows)} keys (ids {ids}); revoke one by its id")
        row = rows[0]
        if row.revoked_at is None:
            tx.execute("UPDATE api_keys SET revoked_at = :t WHERE id = :id", {"t": tx.now(), "id": row.id})
    info = KeyInfo(row.id, row.prefix, as_utc(row.created_at), as_utc(row.expires_at), as_utc(row.revoked_at))
    return row.user_name, info


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise UsageError(f"role must be one of {', '.join(ROLES)}, got {role!r}")


def add_member(meta: MetaStore, entity: str, user: str, role: str) -> None:
    """Give ``user`` ``role`` on ``entity`` (a team entity is created if new)."""
    _check_role(role)
    check_name(entity, "entity name")
    with meta.write() as tx:
        uid = _need_user(tx, user)
        kind = tx.scalar("SELECT kind FROM entities WHERE name = :n", {"n": entity})
        if kind is None:
            insert(tx, "entities", {"name": entity, "kind": "team", "created_at": tx.now()})
        elif kind == "user" and entity != user:
            raise UsageError(f"{entity!r} is a user's own entity; add members to a team entity instead")
        member = {"entity": entity, "user_id": uid}
        tx.execute("DELETE FROM memberships WHERE entity = :entity AND user_id = :user_id", member)
        insert_ignore(tx, "memberships", {**member, "role": role})


def _membership(tx: Tx, entity: str, user: str) -> tuple[int, str]:
    uid = _need_user(tx, user)
    if tx.scalar("SELECT kind FROM entities WHERE name = :n", {"n": entity}) is None:
        raise NotFoundError(
            f"no entity {entity!r}; 'cairn admin add-member {entity} {user} --role ROLE' creates a team"
        )
    role = tx.scalar("SELECT role FROM memberships WHERE entity = :e AND user_id = :u", {"e": entity, "u": uid})
    if role is None:
        raise NotFoundError(f"user {user!r} is not a member of {entity!r}; use 'cairn admin add-member' to add them")
    if entity == user:
        raise UsageError(f"{entity!r} is {user}'s own entity, where they stay admin")
    return uid, role


def set_role(meta: MetaStore, entity: str, user: str, role: str) -> str:
    """Change the role of an existing member; returns the role it had."""
    _check_role(role)
    with meta.write() as tx:
        uid, old = _membership(tx, entity, user)
        tx.execute(
            "UPDATE memberships SET role = :r WHERE entity = :e AND user_id = :u", {"r": role, "e": entity, "u": uid}
        )
    return old


def remove_member(meta: MetaStore, entity: str, user: str) -> str:
    """Take ``user``'s role on ``entity`` away; returns the role it had."""
    with meta.write() as tx:
        uid, old = _membership(tx, entity, user)
        tx.execute("DELETE FROM memberships WHERE entity = :e AND user_id = :u", {"e": entity, "u": uid})
    return old


def set_server_admin(meta: MetaStore, user: str, on: bool) -> None:
    with meta.write() as tx:
        uid = _need_user(tx, user)
        tx.execute("UPDATE users SET server_admin = :a WHERE id = :u", {"a": int(on), "u": uid})


def authenticate(meta: MetaStore, key: str | None) -> Principal:
    if not users_exist(meta):
        return Principal(None, "local", open_access=True)
    if not key:
        raise AuthError("this server needs an API key: set CAIRN_API_KEY or run 'cairn login'")
    with meta.read() as tx:
        row = tx.first(
            "SELECT u.id, u.name, u.server_admin, k.key_hash, k.expires_at FROM api_keys k "
            "JOIN users u ON k.user_id = u.id WHERE k.key_hash = :h AND k.revoked_at IS NULL",
            {"h": hash_key(key)},
        )
    if row is None or not hmac.compare_digest(row.key_hash, hash_key(key)):
        raise AuthError("the API key is not valid (unknown or revoked); ask an admin for a new one")
    expires = as_utc(row.expires_at)
    if expires is not None and expires <= datetime.now(UTC):
        raise AuthError(
            f"the API key expired on {expires:%Y-%m-%d %H:%M} UTC; ask an admin for a new one "
            "('cairn admin create-key USER')"
        )
    return Principal(row.id, row.name, server_admin=bool(row.server_admin))


def role_on(meta: MetaStore, who: Principal, entity: str) -> str | None:
    if who.open_access or who.server_admin:
        return "admin"
    with meta.read() as tx:
        return tx.scalar(
            "SELECT role FROM memberships WHERE entity = :e AND user_id = :u", {"e": entity, "u": who.user_id}
        )


def readable_entities(meta: MetaStore, who: Principal) -> list[str] | None:
    """The entities ``who`` has a role on; None when that is every entity (open access, a
    server admin)."""
    if who.open_access or who.server_admin:
        return None
    with meta.read() as tx:
        return sorted(tx.scalars("SELECT entity FROM memberships WHERE user_id = :u", {"u": who.user_id}))


def require(meta: MetaStore, who: Principal, entity: str, need: str) -> None:
    """ForbiddenError unless ``who`` has ``need`` on ``entity``. For an entity the request
    names in its path, ``authz.gate`` answers first (404 without any role)."""
    role = role_on(meta, who, entity)
    if role is None or ROLES[role] < ROLES[need]:
        raise ForbiddenError(f"user {who.name!r} needs the {need!r} role on entity {entity!r} for this")


def default_entity(who: Principal) -> str:
    return who.name


def store_secret(meta: MetaStore, name: str) -> bytes:
    """The store's random 32-byte secret called ``name`` (``store_settings``), made on first
    use: replicas sharing one store share it; when several make it at once, the first insert
    wins and all read that one."""
    with meta.write() as tx:
        insert_ignore(tx, "store_settings", {"key": name, "value": secrets.token_hex(32)})
        return bytes.fromhex(tx.scalar("SELECT value FROM store_settings WHERE key = :k", {"k": name}))
