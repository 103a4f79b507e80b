"""The store URLs of server-side commands: given ones, else the embedded store in CAIRN_DIR."""

from __future__ import annotations


def store_urls(meta: str | None, blobs: str | None) -> tuple[str, str]:
    from ..client.settings import Settings

    s = Settings.from_env()
    return meta or f"sqlite:///{s.dir / 'meta.sqlite'}", blobs or str(s.dir / "blobs")
