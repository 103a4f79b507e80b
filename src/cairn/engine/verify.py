"""Checking a store: every committed version's manifest and blobs, re-hashed. Read-only.

What is checked, for each committed version in scope:

* every manifest chunk is present and hashes to its key (a chunk changed in place, a
  renamed entry, a bit flip); the entries rebuild the version's digest and file count;
* every stored file's blob is present and its bytes hash to its digest (references to
  outside storage are not the store's to check).

Each problem is reported once, as it is found, with the version and path it breaks
(``on_problem``), and nothing is changed: healing is the ingest's job (a damaged blob set
aside by a reader is stored again by the next log of the same file).

Memory stays flat in the number of files: manifests are walked chunk by chunk, and the
store-wide check hashes each stored blob once (a first pass over the blob store) into an
on-disk index, which the walk of the versions then asks. A check of one artifact or one
version hashes only its own blobs, remembering the last SEEN_MAX it checked.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import tempfile
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

from ..core import manifest as mf
from ..core import progress
from ..core.digest import digest_of, hasher, is_content_digest
from ..core.errors import ArtifactNotFoundError, BlobNotFoundError, CairnError
from ..core.versions import COMMITTED, VersionInfo
from ..storage.base import BlobStore
from ..storage.meta.sql import MetaStore
from . import records

log = logging.getLogger("cairn.engine.verify")

BATCH = 512  # entries (or blobs) checked together
SEEN_MAX = 65_536  # digests a scoped check remembers as checked (~8 MiB)
WORKERS = 4  # blob reads in flight: hashing releases the GIL, object stores wait on latency


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong: the version it breaks (None: a blob no version uses), the path of
    the file (None: the version as a whole), and what is wrong."""

    version: str | None
    path: str | None
    what: str
    digest: str | None = None  # the blob that is damaged or missing, if a blob is the trouble

    def __str__(self) -> str:
        where = " ".join(x for x in (self.version or "(no version)", self.path) if x)
        return f"{where}: {self.what}"


@dataclass
class Report:
    """What a check looked at, and how many problems it found."""

    versions: int = 0
    files: int = 0
    blobs: int = 0
    bytes: int = 0
    problems: int = 0
    broken_versions: set[str] = field(default_factory=set)

    @property
    def ok(self) -> bool:
        return self.problems == 0


def verify(
    meta: MetaStore,
    blobs: BlobStore,
    on_problem: Callable[[Problem], None],
    *,
    entity: str | None = None,
    project: str | None = None,
    name: str | None = None,
    index: int | None = None,
) -> Report:
    """Check the committed versions in scope: all of them (no ``name``), every version of
    the artifact ``entity/project/name``, or its version ``index``. ArtifactNotFoundError
    when the named artifact or version does not exist. Progress goes to the reporter in
    force (``core.progress``): "re-hashing blobs", then "checking versions" (in files)."""
    report = Report()
    reporter = progress.current()

    def problem(p: Problem) -> None:
        report.problems += 1
        if p.version:
            report.broken_versions.add(p.version)
        log.info("%s", p)  # the caller reports it (the CLI prints it): no second copy on stderr
        on_problem(p)

    if name is None:
        with reporter.task("re-hashing blobs") as task, _StoredBlobs(blobs, report, task) as index_:
            task.close()
            checker: _BlobChecker = index_
            with reporter.task("checking versions") as task:
                _check_versions(meta, _all_versions(meta), checker, report, problem, task)
            for digest, what in index_.unreferenced_damage():
                problem(
                    Problem(
                        None,
                        None,
                        f"blob {digest} {what} (no committed version names it: a chunk "
                        "of a large file, or garbage for gc)",
                        digest,
                    )
                )
    else:
        assert entity and project, "a named check needs the entity and project"
        versions = _named_versions(meta, entity, project, name, index)
        checker = _HashAsYouGo(blobs, report)
        with reporter.task("checking versions") as task:
            _check_versions(meta, versions, checker, report, problem, task)
    return report


# -- versions ----------------------------------------------------------------------------


def _all_versions(meta: MetaStore) -> Iterator[VersionInfo]:
    after = 0
    while True:
        with meta.read() as tx:
            page = records.versions_where(
                tx, "v.state = :s AND v.id > :after", {"s": COMMITTED, "after": after}, order="v.id", limit=200
            )
        if not page:
            return
        yield from page
        after = page[-1].id


