"""Moving bytes between local files and a blob store: ingest (hash + store in one read) and
download (verify every byte, write nothing outside the root, skip files that already match)."""

from __future__ import annotations

import os
import stat as stat_mod
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

from ..core.digest import hasher
from ..core.errors import FileChangedError, IntegrityError, InvalidPathError
from ..core.manifest import Entry
from ..core.names import normalize_path
from ..storage.base import BlobStore
from .statcache import StatCache, signature

SMALL = 64 * 1024  # files below this are read whole and stored in batches
BATCH_BYTES = 64 << 20
READ_SIZE = 1 << 20
WORKERS = max(4, min(16, (os.cpu_count() or 2) * 4))  # I/O-bound: BLAKE3 and reads release the GIL


def _regular(path: str) -> os.stat_result:
    st = os.stat(path)
    if stat_mod.S_ISDIR(st.st_mode):
        raise IsADirectoryError(f"{path!r} is a directory; use add_dir for folders")
    if not stat_mod.S_ISREG(st.st_mode):
        raise ValueError(f"{path!r} is not a regular file")
    return st


def ingest(blobs: BlobStore, cache: StatCache | None, paths: list[str]) -> dict[str, tuple[str, int]]:
    """Store each file, reading it at most once; returns {path: (digest, size)}.

    Files whose stat signature is cached and whose blob is already stored are not read.
    A file that changes while it is read raises FileChangedError.
    """
    sigs = {p: signature(_regular(p)) for p in paths}
    known = cache.lookup(sigs) if cache else {}
    present = blobs.has(set(known.values())) if known else set()
    out: dict[str, tuple[str, int]] = {}
    todo: list[str] = []
    for p in paths:
        d = known.get(p)
        if d is not None and d in present:
            out[p] = (d, sigs[p][0])
        else:
            todo.append(p)

    def read_small(p: str) -> tuple[str, str, bytes]:
        with open(p, "rb") as f:
            data = f.read()
        h = hasher()
        h.update(data)
        _check_same(p, sigs[p])
        return p, "blake3:" + h.hexdigest(), data

    def put_large(p: str) -> tuple[str, str, int]:
        digest, size = blobs.put_file(Path(p), sigs[p][0])
        _check_same(p, sigs[p])
        return p, digest, size

    small = [p for p in todo if sigs[p][0] < SMALL]
    large = [p for p in todo if sigs[p][0] >= SMALL]
    fresh: list[tuple[str, tuple[int, int, int], str]] = []
    with ThreadPoolExecutor(WORKERS) as pool:
        large_jobs = [pool.submit(put_large, p) for p in large]
        batch: list[tuple[str, bytes]] = []
        batch_bytes = 0
        for p, digest, data in pool.map(read_small, small):
            out[p] = (digest, len(data))
            fresh.append((p, sigs[p], digest))
            batch.append((digest, data))
            batch_bytes += len(data)
            if batch_bytes >= BATCH_BYTES:
                _put_missing(blobs, batch)
                batch, batch_bytes = [], 0
        _put_missing(blobs, batch)
        for job in large_jobs:
            p, digest, size = job.result()
            out[p] = (digest, size)
            fresh.append((p, sigs[p], digest))
    if cache and fresh:
        cache.record(fresh)
    return out


def _put_missing(blobs: BlobStore, batch: list[tuple[str, bytes]]) -> None:
    if not batch:
        return
    have = blobs.has(d for d, _ in batch)
    blobs.put_blobs(list({d: b for d, b in batch if d not in have}.items()))


def _check_same(path: str, sig: tuple[int, int, int]) -> None:
    if signature(os.stat(path)) != sig:
        raise FileChangedError(path, os.path.basename(path))


def safe_dest(root: Path, path: str) -> Path:
    """Where ``path`` goes under ``root``; refuses anything that would land outside it."""
    if normalize_path(path) != path:
        raise InvalidPathError(path, "not in canonical form")
    dest = root / path
    real_root = os.path.realpath(root)
    parent = os.path.realpath(dest.parent)
    if parent != real_root and not parent.startswith(real_root + os.sep):
        raise InvalidPathError(path, f"it would be written outside {root} (through a symlink)")
    return dest


Opener = Callable[[Entry], BinaryIO]


def download(
    entries: Iterable[Entry],
    root: Path,
    open_entry: Opener,
    cache: StatCache | None,
) -> list[Path]:
    """Materialise ``entries`` under ``root``; returns the paths written or found matching."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    entries = list(entries)
    dests = {e.path: safe_dest(root, e.path) for e in entries}
    sigs: dict[str, tuple[int, int, int]] = {}
    for e in entries:
        try:
            st = os.stat(dests[e.path])
        except (FileNotFoundError, NotADirectoryError):
            continue
        if stat_mod.S_ISREG(st.st_mode):
            sigs[str(dests[e.path])] = signature(st)
    known = cache.lookup(sigs) if (cache and sigs) else {}
    fresh: list[tuple[str, tuple[int, int, int], str]] = []

    def one(e: Entry) -> None:
        dest = dests[e.path]
        sig = sigs.get(str(dest))
        content = e.digest.startswith("blake3:")
        if sig is not None and content:
            if known.get(str(dest)) == e.digest:
                return
            if sig[0] == e.size and _hash_file(dest) == e.digest:
                fresh.append((str(dest), sig, e.digest))
                return
        _fetch(e, dest, open_entry)
        if content:
            fresh.append((str(dest), signature(os.stat(dest)), e.digest))

    with ThreadPoolExecutor(WORKERS) as pool:
        list(pool.map(one, entries))
    if cache and fresh:
        cache.record(fresh)
    return [dests[e.path] for e in entries]


def _hash_file(path: Path) -> str:
    h = hasher()
    with open(path, "rb") as f:
        while chunk := f.read(READ_SIZE):
            h.update(chunk)
    return "blake3:" + h.hexdigest()


def _fetch(e: Entry, dest: Path, open_entry: Opener) -> None:
    if dest.is_dir():
        raise IsADirectoryError(f"cannot write artifact file {e.path!r}: {dest} is a directory")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.parent / f".{dest.name}.cairn-{uuid.uuid4().hex[:8]}"
    h = hasher()
    size = 0
    try:
        with open_entry(e) as src, open(tmp, "wb") as out:
            while chunk := src.read(READ_SIZE):
                h.update(chunk)
                out.write(chunk)
                size += len(chunk)
        if e.digest.startswith("blake3:"):
            got = "blake3:" + h.hexdigest()
            if got != e.digest:
                raise IntegrityError(
                    f"artifact file {e.path!r} is corrupt: expected {e.digest}, got {got} ({size} bytes); "
                    "the stored copy is damaged — re-log it from the source or restore the store",
                    path=e.path,
                    digest=e.digest,
                )
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            tmp.unlink()
