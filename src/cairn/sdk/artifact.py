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

from ..client.settings import env
from ..core import manifest as mf
from ..core.errors import (
    ArtifactFinalizedError,
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
from ..core.versions import (
    DELETED,
    PENDING,
    CommitRequest,
    Edits,
    VersionInfo,
    check_metadata,
)
from .entry import ArtifactManifest, ArtifactManifestEntry
from .links import LinkMembers
from .options import not_acted_on
from .staged import StagedEntries
from .table import Table, encode
from .terminal import sdk_progress

if TYPE_CHECKING:
    from ..client import Client
    from .api import PublicRun


def _client() -> "Client":
    """The active run's client when that run is disabled (so its artifacts store nothing),
    else the one of the current settings."""
    from ..client import get_client
    from .run import current

    run = current()
    if run is not None and run.disabled:
        return run._client
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
        self._entries = StagedEntries()  # new artifacts: every entry, with its local file
        self._local_paths: dict[str, str] = {}  # drafts: the local file of each added entry
        self._base: VersionInfo | None = None  # drafts: the version they start from
        self._edits: Edits | None = None
        self._version: VersionInfo | None = None  # committed
        self._entity: str | None = None
        self._project: str | None = None
        self._distributed_id: str | None = None
        self._client_obj: Client | None = None
        self._manifest_cache: dict[str, mf.Entry] | None = None

    # -- construction from the store ---------------------------------------
    @classmethod
    def _from_version(cls, info: VersionInfo, client: "Client") -> "Artifact":
        a = cls.__new__(cls)
        a.__init__(info.name, "stored", info.description, info.metadata)
        a._type = info.type  # what the store holds (a type reserved since is still readable)
        a._client_obj = client
        a._set_version(info)
        return a

    def _set_version(self, info: VersionInfo) -> None:
        self._version = info
        self._entity, self._project = info.entity, info.project
        self._description = info.description
        self._metadata = copy.deepcopy(info.metadata)
        self._aliases = [a for a in info.aliases]
        self._tags = list(info.tags)
        self._ttl = timedelta(seconds=info.ttl_seconds) if info.ttl_seconds else None
        self._base = None
        self._edits = None
        self._entries.close()
        self._entries = StagedEntries()
        self._manifest_cache = None

    @property
    def _client(self) -> "Client":
        if self._client_obj is None:
            self._client_obj = _client()
        return self._client_obj

    # -- identity -----------------------------------------------------------
    @property
    def id(self) -> str | None:
        return str(self._version.id) if self._version else None

    @property
    def entity(self) -> str:
        return self._entity or self._client.entity

    @property
    def project(self) -> str:
        return self._project or DEFAULT_PROJECT

    @property
    def name(self) -> str:
        """``name:vN`` once committed, the bare name before (as in W&B)."""
        return f"{self._name}:{self._version.version}" if self._version else self._name

    @property
    def collection_name(self) -> str:
        return self._name

    @property
    def version(self) -> str:
        """``vN`` (in the collection it was fetched from: a link's own number)."""
        return self._logged("version").version

    @property
    def qualified_name(self) -> str:
        return f"{self.entity}/{self.project}/{self.name}"

    @property
    def type(self) -> str:
        return self._type

    @property
    def state(self) -> str:
        if self._version is None:
            return PENDING
        return self._version.state

    def is_draft(self) -> bool:
        return self._version is None

    @property
    def created_at(self) -> datetime:
        return self._logged("created_at").created_at

    @property
    def updated_at(self) -> datetime:
        return self._logged("updated_at").updated_at

    @property
    def distributed_id(self) -> str | None:
        return self._distributed_id

    # -- editable attributes ------------------------------------------------
    @property
    def description(self) -> str | None:
        return self._description

    @description.setter
    def description(self, value: str | None) -> None:
        self._description = check_text(value, "description", optional=True)

    @property
    def metadata(self) -> dict[str, Any]:
        return self._metadata

    @metadata.setter
    def metadata(self, value: dict[str, Any]) -> None:
        self._metadata = check_metadata(value)

    @property
    def aliases(self) -> list[str]:
        return self._aliases

    @aliases.setter
    def aliases(self, value: list[str]) -> None:
        if isinstance(value, str):
            raise UsageError("aliases must be a list of strings, not one string")
        self._aliases = [a if a == "latest" else check_alias(a) for a in value]

    @property
    def tags(self) -> list[str]:
        return self._tags

    @tags.setter
    def tags(self, value: list[str]) -> None:
        if isinstance(value, str):
            raise UsageError("tags must be a list of strings, not one string")
        self._tags = [check_tag(t) for t in value]

    @property
    def ttl(self) -> timedelta | None:
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
    def _all_entries(self) -> dict[str, mf.Entry]:
        """Every entry of the artifact as it stands (committed, draft or new)."""
        if self._version is not None:
            if self._manifest_cache is None:
                self._manifest_cache = {e.path: e for e in self._client.manifest(self._version.manifest_key)}
            return self._manifest_cache
        if self._base is not None:
            out = {e.path: e for e in self._client.manifest(self._base.manifest_key)}
            edits = self._edits or Edits()
            for p in edits.removes:
                out.pop(p, None)
            for prefix in edits.remove_prefixes:
                for p in [p for p in out if p.startswith(prefix)]:
                    out.pop(p)
            out.update(edits.upserts)
            return dict(sorted(out.items()))
        return {e.path: e for e in self._entries.sorted()}

    def _local_path(self, path: str) -> str | None:
        return self._local_paths.get(path) if self._base is not None else self._entries.local_path(path)

    @property
    def manifest(self) -> ArtifactManifest:
        return ArtifactManifest(
            {p: ArtifactManifestEntry(e, self, self._local_path(p)) for p, e in self._all_entries().items()}
        )

    @property
    def digest(self) -> str:
        if self._version is not None:
            return self._version.digest
        return mf.build(list(self._all_entries().values()), lambda k, d: None).digest

    @property
    def size(self) -> int:
        if self._version is not None:
            return self._version.size
        return sum(e.size for e in self._all_entries().values())

    @property
    def file_count(self) -> int:
        if self._version is not None:
            return self._version.file_count
        return len(self._all_entries())

    def _require_editable(self, what: str) -> None:
        if self._version is not None:
            raise ArtifactFinalizedError(
                what, self.qualified_name,
                "it is logged and can no longer change; call new_draft() to make a new version from it",
            )
        if self._distributed_id is not None:
            raise ArtifactFinalizedError(
                what, self._name,
                f"it was already upserted to distributed_id {self._distributed_id!r}; make a new Artifact "
                "object for further contributions",
            )

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

    def _current(self, path: str) -> mf.Entry | None:
        if self._base is not None:
            edits = self._edits
            assert edits is not None
            if path in edits.upserts:
                return edits.upserts[path]
            if path in edits.removes or any(path.startswith(p) for p in edits.remove_prefixes):
                return None
            return self._client.manifest(self._base.manifest_key).get(path)
        return self._entries.get(path)

    def _put(self, entry: mf.Entry, overwrite: bool, local_path: str | None = None) -> ArtifactManifestEntry:
        # In a draft, adding over a file of the base version replaces it (the page's "modify"
        # example); only files added in this session need overwrite=True to be replaced.
        prev = self._edits.upserts.get(entry.path) if self._base is not None else self._entries.get(entry.path)
        if prev is not None and (prev.digest != entry.digest or prev.ref != entry.ref) and not overwrite:
            raise UsageError(
                f"artifact {self._name!r} already has a different file at {entry.path!r}; "
                "pass overwrite=True to replace it, or remove it first"
            )
        if self._base is not None:
            assert self._edits is not None
            self._edits.upserts[entry.path] = entry
            self._edits.removes.discard(entry.path)
            if local_path:
                self._local_paths[entry.path] = local_path
        else:
            self._entries.put(entry, local_path or None)
        return ArtifactManifestEntry(entry, self, local_path)

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
            raise NotADirectoryError(f"cannot add_dir {os.fspath(local_path)!r}: not a directory (use add_file for files)")
        with sdk_progress():
            for w in self._client.ingest_dir(root):
                names = join_names(name, w.rels)
                if self._base is None and not self._entries.any_of(names):
                    # A folder into paths the artifact does not hold yet (the common case): one
                    # bulk update instead of 50,000 conflict checks (~0.1 s for "small").
                    self._entries.put_files(names, w.digests, w.sizes, w.fulls)
                    continue
                for entry_name, full, digest, size in zip(names, w.fulls, w.digests, w.sizes):
                    self._put(mf.Entry(entry_name, digest, size), merge, full)

    @contextlib.contextmanager
    def new_file(self, name: str, mode: str = "x", encoding: str | None = None) -> Iterator[IO]:
        """Write a new file straight into the artifact: ``with a.new_file("x.txt") as f: ...``."""
        self._require_editable("new_file in")
        entry_name = normalize_path(name)
        if self._current(entry_name) is not None:
            raise UsageError(f"artifact {self._name!r} already has a file at {entry_name!r}; remove it first")
        if mode not in ("w", "x", "wb", "xb"):
            raise UsageError(f"new_file mode must be one of 'w', 'x', 'wb', 'xb', got {mode!r}")
        # The folder lives as long as this artifact: a server client reads the file again
        # when the version is logged, so it must outlive the ``with`` block.
        tmp = tempfile.mkdtemp(prefix="cairn-new-file-")
        weakref.finalize(self, shutil.rmtree, tmp, True)
        path = os.path.join(tmp, os.path.basename(entry_name))
        kw = {} if "b" in mode else {"encoding": encoding or "utf-8"}
        with open(path, mode, **kw) as f:
            yield f
        e = self.add_file(path, entry_name)
        if self._base is None:
            self._entries.put(e._entry)  # no local file: the temp one is not the user's
        else:
            self._local_paths.pop(entry_name, None)

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
        is_dir = path.endswith("/")
        norm = normalize_path(path)
        if self._base is not None:
            edits = self._edits
            assert edits is not None
            manifest = self._client.manifest(self._base.manifest_key)
            removed = False
            if not is_dir and self._current(norm) is not None:
                edits.upserts.pop(norm, None)
                if manifest.get(norm) is not None:
                    edits.removes.add(norm)
                removed = True
            else:
                prefix = norm + "/"
                for p in [p for p in edits.upserts if p.startswith(prefix)]:
                    del edits.upserts[p]
                    removed = True
                if next(iter(manifest.prefix(prefix)), None) is not None:
                    edits.remove_prefixes.add(prefix)
                    removed = True
        else:
            if not is_dir and self._entries.pop(norm) is not None:
                removed = True
            else:
                removed = self._entries.remove_prefix(norm + "/") > 0
        if not removed:
            raise FileNotFoundError(f"artifact {self._name!r} has no file or folder {path!r} to remove")

    def get_added_local_path_name(self, local_path: str | os.PathLike) -> str | None:
        """The entry name a local file was added under by this (unlogged) artifact, or None."""
        want = os.path.abspath(os.fspath(local_path))
        if self._base is not None:
            return next((p for p, loc in self._local_paths.items() if loc == want), None)
        return self._entries.name_of_local(want)

    @property
    def incremental(self) -> bool:
        return self._incremental

    def get_entry(self, name: str) -> ArtifactManifestEntry:
        path = normalize_path(name)
        e = self._current(path) if self._version is None else self._all_entries().get(path)
        if e is None:
            raise KeyError(f"artifact {self.name!r} has no entry {name!r}")
        return ArtifactManifestEntry(e, self, self._local_path(path))

    def get_path(self, name: str) -> ArtifactManifestEntry:
        return self.get_entry(name)

    def get(self, name: str) -> Any:
        """The object stored under ``name`` (a Table for ``name.table.json``), or None."""
        for candidate in (f"{name}.table.json", name):
            try:
                path = normalize_path(candidate)
            except UsageError:
                continue
            e = self._current(path) if self._version is None else self._all_entries().get(path)
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
            if e.digest.startswith("blake3:") and str(Digest.of_bytes(data)) != e.digest:
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
        self._require_committed("download")
        target = Path(root) if root is not None else self._default_root()
        manifest = self._client.manifest(self._version.manifest_key)  # type: ignore[union-attr]
        entries = manifest.prefix(path_prefix) if path_prefix else iter(manifest)  # streamed, never held whole
        if allow_missing_references:
            entries = (e for e in entries if e.ref is None or _reachable(self._client, e, self._version))
        with sdk_progress():
            self._client.download(entries, target, self._version)
        return str(target)

    def checkout(self, root: str | os.PathLike | None = None) -> str:
        """Make ``root`` (default ``./artifacts/<name>``, without the version, as W&B's) hold
        exactly this artifact's files: download, then delete anything else."""
        self._require_committed("checkout")
        target = Path(root) if root is not None else self._default_root(include_version=False)
        self.download(target)
        keep = set(self._all_entries())
        for dirpath, dirnames, filenames in os.walk(target, topdown=False):
            for f in filenames:
                full = os.path.join(dirpath, f)
                if os.path.relpath(full, target).replace(os.sep, "/") not in keep:
                    os.remove(full)
            for d in dirnames:
                full = os.path.join(dirpath, d)
                if os.path.isdir(full) and not os.listdir(full):
                    os.rmdir(full)
        return str(target)

    def verify(self, root: str | os.PathLike | None = None) -> None:
        """Raise IntegrityError unless ``root`` holds exactly this artifact's files, byte for byte."""
        from ..client.transfer import _hash_file

        self._require_committed("verify")
        target = Path(root) if root is not None else self._default_root()
        entries = self._all_entries()
        seen = set()
        for dirpath, _dirs, filenames in os.walk(target):
            for f in filenames:
                rel = os.path.relpath(os.path.join(dirpath, f), target).replace(os.sep, "/")
                e = entries.get(rel)
                if e is None:
                    raise IntegrityError(f"{os.path.join(dirpath, f)} is not part of {self.qualified_name}", path=rel)
                seen.add(rel)
                if e.digest.startswith("blake3:") and _hash_file(Path(dirpath) / f) != e.digest:
                    raise IntegrityError(
                        f"{rel} under {target} does not match {self.qualified_name}", path=rel, digest=e.digest
                    )
        missing = sorted(set(entries) - seen)
        if missing:
            raise IntegrityError(f"{missing[0]} of {self.qualified_name} is missing under {target}", path=missing[0])

    def file(self, root: str | os.PathLike | None = None) -> str:
        """Download the artifact's only file and return its path."""
        self._require_committed("file")
        entries = self._all_entries()
        if len(entries) != 1:
            raise UsageError(
                f"artifact.file() needs an artifact with exactly one file; {self.name} has {len(entries)}: "
                "use download() instead"
            )
        root = self.download(root)
        return os.path.join(root, next(iter(entries)))

    def files(self, names: list[str] | None = None, per_page: int = 50) -> list["ArtifactFile"]:
        self._require_committed("files")
        return [
            ArtifactFile(self, e) for p, e in self._all_entries().items() if names is None or p in names
        ]

    # -- logging and state --------------------------------------------------
    def _commit_request(self, entity: str, project: str, run_id: str | None, aliases: list[str] | None, tags: list[str] | None) -> CommitRequest:
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
        if self._version is not None:
            req.base_version_id, req.edits = self._version.id, Edits()
            req.base_manifest_key = self._version.manifest_key
        elif self._base is not None:
            req.base_version_id, req.edits = self._base.id, self._edits
            req.base_manifest_key = self._base.manifest_key
        elif self._incremental and (latest := self._latest(entity, project)) is not None:
            # W&B's incremental artifact: the collection's latest files, with these added on top
            req.base_version_id, req.base_manifest_key = latest.id, latest.manifest_key
            req.edits = Edits(upserts={e.path: e for e in self._entries.sorted()})
        else:
            req.entries = self._entries.for_commit()  # type: ignore[assignment]
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
            self._set_version(info)
            return self
        from . import run as run_mod

        active = run_mod.current()
        if active is not None:
            active.log_artifact(self)
            return self
        with run_mod.init(project=project or self._project, job_type="auto", reinit=True, _make_current=False) as r:
            r.log_artifact(self)
        return self

    def wait(self, timeout: int | None = None) -> "Artifact":
        """Commits are synchronous in cairn (``log_artifact`` shows the upload's progress and
        returns once it is done); ``wait`` checks that this one is logged."""
        self._require_committed("wait")
        return self

    def delete(self, delete_aliases: bool = False) -> None:
        v = self._require_committed("delete")
        self._client.delete_version(v.id, delete_aliases)
        self._set_version(self._client.get_version(v.id))

    def _check_link_unedited(self, v: VersionInfo) -> None:
        edited = [
            what for what, now, then in (
                ("description", self._description, v.description), ("metadata", self._metadata, v.metadata),
                ("ttl", self._ttl_seconds(), v.ttl_seconds), ("tags", sorted(self._tags), sorted(v.tags)),
            ) if now != then
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
        if v.is_link:
            v = self._client.get_version(v.link_of)  # type: ignore[arg-type]
        draft = Artifact(v.name, self._type, self._description, copy.deepcopy(self._metadata))
        draft._client_obj = self._client
        draft._base = v
        draft._edits = Edits()
        draft._entity, draft._project = v.entity, v.project
        draft._ttl = self._ttl
        draft._tags = list(self._tags)
        return draft

    def logged_by(self) -> "PublicRun | None":
        from .api import PublicRun

        v = self._require_committed("logged_by")
        if v.run_id is None:
            return None
        return PublicRun(self._client.get_run(v.run_id), self._client)

    def used_by(self) -> list["PublicRun"]:
        from .api import PublicRun

        v = self._require_committed("used_by")
        return [PublicRun(r, self._client) for r in self._client.version_users(v.id)]

    def json_encode(self) -> dict:
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


class ArtifactFile:
    """One file of a committed artifact, as ``artifact.files()`` lists it."""

    def __init__(self, artifact: Artifact, entry: mf.Entry) -> None:
        self._artifact = artifact
        self._entry = entry
        self.name = entry.path
        self.size = entry.size
        self.digest = entry.digest

    def download(self, root: str | os.PathLike = ".", replace: bool = False, exist_ok: bool = False) -> str:
        dest = Path(root) / self.name
        if dest.exists() and not (replace or exist_ok):
            raise FileExistsError(f"{dest} exists; pass replace=True to overwrite it")
        return ArtifactManifestEntry(self._entry, self._artifact).download(root)

    def __repr__(self) -> str:
        return f"<ArtifactFile {self.name} ({self.size} bytes)>"


def _check_policy(policy: str | None) -> None:
    if policy not in (None, "mutable", "immutable"):
        raise UsageError(f"policy must be 'mutable' or 'immutable', got {policy!r}")


def _reachable(client: "Client", e: mf.Entry, version: VersionInfo | None = None) -> bool:
    try:
        client.open_entry(e, version).close()
        return True
    except Exception:  # noqa: BLE001 - allow_missing_references skips anything unreachable
        return False


__all__ = ["Artifact", "ArtifactFile"]
