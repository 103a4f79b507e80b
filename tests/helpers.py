"""Small helpers shared by tests."""

from __future__ import annotations

import os
from pathlib import Path


def write(path: str | os.PathLike, data: bytes | str) -> Path:
    """Create a file (and its folders) with the given content."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    p.write_bytes(data)
    return p
