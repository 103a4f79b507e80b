"""``Artifact``: the wandb-compatible handle on one version, new, draft or committed."""

from __future__ import annotations

import contextlib
import copy
import json
import math
import os
import shutil
import tempfile
import weakref
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from ..core.digest import is_content_digest
from ..client.settings import env
from ..core import manifest as mf
from ..core.errors import (
    ArtifactNotFoundError,
    ArtifactNotLoggedError,
    IntegrityError,
    UsageError,
)
from ..core.limits import check_text, check_ttl
from ..core.names import (
    DEFAULT_PROJECT,
    check_alias,
    check_name,
    check_not_reserved,
    check_tag,
    check_type,
    join_names,
    normalize_path,
)
from ..core.versions import DELETED, CommitRequest, VersionInfo, check_metadata
from . import current
from .entry import ArtifactManifest, ArtifactManifestEntry
from .files import ArtifactFile, ArtifactFiles
from .links import LinkMembers
from .options import not_acted_on
from .states import Committed, Draft, New, State, Upserted
from .terminal import sdk_progress

if TYPE_CHECKING:
    from ..client import Client
    from .public_run import PublicRun


def _client() -> "Client":
    """The active run's client when that run is disabled (so its artifacts store nothing),
    else the one of the current settings."""
    from ..client import get_client

    run = current.active()
    if run is not None and run.disabled:
        return run.client
    return get_client()


