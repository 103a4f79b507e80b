"""One bounded pool per server process for reading staged uploads back (``uploads.direct_done``).

A direct/done request may name thousands of staged blobs; each is read back and hashed in
a worker of this pool, never in threads of its own, so however many requests run at once
(each within its caller's heavy slot: ``limits.HeavyGate``) the process reads at most
``READ_WORKERS`` objects at a time. A request keeps at most ``WINDOW`` of its reads queued
or running, so requests that run together share the workers instead of waiting behind the
whole list of the first.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

READ_WORKERS = 8  # objects read back at once by this process (I/O bound: the store does the work)
WINDOW = 4  # reads of one request queued or running at once

_lock = threading.Lock()
_pool: tuple[int, ThreadPoolExecutor] | None = None  # (pid, pool): a forked worker makes its own


def pool() -> ThreadPoolExecutor:
    """This process's read-back pool (created on first use)."""
    global _pool
    with _lock:
        if _pool is None or _pool[0] != os.getpid():
            _pool = (os.getpid(), ThreadPoolExecutor(READ_WORKERS, thread_name_prefix="cairn-readback"))
        return _pool[1]


def map_bounded(fn: Callable[[T], R], items: list[T]) -> list[R]:
    """``[fn(x) for x in items]`` on the shared pool, at most ``WINDOW`` at once; the first
    error is raised once the reads already started have ended (no new one starts after it)."""
    room = threading.Semaphore(WINDOW)
    failed = threading.Event()

    def ended(f: Future[R]) -> None:
        if f.exception() is not None:
            failed.set()
        room.release()

    futures: list[Future[R]] = []
    for x in items:
        room.acquire()
        if failed.is_set():
            break
        f = pool().submit(fn, x)
        f.add_done_callback(ended)
        futures.append(f)
    return [f.result() for f in futures]
