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

Each version entry also records, when the sync created the destination's version (commit
or link), what it made (``made``: its entity/project/name, number and digest); ``--delete``
deletes only such versions, after checking the destination still holds exactly that. The
file is untrusted input (hand edits, a base older than a restored or replaced server):
malformed entries are dropped on reading, and no id from it is acted on unchecked.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from typing import Any
from pathlib import Path

from ..core.limits import ascii_int
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


def made_record(there: VersionInfo) -> dict[str, Any]:
    """What the base keeps of a destination version a sync created: enough to tell, before
    deleting by id, that the id still names that version (its collection, number, digest)."""
    return {
        "entity": there.entity,
        "project": there.project,
        "name": there.name,
        "index": there.index,
        "digest": there.digest,
    }


_SNAPSHOT = {"description", "metadata", "ttl_seconds", "aliases", "tags"}  # what ``_changes`` reads of it
_MADE = {"entity": str, "project": str, "name": str, "index": int, "digest": str}


def _valid_entry(k: object, e: object) -> bool:
    """One version entry of a base file as ``put`` writes it (a file is untrusted input: a
    hand edit or another tool's may hold anything)."""
    if ascii_int(k) is None or not isinstance(e, dict):
        return False
    dst, was, made = e.get("dst"), e.get("was"), e.get("made")
    if type(dst) is not int or dst <= 0 or not isinstance(e.get("in"), str) or not isinstance(was, dict):
        return False
    if not _SNAPSHOT <= set(was) or not all(
        isinstance(was[f], list) and all(isinstance(x, str) for x in was[f]) for f in ("aliases", "tags")
    ):
        return False
    return made is None or (
        isinstance(made, dict) and set(made) == set(_MADE) and all(type(made[f]) is t for f, t in _MADE.items())
    )


def _valid_versions(got: object, path: Path) -> dict[str, dict]:
    if not isinstance(got, dict):
        raise TypeError("its versions are not a mapping")
    kept = {k: e for k, e in got.items() if _valid_entry(k, e)}
    if len(kept) != len(got):
        log.warning(
            "the sync base %s has %d malformed version entries; those versions are synced as never synced before",
            path,
            len(got) - len(kept),
        )
    return kept


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
                self._versions = _valid_versions(kept["versions"], path)
                self._collections = kept.get("collections", {})  # absent in a base of an older cairn
            except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:  # never fatal: rebuilt
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

    def made(self, src_id: int) -> dict | None:
        """What this sync made on the destination for ``src_id`` (``made_record``), None when
        the destination's version was there before (found by digest, linked already) or the
        base predates the record. Read from a file: the caller checks it against the
        destination before acting on it."""
        got = self._versions.get(str(src_id))
        return None if got is None else got.get("made")

    def put(self, src_id: int, dst_id: int, v: VersionInfo, made: VersionInfo | None = None) -> None:
        """Record ``src_id`` as synced to ``dst_id``, the source's ``v`` as its base. ``made``:
        the destination's version when this sync created it (a commit or a link); an entry
        for the same ``dst_id`` keeps the record it had."""
        old = self._versions.get(str(src_id))
        entry: dict[str, Any] = {"dst": dst_id, "in": f"{v.entity}/{v.project}/{v.name}", "was": snapshot(v)}
        if made is not None:
            entry["made"] = made_record(made)
        elif old is not None and old["dst"] == dst_id and "made" in old:
            entry["made"] = old["made"]
        if old != entry:
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
