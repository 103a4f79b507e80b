"""``cairn sync``: copy what one store holds onto another (offline or embedded → a server, or
a server → an embedded store), incrementally.

It works on two ``Client`` objects (the one seam), so the same code goes either way. What
goes, per project (selected, or all of the source's):

1. runs, keeping their ids: created on the destination, or only their missing history rows
   appended (those after the destination's last step), then name, tags, notes, config,
   summary and state made equal;
2. logged collections, version by version in index order. A version whose digest the
   destination's collection already holds is *mapped* to it, not sent again; any other is
   committed there (appended: it takes the next free number, so numbers are kept when the
   destination's collection was empty and the source has no gaps) with its description,
   metadata, ttl, aliases, tags and producing run. Only blobs the destination lacks travel,
   found by digest; each blob read from the source is checked against its digest;
3. links (the registry), once the versions they point at are mapped;
4. each collection's own settings: its description, tags and retention policy (by the same
   rule as a version's, below);
5. lineage: the versions each run used.

Conflicts, as a ``git push`` or ``wandb sync`` user expects: nothing on the destination is
deleted, and only what the source changed is rewritten. Synced versions are appended after
what the destination has, and their aliases move to them as logging them there would have
moved them (``latest`` too). A collection of the same name but another type cannot take
them: it is reported and skipped, and the rest goes on. Versions the destination has that
the source lacks stay.

Changes to versions both sides hold (docs/sync.md): the source wins for what it changed
since the last sync, the destination keeps what only it changed. The last sync's view of
each version (its merge base, client/sync_base.py) tells them apart: a description,
metadata or ttl the source changed is set on the destination; an alias the source added to
a version moves there on the destination, one it took off (or moved away) is taken off the
destination's version if that version still holds it; tags likewise. A version never
synced to this peer before (found there by digest) gets the source's aliases and tags it
lacks, and nothing is taken off. Links get their aliases the same way. Aliases and tags go
as deltas (``add_aliases``/``remove_aliases``, ``add_tags``/``remove_tags``), never as a
whole list: one someone adds on the destination while the sync runs survives it. A collection's
description, tags and retention policy too: on a first sync the destination gets the
source's description and policy where it has none and the tags it lacks; later, what the
source changed since the base.

Deleted versions: a version deleted on the source after it was synced stays on the
destination (reported as kept) unless ``delete`` (``--delete``) is given; then it is
deleted there too if this sync made it there (committed or linked it: the base records the
made version's collection, number and digest) and the destination's version with that id
is still that one; refused and reported while it carries an alias other than ``latest``.
A version that was there already (mapped by digest: maybe a teammate's), or whose id now
names something else (a stale or edited base), is kept and reported with why. A deleted version never synced is not copied; nor are open drafts of
distributed artifacts (a finished one goes as the version it made).

Running it twice sends nothing (every version is mapped, every run equal); an interrupted
run resumes where it stopped, since each version is one commit and blobs already sent are
found by digest. Progress: a "syncing versions" task (one file per version) and "syncing
runs"; blob uploads report their own task.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..core import progress
from ..core.digest import digest_of, hasher
from ..core.errors import ArtifactNotFoundError, RunNotFoundError, StoreError, UsageError
from ..core.manifest import Entry
from ..core.names import run_path
from ..core.sizes import human_size
from ..core.versions import COMMITTED, CollectionInfo, CommitRequest, RunInfo, VersionInfo
from .base import Client
from .sync_base import SyncBase, collection_snapshot, made_record, snapshot

if TYPE_CHECKING:
    from ..engine.retention import Retention

log = logging.getLogger("cairn.sync")

_LATEST = "latest"


@dataclass
class SyncReport:
    """What a sync did (or, in a dry run, would do)."""

    dry_run: bool = False
    versions_sent: list[str] = field(default_factory=list)  # "src-name:vN -> dst-name:vM"
    versions_present: int = 0  # already on the destination (mapped by digest)
    versions_updated: list[str] = field(default_factory=list)  # "src-name:vN -> dst-name:vM (what)"
    versions_deleted: list[str] = field(default_factory=list)  # deleted on the source, then here
    collections_updated: list[str] = field(default_factory=list)  # "src-coll -> dst-coll (what)"
    deletions_kept: list[str] = field(default_factory=list)  # deleted on the source, kept here
    links_sent: list[str] = field(default_factory=list)
    runs_created: list[str] = field(default_factory=list)
    runs_updated: list[str] = field(default_factory=list)
    history_rows: int = 0
    blobs_sent: int = 0
    bytes_sent: int = 0
    skipped: list[str] = field(default_factory=list)  # conflicts and what could not go, with why

    @property
    def changed(self) -> bool:
        return bool(
            self.versions_sent
            or self.versions_updated
            or self.versions_deleted
            or self.collections_updated
            or self.links_sent
            or self.runs_created
            or self.runs_updated
        )

    def lines(self) -> list[str]:
        verb = "would send" if self.dry_run else "sent"
        out = [
            f"{verb} {len(self.versions_sent)} versions ({self.blobs_sent} blobs, {_size(self.bytes_sent)}), "
            f"{len(self.links_sent)} links; {self.versions_present} versions were there already",
            f"runs: {len(self.runs_created)} new, {len(self.runs_updated)} updated, {self.history_rows} history rows",
        ]
        if self.versions_updated or self.versions_deleted:
            out.append(
                f"{'would update' if self.dry_run else 'updated'} {len(self.versions_updated)} versions, "
                f"{'would delete' if self.dry_run else 'deleted'} {len(self.versions_deleted)}"
            )
        out += [f"  {v}" for v in self.versions_sent]
        out += [f"  {v}" for v in self.versions_updated]
        out += [f"  deleted {v}" for v in self.versions_deleted]
        if self.collections_updated:
            out.append(f"{'would update' if self.dry_run else 'updated'} {len(self.collections_updated)} collections")
            out += [f"  {c}" for c in self.collections_updated]
        if self.deletions_kept:
            out.append(
                f"kept {len(self.deletions_kept)} versions deleted on the source since they were synced "
                "(--delete deletes those a sync from here made): " + ", ".join(self.deletions_kept[:5])
            )
        out += [f"skipped {s}" for s in self.skipped]
        return out

    def as_dict(self) -> dict:
        return {
            "dry_run": self.dry_run,
            "versions_sent": self.versions_sent,
            "versions_present": self.versions_present,
            "versions_updated": self.versions_updated,
            "versions_deleted": self.versions_deleted,
            "deletions_kept": self.deletions_kept,
            "collections_updated": self.collections_updated,
            "links_sent": self.links_sent,
            "runs_created": self.runs_created,
            "runs_updated": self.runs_updated,
            "history_rows": self.history_rows,
            "blobs_sent": self.blobs_sent,
            "bytes_sent": self.bytes_sent,
            "skipped": self.skipped,
        }


def sync(
    src: Client,
    dst: Client,
    projects: Iterable[str] | None = None,
    entity: str | None = None,
    dry_run: bool = False,
    base: SyncBase | None = None,
    delete: bool = False,
) -> SyncReport:
    """Copy ``projects`` (names in the source's entities; None: every project) of ``src`` to
    ``dst``, into the entity ``entity`` (default: the destination's). ``base``: the merge
    base kept for this peer (None: none kept, every version is as if never synced before);
    ``delete``: delete on ``dst`` the versions deleted on ``src`` since they were synced.
    Raises what the destination raises for what the caller may not do (no write role:
    nothing of that project is written); conflicts are reported in ``SyncReport.skipped``."""
    return _Sync(src, dst, entity or dst.entity, dry_run, base or SyncBase(), delete).run(projects)


class _Sync:
    def __init__(self, src: Client, dst: Client, entity: str, dry_run: bool, base: SyncBase, delete: bool) -> None:
        self.src, self.dst, self.entity = src, dst, entity
        self.report = SyncReport(dry_run=dry_run)
        self.dry = dry_run
        self.base, self.delete = base, delete
        self.mapped: dict[int, int] = {}  # source version id -> destination version id
        # (project, id) of the source's runs, all synced before any version (a run id is
        # unique within its project only)
        self.runs: set[tuple[str, str]] = set()
        # (project, name) of the collections that got (or in a dry run would get) a version
        # there, and of those skipped for their type
        self.arrived: set[tuple[str, str]] = set()
        self.conflicts: set[tuple[str, str]] = set()
        reporter = progress.current()
        self.versions_task = reporter.task("syncing versions")
        self.runs_task = reporter.task("syncing runs")

    def run(self, projects: Iterable[str] | None) -> SyncReport:
        wanted = set(projects) if projects is not None else None
        pairs = [(e, p) for e, p in self.src.list_projects() if wanted is None or p in wanted or f"{e}/{p}" in wanted]
        if wanted is not None:
            found = {p for _, p in pairs} | {f"{e}/{p}" for e, p in pairs}
            for name in sorted(wanted - found):
                raise ArtifactNotFoundError(name, "no such project in the source store; `cairn project ls` lists them")
        try:
            colls = {(e, p): self.src.list_collections(e, p) for e, p in pairs}
            for cs in colls.values():
                self.versions_task.add_total(files=sum(c.version_count for c in cs))
            for e, p in pairs:
                self._runs(e, p)
            for (e, p), cs in colls.items():
                for c in cs:
                    if c.kind != "links":
                        self._collection(e, p, c)
            for (e, p), cs in colls.items():
                for c in cs:
                    if c.kind == "links":
                        self._links(e, p, c)
            for (e, p), cs in colls.items():
                self._settings(e, p, cs)
            for e, p in pairs:
                self._lineage(e, p)
        finally:
            if not self.dry:
                self.base.save()
            self.versions_task.close()
            self.runs_task.close()
        log.info("sync done: %s", "; ".join(self.report.lines()[:2]))
        return self.report

    # -- runs ---------------------------------------------------------------------------
    def _runs(self, entity: str, project: str) -> None:
        runs = self.src.list_runs(entity, project)
        self.runs_task.add_total(files=len(runs))
        for r in runs:
            self._run(r, project)
            self.runs.add((project, r.id))
            self.runs_task.advance(files=1)

    def _run(self, r: RunInfo, project: str) -> None:
        try:
            have: RunInfo | None = self.dst.get_run(r.id, self.entity, project)
        except RunNotFoundError:
            have = None
        last = -1 if have is None or have.last_step is None else have.last_step
        src_last = -1 if r.last_step is None else r.last_step
        src_ref, dst_ref = run_path(r.entity, r.project, r.id), run_path(self.entity, project, r.id)
        rows = self.src.run_history(src_ref, min_step=last + 1) if src_last > last else []
        same = (
            have is not None
            and not rows
            and (have.config, have.summary, tuple(have.tags), have.notes, have.name, have.state)
            == (r.config, r.summary, tuple(r.tags), r.notes, r.name, r.state)
        )
        if same:
            return
        (self.report.runs_created if have is None else self.report.runs_updated).append(
            f"{self.entity}/{project}/{r.id}"
        )
        self.report.history_rows += len(rows)
        if self.dry:
            return
        if have is None:
            self.dst.create_run(
                self.entity,
                project,
                run_id=r.id,
                name=r.name,
                group=r.group,
                job_type=r.job_type,
                config=r.config,
                tags=list(r.tags),
                notes=r.notes,
                resume="never",
            )
        for i in range(0, len(rows), 1000):
            self.dst.log_history(dst_ref, [json.loads(t) for t in rows[i : i + 1000]])
        self.dst.update_run(dst_ref, name=r.name, tags=list(r.tags), notes=r.notes, config=r.config, summary=r.summary)
        if r.state != "RUNNING" and (have is None or have.state != r.state):
            self.dst.finish_run(dst_ref, exit_code=1 if r.state == "FAILED" else 0)

    # -- logged collections -----------------------------------------------------------
    def _collection(self, entity: str, project: str, c: CollectionInfo) -> None:
        listed = sorted(self.src.list_versions(entity, project, c.name), key=lambda v: v.index)
        versions = [v for v in listed if v.state == COMMITTED]
        try:
            there = [v for v in self.dst.list_versions(self.entity, project, c.name) if v.state == COMMITTED]
        except ArtifactNotFoundError:
            there = []
        if there and there[0].type != c.type:
            self.report.skipped.append(
                f"{self.entity}/{project}/{c.name}: the destination's collection has type "
                f"{there[0].type!r}, the source's {c.type!r}; rename one and sync again"
            )
            self.conflicts.add((project, c.name))
            self.versions_task.advance(files=len(versions))
            return
        by_digest: dict[str, VersionInfo] = {}
        for v in sorted(there, key=lambda v: v.index):
            by_digest.setdefault(v.digest, v)
        held = {a for v in versions for a in v.aliases}  # an alias moved here is not "taken off" there
        for v in versions:
            self.arrived.add((project, c.name))
            have = by_digest.get(v.digest)
            if have is not None:
                self.mapped[v.id] = have.id
                self.report.versions_present += 1
                self._changes(v, have, held)
            else:
                got = self._send(v, project)
                if got is not None:
                    self.mapped[v.id] = got.id
                    by_digest[v.digest] = got
                    self.base.put(v.id, got.id, v, made=got)  # --delete may delete what this sync made
            self.versions_task.advance(files=1)
        self._deleted(f"{entity}/{project}/{c.name}", f"{self.entity}/{project}/{c.name}", {v.id for v in versions})
        if not self.dry:
            self.base.save()  # a sync killed later keeps the base of what it did so far

    def _changes(self, v: VersionInfo, have: VersionInfo, held: set[str], aliases_only: bool = False) -> None:
        """Bring to ``have`` (the destination's version of ``v``) what the source changed
        since the last sync; with no base, join aliases and tags (nothing is taken off).
        ``held``: the aliases some version of the source's collection holds (one moved to
        another version goes with that version's changes). ``aliases_only``: a link, whose
        other fields are its source version's."""
        was, now = self.base.get(v.id, have.id), snapshot(v)
        if was is None:
            was = {**now, "aliases": [], "tags": []}  # every field "unchanged"; every label "added"
        fields = {k: now[k] for k in ("description", "metadata", "ttl_seconds") if now[k] != was[k]}
        add_aliases = set(now["aliases"]) - set(was["aliases"])
        drop_aliases = set(was["aliases"]) - set(now["aliases"]) - held
        add_tags, drop_tags = set(now["tags"]) - set(was["tags"]), set(was["tags"]) - set(now["tags"])
        if aliases_only:
            fields, add_tags, drop_tags = {}, set(), set()

        def changes_to(there: dict) -> dict:
            # Aliases go as deltas, never as the whole list: one someone adds on the
            # destination between this read and the update must survive it.
            out: dict = {k: val for k, val in fields.items() if there[k] != val}
            if add_aliases - set(there["aliases"]):
                out["add_aliases"] = sorted(add_aliases - set(there["aliases"]))
            if drop_aliases & set(there["aliases"]):
                out["remove_aliases"] = sorted(drop_aliases & set(there["aliases"]))
            if add_tags - set(there["tags"]):
                out["add_tags"] = sorted(add_tags - set(there["tags"]))
            if drop_tags & set(there["tags"]):
                out["remove_tags"] = sorted(drop_tags & set(there["tags"]))
            return out

        # Against the listing first (no request when nothing is to change); then against the
        # version as it is now, since an earlier edit of this sync may have moved an alias off it.
        changes, fresh = changes_to(snapshot(have)), have
        if changes and not self.dry:
            fresh = self.dst.get_version(have.id)
            changes = changes_to(snapshot(fresh))
        if changes:
            what = sorted({k.split("_", 1)[1] if k.endswith(("_aliases", "_tags")) else k for k in changes})
            self.report.versions_updated.append(
                f"{v.qualified_name} -> {self.entity}/{fresh.project}/{fresh.name}:v{fresh.index} ({', '.join(what)})"
            )
            if not self.dry:
                self.dst.update_version(have.id, **changes)
        if not self.dry:
            self.base.put(v.id, have.id, v)

    def _deleted(self, collection: str, dst_collection: str, committed: set[int]) -> None:
        """Versions of ``collection`` (the source's ``entity/project/name``) deleted on the
        source since they were synced to ``dst_collection``: with ``delete``, deleted on the
        destination when this sync made the version there and the destination's version
        with the recorded id is still that one (same collection, number and digest);
        reported as kept otherwise, with why.

        Every id here comes from the base file, which is untrusted input (a hand edit, a
        base older than a restored or replaced server): nothing is acted on until what it
        names has been checked on both sides."""
        for src_id in self.base.synced_in(collection):
            target = self.base.synced_to(src_id)
            if src_id in committed or target is None or target in self.mapped.values():  # its content lives on
                continue
            try:
                v = self.src.get_version(src_id)
            except ArtifactNotFoundError:  # gone with its collection: what it was is not known here
                continue
            if f"{v.entity}/{v.project}/{v.name}" != collection:  # the base names another collection's version
                if not self.dry:
                    self.base.forget(src_id)
                continue
            if v.state == COMMITTED:
                continue
            try:
                there: VersionInfo | None = self.dst.get_version(target)
            except ArtifactNotFoundError:
                there = None
            if there is None or there.state != COMMITTED:
                if not self.dry:
                    self.base.forget(v.id)
                continue
            if f"{there.entity}/{there.project}/{there.name}" != dst_collection or there.digest != v.digest:
                # the id names another version now (a stale or edited base): nothing of it is ours
                self.report.deletions_kept.append(
                    f"{v.qualified_name} (the destination's version id {target} no longer holds what was synced; "
                    "the sync base is stale or was edited: nothing deleted)"
                )
                if not self.dry:
                    self.base.forget(v.id)
                continue
            name = f"{v.qualified_name} -> {dst_collection}:v{there.index}"
            if not self.delete:
                self.report.deletions_kept.append(name)
                continue
            made = self.base.made(v.id)
            if made is None:
                self.report.deletions_kept.append(
                    f"{name} (not made by this sync: it was on the destination already, found by digest "
                    "or linked, so it may be someone else's; delete it there by hand if it is yours)"
                )
                continue
            if made != made_record(there) or made["digest"] != v.digest:
                self.report.deletions_kept.append(
                    f"{name} (the destination's version no longer matches what this sync made: nothing deleted)"
                )
                continue
            if not self.dry:
                try:
                    self.dst.delete_version(there.id)
                except UsageError as e:  # an alias there: someone relies on it
                    self.report.skipped.append(f"deleting {name}: {e}")
                    continue
                self.base.forget(v.id)
            self.report.versions_deleted.append(name)

    def _send(self, v: VersionInfo, project: str) -> VersionInfo | None:
        entries = list(self.src.manifest(v.manifest_key))
        blobs = {e.digest: e for e in entries if e.ref is None}
        missing = self._missing(project, list(blobs))
        self.report.blobs_sent += len(missing)
        self.report.bytes_sent += sum(blobs[d].size for d in missing)
        number = f"{self.entity}/{project}/{v.name}"
        if self.dry:
            self.report.versions_sent.append(f"{v.qualified_name} -> {number} (new version)")
            return None
        for d in missing:
            self._carry(blobs[d], v)
        got = self.dst.commit(
            CommitRequest(
                entity=self.entity,
                project=project,
                name=v.name,
                type=v.type,
                entries=entries,
                description=v.description,
                metadata=dict(v.metadata),
                aliases=[a for a in v.aliases if a != _LATEST],
                tags=list(v.tags),
                ttl_seconds=v.ttl_seconds,
                run_id=v.run_id if (project, v.run_id) in self.runs else None,
            )
        )
        self.report.versions_sent.append(f"{v.qualified_name} -> {number}:v{got.index}")
        return got

    def _missing(self, project: str, digests: list[str]) -> list[str]:
        return sorted(self.dst.missing_blobs(self.entity, project, digests)) if digests else []

    def _carry(self, e: Entry, v: VersionInfo) -> None:
        """Hand one blob of the source to the destination, checked against its digest."""
        with self.src.open_entry(e, v) as f:
            path = getattr(f, "name", None)
            if isinstance(path, str) and e.size > (8 << 20):  # a blob file: the destination reads it itself
                got = self.dst.ingest([path])[path][0]
            else:
                data = f.read()
                h = hasher()
                h.update(data)
                got = digest_of(h)
                if got == e.digest:
                    self.dst.ingest_bytes(data)
        if got != e.digest:
            raise StoreError(
                f"{v.qualified_name}: the source's copy of {e.path!r} does not match its digest "
                f"{e.digest}; run `cairn verify` on the source store"
            )

    # -- links -----------------------------------------------------------------------------
    def _links(self, entity: str, project: str, c: CollectionInfo) -> None:
        listed = sorted(self.src.list_versions(entity, project, c.name), key=lambda v: v.index)
        held = {a for v in listed for a in v.aliases}
        present = {x.link_of: x for x in self._links_there(project, c.name) if x.link_of is not None}
        for v in listed:
            self.versions_task.advance(files=1)
            if v.state != COMMITTED or v.link_of is None:
                continue
            target = self.mapped.get(v.link_of)
            if target is not None:
                self.arrived.add((project, c.name))
            if target is None:
                self.report.skipped.append(
                    f"link {v.qualified_name}: its source {v.source_entity}/{v.source_project}/"
                    f"{v.source_name}:v{v.source_index} was not synced (sync its project too)"
                )
                continue
            there = present.get(target)
            if there is not None:  # linked already: only its aliases may have changed (latest stays put)
                self.mapped[v.id] = there.id
                self._changes(v, there, held, aliases_only=True)
                continue
            if self.dry:
                self.report.links_sent.append(f"{v.qualified_name} (new link)")
                continue
            got = self.dst.link_version(
                target, self.entity, project, c.name, aliases=[a for a in v.aliases if a != _LATEST]
            )
            self.mapped[v.id], present[target] = got.id, got
            self.report.links_sent.append(f"{v.qualified_name} -> {self.entity}/{project}/{c.name}:v{got.index}")
            self._changes(v, got, held, aliases_only=True)
            self.base.put(v.id, got.id, v, made=got)  # its base, and that this sync made it
        self._deleted(
            f"{entity}/{project}/{c.name}",
            f"{self.entity}/{project}/{c.name}",
            {v.id for v in listed if v.state == COMMITTED},
        )
        if not self.dry:
            self.base.save()

    def _links_there(self, project: str, name: str) -> list[VersionInfo]:
        try:
            return self.dst.list_versions(self.entity, project, name)
        except ArtifactNotFoundError:
            return []

    # -- collections' own settings ----------------------------------------------------------
    def _settings(self, entity: str, project: str, colls: list[CollectionInfo]) -> None:
        """Bring each collection's description, tags and retention policy over, by the rule
        of ``_changes``: the source wins for what it changed since the base; with no base the
        destination gets the description and policy where it has none and the tags it lacks."""
        from ..engine.retention import Retention  # the engine only when a sync runs (as the HTTP client)

        try:
            there = {c.name: c for c in self.dst.list_collections(self.entity, project)}
        except ArtifactNotFoundError:  # no such project there (nothing arrived)
            there = {}
        for c in colls:
            if (project, c.name) in self.conflicts:
                continue
            have = there.get(c.name)
            if have is None and not (self.dry and (project, c.name) in self.arrived):
                continue  # nothing of it is there (every version deleted on the source, or skipped)
            src_key, dst_key = f"{entity}/{project}/{c.name}", f"{self.entity}/{project}/{c.name}"
            now = collection_snapshot(c, _policy(self.src.get_retention(entity, project, c.name)))
            cur: dict[str, Any]
            if have is None:  # a dry run: the collection would be made by this sync
                cur = {"description": None, "tags": [], "retention": None}
            else:
                cur = collection_snapshot(have, _policy(self.dst.get_retention(self.entity, project, c.name)))
            was = self.base.collection(src_key, dst_key)
            if was is None:  # first sync: fill what the destination lacks, overwrite nothing
                fields = {k: now[k] for k in ("description", "retention") if not cur[k] and now[k]}
                add_tags, drop_tags = set(now["tags"]), set[str]()
            else:
                fields = {k: now[k] for k in ("description", "retention") if now[k] != was[k] and cur[k] != now[k]}
                add_tags, drop_tags = set(now["tags"]) - set(was["tags"]), set(was["tags"]) - set(now["tags"])
            tags = (set(cur["tags"]) - drop_tags) | add_tags
            if tags != set(cur["tags"]):
                fields["tags"] = sorted(tags)
            if fields:
                self.report.collections_updated.append(f"{src_key} -> {dst_key} ({', '.join(sorted(fields))})")
            if self.dry:
                continue
            edits = {k: fields[k] for k in ("description", "tags") if k in fields}
            if edits:
                self.dst.update_collection(self.entity, project, c.name, **edits)
            if "retention" in fields:
                got = fields["retention"]
                self.dst.set_retention(self.entity, project, c.name, None if got is None else Retention(**got))
            self.base.put_collection(src_key, dst_key, now)
        if not self.dry:
            self.base.save()

    # -- lineage ---------------------------------------------------------------------------
    def _lineage(self, entity: str, project: str) -> None:
        for r in self.src.list_runs(entity, project):
            src_ref, dst_ref = run_path(r.entity, r.project, r.id), run_path(self.entity, project, r.id)
            used = [self.mapped[v.id] for v in self.src.run_inputs(src_ref) if v.id in self.mapped]
            if not used or self.dry:
                continue
            have = {v.id for v in self.dst.run_inputs(dst_ref)}
            for vid in used:
                if vid not in have:
                    self.dst.use_version(dst_ref, vid)


def _policy(p: Retention | None) -> dict | None:
    return None if p is None else p.as_dict()


def _size(n: int) -> str:
    return human_size(n)
