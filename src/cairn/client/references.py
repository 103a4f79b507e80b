"""Reference entries: files that stay where they are (``file://``, ``s3://``, ``http(s)://``;
any other scheme is tracked only, as in W&B: its URI is recorded, nothing is read).

The manifest records the URI and a checksum: BLAKE3 of the bytes for local files, the
provider's ETag (or version id) for S3 and HTTP, or the URI itself when ``checksum=False``.
"""

from __future__ import annotations

import io
import logging
import os
import posixpath
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple
from urllib.parse import quote, unquote, urlparse

from ..core.errors import IntegrityError, NotFoundError, UsageError
from ..core.manifest import Entry
from ..core.names import join_name, normalize_path
from ..storage.base import BlobReader
from .hashing import hash_file

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client  # boto3-stubs[s3], in the test extra

log = logging.getLogger("cairn.references")

DEFAULT_MAX_OBJECTS = 10_000
SCHEMES = ("file", "s3", "http", "https")


def _too_many(uri: str, max_objects: int) -> UsageError:
    return UsageError(
        f"reference {uri!r} lists more than max_objects={max_objects} objects; pass a larger "
        "max_objects (nothing was added: cairn never truncates a listing silently)"
    )


def entries_for(uri: str, name: str | None, checksum: bool, max_objects: int | None) -> list[Entry]:
    scheme = urlparse(uri).scheme
    limit = DEFAULT_MAX_OBJECTS if max_objects is None else int(max_objects)
    if scheme == "file":
        return _file_entries(uri, name, checksum, limit)
    if scheme == "s3":
        return _s3_entries(uri, name, checksum, limit)
    if scheme in ("http", "https"):
        return [_http_entry(uri, name, checksum)]
    return [_tracked_entry(uri, name)]


def _tracked_entry(uri: str, name: str | None) -> Entry:
    """A reference of a scheme cairn cannot read (``nfs:``, a bare ``/mnt/...`` path, ...): tracked
    only, as W&B does: its URI is its checksum, and it has no bytes to download."""
    if name is None:
        raise UsageError(
            f"reference {uri!r} has the scheme {urlparse(uri).scheme!r}, which cairn cannot read "
            f'({", ".join(SCHEMES)} are read); it can be tracked only, under a name: pass name="<entry name>"'
        )
    log.warning("artifact reference %s has a scheme that cannot be checksummed; it is tracked only", uri)
    return Entry(normalize_path(name), f"uri:{uri}", 0, uri)


def _file_entries(uri: str, name: str | None, checksum: bool, limit: int) -> list[Entry]:
    path = Path(unquote(urlparse(uri).path))
    if not path.exists():
        raise FileNotFoundError(f"reference {uri!r}: {path} does not exist")
    if path.is_file():
        files = [(path, name or path.name)]
    else:
        files = []
        for dirpath, dirnames, filenames in os.walk(path):
            dirnames.sort()
            for f in sorted(filenames):
                full = Path(dirpath) / f
                files.append((full, join_name(name, full.relative_to(path).as_posix())))
                if len(files) > limit:
                    raise _too_many(uri, limit)
    out = []
    for full, entry_name in files:
        size = full.stat().st_size
        ref = "file://" + quote(str(full.resolve()))
        digest = hash_file(full) if checksum else f"uri:{ref}"
        out.append(Entry(normalize_path(entry_name), digest, size, ref))
    return out


class _S3Object(NamedTuple):
    """An object a reference names: one ``head_object`` or a ``list_objects_v2`` row."""

    key: str
    etag: str
    size: int
    version_id: str | None


def _s3_client() -> S3Client:
    try:
        import boto3
    except ImportError:
        raise UsageError("s3:// references need boto3: pip install 'cairn[s3]'") from None
    from botocore.config import Config

    return boto3.client("s3", config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 5}))


