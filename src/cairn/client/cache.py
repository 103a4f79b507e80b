"""The download cache: verified blobs by digest under ``CAIRN_CACHE_DIR/blobs``, capped at
``CAIRN_CACHE_MAX`` bytes with the least recently used evicted first."""

from __future__ import annotations

import os
import uuid
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
            os.utime(p)  # mark as recently used
        except FileNotFoundError:
            return None
        return p

    def put_from(self, tmp: Path, digest: str) -> Path:
        """Move a verified temp file into the cache; returns its cache path."""
        dest = self.path(digest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, dest)
        return dest

    def enforce(self) -> None:
        """Apply the size cap (called once after a batch of downloads, not per file)."""
        if self.max_bytes is not None:
            self.cleanup(self.max_bytes)

    def tmp(self) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        return self.root / f".tmp-{uuid.uuid4().hex}"

    def size(self) -> int:
        return sum(p.stat().st_size for p in self._files())

    def _files(self) -> list[Path]:
        if not self.root.exists():
            return []
        return [p for d in self.root.iterdir() if d.is_dir() for p in d.iterdir() if p.is_file()]

    def cleanup(self, target: int) -> int:
        """Evict least recently used blobs until the cache holds at most ``target`` bytes; returns bytes freed."""
        files = [(p.stat().st_mtime, p.stat().st_size, p) for p in self._files()]
        total = sum(s for _, s, _ in files)
        freed = 0
        for _, size, p in sorted(files):
            if total - freed <= target:
                break
            p.unlink(missing_ok=True)
            freed += size
        return freed