def _named_versions(meta: MetaStore, entity: str, project: str, name: str, index: int | None) -> list[VersionInfo]:
    full = f"{entity}/{project}/{name}"
    with meta.read() as tx:
        art = records.artifact_row(tx, entity, project, name)
        if art is None:
            raise ArtifactNotFoundError(full, f"no artifact named {name!r} in project {entity}/{project}")
        where, params = "v.artifact_id = :art AND v.state = :s", {"art": art.id, "s": COMMITTED}
        if index is not None:
            where += " AND v.idx = :i"
            params["i"] = index
        found = records.versions_where(tx, where, params)
    if not found:
        raise ArtifactNotFoundError(f"{full}:v{index}" if index is not None else full, "no committed version")
    return found


def _check_versions(
    meta: MetaStore,
    versions: Iterable[VersionInfo],
    checker: "_BlobChecker",
    report: Report,
    problem: Callable[[Problem], None],
    task: progress.Task,
) -> None:
    for v in versions:
        task.add_total(files=v.file_count)
        label = v.qualified_name
        chunk_trouble = False

        def on_chunk(what: str) -> None:
            nonlocal chunk_trouble
            chunk_trouble = True
            problem(Problem(label, None, what))

        count = 0
        batch: list[mf.Entry] = []

        def entries() -> Iterator[mf.Entry]:
            nonlocal count
            for leaf in _walk(meta.get_chunks, v.manifest_key, on_chunk):
                for e in leaf:
                    count += 1
                    yield e
                    batch.append(e)
                if len(batch) >= BATCH:
                    _check_entries(batch, checker, label, problem)
                    task.advance(files=len(batch))
                    batch.clear()

        digest = mf.identity(entries())
        _check_entries(batch, checker, label, problem)
        task.advance(files=len(batch))
        report.versions += 1
        report.files += count
        if not chunk_trouble and (digest != v.digest or count != v.file_count):
            problem(
                Problem(
                    label,
                    None,
                    f"its manifest holds {count} entries with digest {digest}, but the version "
                    f"records {v.file_count} with digest {v.digest}",
                )
            )
        log.info("verified %s (%d files)", label, count)


def _walk(load: mf.ChunkLoader, root_key: str, on_chunk: Callable[[str], None]) -> Iterator[list[mf.Entry]]:
    """The leaves of a stored manifest in path order, each chunk checked against its key;
    a missing or changed chunk is reported (with the entries it would hold) and skipped."""

    def fetch(keys: list[str], spans: list[str]) -> list[dict | None]:
        got = load(keys)
        out: list[dict | None] = []
        for key, span in zip(keys, spans):
            data = got.get(key)
            if data is None:
                on_chunk(f"manifest chunk {key} is missing ({span} cannot be checked)")
                out.append(None)
            elif not mf.chunk_matches(key, data):
                on_chunk(f"manifest chunk {key} does not match its key: it was changed where it is stored ({span})")
                out.append(None)
            else:
                try:
                    out.append(mf.decode_chunk(key, data))
                except (ValueError, CairnError) as e:
                    on_chunk(f"manifest chunk {key} cannot be read: {e}")
                    out.append(None)
        return out

    def node(obj: dict) -> Iterator[list[mf.Entry]]:
        if "leaf" in obj:
            yield [mf.Entry.from_row(r) for r in obj["leaf"]]
            return
        kids = [mf.Child(*x) for x in obj["children"]]
        for i in range(0, len(kids), 64):
            part = kids[i : i + 64]
            spans = [f"{c.count} entries up to {c.last!r}" for c in part]
            for child in fetch([c.key for c in part], spans):
                if child is not None:
                    yield from node(child)

    (root,) = fetch([root_key], ["the whole manifest"])
    if root is not None:
        yield from node(root)


def _check_entries(
    batch: list[mf.Entry], checker: "_BlobChecker", label: str, problem: Callable[[Problem], None]
) -> None:
    stored = [e for e in batch if e.ref is None and is_content_digest(e.digest)]
    if not stored:
        return
    verdicts = checker.check([e.digest for e in stored])
    for e in stored:
        what = verdicts.get(e.digest)
        if what is not None:
            problem(Problem(label, e.path, f"blob {e.digest} {what}", e.digest))


# -- blobs --------------------------------------------------------------------------------


class _BlobChecker(Protocol):
    def check(self, digests: list[str]) -> dict[str, str]:
        """What is wrong with each of ``digests`` ("is missing", "is damaged: …"); sound
        ones are absent from the answer."""
        ...


def _hash_blob(blobs: BlobStore, digest: str) -> tuple[str | None, int]:
    """(what is wrong or None, bytes read) for one stored blob, read whole."""
    h = hasher()
    size = 0
    try:
        with blobs.open(digest) as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
                size += len(chunk)
    except BlobNotFoundError:
        return ("is missing" if size == 0 else "is missing a part (a chunk of it is gone)"), size
    got = digest_of(h)
    return (None if got == digest else f"is damaged: its {size} stored bytes hash to {got}"), size