class Artifact(LinkMembers):
    """A versioned set of files. New ones collect files, then ``run.log_artifact`` or ``save``
    commits them; committed ones are read-only (``new_draft`` makes an editable copy)."""

    def __init__(
        self,
        name: str,
        type: str,  # noqa: A002 - the W&B signature
        description: str | None = None,
        metadata: dict[str, Any] | None = None,
        incremental: bool = False,
        use_as: str | None = None,
    ) -> None:
        if ":" in str(name) or "/" in str(name):
            raise UsageError(
                f"artifact name {name!r} may not contain ':' or '/'; aliases are given at log time "
                "and the project comes from the run"
            )
        self._name = check_name(name)
        self._type = check_type(type)
        check_not_reserved(self._type, self._name)
        self._incremental = bool(incremental)
        if use_as is not None:
            not_acted_on("Artifact", "use_as", "W&B deprecated it; cairn records inputs as they are")
        self._description = check_text(description, "description", optional=True)
        self._metadata = check_metadata(metadata)
        self._ttl: timedelta | None = None
        self._aliases: list[str] = []
        self._tags: list[str] = []
        self._state: State = New()
        self._client_obj: Client | None = None

    # -- alternate constructors and state changes ------------------------------
    @classmethod
    def _from_version(cls, info: VersionInfo, client: "Client") -> "Artifact":
        """The artifact of a stored version (a type reserved since is still readable)."""
        a = cls.__new__(cls)
        a._name, a._type, a._incremental = info.name, info.type, False
        a._state, a._client_obj = Committed(info, client), client
        a._take_attributes(info)
        return a

    @classmethod
    def _draft_of(cls, base: VersionInfo, client: "Client", source: "Artifact") -> "Artifact":
        """A new version of ``base``'s collection starting with its files, with the editable
        attributes of ``source`` (a link's draft is one of its source collection)."""
        check_not_reserved(source._type, base.name)
        a = cls.__new__(cls)
        a._name, a._type, a._incremental = base.name, source._type, False
        a._description, a._metadata = source._description, copy.deepcopy(source._metadata)
        a._ttl, a._aliases, a._tags = source._ttl, [], list(source._tags)
        a._state, a._client_obj = Draft(base, client), client
        return a

    def _committed_as(self, info: VersionInfo, client: "Client") -> None:
        """This artifact is now the stored version ``info`` (logged, finished, saved, or
        read again); the editable attributes are the store's."""
        self._state.close()
        self._state, self._client_obj = Committed(info, client), client
        self._take_attributes(info)

    def _take_attributes(self, info: VersionInfo) -> None:
        """The editable attributes as the store holds them for ``info``."""
        self._description = info.description
        self._metadata = copy.deepcopy(info.metadata)
        self._aliases = list(info.aliases)
        self._tags = list(info.tags)
        self._ttl = timedelta(seconds=info.ttl_seconds) if info.ttl_seconds else None

    def _upserted_to(self, distributed_id: str, entity: str, project: str, client: "Client") -> None:
        """This new artifact (or draft) was contributed to ``distributed_id``: it changes no
        more. Upserted again, it contributes the same files again."""
        self._state, self._client_obj = Upserted(self._state, distributed_id, entity, project), client

    @property
    def _version(self) -> VersionInfo | None:
        """The stored version (None before it is committed)."""
        return self._state.version

    @property
    def _client(self) -> "Client":
        if self._client_obj is None:
            self._client_obj = _client()
        return self._client_obj

    # -- identity -----------------------------------------------------------
    @property
    def id(self) -> str | None:
        """The version's id in the store; None before it is logged."""
        return str(self._version.id) if self._version else None

    @property
    def entity(self) -> str:
        """The entity (user or team) the artifact belongs to (the run's, or the default one, before it is logged)."""
        return self._state.entity or self._client.entity

    @property
    def project(self) -> str:
        """The project the artifact belongs to."""
        return self._state.project or DEFAULT_PROJECT

    @property
    def name(self) -> str:
        """``name:vN`` once committed, the bare name before (as in W&B)."""
        return f"{self._name}:{self._version.version}" if self._version else self._name

    @property
    def collection_name(self) -> str:
        """The artifact name without the version (``name`` of its collection)."""
        return self._name

    @property
    def version(self) -> str:
        """``vN`` (in the collection it was fetched from: a link's own number)."""
        return self._logged("version").version

    @property
    def qualified_name(self) -> str:
        """``entity/project/name`` (with ``:vN`` once logged)."""
        return f"{self.entity}/{self.project}/{self.name}"

    @property
    def type(self) -> str:
        """The artifact type ("dataset", "model", …)."""
        return self._type

    @property
    def state(self) -> str:
        """ "PENDING" before it is logged, then the version's state ("COMMITTED", "DELETED")."""
        return self._state.state

    def is_draft(self) -> bool:
        """Whether the artifact is not logged yet (new, or a draft of a logged version)."""
        return self._version is None

    @property
    def created_at(self) -> datetime:
        """When the version was logged."""
        return self._logged("created_at").created_at

    @property
    def updated_at(self) -> datetime:
        """When the version's aliases, tags, description, metadata or ttl last changed."""
        return self._logged("updated_at").updated_at

    @property
    def distributed_id(self) -> str | None:
        """The distributed version this artifact was upserted to, or None."""
        return self._state.distributed_id

    # -- editable attributes ------------------------------------------------
    @property
    def description(self) -> str | None:
        """Free text about the artifact; set it, then ``save()`` a logged one."""
        return self._description

    @description.setter
    def description(self, value: str | None) -> None:
        self._description = check_text(value, "description", optional=True)

    @property
    def metadata(self) -> dict[str, Any]:
        """A JSON-able dict about the artifact; set it, then ``save()`` a logged one."""
        return self._metadata

    @metadata.setter
    def metadata(self, value: dict[str, Any]) -> None:
        self._metadata = check_metadata(value)

    @property
    def aliases(self) -> list[str]:
        """The version's aliases ("latest", "best", …); set them, then ``save()`` a logged one."""
        return self._aliases

    @aliases.setter
    def aliases(self, value: list[str]) -> None:
        if isinstance(value, str):
            raise UsageError("aliases must be a list of strings, not one string")
        self._aliases = [a if a == "latest" else check_alias(a) for a in value]

    @property
    def tags(self) -> list[str]:
        """The version's tags; set them, then ``save()`` a logged one."""
        return self._tags

    @tags.setter
    def tags(self, value: list[str]) -> None:
        if isinstance(value, str):
            raise UsageError("tags must be a list of strings, not one string")
        self._tags = [check_tag(t) for t in value]

    @property
    def ttl(self) -> timedelta | None:
        """How long the version is kept before it is deleted (None: for ever); ``save()`` a logged one."""
        return self._ttl

    @ttl.setter
    def ttl(self, value: timedelta | None) -> None:
        if value is not None and (not isinstance(value, timedelta) or value.total_seconds() <= 0):
            raise UsageError(f"ttl must be a positive datetime.timedelta or None, got {value!r}")
        if value is not None:
            check_ttl(math.ceil(value.total_seconds()))
        self._ttl = value

    def _ttl_seconds(self) -> int | None:
        return math.ceil(self._ttl.total_seconds()) if self._ttl else None

    # -- content --------------------------------------------------------------
    @property
    def manifest(self) -> ArtifactManifest:
        """The files by path (``manifest.entries`` as in W&B), read from the artifact as used."""
        return ArtifactManifest(lambda: self._state, self._download_entry)

    @property
    def digest(self) -> str:
        """The artifact digest ("blake3:<hex>"): the same files give the same digest, wherever they are logged."""
        return self._state.digest

    @property
    def size(self) -> int:
        """The total size of the files in bytes (references count the size they were recorded with)."""
        return self._state.size

    @property
    def file_count(self) -> int:
        """The number of files (entries) in the artifact."""
        return self._state.file_count

    def _require_editable(self, what: str) -> None:
        self._state.refuse_edit(what, self._name)

    def _require_committed(self, member: str) -> VersionInfo:
        """The version of a logged artifact; ``member`` (W&B's name of the call) is what the
        error names when it is not logged (an ``ArtifactNotLoggedError``, an AttributeError)."""
        v = self._logged(member)
        if v.state == DELETED:
            raise ArtifactNotFoundError(self.qualified_name, "it was deleted")
        return v

    def _logged(self, member: str) -> VersionInfo:
        if self._version is None:
            raise ArtifactNotLoggedError(f"Artifact.{member}", self._name)
        return self._version

    def _put(self, entry: mf.Entry, overwrite: bool, local_path: str | None = None) -> ArtifactManifestEntry:
        # In a draft, adding over a file of the base version replaces it (the page's "modify"
        # example); only files added in this session need overwrite=True to be replaced.
        prev = self._state.added(entry.path)
        if prev is not None and (prev.digest != entry.digest or prev.ref != entry.ref) and not overwrite:
            raise UsageError(
                f"artifact {self._name!r} already has a different file at {entry.path!r}; "
                "pass overwrite=True to replace it, or remove it first"
            )
        self._state.put(entry, local_path)
        return ArtifactManifestEntry(entry, self._download_entry, local_path)

    def add_file(
        self,
        local_path: str | os.PathLike,
        name: str | None = None,
        is_tmp: bool | None = False,
        skip_cache: bool | None = False,
        policy: str | None = "mutable",
        overwrite: bool = False,
    ) -> ArtifactManifestEntry:
        """Add one local file as ``name`` (default: its base name). Its bytes are stored now,
        read once, so later changes to the file do not change this artifact."""
        self._require_editable("add_file to")
        _check_policy(policy)
        path = os.fspath(local_path)
        if not os.path.exists(path):
            raise FileNotFoundError(f"cannot add {path!r} to artifact {self._name!r}: no such file")
        if os.path.isdir(path):
            raise IsADirectoryError(f"cannot add_file {path!r}: it is a directory; use add_dir")
        entry_name = normalize_path(name if name is not None else os.path.basename(path))
        digest, size = self._client.ingest([os.path.abspath(path)])[os.path.abspath(path)]
        if is_tmp:  # W&B: a temporary file is renamed after its content, keeping its extensions
            folder, _, base = entry_name.rpartition("/")
            base = ".".join([digest.partition(":")[2][:20], *base.split(".")[1:]])
            entry_name = f"{folder}/{base}" if folder else base
        return self._put(mf.Entry(entry_name, digest, size), overwrite, os.path.abspath(path))

    def add_dir(
        self,
        local_path: str | os.PathLike,
        name: str | None = None,
        skip_cache: bool | None = False,
        policy: str | None = "mutable",
        merge: bool = False,
    ) -> None:
        """Add every file below a folder, under ``name/`` if given (hashed and stored in parallel)."""
        self._require_editable("add_dir to")
        _check_policy(policy)
        root = os.path.abspath(os.fspath(local_path))
        if not os.path.exists(root):
            raise FileNotFoundError(f"cannot add_dir {os.fspath(local_path)!r}: no such folder")
        if not os.path.isdir(root):
            raise NotADirectoryError(
                f"cannot add_dir {os.fspath(local_path)!r}: not a directory (use add_file for files)"
            )
        with sdk_progress():
            for w in self._client.ingest_dir(root):
                names = join_names(name, w.rels)
                if self._state.put_files(names, w.digests, w.sizes, w.fulls):
                    continue
                for entry_name, full, digest, size in zip(names, w.fulls, w.digests, w.sizes):
                    self._put(mf.Entry(entry_name, digest, size), merge, full)

    @contextlib.contextmanager
    def new_file(self, name: str, mode: str = "x", encoding: str | None = None) -> Iterator[IO]:
        """Write a new file straight into the artifact: ``with a.new_file("x.txt") as f: ...``."""
        self._require_editable("new_file in")
        entry_name = normalize_path(name)
        if self._state.get(entry_name) is not None:
            raise UsageError(f"artifact {self._name!r} already has a file at {entry_name!r}; remove it first")
        if mode not in ("w", "x", "wb", "xb"):
            raise UsageError(f"new_file mode must be one of 'w', 'x', 'wb', 'xb', got {mode!r}")
        # The folder lives as long as this artifact: a server client reads the file again
        # when the version is logged, so it must outlive the ``with`` block.
        tmp = tempfile.mkdtemp(prefix="cairn-new-file-")
        weakref.finalize(self, shutil.rmtree, tmp, True)
        path = os.path.join(tmp, os.path.basename(entry_name))
        with open(path, mode, encoding=None if "b" in mode else encoding or "utf-8") as f:
            yield f
        self.add_file(path, entry_name)
        self._state.forget_local(entry_name)  # the temp file is not the user's

    def add_reference(
        self,
        uri: str | Any,
        name: str | None = None,
        checksum: bool = True,
        max_objects: int | None = None,
    ) -> list[ArtifactManifestEntry]:
        """Track files that stay where they are: ``file://``, ``s3://`` or ``http(s)://`` URIs."""
        from ..client.references import entries_for

        self._require_editable("add_reference to")
        uri = str(uri)
        return [self._put(e, True) for e in entries_for(uri, name, checksum, max_objects)]

    def add(self, obj: Any, name: str, overwrite: bool = False) -> ArtifactManifestEntry:
        """Add a ``Table`` (or pandas DataFrame) as ``<name>.table.json``."""
        from .table import Table, encode

        self._require_editable("add to")
        if not isinstance(obj, Table):
            if type(obj).__name__ == "DataFrame" and hasattr(obj, "itertuples"):
                obj = Table(dataframe=obj)
            else:
                raise TypeError(
                    f"artifact.add takes a cairn.Table or a pandas DataFrame, got {type(obj).__name__}; "
                    "write other objects to a file and use add_file"
                )
        path = name if name.endswith(".table.json") else f"{name}.table.json"
        entry_name = normalize_path(path)
        digest, size = self._client.ingest_bytes(encode(obj))
        return self._put(mf.Entry(entry_name, digest, size), overwrite)

    def __setitem__(self, name: str, obj: Any) -> None:
        self.add(obj, name)

    def __getitem__(self, name: str) -> Any:
        return self.get(name)

    def remove(self, item: str | os.PathLike | ArtifactManifestEntry) -> None:
        """Remove a file, or every file below a folder (``"dir/"`` or ``"dir"``)."""
        self._require_editable("remove files from")
        path = item.path if isinstance(item, ArtifactManifestEntry) else os.fspath(item)
        removed = self._state.remove(normalize_path(path), is_dir=path.endswith("/"))
        if not removed:
            raise FileNotFoundError(f"artifact {self._name!r} has no file or folder {path!r} to remove")

    def get_added_local_path_name(self, local_path: str | os.PathLike) -> str | None:
        """The entry name a local file was added under by this (unlogged) artifact, or None."""
        return self._state.name_of_local(os.path.abspath(os.fspath(local_path)))

    @property
    def incremental(self) -> bool:
        """Whether logging adds these files on top of the latest version (``incremental=True``)."""
        return self._incremental

    def get_entry(self, name: str) -> ArtifactManifestEntry:
        """The manifest entry of the file ``name``; KeyError when there is none."""
        path = normalize_path(name)
        e = self._state.get(path)
        if e is None:
            raise KeyError(f"artifact {self.name!r} has no entry {name!r}")
        return ArtifactManifestEntry(e, self._download_entry, self._state.local_path(path))

    def get_path(self, name: str) -> ArtifactManifestEntry:
        """W&B's older name of ``get_entry``."""
        return self.get_entry(name)

    def get(self, name: str) -> Any:
        """The object stored under ``name`` (a Table for ``name.table.json``), or None."""
        from .table import Table

        for candidate in (f"{name}.table.json", name):
            try:
                path = normalize_path(candidate)
            except UsageError:
                continue
            e = self._state.get(path)
            if e is None:
                continue
            data = self._read_entry(e)
            obj = json.loads(data)
            if isinstance(obj, dict) and obj.get("_type") in ("table", "table-file", "partitioned-table"):
                return Table.from_json(obj)
            return obj
        return None

    def _read_entry(self, e: mf.Entry) -> bytes:
        """The entry's bytes, verified; a stored copy that reads wrong or not at all is
        reported to the store, which sets it aside so the next log of the file heals it."""
        from ..client.transfer import damage_error
        from ..core.digest import Digest
        from ..core.errors import BlobNotFoundError

        try:
            with self._client.open_entry(e, self._version) as f:
                data = f.read()
            if is_content_digest(e.digest) and str(Digest.of_bytes(data)) != e.digest:
                raise IntegrityError(f"artifact file {e.path!r} is corrupt in the store", path=e.path, digest=e.digest)
        except (IntegrityError, BlobNotFoundError) as err:
            if e.ref is not None:
                raise
            found = IntegrityError(f"artifact file {e.path!r}: {err}", path=e.path, digest=e.digest)
            raise damage_error(found, lambda d: self._client.report_damaged(d, self._version)) from err
        return data

    # -- downloads --------------------------------------------------------------
    def _default_root(self, include_version: bool = True) -> Path:
        """``./artifacts/<name>:vN`` (``CAIRN_ARTIFACT_DIR``, else ``WANDB_ARTIFACT_DIR``); named after the source version,
        as W&B's is, so a link downloads where its source does."""
        base = env("ARTIFACT_DIR") or os.path.join(".", "artifacts")
        name = self.source_name
        return Path(base) / (name if include_version else name.split(":")[0])

    def download(
        self,
        root: str | os.PathLike | None = None,
        allow_missing_references: bool = False,
        skip_cache: bool | None = None,
        path_prefix: str | None = None,
        multipart: bool | None = None,
    ) -> str:
        """Download every file (or those under ``path_prefix``) to ``root``; files that already
        match are left alone and every written byte is verified. Returns the root."""
        v = self._require_committed("download")
        target = Path(root) if root is not None else self._default_root()
        manifest = self._client.manifest(v.manifest_key)
        entries = manifest.prefix(path_prefix) if path_prefix else iter(manifest)  # streamed, never held whole
        if allow_missing_references:
            entries = (e for e in entries if e.ref is None or _reachable(self._client, e, v))
        with sdk_progress():
            self._client.download(entries, target, v)
        return str(target)

    def _download_entry(self, entry: mf.Entry, root: str | os.PathLike | None) -> str:
        """Download one file of this artifact to ``root``; its path."""
        from ..client.transfer import safe_dest

        v = self._require_committed("download")
        target = Path(root) if root is not None else self._default_root()
        with sdk_progress():
            self._client.download([entry], target, v)
        return str(safe_dest(target, entry.path))

    def checkout(self, root: str | os.PathLike | None = None) -> str:
        """Make ``root`` (default ``./artifacts/<name>``, without the version, as W&B's) hold
        exactly this artifact's files: download, then delete anything else. The folder and
        the manifest are walked side by side, neither held whole."""
        from ..client.transfer import compare_tree

        self._require_committed("checkout")
        target = Path(root) if root is not None else self._default_root(include_version=False)
        self.download(target)
        for _rel, entry, full in compare_tree(target, self._state.entries()):
            if entry is None and full is not None:
                os.remove(full)
        for dirpath, dirnames, _files in os.walk(target, topdown=False):
            for d in dirnames:
                full = os.path.join(dirpath, d)
                if os.path.isdir(full) and not os.path.islink(full) and not os.listdir(full):
                    os.rmdir(full)
        return str(target)

    def verify(self, root: str | os.PathLike | None = None) -> None:
        """Raise IntegrityError unless ``root`` holds exactly this artifact's files, byte for
        byte: the first difference in path order is raised. The folder and the manifest are
        walked side by side, neither held whole."""
        from ..client.hashing import hash_file
        from ..client.transfer import compare_tree

        self._require_committed("verify")
        target = Path(root) if root is not None else self._default_root()
        for rel, e, full in compare_tree(target, self._state.entries()):
            if e is None:
                raise IntegrityError(f"{full} is not part of {self.qualified_name}", path=rel)
            if full is None:
                raise IntegrityError(f"{rel} of {self.qualified_name} is missing under {target}", path=rel)
            if is_content_digest(e.digest) and hash_file(Path(full)) != e.digest:
                raise IntegrityError(
                    f"{rel} under {target} does not match {self.qualified_name}", path=rel, digest=e.digest
                )

    def file(self, root: str | os.PathLike | None = None) -> str:
        """Download the artifact's only file and return its path."""
        self._require_committed("file")
        count = self._state.file_count
        if count != 1:
            raise UsageError(
                f"artifact.file() needs an artifact with exactly one file; {self.name} has {count}: "
                "use download() instead"
            )
        root = self.download(root)
        return os.path.join(root, next(self._state.entries()).path)

    def files(self, names: list[str] | None = None, per_page: int = 50) -> ArtifactFiles:
        """The artifact's files (those named, when ``names`` is given) in path order, as
        W&B's ``ArtifactFiles``: ``len()``, iteration and indexing, read ``per_page`` at a
        time from the manifest (a version of millions of files is never held whole)."""
        self._require_committed("files")
        state = self._state
        if names is None:
            return ArtifactFiles(state.entries, state.file_count, self._download_entry, per_page)
        found = [e for e in (state.get(p) for p in sorted(set(names))) if e is not None]
        return ArtifactFiles(lambda: iter(found), len(found), self._download_entry, per_page)

    # -- logging and state --------------------------------------------------
    def _commit_request(
        self, entity: str, project: str, run_id: str | None, aliases: list[str] | None, tags: list[str] | None
    ) -> CommitRequest:
        req = CommitRequest(
            entity=entity,
            project=project,
            name=self._name,
            type=self._type,
            description=self._description,
            metadata=self._metadata,
            aliases=[a for a in (aliases if aliases is not None else self._aliases) if a != "latest"],
            tags=list(tags if tags is not None else self._tags),
            ttl_seconds=self._ttl_seconds(),
            run_id=run_id,
        )
        latest = (lambda: self._latest(entity, project)) if self._incremental else None
        self._state.fill(req, latest)
        return req

    def _contribution_request(
        self, entity: str, project: str, run_id: str | None, aliases: list[str] | None
    ) -> CommitRequest:
        """What ``upsert_artifact`` / ``finish_artifact`` send: the whole file set (a draft
        of an existing version contributes all of its files, not edits)."""
        req = self._commit_request(entity, project, run_id, aliases, None)
        if req.entries is None:
            req.entries = list(self._state.entries())
            req.base_version_id, req.base_manifest_key, req.edits = None, None, None
        return req

    def _latest(self, entity: str, project: str) -> VersionInfo | None:
        from ..core.names import ArtifactRef

        try:
            return self._client.resolve(ArtifactRef(self._name, "latest", project, entity), entity, project)
        except ArtifactNotFoundError:
            return None

    def save(self, project: str | None = None, settings: Any = None) -> "Artifact":
        """Commit a new or draft artifact (in the active run, or in a run of its own with
        job_type "auto"); on a committed one, persist edited description, metadata, ttl,
        aliases and tags without making a new version."""
        if settings is not None:
            not_acted_on("Artifact.save", "settings", "cairn takes its settings from CAIRN_* / WANDB_* variables")
        if self._version is not None:
            # "latest" that this object merely carried since it was loaded is not re-asserted:
            # a newer version may have taken it since. Adding it here takes it back on purpose.
            # Dropping "latest" from the list takes it off this version (if it still holds it).
            v = self._version
            carried = "latest" in v.aliases
            aliases = [a for a in self._aliases if not (a == "latest" and carried)]
            dropped = ["latest"] if carried and "latest" not in self._aliases else []
            if v.is_link:  # a link's own are its aliases; the rest is its source's
                self._check_link_unedited(v)
                info = self._client.update_version(v.id, aliases=aliases, remove_aliases=dropped)
            else:
                info = self._client.update_version(
                    v.id,
                    description=self._description,
                    metadata=self._metadata,
                    ttl_seconds=self._ttl_seconds(),
                    aliases=aliases,
                    tags=list(self._tags),
                    remove_aliases=dropped,
                )
            self._committed_as(info, self._client)
            return self
        from . import run as run_mod  # save() outside a run starts one, as in W&B

        active = current.active()
        if active is not None:
            active.log_artifact(self)
            return self
        with run_mod.init(
            project=project or self._state.project, job_type="auto", reinit=True, _make_current=False
        ) as r:
            r.log_artifact(self)
        return self

    def wait(self, timeout: int | None = None) -> "Artifact":
        """Commits are synchronous in cairn (``log_artifact`` shows the upload's progress and
        returns once it is done); ``wait`` checks that this one is logged."""
        self._require_committed("wait")
        return self

    def delete(self, delete_aliases: bool = False) -> None:
        """Delete this version (its files stay while another version holds them); an aliased one needs ``delete_aliases=True``."""
        v = self._require_committed("delete")
        self._client.delete_version(v.id, delete_aliases)
        self._committed_as(self._client.get_version(v.id), self._client)

    def _check_link_unedited(self, v: VersionInfo) -> None:
        edited = [
            what
            for what, now, then in (
                ("description", self._description, v.description),
                ("metadata", self._metadata, v.metadata),
                ("ttl", self._ttl_seconds(), v.ttl_seconds),
                ("tags", sorted(self._tags), sorted(v.tags)),
            )
            if now != then
        ]
        if edited:
            raise UsageError(
                f"{v.qualified_name} is a link to {v.source_qualified_name}: its {', '.join(edited)} "
                "belong to the source; edit them on artifact.source_artifact and save() that"
            )

    def new_draft(self) -> "Artifact":
        """A new, editable artifact that starts with this version's files (nothing is copied).
        A link's draft is one of its source collection, as in W&B."""
        v = self._require_committed("new_draft")
        if v.link_of is not None:  # a link
            v = self._client.get_version(v.link_of)
        return Artifact._draft_of(v, self._client, self)

    def logged_by(self) -> "PublicRun | None":
        """The run that logged this version, or None."""
        from .public_run import PublicRun

        v = self._require_committed("logged_by")
        if v.run_id is None:
            return None
        # a run id is unique within its project: the producer is of the version's (a link's: its source's)
        entity, project = (v.source_entity, v.source_project) if v.is_link else (v.entity, v.project)
        return PublicRun(self._client.get_run(v.run_id, entity, project), self._client)

    def used_by(self) -> list["PublicRun"]:
        """The runs that used this version as an input."""
        from .public_run import PublicRun

        v = self._require_committed("used_by")
        return [PublicRun(r, self._client) for r in self._client.version_users(v.id)]

    def json_encode(self) -> dict:
        """The JSON W&B writes for an artifact in a run's config: id, name, type and digest."""
        self._logged("json_encode")
        return {"id": self.id, "name": self.name, "type": self.type, "digest": self.digest}

    def __repr__(self) -> str:
        return f"<Artifact {self.qualified_name if self._version else self._name} type={self._type} state={self.state}>"


