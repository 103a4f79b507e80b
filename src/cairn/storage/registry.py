"""Stores by URL scheme: the one place that maps a URL to an adapter.

Adapters are imported only when their scheme is used, a missing driver is reported with
the command that installs it, and an unknown scheme is an error that lists the known
ones — never a silent fallback to local storage.

    blobs:  /path, file:///path            LocalBlobStore
            s3://bucket[/prefix]           S3BlobStore (endpoint, credentials from AWS_* variables)
    meta:   sqlite:///path                 MetaStore on SQLite
            postgresql://user:pw@host/db   MetaStore on PostgreSQL (psycopg 3 through SQLAlchemy)
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from urllib.parse import unquote, urlsplit

from ..core.errors import StoreError
from .base import BlobStore
from .meta.sql import MetaStore

BLOB_SCHEMES = ("file", "s3")
META_SCHEMES = ("sqlite", "postgresql", "postgres", "postgresql+psycopg")


def _scheme(url: str) -> str:
    return url.partition("://")[0].lower() if "://" in url else ""


def _need(module: str, hint: str, url: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise StoreError(f"{_redact(url)} needs the {module!r} package: {hint}")


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return url.replace(f":{parts.password}@", ":***@", 1)


def open_blobs(url: str) -> BlobStore:
    """The blob store for ``url``: a plain path or ``file://`` (local) or ``s3://bucket/prefix``."""
    scheme = _scheme(url)
    if scheme in ("", "file"):
        from .blobs.local import LocalBlobStore

        path = unquote(urlsplit(url).path) if scheme else url
        if not path:
            raise StoreError(f"blob store URL {url!r} has no path; use file:///absolute/path or a plain path")
        return LocalBlobStore(Path(path))
    if scheme == "s3":
        parts = urlsplit(url)
        if not parts.netloc:
            raise StoreError(f"blob store URL {url!r} names no bucket; use s3://bucket or s3://bucket/prefix")
        _need("boto3", "pip install 'cairn[s3]'", url)
        from .blobs.s3 import S3BlobStore

        return S3BlobStore(parts.netloc, unquote(parts.path).strip("/"))
    raise StoreError(
        f"unknown blob store scheme {scheme!r} in {url!r}; known: a plain path, "
        + ", ".join(f"{s}://" for s in BLOB_SCHEMES)
    )


def open_meta(url: str) -> MetaStore:
    """The metadata store for ``url``: ``sqlite:///path`` or ``postgresql://…`` (psycopg 3).

    Opening does no I/O; the schema is checked and migrated on first use."""
    scheme = _scheme(url)
    if scheme == "sqlite":
        return MetaStore(url)
    if scheme in ("postgresql", "postgres", "postgresql+psycopg"):
        _need("psycopg", "pip install 'cairn[server]'", url)
        _need("sqlalchemy", "pip install 'cairn[server]'", url)
        return MetaStore("postgresql+psycopg://" + url.partition("://")[2])
    raise StoreError(
        f"unknown metadata store scheme {scheme or '(none)'!r} in {_redact(url)!r}; known: "
        + ", ".join(f"{s}://" for s in META_SCHEMES)
    )
