"""Durations as people write them: ``parse_duration("30d")`` -> seconds."""

from __future__ import annotations

import re

from .errors import UsageError

_UNITS = {"": 1, "s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str) -> float:
    """Seconds from ``90``, ``1.5s``, ``10m``, ``12h``, ``30d`` or ``2w``; UsageError otherwise."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", str(text))
    if not m or m.group(2).lower() not in _UNITS:
        raise UsageError(f"duration {text!r} is not understood; write e.g. 90s, 10m, 12h, 30d or 2w")
    return float(m.group(1)) * _UNITS[m.group(2).lower()]
