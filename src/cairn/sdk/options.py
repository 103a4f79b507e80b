"""``init``'s W&B parameters: mode, resume, config filters, and the ones cairn accepts but
does not act on (each warned about once, by name)."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..client.settings import env, is_true
from ..core.errors import CairnError, UsageError
from ..core.names import check_run_id
from .values import warn_once

log = logging.getLogger("cairn.run")

MODES = ("online", "offline", "disabled")
_MODE_ALIASES = {"run": "online", "dryrun": "offline", "shared": "online"}


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


RESUME_FILE = "wandb-resume.json"


@dataclass(frozen=True)
class Resume:
    """What ``init``'s ``resume`` comes to: the engine's mode (None, "allow", "must" or
    "never"), the run id to use, and for ``"auto"`` the file that remembers it."""

    mode: str | None
    run_id: str | None
    file: Path | None = None

    def remember(self, run_id: str) -> None:
        """Write the run's id to the resume file (atomically: temp + rename)."""
        if self.file is None:
            return
        self.file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.file.with_name(f".{self.file.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"run_id": run_id}))
        os.replace(tmp, self.file)

    def forget(self) -> None:
        """The run finished cleanly: it is no longer the one to resume."""
        if self.file is not None:
            self.file.unlink(missing_ok=True)


def resume_file(dir: str | os.PathLike | None) -> Path:  # noqa: A002
    """W&B's place for the id of the run to resume: ``<dir>/wandb/wandb-resume.json``, where
    ``dir`` is ``init(dir=...)``, else WANDB_DIR, else the working directory."""
    return Path(dir or os.environ.get("WANDB_DIR") or os.getcwd()) / "wandb" / RESUME_FILE


def resume(given: Any, run_id: str | None, dir: str | os.PathLike | None = None) -> Resume:  # noqa: A002
    """W&B's ``resume`` (docs.wandb.ai, "Resume a run"), for a run whose id is ``run_id``
    (None: not given):

    - "allow": resume the run if the id exists, else start a run with that id;
    - "must": resume it, and fail if it does not exist; "never": fail if it exists;
    - "auto" (or True): "allow" with the id remembered in ``wandb/wandb-resume.json`` of the
      run's directory: a script restarted there without an id resumes the run that did not
      finish cleanly (the file is written at init and removed by a clean finish);
    - None / False: a new run (an existing ``id`` is resumed, as before W&B had ``resume``).
    """
    if given is None or given is False:
        return Resume(None, run_id)
    if isinstance(given, str):
        given = given.strip().lower()
        if given in ("true", "1"):
            given = True
        elif given in ("false", "0", ""):
            return Resume(None, run_id)
    if given is True or given == "auto":
        path = resume_file(dir)
        remembered = _remembered(path)
        if run_id is None:
            run_id = remembered
        elif remembered is not None and remembered != run_id:
            log.warning(
                "init(resume='auto'): %s names run %s but id %s is given; run %s is used",
                path,
                remembered,
                run_id,
                run_id,
            )
        return Resume("allow", run_id, path)
    if given in ("allow", "must", "never"):
        return Resume(given, run_id)
    raise UsageError(f"resume must be True, False, 'allow', 'must', 'never' or 'auto', not {given!r}")


def _remembered(path: Path) -> str | None:
    """The run id in a resume file, or None (a file that is not W&B's JSON is ignored, with a warning)."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    except OSError as e:
        log.warning("init(resume='auto'): cannot read %s (%s); starting a new run", path, e)
        return None
    try:
        run_id = json.loads(text)["run_id"]
        check_run_id(run_id)
    except (ValueError, KeyError, TypeError, CairnError) as e:
        log.warning("init(resume='auto'): %s is not a resume file ({\"run_id\": ...}): %s; starting a new run", path, e)
        return None
    return run_id


REINIT = ("finish_previous", "return_previous", "create_new")


def reinit(given: Any) -> str:
    """W&B's ``reinit`` as one of REINIT (True is "finish_previous", False
    "return_previous"; None and "default" keep cairn's default, "finish_previous")."""
    if given is None or given == "default" or given is True:
        return "finish_previous"
    if given is False:
        return "return_previous"
    if given in REINIT:
        return given
    raise UsageError(f"reinit must be True, False, 'default' or one of {', '.join(map(repr, REINIT))}, not {given!r}")


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
                "dir": "the run's record lives in the cairn store (CAIRN_DIR or CAIRN_BASE_URL); "
                "dir is used only by resume='auto', for wandb/wandb-resume.json",
                "settings": "only settings.mode is used",
            }.get(name, "cairn has nothing to do for it")
            not_acted_on("init", name, why)
