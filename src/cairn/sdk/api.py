"""``Api``: the public, run-less view of the registry (W&B's ``wandb.Api``)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import TYPE_CHECKING

from ..client.settings import env
from ..core.errors import ArtifactNotFoundError, NotFoundError, UsageError
from ..core.names import DEFAULT_PROJECT, check_name, parse_ref
from ..core.paging import Page
from ..core.versions import LINKS
from .artifact import Artifact, from_version
from .options import not_acted_on
from .paging import Paginator
from .public_run import PublicRun

if TYPE_CHECKING:
    from ..client import Client
    from ..core.versions import CollectionInfo
    from ..engine.retention import Retention


class ArtifactCollection:
    """All versions of one artifact name in a project."""

    def __init__(self, info: "CollectionInfo", client: "Client") -> None:
        self._info = info
        self._client = client
        self._description = info.description
        self._tags = list(info.tags)

    name = property(lambda self: self._info.name, doc="The artifact name the versions share.")
    type = property(lambda self: self._info.type, doc='The artifact type of the collection ("dataset", "model", …).')
    entity = property(lambda self: self._info.entity, doc="The entity (user or team) the collection belongs to.")
    project = property(lambda self: self._info.project, doc="The project the collection is in.")
    created_at = property(lambda self: self._info.created_at, doc="When the collection's first version was logged.")

    @property
    def description(self) -> str | None:
        """Free text about the collection; set it, then ``save()``."""
        return self._description

    @description.setter
    def description(self, value: str | None) -> None:
        if value is not None and not isinstance(value, str):
            raise UsageError(f"a collection's description must be a string or None, got {type(value).__name__}")
        self._description = value

    @property
    def tags(self) -> list[str]:
        """The collection's own tags (its versions have theirs)."""
        return self._tags

    @tags.setter
    def tags(self, value: list[str]) -> None:
        from ..core.names import check_tag

        if isinstance(value, str):
            raise UsageError("tags must be a list of strings, not one string")
        self._tags = [check_tag(t) for t in value]

    def is_sequence(self) -> bool:
        """True for a collection of logged versions, False for one of links (a registry's)."""
        return self._info.kind != LINKS

    def save(self) -> None:
        """Persist the edited description and tags."""
        self._info = self._client.update_collection(
            self.entity, self.project, self.name, description=self._description, tags=list(self._tags)
        )
        self._description, self._tags = self._info.description, list(self._info.tags)

    def artifacts(self, per_page: int = 50) -> Paginator[Artifact]:
        """Every version of the collection, oldest first, read ``per_page`` at a time as it is
        iterated (``versions`` is the same call)."""
        return _versions(self._client, self.entity, self.project, self.name, None, None, per_page)

    versions = artifacts

    @property
    def aliases(self) -> list[str]:
        """The aliases its versions carry, sorted."""
        return sorted({a for v in self._client.list_versions(self.entity, self.project, self.name) for a in v.aliases})

    def delete(self, delete_aliases: bool = False) -> None:
        """Delete this collection with every version. Refused while a version carries an
        alias other than ``latest``, unless ``delete_aliases``. ``cairn gc`` reclaims the bytes."""
        self._client.delete_collection(self.entity, self.project, self.name, delete_aliases)

    @property
    def retention(self) -> "Retention | None":
        """The retention policy set on this collection (None: the project's applies, if any)."""
        return self._client.get_retention(self.entity, self.project, self.name)

    def set_retention(self, keep_last: int | None = None, max_age: "timedelta | int | None" = None) -> None:
        """Keep the newest ``keep_last`` versions and those younger than ``max_age`` (a
        timedelta or seconds), and every aliased one; ``cairn gc`` deletes the rest. With
        neither given, the policy is removed. It replaces the project's policy here."""
        self._client.set_retention(self.entity, self.project, self.name, retention_policy(keep_last, max_age))

    def __repr__(self) -> str:
        return f"<ArtifactCollection {self.entity}/{self.project}/{self.name} ({self.type})>"


def retention_policy(keep_last: int | None, max_age: "timedelta | int | None") -> "Retention | None":
    """A policy from the SDK's arguments (None for neither: no policy)."""
    from ..engine.retention import Retention

    if isinstance(max_age, timedelta):
        max_age = int(max_age.total_seconds())
    if isinstance(max_age, bool) or (max_age is not None and not isinstance(max_age, int)):
        raise UsageError(f"max_age must be a datetime.timedelta or whole seconds, got {max_age!r}")
    if keep_last is None and max_age is None:
        return None
    return Retention(keep_last, max_age)


