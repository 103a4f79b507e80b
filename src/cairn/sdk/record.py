"""``run.config`` and ``run.summary``: dict-like parts of a run's record, as W&B has them."""

from __future__ import annotations

from collections.abc import Callable, Iterator, MutableMapping
from typing import Any

from ..core.errors import UsageError
from ..core.limits import MAX_JSON_DEPTH, json_depth_ok
from .values import flatten, json_friendly


class ConfigError(UsageError):
    """A config value changed without ``allow_val_change=True`` (W&B's ``ConfigError``)."""


def _as_dict(obj: Any) -> dict:
    """A config given as a dict, an ``argparse.Namespace`` or any object with attributes."""
    if obj is None:
        return {}
    if isinstance(obj, dict):
        return dict(obj)
    if hasattr(obj, "__dict__") and not isinstance(obj, type):
        return {k: v for k, v in vars(obj).items() if not k.startswith("_")}
    try:
        return dict(obj)
    except (TypeError, ValueError):
        raise UsageError(
            f"a run config must be a dict or an object with attributes (argparse.Namespace), not {type(obj).__name__}"
        ) from None


class Config:
    """Hyperparameters: ``config["lr"]``, ``config.lr``, ``config.update(...)``.

    As in W&B, a key keeps its value: setting it to another value raises ConfigError
    unless ``update(..., allow_val_change=True)``; the same value again is fine. Every change
    is saved with the run's next batch of history and when it finishes."""

    def __init__(self, items: dict | None = None, on_change: Callable[[], None] | None = None,
                 allow_val_change: bool = False) -> None:
        object.__setattr__(self, "_items", {})
        object.__setattr__(self, "_on_change", on_change)
        object.__setattr__(self, "_allow", allow_val_change)
        for k, v in (items or {}).items():
            self._set(k, v, True)

    def _set(self, key: str, value: Any, allow_val_change: bool) -> None:
        if not isinstance(key, str):
            raise UsageError(f"config keys must be strings, not {type(key).__name__}")
        if not json_depth_ok(value, MAX_JSON_DEPTH - 1):  # the config itself is one level
            raise UsageError(f"run config is nested more than {MAX_JSON_DEPTH} levels deep at {key!r}; flatten it")
        value = json_friendly(value)
        if not (allow_val_change or self._allow) and key in self._items and self._items[key] != value:
            raise ConfigError(
                f"Attempted to change value of key {key!r} from {self._items[key]!r} to {value!r}; "
                "if you really want to do this, pass allow_val_change=True to config.update()"
            )
        self._items[key] = value

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change()

    def update(self, d: Any = None, allow_val_change: bool = False, **kw: Any) -> None:
        for k, v in {**_as_dict(d), **kw}.items():
            self._set(k, v, allow_val_change)
        self._changed()

    def setdefaults(self, d: Any) -> None:
        """Set the keys of ``d`` that are not set yet."""
        for k, v in _as_dict(d).items():
            if k not in self._items:
                self._set(k, v, False)
        self._changed()

    def __setitem__(self, key: str, value: Any) -> None:
        self._set(key, value, False)
        self._changed()

    def __setattr__(self, key: str, value: Any) -> None:
        self[key] = value

    def __getitem__(self, key: str) -> Any:
        return self._items[key]

    def __getattr__(self, key: str) -> Any:
        if key.startswith("__"):
            raise AttributeError(key)
        try:
            return self._items[key]
        except KeyError:
            raise AttributeError(f"config has no key {key!r}") from None

    def __delitem__(self, key: str) -> None:
        del self._items[key]
        self._changed()

    def __delattr__(self, key: str) -> None:
        del self[key]

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._items))

    def __len__(self) -> int:
        return len(self._items)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Config):
            return other._items == self._items
        return isinstance(other, dict) and other == self._items

    __hash__ = None  # type: ignore[assignment]

    def get(self, key: str, default: Any = None) -> Any:
        return self._items.get(key, default)

    def keys(self):  # noqa: ANN201
        return self._items.keys()

    def values(self):  # noqa: ANN201
        return self._items.values()

    def items(self):  # noqa: ANN201
        return self._items.items()

    def as_dict(self) -> dict:
        return dict(self._items)

    def persist(self) -> None:
        self._changed()

    def __repr__(self) -> str:
        return repr(self._items)


class Summary(MutableMapping):
    """One value per key: by default the last one logged; assigning one replaces it (until
    that key is logged again). ``update`` takes a dict, as W&B's."""

    def __init__(self, items: dict | None = None, on_change: Callable[[], None] | None = None) -> None:
        self._items: dict[str, Any] = dict(items or {})
        self._on_change = on_change

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change()

    def _logged(self, row: dict[str, Any]) -> None:
        """The values of a ``log`` call (already flattened and storable)."""
        self._items.update(row)

    def __getitem__(self, key: str) -> Any:
        return self._items[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.update({key: value})

    def __delitem__(self, key: str) -> None:
        del self._items[key]
        self._changed()

    def __getattr__(self, key: str) -> Any:
        if key.startswith("_"):
            raise AttributeError(key)
        try:
            return self._items[key]
        except KeyError:
            raise AttributeError(f"summary has no key {key!r}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._items))

    def __len__(self) -> int:
        return len(self._items)

    def update(self, d: dict | None = None, **kw: Any) -> None:  # type: ignore[override]
        if d is not None and not isinstance(d, dict):
            raise UsageError(f"summary.update takes a dict, not {type(d).__name__}")
        self._items.update(flatten({**(d or {}), **kw}))
        self._changed()

    def as_dict(self) -> dict:
        return dict(self._items)

    _json_dict = property(as_dict)  # W&B's name for the plain dict

    def __repr__(self) -> str:
        return repr(self._items)
