"""The web UI's archive download: a version, or one folder of it, as one streamed tar.

Role-checked exactly as the version's page and raw files are (``ui._readable_version``):
a caller without the read role gets the same 404 as for a missing project.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response, StreamingResponse

from ..core.errors import NotFoundError
from . import archive, browse
from .api import attachment
from .ui import _cache, _names, _not_api, _readable_version

router = APIRouter(include_in_schema=False, dependencies=[Depends(_not_api), Depends(_names)])


def archive_name(name: str, version: str, folder: str) -> str:
    """``images-v3`` or ``images-v3-train-cats`` for the folder ``train/cats/``."""
    tail = folder.strip("/").replace("/", "-")
    return f"{name}-{version}" + (f"-{tail}" if tail else "")


@router.get("/{entity}/{project}/{name}/{alias}/archive")
def version_archive(entity: str, project: str, name: str, alias: str, request: Request) -> Response:
    """Every stored file of the version (or of the folder ``?path=sub/``) as an uncompressed tar,
    streamed from the store as it is sent. Paths inside start with ``<name>-<version>/``."""
    c, _, v = _readable_version(request, entity, project, name, alias)
    manifest = c.engine.manifest(v.manifest_key)
    folder = request.query_params.get("path", "").lstrip("/")
    if folder and not folder.endswith("/"):
        folder += "/"
    if folder and not browse.Tree(manifest, _cache(request)).is_folder(folder):
        raise NotFoundError(f"{v.qualified_name} has no folder {folder!r}")
    root = archive_name(v.name, v.version, folder)
    stream = archive.tar_stream(manifest.prefix(folder), folder, root, c.blobs.open,
                                mtime=v.created_at.timestamp() if v.created_at else None)
    headers = {"Content-Disposition": attachment(root + ".tar"), "X-Content-Type-Options": "nosniff",
               "Cache-Control": "private, no-store"}
    return StreamingResponse(stream, media_type="application/x-tar", headers=headers)
