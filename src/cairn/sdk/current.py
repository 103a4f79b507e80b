"""The process's active run (``cairn.run``) and the runs finished when the interpreter exits.

This is state, kept apart from ``Run`` so that the modules that only ask "is there an active
run?" (an artifact's ``save``, ``link``, the module-level registry calls) import this small
module instead of ``run``; ``cairn.run``, ``cairn.config`` and ``cairn.summary`` are read
from here by ``cairn.__getattr__``, so nothing writes into the ``cairn`` package.
"""

from __future__ import annotations

import atexit
import functools
import sys
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .run import Run

_lock = threading.Lock()
_active: "Run | None" = None
_detached: "set[Run]" = set()  # runs of init(reinit="create_new") that are not finished yet
_atexit_registered = False
_exit_status = 0  # what the script passed to sys.exit, as the process's exit status


def active() -> "Run | None":
    """The run ``cairn.init()`` made active and that is not finished, else None."""
    return _active


def make_active(run: "Run") -> None:
    """``run`` becomes ``cairn.run`` (the previous one, if any, is the caller's to finish)."""
    global _active
    with _lock:
        _active = run
    _register_atexit()


def add_detached(run: "Run") -> None:
    """A run of ``reinit="create_new"``: not ``cairn.run``, but finished at exit as it is."""
    with _lock:
        _detached.add(run)
    _register_atexit()


def forget(run: "Run") -> None:
    """``run`` has finished: it is no longer active nor finished at exit."""
    global _active
    with _lock:
        _detached.discard(run)
        if _active is run:
            _active = None


def _finish_at_exit() -> None:
    """The interpreter is exiting: finish the active run, failed if the script died of an
    exception (Python keeps the uncaught one in ``sys.last_value`` before exit handlers run)
    or called ``sys.exit`` with a failing status."""
    code = 1 if getattr(sys, "last_value", None) is not None else _exit_status
    with _lock:
        runs = [r for r in (_active, *_detached) if r is not None]
    for run in runs:
        run.finish(exit_code=code)


def _exit_hook(original: Any) -> Any:
    """``sys.exit`` noting the status it exits with (W&B hooks it the same way), so that a
    script ending with ``sys.exit(1)`` leaves a failed run (and resume="auto" resumes it)."""

    @functools.wraps(original)
    def exit(status: Any = None) -> None:  # noqa: A001
        global _exit_status
        _exit_status = 0 if status is None else status if isinstance(status, int) else 1
        original(status)

    return exit


def _register_atexit() -> None:
    """Finish the active run when the interpreter exits, storing the rest of its history."""
    global _atexit_registered
    with _lock:
        if not _atexit_registered:
            atexit.register(_finish_at_exit)
            sys.exit = _exit_hook(sys.exit)
            _atexit_registered = True
