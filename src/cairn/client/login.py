"""API keys saved by ``cairn login``: one per server URL, in a settings file readable only by you."""

from __future__ import annotations

import json
import os
from pathlib import Path


def settings_file() -> Path:
    import platformdirs

    override = os.environ.get("CAIRN_SETTINGS")
    return Path(override) if override else Path(platformdirs.user_config_dir("cairn")) / "settings.json"


def load_key(base_url: str) -> str | None:
    try:
        data = json.loads(settings_file().read_text())
    except (FileNotFoundError, ValueError):
        return None
    return data.get("keys", {}).get(base_url.rstrip("/"))


def save_key(base_url: str, key: str) -> Path:
    path = settings_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        data = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        data = {}
    data.setdefault("keys", {})[base_url.rstrip("/")] = key
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=2)
    os.replace(tmp, path)
    return path
