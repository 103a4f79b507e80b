"""Progress of long work (logging, uploading, downloading, gc, verify), as a callback protocol.

Code that moves bytes never knows about terminals: it opens a ``Task`` from the reporter in
force (``current()``) and says how much there is and how much is done; whoever started the
work (the CLI, or the SDK on a terminal) chose the reporter with ``reporting(...)``. With
no reporter in force the null one takes every call and does nothing, so callers never test
for "is anyone listening".

    with progress.current().task("uploading") as task:
        task.add_total(files=len(blobs), nbytes=sum(sizes))   # may grow as work is found
        ...
        task.advance(files=1, nbytes=len(data))               # from any thread

Report per file or per batch, never per byte: an advance costs a lock.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Protocol


class Task(Protocol):
    """One phase of work, counted in files and bytes. Every method may be called from any thread."""

    def add_total(self, files: int = 0, nbytes: int = 0) -> None:
        """More work was found (a folder is walked window by window, so totals grow)."""

    def advance(self, files: int = 0, nbytes: int = 0) -> None:
        """This much more is done."""

    def close(self) -> None:
        """The phase ended (also on failure); further calls are ignored."""

    def __enter__(self) -> "Task": ...
    def __exit__(self, *exc: object) -> None: ...


class Reporter(Protocol):
    def task(self, label: str) -> Task:
        """A new phase, e.g. ``"uploading"``; close it (or use it as a context manager) when done."""


class NullTask:
    """Takes every report and does nothing."""

    def add_total(self, files: int = 0, nbytes: int = 0) -> None:
        pass

    def advance(self, files: int = 0, nbytes: int = 0) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> "NullTask":
        return self

    def __exit__(self, *exc: object) -> None:
        pass


NULL_TASK = NullTask()


class NullReporter:
    def task(self, label: str) -> Task:
        return NULL_TASK


NULL = NullReporter()
# Put in force to say "show nothing": unlike NULL (no one chose), nothing may draw over it.
SILENT = NullReporter()


@dataclass
class Tally:
    """What one task counted: totals, done, and when it started and ended (monotonic seconds)."""

    label: str
    files_total: int = 0
    bytes_total: int = 0
    files_done: int = 0
    bytes_done: int = 0
    started: float = field(default_factory=time.monotonic)
    ended: float | None = None

    @property
    def elapsed(self) -> float:
        return (self.ended if self.ended is not None else time.monotonic()) - self.started


class CountingTask:
    """A task that keeps its ``Tally`` (thread-safe) and calls ``on_close`` once when closed.
    Renderers build on it; tests read what the code reported."""

    def __init__(self, label: str, on_close: Callable[[Tally], None] | None = None) -> None:
        self.tally = Tally(label)
        self._lock = threading.Lock()
        self._on_close = on_close

    def add_total(self, files: int = 0, nbytes: int = 0) -> None:
        with self._lock:
            self.tally.files_total += files
            self.tally.bytes_total += nbytes

    def advance(self, files: int = 0, nbytes: int = 0) -> None:
        with self._lock:
            self.tally.files_done += files
            self.tally.bytes_done += nbytes

    def close(self) -> None:
        with self._lock:
            if self.tally.ended is not None:
                return
            self.tally.ended = time.monotonic()
        if self._on_close is not None:
            self._on_close(self.tally)

    def __enter__(self) -> "CountingTask":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Recorder:
    """A reporter that keeps the tally of every task it opened (in order)."""

    def __init__(self) -> None:
        self.tasks: list[Tally] = []

    def task(self, label: str) -> Task:
        t = CountingTask(label)
        self.tasks.append(t.tally)
        return t


_current: ContextVar[Reporter] = ContextVar("cairn_progress", default=NULL)


def current() -> Reporter:
    """The reporter in force in this context (the null one unless a caller set one).
    Worker threads do not inherit it: take it (or a task) on the calling thread."""
    return _current.get()


@contextlib.contextmanager
def reporting(reporter: Reporter) -> Iterator[Reporter]:
    """Make ``reporter`` the one in force for the work done inside the block."""
    token = _current.set(reporter)
    try:
        yield reporter
    finally:
        _current.reset(token)
