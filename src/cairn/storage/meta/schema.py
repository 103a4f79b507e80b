"""The metadata schema, one definition for SQLite and PostgreSQL (SQLAlchemy Core)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

SCHEMA_VERSION = 1

metadata = MetaData()
Id = BigInteger().with_variant(Integer, "sqlite")  # SQLite autoincrements INTEGER PRIMARY KEY only

schema_info = Table(
    "schema_info",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

projects = Table(
    "projects",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("entity", String(128), nullable=False),
    Column("name", String(128), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("entity", "name"),
)

artifacts = Table(
    "artifacts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("project_id", Id, ForeignKey("projects.id"), nullable=False),
    Column("name", String(128), nullable=False),
    Column("type", String(128), nullable=False),
    Column("description", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("next_index", Integer, nullable=False, default=0),
    UniqueConstraint("project_id", "name"),
)

versions = Table(
    "versions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("artifact_id", Id, ForeignKey("artifacts.id"), nullable=False),
    Column("idx", Integer, nullable=False),
    Column("digest", String(80), nullable=False),
    Column("manifest_key", String(80), nullable=False),
    Column("file_count", BigInteger, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("description", Text),
    Column("metadata", Text, nullable=False, default="{}"),
    Column("state", String(16), nullable=False),
    Column("ttl_seconds", BigInteger),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("run_id", String(64), ForeignKey("runs.id")),
    UniqueConstraint("artifact_id", "idx"),
    Index("ix_versions_digest", "artifact_id", "digest"),
)

aliases = Table(
    "aliases",
    metadata,
    Column("artifact_id", Id, ForeignKey("artifacts.id"), primary_key=True),
    Column("alias", String(128), primary_key=True),
    Column("version_id", Id, ForeignKey("versions.id"), nullable=False),
)

alias_log = Table(
    "alias_log",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("artifact_id", Id, ForeignKey("artifacts.id"), nullable=False),
    Column("alias", String(128), nullable=False),
    Column("old_version_id", Id),
    Column("new_version_id", Id),
    Column("run_id", String(64)),
    Column("at", DateTime(timezone=True), nullable=False),
)

tags = Table(
    "tags",
    metadata,
    Column("version_id", Id, ForeignKey("versions.id"), primary_key=True),
    Column("tag", String(128), primary_key=True),
)

runs = Table(
    "runs",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("project_id", Id, ForeignKey("projects.id"), nullable=False),
    Column("name", String(256), nullable=False),
    Column("group_name", String(256)),
    Column("job_type", String(256)),
    Column("config", Text, nullable=False, default="{}"),
    Column("state", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
)

usages = Table(
    "usages",
    metadata,
    Column("run_id", String(64), ForeignKey("runs.id"), primary_key=True),
    Column("version_id", Id, ForeignKey("versions.id"), primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False),
)

outputs = Table(
    "outputs",
    metadata,
    Column("run_id", String(64), ForeignKey("runs.id"), primary_key=True),
    Column("version_id", Id, ForeignKey("versions.id"), primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False),
)

outputs_pending = Table(
    "outputs_pending",
    metadata,
    Column("draft_id", Id, ForeignKey("drafts.id"), primary_key=True),
    Column("run_id", String(64), ForeignKey("runs.id"), primary_key=True),
)

chunks = Table(
    "chunks",
    metadata,
    Column("key", String(80), primary_key=True),
    Column("data", LargeBinary, nullable=False),
)

drafts = Table(
    "drafts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("artifact_id", Id, ForeignKey("artifacts.id"), nullable=False),
    Column("distributed_id", String(256), nullable=False),
    Column("state", String(16), nullable=False),  # OPEN | FINISHED
    Column("version_id", Id, ForeignKey("versions.id")),
    Column("finished_by", String(64)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("artifact_id", "distributed_id"),
)

draft_entries = Table(
    "draft_entries",
    metadata,
    Column("draft_id", Id, ForeignKey("drafts.id"), primary_key=True),
    Column("path", Text, primary_key=True),
    Column("digest", String(300), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("ref", Text),
    Column("extra", Text),
    Column("run_id", String(64)),
)

# -- server: users, keys, roles, and which project holds which blob ---------------------

users = Table(
    "users",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("user_id", Id, ForeignKey("users.id"), nullable=False),
    Column("key_hash", String(80), nullable=False, unique=True),  # sha256 of the key; the key itself is never stored
    Column("prefix", String(16), nullable=False),  # first characters, to tell keys apart in listings
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
)

entities = Table(
    "entities",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("kind", String(16), nullable=False),  # user | team
    Column("created_at", DateTime(timezone=True), nullable=False),
)

memberships = Table(
    "memberships",
    metadata,
    Column("entity", String(128), ForeignKey("entities.name"), primary_key=True),
    Column("user_id", Id, ForeignKey("users.id"), primary_key=True),
    Column("role", String(16), nullable=False),  # read | write | admin
)

project_blobs = Table(
    "project_blobs",
    metadata,
    Column("project_id", Id, ForeignKey("projects.id"), primary_key=True),
    Column("digest", String(80), primary_key=True),
)
