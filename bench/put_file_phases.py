"""One large file stored in-process by ``LocalBlobStore.put_file``: wall and CPU time into a
fresh store, then again with every chunk present (read + cut + hash, nothing written, what
a re-log after a small edit costs), ``AGAIN`` times (default 1).

    python bench/put_file_phases.py SRC_DIR FILE [AGAIN]   # SRC_DIR: a checkout's src/, for before/after

CPU near the wall time means one core; near twice it, both (the machine has 2). On a shared
machine wall times are waits, so the CPU time of each thread is reported too (the store's
pool threads by name, measured with ``time.thread_time`` around each job; "this thread" is
the rest): on an idle machine with enough cores the wall time tends to the largest of them,
which is what splitting the work over threads can gain.
"""

import os
import resource
import shutil
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, sys.argv[1])
from cairn.storage.blobs import local  # noqa: E402

THREAD_CPU: dict[str, float] = {}
_lock = threading.Lock()


class TimedPool(ThreadPoolExecutor):
    """The store's thread pools, with each job's thread CPU time added to its pool's name."""

    def __init__(self, max_workers=None, thread_name_prefix=""):  # noqa: ANN001
        super().__init__(max_workers, thread_name_prefix)
        self._name = thread_name_prefix or "pool"

    def submit(self, fn, /, *args, **kwargs):  # noqa: ANN001
        def timed():  # noqa: ANN202
            t = time.thread_time()
            try:
                return fn(*args, **kwargs)
            finally:
                with _lock:
                    THREAD_CPU[self._name] = THREAD_CPU.get(self._name, 0.0) + time.thread_time() - t

        return super().submit(timed)


local.ThreadPoolExecutor = TimedPool

src = Path(sys.argv[2])
again = int(sys.argv[3]) if len(sys.argv) > 3 else 1
os.system(f"cat '{src}' > /dev/null")  # warm page cache
d = Path(tempfile.mkdtemp(dir=src.parent))
try:
    s = local.LocalBlobStore(d / "s")
    for what in ["new store"] + ["again (all chunks present)"] * again:
        THREAD_CPU.clear()
        r0 = resource.getrusage(resource.RUSAGE_SELF)
        t = time.perf_counter()
        s.put_file(src)
        t1 = time.perf_counter()
        s.flush()
        t2 = time.perf_counter()
        r1 = resource.getrusage(resource.RUSAGE_SELF)
        cpu = r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime
        threads = ", ".join(f"{k} {v:.2f}" for k, v in sorted(THREAD_CPU.items()))
        print(
            f"{sys.argv[1]} {what}: put {t1 - t:.2f} s, flush {t2 - t1:.2f} s, cpu {cpu:.2f} s "
            f"(user {r1.ru_utime - r0.ru_utime:.2f}; this thread {cpu - sum(THREAD_CPU.values()):.2f}, {threads}), "
            f"load {os.getloadavg()[0]:.1f}",
            flush=True,
        )
finally:
    shutil.rmtree(d)