def _s3_entries(uri: str, name: str | None, checksum: bool, limit: int) -> list[Entry]:
    from botocore.exceptions import ClientError

    u = urlparse(uri)
    bucket, key = u.netloc, u.path.lstrip("/")
    s3 = _s3_client()
    objects: list[_S3Object] = []
    try:
        head = s3.head_object(Bucket=bucket, Key=key) if key and not key.endswith("/") else None
    except ClientError as e:
        if e.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
            raise
        head = None
    if head is not None:
        objects = [_S3Object(key, head["ETag"], head["ContentLength"], head.get("VersionId"))]
        base = posixpath.dirname(key)
        default_names = {key: name or posixpath.basename(key)}
    else:
        prefix = key if (not key or key.endswith("/")) else key + "/"
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for page in pages:
            for obj in page.get("Contents", []):
                if obj["Key"].endswith("/"):
                    continue
                objects.append(_S3Object(obj["Key"], obj["ETag"], obj["Size"], None))
                if len(objects) > limit:
                    raise _too_many(uri, limit)
        if not objects:
            raise FileNotFoundError(f"reference {uri!r}: no object or prefix s3://{bucket}/{key} exists")
        base = prefix.rstrip("/")
        default_names = {o.key: join_name(name, o.key[len(prefix) :]) for o in objects}
    del base
    out = []
    for o in objects:
        ref = f"s3://{bucket}/{o.key}"
        etag = o.etag.strip('"')
        extra = {"etag": etag}
        if o.version_id and o.version_id != "null":
            extra["versionID"] = o.version_id
        digest = (
            (f"version:{extra['versionID']}" if "versionID" in extra else f"etag:{etag}") if checksum else f"uri:{ref}"
        )
        out.append(Entry(normalize_path(default_names[o.key]), digest, int(o.size), ref, extra if checksum else {}))
    return out


def _http_entry(uri: str, name: str | None, checksum: bool) -> Entry:
    import urllib3

    try:
        r = urllib3.request("HEAD", uri, redirect=True, timeout=30.0)
    except urllib3.exceptions.HTTPError as e:
        raise NotFoundError(f"reference {uri!r} cannot be reached: {e}") from None
    if r.status >= 400:
        raise NotFoundError(f"reference {uri!r} answered HTTP {r.status}")
    etag = r.headers.get("etag")
    size = int(r.headers.get("content-length") or 0)
    entry_name = name or posixpath.basename(urlparse(uri).path) or urlparse(uri).netloc
    if checksum and etag:
        return Entry(normalize_path(entry_name), f"etag:{etag.strip(chr(34))}", size, uri, {"etag": etag})
    return Entry(normalize_path(entry_name), f"uri:{uri}", size, uri)


def open_reference(e: Entry) -> BlobReader:
    """A reader of the referenced bytes; refuses a reference whose checksum no longer matches."""
    assert e.ref is not None
    u = urlparse(e.ref)
    if u.scheme == "file":
        return open(unquote(u.path), "rb")
    if u.scheme == "s3":
        from botocore.exceptions import ClientError

        kw: dict = {"Bucket": u.netloc, "Key": u.path.lstrip("/")}
        if e.digest.startswith("version:"):
            kw["VersionId"] = e.digest.partition(":")[2]
        elif e.digest.startswith("etag:"):
            kw["IfMatch"] = '"' + e.digest.partition(":")[2] + '"'
        try:
            # botocore-stubs type StreamingBody.readinto's argument as IO[bytes]; botocore hands
            # it to urllib3's readinto, which takes a writable buffer as BlobReader's does
            return _s3_client().get_object(**kw)["Body"]  # type: ignore[return-value]
        except ClientError as err:
            code = err.response.get("Error", {}).get("Code")
            if code in ("PreconditionFailed", "412"):
                raise IntegrityError(
                    f"reference {e.ref} changed since it was logged (ETag no longer {e.digest})", path=e.path
                ) from None
            raise
    if u.scheme in ("http", "https"):
        import urllib3

        try:
            r = urllib3.request("GET", e.ref, redirect=True, timeout=60.0)
        except urllib3.exceptions.HTTPError as err:
            raise NotFoundError(f"reference {e.ref!r} cannot be reached: {err}") from None
        if r.status >= 400:
            raise NotFoundError(f"reference {e.ref!r} answered HTTP {r.status}")
        if e.digest.startswith("etag:") and (r.headers.get("etag") or "").strip('"') != e.digest.partition(":")[2]:
            raise IntegrityError(f"reference {e.ref} changed since it was logged (ETag differs)", path=e.path)
        return io.BytesIO(r.data)
    raise UsageError(f"reference {e.ref!r} has an unsupported scheme; known schemes: {', '.join(SCHEMES)}")
