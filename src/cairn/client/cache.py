"""The download cache: verified blobs by digest under ``CAIRN_CACHE_DIR/blobs``, capped at
``CAIRN_CACHE_MAX`` bytes with the least recently used (access time) evicted first. Blobs
fetched into a download root are hard links to the root's files (see ``adopt``)."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path


class BlobCache:
    def __init__(self, root: Path, max_bytes: int | None = None) -> None:
        self.root = Path(root) / "blobs"
        self.max_bytes = max_bytes

    def path(self, digest: str) -> Path:
        hexd = digest.partition(":")[2]
        return self.root / hexd[:2] / hexd[2:]

    def get(self, digest: str) -> Path | None:
        p = self.path(digest)
        try:
            # mark as recently used through the access time only: a cached blob may be a hard
            # link to a file of a download root, whose modification time is the user's
            os.utime(p, ns=(time.time_ns(), os.stat(p).st_mtime_ns))
        except FileNotFoundError:
            return None
        return p

    def put_from(self, tmp: Path, digest: str) -> Path:
        """Move a verified temp file into the cache; returns its cache path."""
        dest = self.path(digest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, dest)
        return dest

    def adopt(self, path: Path, digest: str) -> None:
        """Add a verified file that lives elsewhere (a download root) as a hard link: no
        second copy of its bytes. If that file is later edited in place the cached blob
        changes too; readers verify what they read and fetch it again (``evict``). Where a
        link cannot be made (another filesystem), the file is copied."""
        dest = self.path(digest)
        if dest.exists():
            return
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.tmp()
        try:
            try:
                os.link(path, tmp)
            except OSError:
                shutil.copyfile(path, tmp)
            os.replace(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)

    def evict(self, digest: str) -> None:
        self.path(digest).unlink(missing_ok=True)

    def enforce(self) -> None:
        """Apply the size cap (called once after a batch of downloads, not per file)."""
        if self.max_bytes is not None:
            self.cleanup(self.max_bytes)

    def tmp(self) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        return self.root / f".tmp-{os.urandom(16).hex()}"

    def size(self) -> int:
        return sum(p.stat().st_size for p in self._files())

    def _files(self) -> list[Path]:
        if not self.root.exists():
            return []
        return [p for d in self.root.iterdir() if d.is_dir() for p in d.iterdir() if p.is_file()]

    def cleanup(self, target: int) -> int:
        """Evict least recently used blobs until the cache holds at most ``target`` bytes; returns bytes freed."""
        files = [(st.st_atime, st.st_size, p) for p in self._files() for st in [p.stat()]]
        total = sum(s for _, s, _ in files)
        freed = 0
        for _, size, p in sorted(files):
            if total - freed <= target:
                break
            p.unlink(missing_ok=True)
            freed += size
        return freed
