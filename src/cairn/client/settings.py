"""Settings from the environment, read when a client is made (never at import).

Each ``CAIRN_<NAME>`` falls back to W&B's ``WANDB_<NAME>`` when unset, so scripts and CI
set up for W&B keep working: PROJECT, ENTITY, MODE, SILENT, ARTIFACT_DIR, RUN_ID, and DIR
(the embedded store goes in ``$WANDB_DIR/cairn``, beside where W&B keeps its run files).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def env(name: str) -> str | None:
    """``CAIRN_<name>``, else ``WANDB_<name>``, else None (empty counts as unset)."""
    return os.environ.get(f"CAIRN_{name}") or os.environ.get(f"WANDB_{name}") or None


def is_true(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Settings:
    dir: Path
    cache_dir: Path
    base_url: str | None
    api_key: str | None
    project: str | None
    entity: str | None

    @classmethod
    def from_env(cls) -> "Settings":
        d = os.environ.get("CAIRN_DIR")
        w = os.environ.get("WANDB_DIR")
        if not d and w:
            d = os.path.join(w, "cairn")
        if d:  # platformdirs (seven modules) is loaded only for the folders it names
            base = Path(d).expanduser()
        else:
            import platformdirs

            base = Path(platformdirs.user_data_dir("cairn"))
        c = os.environ.get("CAIRN_CACHE_DIR")
        if c:
            cache = Path(c).expanduser()
        elif d:
            cache = base / "cache"
        else:
            import platformdirs

            cache = Path(platformdirs.user_cache_dir("cairn"))
        return cls(
            dir=base,
            cache_dir=cache,
            base_url=os.environ.get("CAIRN_BASE_URL") or None,
            api_key=os.environ.get("CAIRN_API_KEY") or None,
            project=env("PROJECT"),
            entity=env("ENTITY"),
        )


def silent_from_env() -> bool:
    """CAIRN_SILENT (else WANDB_SILENT): no progress bars, notes or one-time warnings from the SDK."""
    return is_true(env("SILENT"))
