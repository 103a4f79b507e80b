"""Users, API keys (stored hashed, shown once), entities and roles.

A user owns the entity of its own name (admin there); teams are entities whose members
have ``read``, ``write`` or ``admin``. A project belongs to an entity; a key reaches a
project only through a role on that entity. A store with no users at all serves
everyone as admin (the single-user, local case) — the server says so when it starts.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from ..core.errors import (
    AuthError,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    UsageError,
)
from ..core.names import check_name
from ..storage.meta.sql import MetaStore, Tx, insert, insert_ignore

ROLES = {"read": 1, "write": 2, "admin": 3}
KEY_PREFIX = "cairn_"


@dataclass(frozen=True)
class Principal:
    user_id: int | None
    name: str
    open_access: bool = False  # no users exist: everyone is admin


def hash_key(key: str) -> str:
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def users_exist(meta: MetaStore) -> bool:
    with meta.read() as tx:
        return tx.scalar("SELECT 1 FROM users LIMIT 1") is not None


def _user_id(tx: Tx, name: str) -> int | None:
    return tx.scalar("SELECT id FROM users WHERE name = :n", {"n": name})


def create_user(meta: MetaStore, name: str) -> str:
    """Create user ``name`` (and its entity) and return a new API key, shown only this once."""
    check_name(name, "user name")
    with meta.write() as tx:
        if _user_id(tx, name) is not None:
            raise ConflictError(f"user {name!r} exists already; use 'cairn admin create-key {name}' for a new key")
        if tx.scalar("SELECT name FROM entities WHERE name = :n", {"n": name}) is not None:
            raise ConflictError(f"{name!r} is already a team entity; pick another user name")
        uid = insert(tx, "users", {"name": name, "created_at": tx.now()}, returning="id")
        insert(tx, "entities", {"name": name, "kind": "user", "created_at": tx.now()})
        insert(tx, "memberships", {"entity": name, "user_id": uid, "role": "admin"})
        return _new_key(tx, uid)


def create_key(meta: MetaStore, name: str) -> str:
    with meta.write() as tx:
        uid = _user_id(tx, name)
        if uid is None:
            raise NotFoundError(f"no user {name!r}; create it with 'cairn admin create-user {name}'")
        return _new_key(tx, uid)


def _new_key(tx: Tx, user_id: int) -> str:
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    row = {"user_id": user_id, "key_hash": hash_key(key), "prefix": key[:10], "created_at": tx.now()}
    insert(tx, "api_keys", row)
    return key


def add_member(meta: MetaStore, entity: str, user: str, role: str) -> None:
    """Give ``user`` ``role`` on ``entity`` (a team entity is created if new)."""
    if role not in ROLES:
        raise UsageError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    check_name(entity, "entity name")
    with meta.write() as tx:
        uid = _user_id(tx, user)
        if uid is None:
            raise NotFoundError(f"no user {user!r}; create it with 'cairn admin create-user {user}'")
        kind = tx.scalar("SELECT kind FROM entities WHERE name = :n", {"n": entity})
        if kind is None:
            insert(tx, "entities", {"name": entity, "kind": "team", "created_at": tx.now()})
        elif kind == "user" and entity != user:
            raise UsageError(f"{entity!r} is a user's own entity; add members to a team entity instead")
        member = {"entity": entity, "user_id": uid}
        tx.execute("DELETE FROM memberships WHERE entity = :entity AND user_id = :user_id", member)
        insert_ignore(tx, "memberships", {**member, "role": role})


def authenticate(meta: MetaStore, key: str | None) -> Principal:
    if not users_exist(meta):
        return Principal(None, "local", open_access=True)
    if not key:
        raise AuthError("this server needs an API key: set CAIRN_API_KEY or run 'cairn login'")
    with meta.read() as tx:
        row = tx.first(
            "SELECT u.id, u.name, k.key_hash FROM api_keys k JOIN users u ON k.user_id = u.id "
            "WHERE k.key_hash = :h AND k.revoked_at IS NULL",
            {"h": hash_key(key)},
        )
    if row is None or not hmac.compare_digest(row.key_hash, hash_key(key)):
        raise AuthError("the API key is not valid (unknown or revoked); ask an admin for a new one")
    return Principal(row.id, row.name)


def role_on(meta: MetaStore, who: Principal, entity: str) -> str | None:
    if who.open_access:
        return "admin"
    with meta.read() as tx:
        return tx.scalar(
            "SELECT role FROM memberships WHERE entity = :e AND user_id = :u", {"e": entity, "u": who.user_id}
        )


def require(meta: MetaStore, who: Principal, entity: str, need: str) -> None:
    role = role_on(meta, who, entity)
    if role is None or ROLES[role] < ROLES[need]:
        raise ForbiddenError(f"user {who.name!r} needs the {need!r} role on entity {entity!r} for this")


def default_entity(who: Principal) -> str:
    return who.name
