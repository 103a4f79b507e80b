"""What the run page charts: one series per numeric metric, sampled so that a run of a
million steps draws as fast as one of a hundred."""

from __future__ import annotations

import json
import math
from typing import Any

from ..core.versions import RunInfo
from ..engine import Engine

POINTS = 500  # per chart: more than a card's width in pixels shows
MAX_CHARTS = 48


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _flat(summary: dict, prefix: str = "") -> dict[str, Any]:
    """The summary with nested dicts as dotted keys: the names of the history's columns."""
    out: dict[str, Any] = {}
    for k, v in summary.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[prefix + k] = v
    return out


def metric_keys(run: RunInfo) -> list[str]:
    """The run's numeric metrics: summary keys with a number (a nested one by its dotted
    history name), in name order (``_step`` and the other ``_`` keys are axes, not metrics)."""
    return sorted(k for k, v in _flat(run.summary).items() if not k.startswith("_") and _number(v))


def series(engine: Engine, run: RunInfo) -> tuple[list[dict], int]:
    """``[{"key", "steps", "values"}]`` for at most MAX_CHARTS metrics (non-finite values
    become gaps), and how many metrics were left out."""
    keys = metric_keys(run)
    out = []
    for key in keys[:MAX_CHARTS]:
        steps, values = [], []
        for text in engine.run_history(f"{run.entity}/{run.project}/{run.id}", keys=[key], samples=POINTS):
            row = json.loads(text)
            v = row.get(key)
            if not _number(v) or "_step" not in row:
                continue
            steps.append(row["_step"])
            values.append(v if math.isfinite(v) else None)
        if steps:
            out.append({"key": key, "steps": steps, "values": values})
    return out, max(len(keys) - MAX_CHARTS, 0)


def summary_items(run: RunInfo) -> list[tuple[str, str]]:
    """The summary as (key, shown value) pairs (nested keys dotted), numbers rounded for reading."""

    def shown(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.6g}"
        if isinstance(v, (list, dict)):
            return json.dumps(v, default=str)[:200]
        return str(v)

    return [(k, shown(v)) for k, v in sorted(_flat(run.summary).items())]
