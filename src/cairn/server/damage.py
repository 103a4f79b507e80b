"""Damage reports, bounded: what a reader can make the server do by reporting a blob.

A report (``POST …/blobs/{digest}/damaged``) costs the server one full read of the object,
and any reader of a project may send one, as often as it likes. So that this cannot be used
to keep a replica reading (a 2 GiB blob reported in a loop), ``DamageChecks``:

* runs at most one check of a digest at a time in this process: concurrent reports of the
  same digest wait for that check and share its answer;
* remembers an ``intact`` answer for ``recheck_after`` seconds and gives it again without
  reading (a damaged or missing object is set aside and listed at once, so there is nothing
  to remember: the next report of it finds it missing, which costs no read).

The route also takes one of the caller's heavy-work slots (``limits.HeavyGate``), so one
caller runs at most ``CAIRN_SERVER_HEAVY_PER_CALLER`` checks of different digests at once.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from ..engine.blobs_index import INTACT


class DamageChecks:
    def __init__(self, recheck_after: float = 60.0, remember: int = 10_000) -> None:
        self.recheck_after = recheck_after
        self._remember = remember
        self._lock = threading.Lock()
        self._intact: OrderedDict[str, float] = OrderedDict()  # digest -> when it was found intact
        self._running: dict[str, threading.Lock] = {}

    def check(self, digest: str, run: Callable[[], str]) -> str:
        """The state of ``digest``'s object: ``run()`` (one full read) unless an answer for it
        is remembered or is being found right now by another request."""
        while True:
            with self._lock:
                if self._fresh(digest):
                    return INTACT
                busy = self._running.get(digest)
                if busy is None:
                    mine = self._running[digest] = threading.Lock()
                    mine.acquire()
                    break
            with busy:  # another request is checking it: wait for it, then look again
                pass
        try:
            state = run()
            if state == INTACT:
                with self._lock:
                    self._intact[digest] = time.monotonic()
                    self._intact.move_to_end(digest)
                    while len(self._intact) > self._remember:
                        self._intact.popitem(last=False)
            return state
        finally:
            with self._lock:
                del self._running[digest]
            mine.release()

    def _fresh(self, digest: str) -> bool:
        at = self._intact.get(digest)
        if at is None:
            return False
        if time.monotonic() - at < self.recheck_after:
            return True
        del self._intact[digest]
        return False