def artifact_from_path(path: str | os.PathLike, name: str, type_: str, description: str | None = None) -> Artifact:
    """A new artifact holding ``path``: a file, a folder, or a file://, s3:// or http(s):// URI."""
    p = os.fspath(path)
    a = Artifact(name, type_, description=description)
    if "://" in p:
        a.add_reference(p)
    elif os.path.isdir(p):
        a.add_dir(p)
    elif os.path.exists(p):
        a.add_file(p)  # a device or pipe gets add_file's own clear error
    else:
        raise FileNotFoundError(f"cannot log {p!r}: it does not exist (no such file or folder)")
    return a


# -- the SDK's own calls on artifacts ---------------------------------------------------------
# Package-internal (sdk/ only, not W&B's surface): how Run, the registry calls, Api and
# PublicRun make, log and read artifacts, so that none of them reaches into an Artifact's fields.


def from_version(info: VersionInfo, client: "Client") -> Artifact:
    """The artifact of the stored version ``info``, read through ``client``."""
    return Artifact._from_version(info, client)


def logged_version(a: Artifact, member: str) -> VersionInfo:
    """The version ``a`` was logged as; ArtifactNotLoggedError naming W&B's ``member`` if it is not."""
    return a._logged(member)


def stored_version(a: Artifact, member: str) -> VersionInfo:
    """``logged_version``, and ArtifactNotFoundError if that version was deleted since."""
    return a._require_committed(member)


