"""``init``'s W&B parameters: mode, resume, config filters, and the ones cairn accepts but
does not act on (each warned about once, by name)."""

from __future__ import annotations

from typing import Any

from ..client.settings import env, is_true
from ..core.errors import UsageError
from .values import warn_once

MODES = ("online", "offline", "disabled")
_MODE_ALIASES = {"run": "online", "dryrun": "offline", "shared": "online"}

# accepted for W&B compatibility; cairn has nothing to do for them
IGNORED_INIT = (
    "dir", "save_code", "force", "anonymous", "tensorboard", "sync_tensorboard", "monitor_gym",
    "magic", "resume_from", "fork_from",
)


def not_acted_on(where: str, name: str, why: str = "cairn has nothing to do for it") -> None:
    warn_once(("param", f"{where}:{name}"), f"{where}({name}=...) is accepted for W&B compatibility and ignored: {why}")


def setting(settings: Any, name: str) -> Any:
    """``settings.<name>`` of a W&B ``Settings`` object or dict, else None."""
    if settings is None:
        return None
    if isinstance(settings, dict):
        return settings.get(name)
    return getattr(settings, name, None)


def mode(given: str | None, settings: Any = None) -> str:
    """The run's mode: the argument, else ``settings.mode``, else CAIRN_MODE / WANDB_MODE
    (``WANDB_DISABLED=true`` means disabled), else online."""
    value = given or setting(settings, "mode") or env("MODE")
    if value is None and is_true(env("DISABLED")):
        value = "disabled"
    value = (value or "online").strip().lower()
    value = _MODE_ALIASES.get(value, value)
    if value not in MODES:
        raise UsageError(f"mode must be one of {', '.join(MODES)}, not {value!r}")
    return value


def resume(given: Any, run_id: str | None) -> str | None:
    """W&B's ``resume`` as the engine's: None, "allow", "must" or "never"."""
    if given is None or given is False:
        return None
    if given is True or given == "auto":
        if run_id is None:
            not_acted_on("init", "resume", "resuming the last run without an id is not supported; "
                         "pass id=... to resume a run (a new run is started)")
            return None
        return "allow"
    if given in ("allow", "must", "never"):
        return given
    raise UsageError(f"resume must be True, False, 'allow', 'must', 'never' or 'auto', not {given!r}")


def filter_config(config: dict, include: Any, exclude: Any) -> dict:
    if include is not None and exclude is not None:
        raise UsageError("pass config_include_keys or config_exclude_keys, not both")
    if include is not None:
        return {k: v for k, v in config.items() if k in set(include)}
    if exclude is not None:
        return {k: v for k, v in config.items() if k not in set(exclude)}
    return config


def warn_ignored(params: dict[str, Any]) -> None:
    for name, value in params.items():
        if value is not None and value is not False:
            why = {
                "dir": "the run's record lives in the cairn store (CAIRN_DIR or CAIRN_BASE_URL)",
                "settings": "only settings.mode is used",
            }.get(name, "cairn has nothing to do for it")
            not_acted_on("init", name, why)
