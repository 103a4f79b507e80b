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

from sqlalchemy import func, select

from ..core.errors import AuthError, ConflictError, ForbiddenError, NotFoundError, UsageError
from ..core.names import check_name
from ..storage.meta import schema as s
from ..storage.meta.sql import MetaStore
from ..storage.meta.sqlutil import insert_ignore, now

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
    with meta.read() as conn:
        return bool(conn.execute(select(func.count()).select_from(s.users)).scalar())


def create_user(meta: MetaStore, name: str) -> str:
    """Create user ``name`` (and its entity) and return a new API key, shown only this once."""
    check_name(name, "user name")
    with meta.write() as conn:
        if conn.execute(select(s.users.c.id).where(s.users.c.name == name)).first():
            raise ConflictError(f"user {name!r} exists already; use 'cairn admin create-key {name}' for a new key")
        if conn.execute(select(s.entities.c.name).where(s.entities.c.name == name)).first():
            raise ConflictError(f"{name!r} is already a team entity; pick another user name")
        uid = conn.execute(s.users.insert().values(name=name, created_at=now())).inserted_primary_key[0]
        conn.execute(s.entities.insert().values(name=name, kind="user", created_at=now()))
        conn.execute(s.memberships.insert().values(entity=name, user_id=uid, role="admin"))
        return _new_key(conn, uid)


def create_key(meta: MetaStore, name: str) -> str:
    with meta.write() as conn:
        uid = conn.execute(select(s.users.c.id).where(s.users.c.name == name)).scalar()
        if uid is None:
            raise NotFoundError(f"no user {name!r}; create it with 'cairn admin create-user {name}'")
        return _new_key(conn, uid)


def _new_key(conn, user_id: int) -> str:  # noqa: ANN001
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    conn.execute(
        s.api_keys.insert().values(user_id=user_id, key_hash=hash_key(key), prefix=key[:10], created_at=now())
    )
    return key


def add_member(meta: MetaStore, entity: str, user: str, role: str) -> None:
    """Give ``user`` ``role`` on ``entity`` (a team entity is created if new)."""
    if role not in ROLES:
        raise UsageError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    check_name(entity, "entity name")
    with meta.write() as conn:
        uid = conn.execute(select(s.users.c.id).where(s.users.c.name == user)).scalar()
        if uid is None:
            raise NotFoundError(f"no user {user!r}; create it with 'cairn admin create-user {user}'")
        kind = conn.execute(select(s.entities.c.kind).where(s.entities.c.name == entity)).scalar()
        if kind is None:
            conn.execute(s.entities.insert().values(name=entity, kind="team", created_at=now()))
        elif kind == "user" and entity != user:
            raise UsageError(f"{entity!r} is a user's own entity; add members to a team entity instead")
        conn.execute(s.memberships.delete().where(s.memberships.c.entity == entity, s.memberships.c.user_id == uid))
        insert_ignore(conn, s.memberships, {"entity": entity, "user_id": uid, "role": role})


def authenticate(meta: MetaStore, key: str | None) -> Principal:
    if not users_exist(meta):
        return Principal(None, "local", open_access=True)
    if not key:
        raise AuthError("this server needs an API key: set CAIRN_API_KEY or run 'cairn login'")
    with meta.read() as conn:
        row = conn.execute(
            select(s.users.c.id, s.users.c.name, s.api_keys.c.key_hash)
            .select_from(s.api_keys.join(s.users))
            .where(s.api_keys.c.key_hash == hash_key(key), s.api_keys.c.revoked_at.is_(None))
        ).first()
    if row is None or not hmac.compare_digest(row.key_hash, hash_key(key)):
        raise AuthError("the API key is not valid (unknown or revoked); ask an admin for a new one")
    return Principal(row.id, row.name)


def role_on(meta: MetaStore, who: Principal, entity: str) -> str | None:
    if who.open_access:
        return "admin"
    with meta.read() as conn:
        return conn.execute(
            select(s.memberships.c.role).where(s.memberships.c.entity == entity, s.memberships.c.user_id == who.user_id)
        ).scalar()


def require(meta: MetaStore, who: Principal, entity: str, need: str) -> None:
    role = role_on(meta, who, entity)
    if role is None or ROLES[role] < ROLES[need]:
        raise ForbiddenError(f"user {who.name!r} needs the {need!r} role on entity {entity!r} for this")


def default_entity(who: Principal) -> str:
    return who.name
