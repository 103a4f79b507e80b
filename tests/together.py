"""Start several child Pythons on one observable barrier, for tests of processes that open
and write one SQLite file at the same moment.

Each child runs ``CHILD_PREAMBLE + body`` with argv ``[wal.py, db, go, ready]``: it loads
storage/wal.py on its own (no cairn import, so it starts in milliseconds) as ``wal``, says
it is ready (a file of its own), and waits for the go file; ``body`` then opens ``db`` and
writes. ``run_together`` touches go once every child is ready.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import cairn.storage.wal as wal

CHILD_PREAMBLE = r"""
import importlib.util, os, sqlite3, sys, time
spec = importlib.util.spec_from_file_location("wal", sys.argv[1])
wal = importlib.util.module_from_spec(spec)
spec.loader.exec_module(wal)
db, go, ready = sys.argv[2], sys.argv[3], sys.argv[4]
open(ready, "w").close()
while not os.path.exists(go):
    time.sleep(0.0005)
"""


def run_together(folder: Path, body: str, db: Path, n: int = 6, timeout: float = 60) -> list[tuple[int, str, str]]:
    """Run ``n`` children of ``body`` on ``db``, released together; (exit code, stdout,
    stderr) of each."""
    go = folder / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD_PREAMBLE + body, wal.__file__, str(db), str(go), str(folder / f"ready{i}")],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(n)
    ]
    while sum(1 for _ in folder.glob("ready*")) < n:  # the barrier: every child is waiting
        assert all(p.poll() is None for p in procs), [p.communicate() for p in procs if p.poll() is not None]
        time.sleep(0.001)
    go.touch()
    results = []
    for p in procs:
        out, err = p.communicate(timeout=timeout)
        results.append((p.returncode, out, err))
    return results
