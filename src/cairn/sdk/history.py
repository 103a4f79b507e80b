"""``run.log``: W&B's step semantics, and the batched writer behind it.

Steps (as W&B documents ``Run.log``): each call without ``step`` is a new step; with
``commit=False`` its values join the current step, which a later call commits. An explicit
``step`` greater than the current one commits what is pending and moves there; the same
step merges into it; a smaller one is refused with a warning (history only grows). With
``step`` given, ``commit`` defaults to False.

Writing: ``log`` only appends the committed row to a buffer. A writer thread stores the
buffer when it holds ``BATCH_ROWS`` rows or every ``BATCH_SECONDS``, one transaction (or one
HTTP post) per batch, together with the summary and config when they changed. At most
``MAX_PENDING`` rows wait: past that, ``log`` waits for the writer, so memory stays bounded
however long the run. ``close`` stores everything left.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import TYPE_CHECKING, Any

from ..core.errors import StoreError
from .record import note_logged
from .values import flatten

if TYPE_CHECKING:
    from ..client import Client
    from .record import Config, Summary

log = logging.getLogger("cairn.run")

BATCH_ROWS = 2_000
BATCH_SECONDS = 2.0
MAX_PENDING = 20_000


class History:
    """The step counter, the row being built, and the writer of one run's history."""

    def __init__(
        self,
        client: "Client",
        run_id: str,
        start_step: int,
        summary: "Summary",
        config: "Config",
        start_time: float | None = None,
    ) -> None:
        self._client = client
        self._run_id = run_id
        self.step = start_step
        self._summary = summary
        self._config = config
        self._start = time.time() if start_time is None else start_time
        self._pending: dict[str, Any] = {}  # the row of the current step, not committed yet
        self._rows: list[dict] = []
        self._dirty_summary = False
        self._dirty_config = False
        self._cond = threading.Condition()
        self._error: BaseException | None = None
        self._closed = False
        self._writing = False
        self._thread: threading.Thread | None = None
        self._writer_pid = 0

    # -- the caller's thread ----------------------------------------------------------
    def log(self, data: dict, step: int | None = None, commit: bool | None = None) -> None:
        if not isinstance(data, dict):
            raise TypeError(f"run.log takes a dict of values, not {type(data).__name__}")
        if step is not None:
            if isinstance(step, bool) or not isinstance(step, int):
                try:
                    step = int(step)  # numpy and torch integers
                except (TypeError, ValueError):
                    raise TypeError(f"run.log step must be an integer, not {step!r}") from None
            if step < self.step:
                log.warning(
                    "run.log: step %d is before the current step %d; W&B refuses it too, so these values "
                    "are not logged (steps must increase; leave step out to use the next one)",
                    step,
                    self.step,
                )
                return
            if step > self.step:
                if self._pending:
                    self._commit()
                self.step = step
        row = flatten(data)
        self._pending.update(row)
        note_logged(self._summary, data, row)
        self._dirty_summary = True
        if commit or (commit is None and step is None):
            self._commit()

    def _commit(self) -> None:
        now = time.time()
        row = self._pending
        row["_step"] = self.step
        row["_runtime"] = round(now - self._start, 6)
        row["_timestamp"] = now
        self._pending = {}
        self.step += 1
        with self._cond:
            self._raise_error()
            self._rows.append(row)
            n = len(self._rows)
            if self._thread is None or self._writer_pid != os.getpid():  # none yet, or forked since
                self._start_writer()
            if n >= BATCH_ROWS:
                self._cond.notify_all()
            while len(self._rows) >= MAX_PENDING and self._error is None:
                self._cond.wait()  # the writer is behind: wait for it rather than hold more

    def summary_changed(self) -> None:
        self._dirty_summary = True

    def config_changed(self) -> None:
        self._dirty_config = True

    def _raise_error(self) -> None:
        if self._error is not None:
            e, self._error = self._error, None
            raise StoreError(f"storing the history of run {self._run_id} failed: {e}") from e

    # -- the writer thread ------------------------------------------------------------
    def _start_writer(self) -> None:
        self._writer_pid = os.getpid()
        self._writing = False  # a forked child has no writer, whatever the parent's was doing
        self._thread = threading.Thread(target=self._loop, name=f"cairn-history-{self._run_id}", daemon=True)
        self._thread.start()

    def _take(self) -> tuple[list[dict], dict | None, dict | None]:
        """What to store next (called with the condition held)."""
        rows, self._rows = self._rows, []
        summary = self._summary.as_dict() if self._dirty_summary else None
        config = self._config.as_dict() if self._dirty_config else None
        self._dirty_summary = self._dirty_config = False
        return rows, summary, config

    def _loop(self) -> None:
        while True:
            with self._cond:
                if not self._closed and len(self._rows) < BATCH_ROWS:
                    self._cond.wait(BATCH_SECONDS)
                if self._closed and not self._rows:
                    return
                rows, summary, config = self._take()
                self._writing = True
            try:
                if rows or summary is not None or config is not None:
                    self._client.log_history(self._run_id, rows, summary, config)
            except BaseException as e:  # kept for the caller: raised by its next log or finish
                log.error("cairn: storing %d history rows of run %s failed: %s", len(rows), self._run_id, e)
                with self._cond:
                    self._error = e
            finally:
                with self._cond:
                    self._writing = False
                    self._cond.notify_all()

    def flush(self) -> None:
        """Store every committed row, the summary and the config now (in this thread)."""
        with self._cond:
            while self._writing:
                self._cond.wait()
            self._raise_error()
            rows, summary, config = self._take()
            self._writing = True
        try:
            if rows or summary is not None or config is not None:
                self._client.log_history(self._run_id, rows, summary, config)
        finally:
            with self._cond:
                self._writing = False
                self._cond.notify_all()

    def close(self) -> None:
        """Commit the pending step, store everything, and stop the writer."""
        if self._pending:
            self._commit()
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join()
        self.flush()
