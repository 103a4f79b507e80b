"""One large file stored in-process by ``LocalBlobStore.put_file``: wall and CPU time into a
fresh store, then again with every chunk present (read + cut + hash, nothing written).

    python bench/put_file_phases.py SRC_DIR FILE   # SRC_DIR: a checkout's src/, for before/after

CPU near the wall time means one core; near twice it, both (the machine has 2).
"""

import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, sys.argv[1])
from cairn.storage.blobs.local import LocalBlobStore  # noqa: E402

src = Path(sys.argv[2])
os.system(f"cat '{src}' > /dev/null")  # warm page cache
d = Path(tempfile.mkdtemp(dir=src.parent))
try:
    s = LocalBlobStore(d / "s")
    for what in ("new store", "again (all chunks present)"):
        r0 = resource.getrusage(resource.RUSAGE_SELF)
        t = time.perf_counter()
        s.put_file(src)
        t1 = time.perf_counter()
        s.flush()
        t2 = time.perf_counter()
        r1 = resource.getrusage(resource.RUSAGE_SELF)
        cpu = r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime
        print(
            f"{sys.argv[1]} {what}: put {t1 - t:.2f} s, flush {t2 - t1:.2f} s, cpu {cpu:.2f} s "
            f"(user {r1.ru_utime - r0.ru_utime:.2f})",
            flush=True,
        )
finally:
    shutil.rmtree(d)
