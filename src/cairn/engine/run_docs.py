"""A run's record documents as stored: its config, summary and tags as JSON text, checked.

Both the run's lifecycle (``runs``) and its logged record (``history``) store these, so they
live here, below both.
"""

from __future__ import annotations

import json
from typing import Any

from ..core.errors import UsageError
from ..core.limits import MAX_JSON_DEPTH, MAX_RUN_TEXT, check_label, json_depth_ok

MAX_NOTES = 1_000_000  # characters of a run's notes (free text, stored as TEXT)


def dumps(value: Any) -> str:
    """The stored JSON text: compact (``history``'s key filter relies on ``"key":``), NaN and
    infinities kept as JavaScript writes them (W&B logs them too)."""
    return json.dumps(value, separators=(",", ":"), allow_nan=True)


def config_json(config: dict | None) -> str:
    """A run's config as stored: a JSON object (values it cannot encode become their
    ``str``), nested at most ``MAX_JSON_DEPTH`` levels, valid Unicode."""
    if config is not None and not isinstance(config, dict):
        raise UsageError(f"run config must be a dict, got {type(config).__name__}")
    if not json_depth_ok(config or {}):
        raise UsageError(f"run config is nested more than {MAX_JSON_DEPTH} levels deep; flatten it")
    try:
        text = json.dumps(config or {}, default=str, ensure_ascii=False)
        text.encode("utf-8")
    except (TypeError, ValueError, RecursionError) as e:
        raise UsageError(f"run config must be JSON-serializable with valid Unicode text: {e}") from None
    return text


def summary_json(value: Any) -> str:
    """A run's summary as stored: a JSON object nested at most ``MAX_JSON_DEPTH`` levels."""
    if not isinstance(value, dict):
        raise UsageError(f"the run summary must be an object, not {type(value).__name__}")
    if not json_depth_ok(value):
        raise UsageError(f"the run summary is nested more than {MAX_JSON_DEPTH} levels deep; flatten it")
    try:
        return dumps(value)
    except (TypeError, ValueError, RecursionError) as e:
        raise UsageError(f"the run summary must be JSON: {e}") from None


def check_tags(tags: Any) -> list[str]:
    if isinstance(tags, str) or not isinstance(tags, (list, tuple)):
        raise UsageError("run tags must be a list of strings")
    for t in tags:
        if t == "":
            raise UsageError("a run tag cannot be empty")
        check_label(t, "run tag", MAX_RUN_TEXT)
    return list(dict.fromkeys(tags))
