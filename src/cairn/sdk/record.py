"""``run.config`` and ``run.summary``: dict-like parts of a run's record, as W&B has them."""

from __future__ import annotations

import threading
from collections.abc import Callable, ItemsView, Iterator, KeysView, ValuesView
from typing import Any

from ..core.errors import UsageError
from ..core.limits import MAX_JSON_DEPTH, json_depth_ok
from .values import SKIP, json_friendly, storable


class ConfigError(UsageError):
    """A config value changed without ``allow_val_change=True`` (W&B's ``ConfigError``)."""


def config_dict(obj: Any) -> dict:
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

    def __init__(
        self, items: dict | None = None, on_change: Callable[[], None] | None = None, allow_val_change: bool = False
    ) -> None:
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
        for k, v in {**config_dict(d), **kw}.items():
            self._set(k, v, allow_val_change)
        self._changed()

    def setdefaults(self, d: Any) -> None:
        """Set the keys of ``d`` that are not set yet."""
        for k, v in config_dict(d).items():
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

    __hash__ = None  # type: ignore[assignment]  # mutable, so unhashable like dict (mypy wants a method here)

    def get(self, key: str, default: Any = None) -> Any:
        return self._items.get(key, default)

    def keys(self) -> KeysView[str]:
        return self._items.keys()

    def values(self) -> ValuesView[Any]:
        return self._items.values()

    def items(self) -> ItemsView[str, Any]:
        return self._items.items()

    def as_dict(self) -> dict:
        return dict(self._items)

    def persist(self) -> None:
        self._changed()

    def __repr__(self) -> str:
        return repr(self._items)


class _SummaryDict(dict):
    """A dict of the summary: the summary itself, or a dict inside it (W&B's
    ``SummarySubDict``). A real ``dict`` (``json.dumps`` and ``dict(...)`` take it), whose
    every mutator saves the summary; dict values are kept as ``_SummaryDict`` too, so that
    ``summary["val"]["loss"] = 0.5`` is saved as well."""

    __slots__ = ("_root",)

    def __init__(self, root: "Summary | None", items: dict) -> None:
        super().__init__()
        object.__setattr__(self, "_root", root if root is not None else self)
        for k, v in items.items():
            dict.__setitem__(self, k, self._wrap(v))

    def _wrap(self, value: Any) -> Any:
        return _SummaryDict(self._root, value) if isinstance(value, dict) else value

    def _set(self, values: dict) -> None:
        clean = {}
        for k, v in values.items():
            v = _summary_value(k, v)
            if v is not SKIP:
                clean[k] = self._wrap(v)
        with self._root._lock:
            dict.update(self, clean)
        self._root._changed()

    def __setitem__(self, key: str, value: Any) -> None:
        self._set({key: value})

    def update(self, d: Any = None, **kw: Any) -> None:  # type: ignore[override]  # W&B's signature, not MutableMapping's
        """Set each key of ``d`` (a dict value replaces the key's whole value, as W&B's)."""
        if d is not None and not isinstance(d, dict):
            raise UsageError(f"summary.update takes a dict, not {type(d).__name__}")
        self._set({**(d or {}), **kw})

    def setdefault(self, key: str, default: Any = None) -> Any:
        if key not in self:
            self[key] = default
        return self.get(key)

    def __delitem__(self, key: str) -> None:
        with self._root._lock:
            dict.__delitem__(self, key)
        self._root._changed()

    _missing = object()

    def pop(self, key: str, default: Any = _missing) -> Any:
        with self._root._lock:
            if key not in self and default is not _SummaryDict._missing:
                return default
            value = dict.pop(self, key)
        self._root._changed()
        return value

    def popitem(self) -> tuple:
        with self._root._lock:
            item = dict.popitem(self)
        self._root._changed()
        return item

    def clear(self) -> None:
        with self._root._lock:
            dict.clear(self)
        self._root._changed()

    def __getattr__(self, key: str) -> Any:
        if key.startswith("_"):
            raise AttributeError(key)
        try:
            return self[key]
        except KeyError:
            raise AttributeError(f"summary has no key {key!r}") from None

    def __setattr__(self, key: str, value: Any) -> None:
        self[key] = value

    def __delattr__(self, key: str) -> None:
        del self[key]

    def as_dict(self) -> dict:
        """A copy, as plain nested dicts. Taken from the history writer's thread while the
        run logs: the top level is copied at once, and dicts inside only change under the lock."""
        with self._root._lock:
            return _copy(dict.copy(self))

    _json_dict = property(as_dict)  # W&B's name for the plain dict

    def __reduce__(self) -> Any:  # copy and pickle as the plain dict it shows
        return (dict, (self.as_dict(),))


class Summary(_SummaryDict):
    """One value per key: by default the last one logged; assigning one replaces it (until
    that key is logged again). As in W&B the summary is a nested document: a logged
    ``{"val": {"loss": 1}}`` is ``summary["val"]["loss"]`` (each leaf updated on its own,
    the other keys of ``val`` kept), and ``summary["val"]["loss"] = 0.5`` is saved. (The
    history keeps such values as flat ``"val.loss"`` columns, the names W&B charts them by.)"""

    __slots__ = ("_on_change", "_lock")

    def __init__(self, items: dict | None = None, on_change: Callable[[], None] | None = None) -> None:
        object.__setattr__(self, "_on_change", on_change)
        object.__setattr__(self, "_lock", threading.Lock())  # the history writer copies it from its thread
        super().__init__(None, dict(items or {}))

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change()


def note_logged(summary: Summary, data: dict[str, Any], row: dict[str, Any]) -> None:
    """Put the values of a ``log`` call into ``summary`` (package-internal: the history's
    call): ``data`` as given, ``row`` as the history stores it (flattened, unstorable values
    left out, scalars converted)."""
    for v in data.values():
        if isinstance(v, dict):
            with summary._lock:
                _merge(summary, data, "", row)
            return
    # flat values (the common case): one dict update, atomic under the GIL as the
    # writer's top-level copy is, so no lock: with it, this call took 4.8 µs against
    # 1.3 µs (timeit, 5 metrics, on the loaded 2-core machine)
    dict.update(summary, row)


def _merge(items: _SummaryDict, data: dict, prefix: str, row: dict) -> None:
    """Each leaf of the nested ``data`` into ``items``, with its stored value from ``row``
    (called with the summary's lock held)."""
    for k, v in data.items():
        key = prefix + k
        if isinstance(v, dict):
            sub = dict.get(items, k)
            if not isinstance(sub, _SummaryDict):
                sub = _SummaryDict(items._root, {})
                dict.__setitem__(items, k, sub)
            _merge(sub, v, key + ".", row)
        elif key in row:
            dict.__setitem__(items, k, row[key])


def _copy(d: dict) -> dict:
    return {k: _copy(v) if isinstance(v, dict) else v for k, v in d.items()}


def _summary_value(key: Any, value: Any) -> Any:
    """``value`` as the summary keeps it (dicts kept nested), or SKIP after the one warning."""
    if not isinstance(key, str):
        raise TypeError(f"summary keys must be strings, not {type(key).__name__} ({key!r})")
    if isinstance(value, dict):
        if not json_depth_ok(value, MAX_JSON_DEPTH - 1):
            raise UsageError(f"run summary is nested more than {MAX_JSON_DEPTH} levels deep at {key!r}; flatten it")
        out = {}
        for k, v in value.items():
            v = _summary_value(k, v)
            if v is not SKIP:
                out[k] = v
        return out
    return storable(key, value)