def _hash_many(blobs: BlobStore, digests: list[str], report: Report) -> dict[str, str]:
    """Hash ``digests``; {digest: what is wrong} for the bad ones (missing included)."""
    out: dict[str, str] = {}
    small = getattr(blobs, "read_small", None)
    rest = digests
    if small is not None:
        got = small(digests)
        for d, data in got.items():
            h = hasher()
            h.update(data)
            report.blobs += 1
            report.bytes += len(data)
            if digest_of(h) != d:
                out[d] = f"is damaged: its {len(data)} stored bytes hash to blake3:{h.hexdigest()}"
        rest = [d for d in digests if d not in got]
    with ThreadPoolExecutor(WORKERS) as pool:
        for d, (what, size) in zip(rest, pool.map(lambda d: _hash_blob(blobs, d), rest)):
            report.blobs += 1
            report.bytes += size
            if what is not None:
                out[d] = what
    return out


class _HashAsYouGo(_BlobChecker):
    """Hashes the blobs a scoped check meets, each once (within SEEN_MAX)."""

    def __init__(self, blobs: BlobStore, report: Report) -> None:
        self._blobs, self._report = blobs, report
        self._seen: dict[str, str | None] = {}

    def check(self, digests: list[str]) -> dict[str, str]:
        todo = [d for d in dict.fromkeys(digests) if d not in self._seen]
        bad = _hash_many(self._blobs, todo, self._report) if todo else {}
        out = {d: w for d in digests if (w := bad[d] if d in bad else self._seen.get(d)) is not None}
        if len(self._seen) + len(todo) > SEEN_MAX:
            self._seen.clear()
        self._seen.update((d, bad.get(d)) for d in todo)
        return out


class _StoredBlobs(_BlobChecker):
    """Every stored blob hashed once, into an on-disk index (a temporary SQLite file):
    memory does not grow with the store."""

    def __init__(self, blobs: BlobStore, report: Report, task: progress.Task) -> None:
        self._blobs, self._report, self._task = blobs, report, task
        fd, self._path = tempfile.mkstemp(prefix="cairn-verify-", suffix=".sqlite")
        os.close(fd)
        self._db = sqlite3.connect(self._path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=OFF")
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute("CREATE TABLE blobs (digest TEXT PRIMARY KEY, bad TEXT, used INTEGER NOT NULL DEFAULT 0)")

    def __enter__(self) -> "_StoredBlobs":
        try:
            batch: list[str] = []
            for d in self._blobs.iter_digests():
                batch.append(d)
                if len(batch) >= BATCH:
                    self._index(batch)
                    batch = []
            self._index(batch)
        except BaseException:
            self.__exit__()
            raise
        return self

    def _index(self, digests: list[str]) -> None:
        if not digests:
            return
        self._task.add_total(files=len(digests))
        before = self._report.bytes
        bad = _hash_many(self._blobs, digests, self._report)
        self._task.advance(files=len(digests), nbytes=self._report.bytes - before)
        self._db.execute("BEGIN")
        self._db.executemany(
            "INSERT OR IGNORE INTO blobs (digest, bad) VALUES (?, ?)", [(d, bad.get(d)) for d in digests]
        )
        self._db.execute("COMMIT")

    def check(self, digests: list[str]) -> dict[str, str]:
        wanted = list(dict.fromkeys(digests))
        found: dict[str, str | None] = {}
        for i in range(0, len(wanted), 500):  # within any SQLite's limit of query parameters
            part = wanted[i : i + 500]
            marks = ",".join("?" * len(part))
            found.update(self._db.execute(f"SELECT digest, bad FROM blobs WHERE digest IN ({marks})", part))
            self._db.execute(
                f"UPDATE blobs SET used = 1 WHERE used = 0 AND bad IS NOT NULL AND digest IN ({marks})", part
            )
        out: dict[str, str] = {}
        for d in wanted:
            if d not in found:
                out[d] = "is missing"
            elif (why := found[d]) is not None:
                out[d] = why
        return out

    def unreferenced_damage(self) -> Iterator[tuple[str, str]]:
        yield from self._db.execute("SELECT digest, bad FROM blobs WHERE bad IS NOT NULL AND used = 0 ORDER BY digest")

    def __exit__(self, *exc: object) -> None:
        self._db.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._path)


__all__ = ["Problem", "Report", "verify"]
