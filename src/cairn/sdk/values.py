"""What a logged value becomes in a run's record, and the one warning for what cannot be stored.

History and summary keep JSON values: numbers (NaN and infinities included), strings,
booleans, None, and lists of those. Nested dicts are flattened to ``"outer.inner"`` keys,
as W&B's charts name them. Numpy and torch scalars become Python numbers. Everything else
(images, audio, histograms, plots, tables, arrays…) is dropped from the row with one
warning per type and key, and the run goes on.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

log = logging.getLogger("cairn.run")

_PLAIN = (str, int, float, bool, type(None))
_warned: set[tuple[str, str]] = set()
_warned_lock = threading.Lock()
SKIP = object()  # returned for a value that cannot be stored


def warn_once(key: tuple[str, str], message: str) -> None:
    """Log ``message`` as a warning the first time ``key`` is seen in this process."""
    with _warned_lock:
        if key in _warned:
            return
        _warned.add(key)
    from ..client.settings import silent_from_env

    log.log(logging.DEBUG if silent_from_env() else logging.WARNING, message)


def type_name(value: Any) -> str:
    t = type(value)
    mod = t.__module__
    if mod.startswith("cairn"):
        return f"wandb.{t.__qualname__}"
    return t.__qualname__ if mod == "builtins" else f"{mod}.{t.__qualname__}"


def _scalar(value: Any) -> Any:
    """A numpy / torch / jax scalar (or one-element array) as a Python number, else SKIP."""
    item = getattr(value, "item", None)
    size = getattr(value, "size", None)
    if callable(size):  # torch: size() is the shape; numel() the count
        numel = getattr(value, "numel", None)
        size = numel() if callable(numel) else None
    if callable(item) and (size is None or size == 1):
        try:
            got = item()
        except (TypeError, ValueError, RuntimeError):
            return SKIP
        return got if isinstance(got, _PLAIN) else SKIP
    return SKIP


def storable(key: str, value: Any) -> Any:
    """``value`` as stored, or SKIP (after the one warning for its type and key)."""
    if isinstance(value, _PLAIN):
        return value
    if isinstance(value, (list, tuple)):
        out = [storable(key, v) for v in value]
        if any(v is SKIP or isinstance(v, dict) for v in out):
            return _skip(key, value)
        return out
    got = _scalar(value)
    if got is SKIP:
        return _skip(key, value)
    return got


def _skip(key: str, value: Any) -> Any:
    name = type_name(value)
    warn_once(
        (name, key),
        f"cairn does not store {name} values in a run's history: key {key!r} is left out of "
        "this and later rows (numbers, strings and lists of them are stored; log files as artifacts)",
    )
    return SKIP


def flatten(data: dict, prefix: str = "") -> dict[str, Any]:
    """``data`` with nested dicts flattened to dotted keys and unstorable values left out."""
    out: dict[str, Any] = {}
    for k, v in data.items():
        if not isinstance(k, str):
            raise TypeError(f"run.log keys must be strings, not {type(k).__name__} ({k!r})")
        key = prefix + k
        if type(v) in _PLAIN:  # the common case first: one type check per value
            out[key] = v
        elif isinstance(v, dict):
            out.update(flatten(v, key + "."))
        else:
            v = storable(key, v)
            if v is not SKIP:
                out[key] = v
    return out


def json_friendly(value: Any) -> Any:
    """A config value as JSON: containers kept, scalars converted, anything else as text."""
    if isinstance(value, _PLAIN):
        return value
    if isinstance(value, dict):
        return {str(k): json_friendly(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [json_friendly(v) for v in value]
    tolist = getattr(value, "tolist", None)
    if callable(tolist):
        try:
            return json_friendly(tolist())
        except (TypeError, ValueError, RuntimeError):
            pass
    return str(value)