def client_of(a: Artifact) -> "Client":
    """The client ``a`` reads and writes through."""
    return a._client


def commit(
    a: Artifact,
    client: "Client",
    entity: str,
    project: str,
    run_id: str | None,
    aliases: list[str] | None,
    tags: list[str] | None,
) -> Artifact:
    """Commit the new or draft ``a`` as an output of run ``run_id`` (``aliases`` and ``tags``
    replace its own when given); ``a`` is then the committed version, which it returns."""
    req = a._commit_request(entity, project, run_id, aliases, tags)
    with sdk_progress():
        info = client.commit(req)
    a._committed_as(info, client)
    return a


def contribute(
    a: Artifact,
    client: "Client",
    distributed_id: str,
    entity: str,
    project: str,
    run_id: str | None,
    aliases: list[str] | None,
    finish: bool,
) -> Artifact:
    """Contribute the whole file set of ``a`` to the distributed version ``distributed_id``:
    an upsert (``a`` then changes no more), or with ``finish`` the commit of every
    contribution as one version (``a`` is then that version)."""
    req = a._contribution_request(entity, project, run_id, aliases)
    with sdk_progress():
        if finish:
            a._committed_as(client.finish_draft(req, distributed_id), client)
        else:
            client.upsert_draft(req, distributed_id)
            a._upserted_to(distributed_id, entity, project, client)
    return a


def _check_policy(policy: str | None) -> None:
    if policy not in (None, "mutable", "immutable"):
        raise UsageError(f"policy must be 'mutable' or 'immutable', got {policy!r}")


def _reachable(client: "Client", e: mf.Entry, version: VersionInfo | None = None) -> bool:
    try:
        client.open_entry(e, version).close()
        return True
    except Exception:  # noqa: BLE001 - allow_missing_references skips anything unreachable
        return False


__all__ = ["Artifact", "ArtifactFile", "ArtifactFiles"]
