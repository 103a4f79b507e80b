"""Every test gets its own embedded store (CAIRN_DIR), cache and working folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def cairn_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    import cairn
    from cairn.client import reset_clients

    home = tmp_path / "cairn-home"
    monkeypatch.setenv("CAIRN_DIR", str(home))
    monkeypatch.setenv("CAIRN_CACHE_DIR", str(tmp_path / "cairn-cache"))
    for var in ("CAIRN_BASE_URL", "CAIRN_API_KEY", "CAIRN_PROJECT", "CAIRN_ENTITY"):
        monkeypatch.delenv(var, raising=False)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    reset_clients()
    yield home
    if cairn.run is not None:
        cairn.run.finish()
    reset_clients()

