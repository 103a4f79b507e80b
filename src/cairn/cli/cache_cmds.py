"""``cairn artifact cache``: the local download cache."""

from __future__ import annotations

import click

from . import output


@click.group()
def cache() -> None:
    """The local download cache (CAIRN_CACHE_DIR)."""


@cache.command("cleanup")
@click.argument("size")
def cache_cleanup(size: str) -> None:
    """Evict least recently used blobs until the cache holds at most SIZE (e.g. 10GB, 0).

    \b
    Example:
      cairn artifact cache cleanup 5GB
    """
    from ..client.cache import BlobCache
    from ..client.settings import Settings
    from ..core.sizes import parse_size

    c = BlobCache(Settings.from_env().cache_dir)
    freed = c.cleanup(parse_size(size))
    output.line(f"freed {output.human_size(freed)}; the cache now holds {output.human_size(c.size())}")
