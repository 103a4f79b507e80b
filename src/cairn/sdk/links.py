"""What an ``Artifact`` knows of links (W&B's registry): ``link`` / ``unlink``, the source
of a link, the links of a source, and the collections and URL of a version.

A link is a version of its own in a collection of links (its own ``vN``, aliases and
``latest``) that points at a source version: its files, description, metadata and tags are
the source's, and no byte is copied. Through a server, reading a link needs the read role
on its source's entity as well: a link never opens a source to someone who cannot read it.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ..core.errors import UsageError
from ..core.names import DEFAULT_PROJECT, check_name
from . import current

if TYPE_CHECKING:
    from ..client import Client
    from ..core.versions import VersionInfo
    from .api import ArtifactCollection
    from .artifact import Artifact


def parse_target(target_path: str, entity: str, project: str) -> tuple[str, str, str]:
    """(entity, project, collection) of ``collection``, ``project/collection`` or
    ``entity/project/collection``; the missing parts are the defaults given."""
    if not isinstance(target_path, str) or not target_path:
        raise UsageError(
            f"target_path must be 'collection', 'project/collection' or 'entity/project/collection', got {target_path!r}"
        )
    parts = target_path.split("/")
    if len(parts) > 3 or any(not p for p in parts):
        raise UsageError(
            f"target_path {target_path!r} must be 'collection', 'project/collection' or 'entity/project/collection'"
        )
    if ":" in parts[-1]:
        raise UsageError(
            f"target_path {target_path!r} names a collection, not a version: leave out ':{parts[-1].split(':', 1)[1]}' "
            "and pass aliases=[...] instead"
        )
    if len(parts) == 3:
        entity, project, name = parts
    elif len(parts) == 2:
        project, name = parts
    else:
        name = parts[0]
    check_name(name, "collection name")
    check_name(project, "project name")
    check_name(entity, "entity name")
    return entity, project, name


class LinkMembers:
    """The link-related members of ``Artifact`` (mixed in; needs ``_version``, ``_client``,
    ``_logged``, ``_require_committed``, ``_committed_as`` and ``save`` from it)."""

    _name: str

    if TYPE_CHECKING:  # Artifact's (declared here for the type checker only: at run time Artifact's own)

        @property
        def _version(self) -> VersionInfo | None: ...
        @property
        def _client(self) -> Client: ...
        def _logged(self, member: str) -> VersionInfo: ...
        def _require_committed(self, member: str) -> VersionInfo: ...
        def _committed_as(self, info: VersionInfo, client: Client) -> None: ...
        def save(self, project: str | None = None, settings: Any = None) -> Artifact: ...
        @classmethod
        def _from_version(cls, info: VersionInfo, client: Client) -> Artifact: ...

    @property
    def is_link(self) -> bool:
        """True when this version is a link to a version of another collection."""
        return self._version is not None and self._version.is_link

    @property
    def source_name(self) -> str:
        """``name:vN`` of the version that holds the files (this one's, unless a link); the
        bare name before logging."""
        v = self._version
        if v is None:
            return self._name
        return f"{v.source_name}:v{v.source_index}" if v.is_link else f"{v.name}:{v.version}"

    @property
    def source_version(self) -> str:
        """``vN`` of the version that holds the files (this one's, unless a link)."""
        v = self._logged("source_version")
        return f"v{v.source_index}" if v.is_link else v.version

    @property
    def source_entity(self) -> str:
        """The entity of the version that holds the files."""
        return self._logged("source_entity").source_collection[0]

    @property
    def source_project(self) -> str:
        """The project of the version that holds the files."""
        return self._logged("source_project").source_collection[1]

    @property
    def source_qualified_name(self) -> str:
        """``entity/project/name:vN`` of the version that holds the files."""
        return f"{self.source_entity}/{self.source_project}/{self.source_name}"

    @property
    def source_artifact(self) -> "Artifact":
        """The version this one points at (itself, unless a link)."""
        v = self._logged("source_artifact")
        if v.link_of is None:
            return self  # type: ignore[return-value]  # LinkMembers is mixed into Artifact only
        return type(self)._from_version(self._client.get_version(v.link_of), self._client)

    @property
    def linked_artifacts(self) -> list["Artifact"]:
        """The links to this version (empty for a link, as in W&B)."""
        v = self._logged("linked_artifacts")
        if v.is_link:
            return []
        return [type(self)._from_version(x, self._client) for x in self._client.version_links(v.id)]

    @property
    def collection(self) -> "ArtifactCollection":
        """The collection this version was fetched from (a link's is its collection of links)."""
        v = self._logged("collection")
        return _collection(self._client, v.entity, v.project, v.name)

    @property
    def source_collection(self) -> "ArtifactCollection":
        """The collection of the version that holds the files (this one's, unless a link)."""
        return _collection(self._client, *self._logged("source_collection").source_collection)

    @property
    def url(self) -> str:
        """The version's page in the web UI of the server in use; "" on the embedded store
        (as W&B's is without an app URL)."""
        v = self._logged("url")
        base = getattr(self._client, "base_url", None)
        if not base:
            return ""
        return base + "/" + "/".join(quote(p, safe="") for p in (v.entity, v.project, v.name, v.version))

    def link(self, target_path: str, aliases: list[str] | None = None) -> "Artifact":
        """Link this version into the collection ``target_path`` (``collection``,
        ``project/collection`` or ``entity/project/collection``; created if new) and return
        the link. An artifact not logged yet is logged first. The link gets the next ``vN``
        of that collection, ``latest`` and ``aliases``; no file is copied."""
        if isinstance(aliases, str):
            raise UsageError("aliases must be a list of strings, not one string")
        if self._version is None:
            self.save()
        v = self._require_committed("link")
        active = current.active()
        project = active.project if active is not None else os.environ.get("CAIRN_PROJECT") or DEFAULT_PROJECT
        entity = active.entity if active is not None else v.source_collection[0]
        t_entity, t_project, t_name = parse_target(target_path, entity, project)
        info = self._client.link_version(
            v.id, t_entity, t_project, t_name, list(aliases or []), active.id if active is not None else None
        )
        return type(self)._from_version(info, self._client)

    def unlink(self) -> None:
        """Remove this link from its collection; the source version is untouched. A
        ValueError when this version is not a link."""
        v = self._require_committed("unlink")
        if not v.is_link:
            raise UsageError(
                f"artifact {v.qualified_name!r} is not a link and cannot be unlinked; use delete() to delete it"
            )
        self._client.unlink_version(v.id)
        self._committed_as(self._client.get_version(v.id), self._client)


def _collection(client: "Client", entity: str, project: str, name: str) -> "ArtifactCollection":
    from ..core.errors import ArtifactNotFoundError
    from .api import ArtifactCollection

    for c in client.list_collections(entity, project):
        if c.name == name:
            return ArtifactCollection(c, client)
    raise ArtifactNotFoundError(f"{entity}/{project}/{name}", "the collection is gone")
