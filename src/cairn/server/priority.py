"""The event loop before the work: a server's worker threads run at a lower CPU priority.

A replica's event loop answers ``/api/health`` and hands every request to the rest; heavy
requests (a 1,000,000-entry commit, a 2 GiB upload) run in worker threads, which spend
most of their time in C code that releases the GIL (hashing, checksums, socket sends,
SQLite). On a host with fewer cores than runnable threads, the loop then waits for a core
behind the replica's own workers: measured with ``bench/health_latency.py`` in concurrent
pairs, lowering the workers by 5 nice steps left a third to a half fewer probes over 100 ms
and a lower p99 in every pair (the very worst probe is the host's; bench/RESULTS.md).
Requests declared ``def`` run in the same worker threads, so they too yield to the loop.

Linux only: there ``setpriority`` applies to one thread; elsewhere it would lower the whole
process, event loop included, so nothing is changed. Each thread started after
``lower_worker_threads`` lowers itself before it runs (through ``threading.settrace``,
chained to any trace function already set, so debuggers and coverage still see the
thread); threads it starts inherit its priority. Raising a priority back needs a
privilege, so a lowered thread stays lowered.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from types import FrameType
from typing import Any

log = logging.getLogger("cairn.server")

WORKER_NICE = 5  # nice steps below the event loop: CFS then gives a busy worker ~1/3 of the loop's share


def lower_worker_threads(step: int = WORKER_NICE) -> bool:
    """From now on, every new thread of this process starts ``step`` nice levels below the
    thread that calls this (the event loop's), as that one is when the thread starts.
    Returns whether that is in effect."""
    if step <= 0 or not sys.platform.startswith("linux"):
        return False
    loop = threading.get_native_id()
    previous = threading.gettrace()

    def started(frame: FrameType, event: Any, arg: Any) -> Any:  # noqa: ANN401  # sys.settrace's signature
        tid = threading.get_native_id()
        try:
            # below the loop as it is now, not as it was: an operator may have reniced the
            # process since, and a worker far below every other process on the host would
            # keep the GIL from the loop whenever the host preferred them to it
            target = min(19, os.getpriority(os.PRIO_PROCESS, loop) + step)
            if os.getpriority(os.PRIO_PROCESS, tid) < target:
                os.setpriority(os.PRIO_PROCESS, tid, target)
        except OSError as e:  # a sandbox may refuse it: the thread runs as it is
            log.debug("cannot lower the priority of thread %d: %s", tid, e)
        sys.settrace(previous)  # this thread's work is not traced by us
        return previous(frame, event, arg) if previous is not None else None

    threading.settrace(started)
    return True
