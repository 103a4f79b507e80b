"""The merge base of ``cairn sync``: how each version synced to one peer looked on the source
at the end of the last sync, and each collection's own settings (description, tags,
retention policy) likewise. The next sync compares the source with it to tell what the
source changed since (and brings only that over) from what the destination changed
meanwhile (which it keeps), as git compares both sides with their merge base.

One JSON file per peer and direction under the embedded store's folder
(``CAIRN_DIR/sync/<key>.json``), written whole to a temporary file and renamed into place.
A sync killed before it saved loses only the base of what it did since the last save: those
versions are then treated as never synced (their aliases and tags are joined, nothing is
taken off), and the next sync records them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from typing import Any
from pathlib import Path

from ..core.versions import CollectionInfo, VersionInfo

log = logging.getLogger("cairn.sync")

LATEST = "latest"


def snapshot(v: VersionInfo) -> dict:
    """What sync carries of a version that may change after commit (``latest`` follows the
    newest version on each side by itself)."""
    return {
        "description": v.description,
        "metadata": dict(v.metadata),
        "ttl_seconds": v.ttl_seconds,
        "aliases": sorted(a for a in v.aliases if a != LATEST),
        "tags": sorted(v.tags),
    }


def collection_snapshot(c: CollectionInfo, retention: dict | None) -> dict[str, Any]:
    """What sync carries of a collection's own settings: its description, tags and retention
    policy (``Retention.as_dict()``, None when the collection has none of its own)."""
    return {"description": c.description, "tags": sorted(c.tags), "retention": retention}


class SyncBase:
    """Source version id -> (destination version id, the source's snapshot at the last sync);
    and source collection -> (destination collection, its settings' snapshot likewise)."""

    def __init__(self, path: Path | None = None, peer: str = "") -> None:
        self.path, self.peer = path, peer
        self._versions: dict[str, dict] = {}
        self._collections: dict[str, dict] = {}  # "entity/project/name" of the source's
        self._dirty = False
        if path is not None and path.exists():
            try:
                kept = json.loads(path.read_text())
                self._versions = kept["versions"]
                self._collections = kept.get("collections", {})  # absent in a base of an older cairn
            except (OSError, ValueError, KeyError, TypeError) as e:  # never fatal: the next sync rebuilds it
                log.warning("the sync base %s cannot be read (%s); syncing as if for the first time", path, e)

    @classmethod
    def for_peer(cls, folder: Path, peer: str) -> "SyncBase":
        """The base kept in ``folder`` (the embedded store's) for ``peer``, a text naming the
        other side and the direction, e.g. ``"to https://cairn.example.org as vision"``."""
        key = hashlib.sha256(peer.encode()).hexdigest()[:24]
        return cls(folder / "sync" / f"{key}.json", peer)

    def get(self, src_id: int, dst_id: int) -> dict | None:
        """The source's snapshot at the last sync, if ``src_id`` was synced to ``dst_id``."""
        got = self._versions.get(str(src_id))
        return got["was"] if got is not None and got["dst"] == dst_id else None

    def synced_to(self, src_id: int) -> int | None:
        got = self._versions.get(str(src_id))
        return None if got is None else got["dst"]

    def synced_in(self, collection: str) -> list[int]:
        """Ids of the source's versions of ``collection`` (``entity/project/name``) synced before."""
        return [int(k) for k, e in self._versions.items() if e.get("in") == collection]

    def put(self, src_id: int, dst_id: int, v: VersionInfo) -> None:
        entry = {"dst": dst_id, "in": f"{v.entity}/{v.project}/{v.name}", "was": snapshot(v)}
        if self._versions.get(str(src_id)) != entry:
            self._versions[str(src_id)] = entry
            self._dirty = True

    def collection(self, src: str, dst: str) -> dict | None:
        """The settings of the source's collection ``src`` at the last sync, if it was synced
        to ``dst`` (both ``entity/project/name``)."""
        got = self._collections.get(src)
        return got["was"] if got is not None and got["dst"] == dst else None

    def put_collection(self, src: str, dst: str, was: dict) -> None:
        entry = {"dst": dst, "was": was}
        if self._collections.get(src) != entry:
            self._collections[src] = entry
            self._dirty = True

    def forget(self, src_id: int) -> None:
        if self._versions.pop(str(src_id), None) is not None:
            self._dirty = True

    def save(self) -> None:
        if self.path is None or not self._dirty:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text(
            json.dumps(
                {"peer": self.peer, "versions": self._versions, "collections": self._collections}, sort_keys=True
            )
        )
        os.replace(tmp, self.path)
        self._dirty = False
