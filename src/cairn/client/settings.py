"""Settings from the environment, read when a client is made (never at import)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    dir: Path
    cache_dir: Path
    base_url: str | None
    api_key: str | None
    project: str | None
    entity: str | None
    silent: bool

    @classmethod
    def from_env(cls) -> "Settings":
        import platformdirs

        d = os.environ.get("CAIRN_DIR")
        base = Path(d).expanduser() if d else Path(platformdirs.user_data_dir("cairn"))
        c = os.environ.get("CAIRN_CACHE_DIR")
        cache = Path(c).expanduser() if c else (base / "cache" if d else Path(platformdirs.user_cache_dir("cairn")))
        return cls(
            dir=base,
            cache_dir=cache,
            base_url=os.environ.get("CAIRN_BASE_URL") or None,
            api_key=os.environ.get("CAIRN_API_KEY") or None,
            project=os.environ.get("CAIRN_PROJECT") or None,
            entity=os.environ.get("CAIRN_ENTITY") or None,
            silent=silent_from_env(),
        )


def silent_from_env() -> bool:
    """CAIRN_SILENT: no progress bars or notes from the SDK."""
    return os.environ.get("CAIRN_SILENT", "").lower() in ("1", "true", "yes")
