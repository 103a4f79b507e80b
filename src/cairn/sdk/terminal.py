"""Progress reporters that draw on a terminal (rich bars) or write a one-line summary.

The library reports to ``core.progress``; these are the renderers the CLI and the SDK put in
force. Bars go to stderr, and only when stderr is a terminal; a phase that ends within
``CAIRN_PROGRESS_DELAY`` seconds (default 0.5) is never drawn, so quick commands stay quiet.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Callable, Iterator
from typing import IO, Any

from ..core import progress
from ..core.progress import CountingTask, Reporter, Tally, Task
from ..core.sizes import human_size

DEFAULT_DELAY = 0.5


def _delay() -> float:
    try:
        return max(0.0, float(os.environ.get("CAIRN_PROGRESS_DELAY", DEFAULT_DELAY)))
    except ValueError:
        return DEFAULT_DELAY


def is_terminal(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # replaced or closed stream
        return False


def summary_line(t: Tally) -> str:
    """``uploading: 12 files, 1.2 MiB in 0.8 s (1.5 MiB/s)``."""
    secs = t.elapsed
    rate = f" ({human_size(int(t.bytes_done / secs))}/s)" if secs >= 0.05 and t.bytes_done else ""
    files = "1 file" if t.files_done == 1 else f"{t.files_done} files"
    return f"{t.label}: {files}, {human_size(t.bytes_done)} in {secs:.1f} s{rate}"


class SummaryReporter:
    """Writes one line per phase when it ends (for a stderr that is not a terminal)."""

    def __init__(self, write: Callable[[str], None]) -> None:
        self._write = write

    def task(self, label: str) -> Task:
        return CountingTask(label, on_close=lambda t: self._write(summary_line(t)))


class BarReporter:
    """rich progress bars on ``stream``: files and bytes done of the total known so far,
    rate and time left. Thread-safe; one live display while any phase is open."""

    def __init__(self, stream: IO[str] | None = None, delay: float | None = None) -> None:
        self._stream = stream or sys.stderr
        self._delay = _delay() if delay is None else delay
        self._lock = threading.Lock()
        self._bars: Any = None
        self._open = 0

    def task(self, label: str) -> Task:
        with self._lock:
            if self._bars is None:
                self._bars = _make_bars(self._stream, self._delay)
                self._bars.start()
            self._open += 1
            bars = self._bars
            task_id = bars.add_task(label, total=None, files="0")
        return _BarTask(self, bars, task_id, label)

    def _closed(self, bars: Any) -> None:
        with self._lock:
            self._open -= 1
            if self._open == 0 and bars is self._bars:
                bars.stop()
                self._bars = None


class _BarTask(CountingTask):
    def __init__(self, owner: BarReporter, bars: Any, task_id: Any, label: str) -> None:
        super().__init__(label)
        self._owner, self._bars, self._id = owner, bars, task_id

    def _show(self) -> None:
        t = self.tally
        files = f"{t.files_done}/{t.files_total} files" if t.files_total else f"{t.files_done} files"
        self._bars.update(self._id, completed=t.bytes_done, total=t.bytes_total or None, files=files)

    def add_total(self, files: int = 0, nbytes: int = 0) -> None:
        super().add_total(files, nbytes)
        self._show()

    def advance(self, files: int = 0, nbytes: int = 0) -> None:
        super().advance(files, nbytes)
        self._show()

    def close(self) -> None:
        if self.tally.ended is not None:
            return
        super().close()
        self._show()
        self._bars.stop_task(self._id)
        self._owner._closed(self._bars)


def _make_bars(stream: IO[str], delay: float) -> Any:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        ProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.table import Table
    from rich.text import Text

    class Bars(Progress):
        def get_renderables(self) -> Iterator[Table]:
            shown = [t for t in self.tasks if t.elapsed is not None and t.elapsed >= delay]
            if shown:
                yield self.make_tasks_table(shown)

    class Rate(ProgressColumn):
        """Bytes per second in the units the sizes use (KiB, MiB...)."""

        def render(self, task: Any) -> Text:
            speed = task.finished_speed or task.speed
            return Text(f"{human_size(int(speed))}/s" if speed else "", style="progress.data.speed")

    return Bars(
        TextColumn("{task.description:<11}"),
        BarColumn(),
        TextColumn("{task.fields[files]}"),
        DownloadColumn(binary_units=True),
        Rate(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=Console(file=stream),
        transient=False,
        refresh_per_second=8,
    )


def terminal_reporter(quiet: bool = False, summary: Callable[[str], None] | None = None) -> Reporter:
    """Bars when stderr is a terminal; else ``SummaryReporter(summary)`` when given, else none."""
    if quiet:
        return progress.SILENT
    if is_terminal(sys.stderr):
        return BarReporter(sys.stderr)
    if summary is not None:
        return SummaryReporter(summary)
    return progress.NULL


@contextlib.contextmanager
def sdk_progress() -> Iterator[None]:
    """Bars for an SDK call's long work, as W&B shows upload progress: only on a terminal,
    not when silent (CAIRN_SILENT), and never over a reporter a caller (the CLI) put in force."""
    from ..client.settings import silent_from_env

    if silent_from_env() or progress.current() is not progress.NULL or not is_terminal(sys.stderr):
        yield
        return
    with progress.reporting(BarReporter(sys.stderr)):
        yield