class ArtifactType:
    def __init__(self, name: str, entity: str, project: str, client: "Client") -> None:
        self.name = name
        self.entity = entity
        self.project = project
        self._client = client

    def collections(self, per_page: int = 50) -> Paginator[ArtifactCollection]:
        """The collections of this type, by name, read ``per_page`` at a time as iterated."""
        return _collections(self._client, self.entity, self.project, self.name, per_page)

    def collection(self, name: str) -> ArtifactCollection:
        for c in self.collections():
            if c.name == name:
                return c
        raise ArtifactNotFoundError(f"{self.entity}/{self.project}/{name}", f"no {self.name!r} collection of that name")

    def __repr__(self) -> str:
        return f"<ArtifactType {self.name}>"


class Api:
    """Read and manage artifacts and runs outside of a run."""

    def __init__(self, overrides: dict | None = None, timeout: int | None = None, api_key: str | None = None) -> None:
        """``overrides`` may set ``entity``, ``project`` and ``base_url`` (a server, as
        CAIRN_BASE_URL); ``api_key`` is the key for that server (as CAIRN_API_KEY)."""
        from ..client import Settings, get_client

        overrides = dict(overrides or {})
        for key in overrides:
            if key not in ("entity", "project", "base_url"):
                not_acted_on("Api", f"overrides[{key!r}]", "cairn's Api takes entity, project and base_url")
        if timeout is not None:
            not_acted_on(
                "Api", "timeout", "cairn's HTTP client has its own timeouts and one retry policy (CAIRN_HTTP_RETRIES)"
            )
        settings = Settings.from_env()
        if overrides.get("base_url"):
            settings = dataclasses.replace(settings, base_url=str(overrides["base_url"]))
        if api_key is not None:
            if settings.base_url:
                settings = dataclasses.replace(settings, api_key=api_key)
            else:
                not_acted_on("Api", "api_key", "the embedded store has no keys (set CAIRN_BASE_URL to use a server)")
        self._client = get_client(settings)
        self.entity = overrides.get("entity") or self._client.entity
        self.project = overrides.get("project") or env("PROJECT") or DEFAULT_PROJECT
        self.default_entity = self.entity

    def _split(self, path: str | None) -> tuple[str, str, str | None]:
        """entity, project, rest from 'entity/project/rest', 'project/rest' or 'rest'."""
        parts = [p for p in (path or "").split("/") if p]
        if len(parts) >= 3:
            return parts[0], parts[1], "/".join(parts[2:])
        if len(parts) == 2:
            return self.entity, parts[0], parts[1]
        return self.entity, self.project, parts[0] if parts else None

    def artifact(self, name: str, type: str | None = None) -> Artifact:  # noqa: A002
        """``name``, ``name:alias``, ``name:vN``, ``project/name:alias`` or ``entity/project/name:alias``."""
        ref = parse_ref(name)
        info = self._client.resolve(ref, self.entity, self.project)
        if type is not None and info.type != type:
            raise ArtifactNotFoundError(name, f"it has type {info.type!r}, not {type!r}")
        return from_version(info, self._client)

    def artifact_exists(self, name: str, type: str | None = None) -> bool:  # noqa: A002
        """Whether ``artifact(name, type)`` would find a version."""
        try:
            self.artifact(name, type)
            return True
        except NotFoundError:
            return False

    def artifacts(
        self, type_name: str, name: str, per_page: int = 50, tags: list[str] | str | None = None
    ) -> Paginator[Artifact]:
        """Every version of the collection ``name`` (``[entity/][project/]name``), oldest first,
        read ``per_page`` at a time as it is iterated; only those carrying every tag of ``tags``
        when given. ArtifactNotFoundError when its type is not ``type_name``."""
        entity, project, rest = self._split(name)
        if rest is None:
            raise UsageError("Api.artifacts needs an artifact name")
        coll = rest.partition(":")[0]
        tags = [tags] if isinstance(tags, str) else tags
        return _versions(self._client, entity, project, coll, tags, type_name, per_page)

    artifact_versions = artifacts

    def artifact_collections(
        self, project_name: str | None = None, type_name: str | None = None, per_page: int = 50
    ) -> Paginator[ArtifactCollection]:
        """The collections of the project ``[entity/]project`` (default: the settings'), of
        type ``type_name`` when given, by name, read ``per_page`` at a time as iterated."""
        entity, project, _ = self._split(project_name + "/x" if project_name else None)
        return _collections(self._client, entity, project, type_name, per_page)

    def artifact_collection(self, type_name: str, name: str) -> ArtifactCollection:
        """The collection ``[entity/][project/]name`` of type ``type_name``; ArtifactNotFoundError when there is none."""
        entity, project, rest = self._split(name)
        coll = (rest or "").partition(":")[0]
        for c in self._client.list_collections(entity, project, type_name):
            if c.name == coll:
                return ArtifactCollection(c, self._client)
        raise ArtifactNotFoundError(f"{entity}/{project}/{coll}", f"no collection of type {type_name!r}")

    def artifact_collection_exists(self, name: str, type: str) -> bool:  # noqa: A002
        """Whether ``artifact_collection(type, name)`` would find one."""
        try:
            self.artifact_collection(type, name)
            return True
        except NotFoundError:
            return False

    def artifact_types(self, project: str | None = None) -> list[ArtifactType]:
        """The artifact types used in the project ``[entity/]project``, sorted by name."""
        entity, proj, _ = self._split(project + "/x" if project else None)
        names = sorted({c.type for c in self._client.list_collections(entity, proj)})
        return [ArtifactType(n, entity, proj, self._client) for n in names]

    def artifact_type(self, type_name: str, project: str | None = None) -> ArtifactType:
        """The type ``type_name`` of the project; ArtifactNotFoundError when no artifact has it."""
        for t in self.artifact_types(project):
            if t.name == type_name:
                return t
        raise ArtifactNotFoundError(type_name, "no artifact of that type in the project")

    def run(self, path: str = "") -> PublicRun:
        """``entity/project/run_id``, ``project/run_id`` or ``run_id``."""
        entity, project, run_id = self._split(path)
        if not run_id:
            raise UsageError("Api.run needs a run path: entity/project/run_id")
        return PublicRun(self._client.get_run(run_id, entity, project), self._client)

    def runs(
        self, path: str | None = None, filters: dict | None = None, per_page: int = 50, order: str | None = None
    ) -> Paginator[PublicRun]:
        """The project's runs, oldest first, read ``per_page`` at a time as iterated;
        ``filters`` on group, job_type, state or name (a value, or None for none); ``order``
        as W&B's: ``"+created_at"`` / ``"-created_at"``, or ``"±name"`` / ``"±state"``."""
        entity, project, _ = self._split((path + "/x") if path else None)
        check_name(project, "project name")
        client = self._client

        def fetch(after: str | None, n: int) -> Page[PublicRun]:
            page = client.runs_page(entity, project, filters, order, after, n)
            return Page([PublicRun(r, client) for r in page.items], page.next)

        return Paginator(fetch, per_page)

    def projects(self, entity: str | None = None) -> list[str]:
        """The names of the entity's projects (default: the settings' entity)."""
        return [p for _, p in self._client.list_projects(entity or self.entity)]

    def _project_path(self, path: str | None) -> tuple[str, str]:
        parts = [p for p in (path or "").split("/") if p]
        if len(parts) > 2:
            raise UsageError(f"{path!r} is not a project; write 'project' or 'entity/project'")
        if len(parts) == 2:
            return parts[0], parts[1]
        return self.entity, parts[0] if parts else self.project

    def delete_project(self, path: str, delete_aliases: bool = False) -> None:
        """Delete a project ('project' or 'entity/project') with its collections, versions
        and runs. Refused while a version carries an alias other than ``latest``, unless
        ``delete_aliases``. ``cairn gc`` reclaims the bytes."""
        entity, project = self._project_path(path)
        self._client.delete_project(entity, project, delete_aliases)

    def retention(self, path: str | None = None) -> "Retention | None":
        """The retention policy of a project ('project' or 'entity/project'; default: this Api's)."""
        entity, project = self._project_path(path)
        return self._client.get_retention(entity, project, None)

    def set_retention(
        self, path: str | None = None, keep_last: int | None = None, max_age: "timedelta | int | None" = None
    ) -> None:
        """Set a project's retention policy (every collection without one of its own): keep
        the newest ``keep_last`` versions and those younger than ``max_age``, and every
        aliased one; ``cairn gc`` deletes the rest. With neither given, it is removed."""
        entity, project = self._project_path(path)
        self._client.set_retention(entity, project, None, retention_policy(keep_last, max_age))


def _versions(
    client: "Client",
    entity: str,
    project: str,
    name: str,
    tags: list[str] | None,
    type_name: str | None,
    per_page: int,
) -> Paginator[Artifact]:
    def fetch(after: str | None, n: int) -> Page[Artifact]:
        page = client.versions_page(entity, project, name, tags, after, n)
        wrong = next((v for v in page.items if type_name is not None and v.type != type_name), None)
        if wrong is not None:
            raise ArtifactNotFoundError(f"{entity}/{project}/{name}", f"it has type {wrong.type!r}, not {type_name!r}")
        return Page([from_version(v, client) for v in page.items], page.next)

    return Paginator(fetch, per_page)


def _collections(
    client: "Client", entity: str, project: str, type_name: str | None, per_page: int
) -> Paginator[ArtifactCollection]:
    def fetch(after: str | None, n: int) -> Page[ArtifactCollection]:
        page = client.collections_page(entity, project, type_name, after, n)
        return Page([ArtifactCollection(c, client) for c in page.items], page.next)

    return Paginator(fetch, per_page)
