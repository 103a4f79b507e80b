"""Time one command as a whole process: wall, the `sync` after it, CPU, peak RSS and bytes
written, as one JSON line. Used for rows too long to repeat through run.py (the million
dataset: one run of each step).

    python bench/time_one.py <command> [args...]

Bytes written are read from /proc/<pid>/io while the finished process is still a zombie
(waitid with WNOWAIT), so they are the kernel's write_bytes for that process; ru_oublock
from wait4 adds its children.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    os.sync()
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
    os.waitid(os.P_PID, p.pid, os.WEXITED | os.WNOWAIT)  # finished, not yet reaped
    wall = time.perf_counter() - t0
    with open(f"/proc/{p.pid}/io") as f:
        io = dict(line.split(": ") for line in f.read().splitlines())
    _, status, usage = os.wait4(p.pid, 0)
    t1 = time.perf_counter()
    os.sync()
    flush = time.perf_counter() - t1
    row = {
        "wall": round(wall, 3),
        "sync": round(flush, 3),
        "cpu": round(usage.ru_utime + usage.ru_stime, 3),
        "rss_mib": usage.ru_maxrss // 1024,
        "write_mib": round(int(io["write_bytes"]) / 2**20, 1),
        "cancelled_mib": round(int(io["cancelled_write_bytes"]) / 2**20, 1),
        "oublock_mib": round(usage.ru_oublock * 512 / 2**20, 1),
        "rc": os.waitstatus_to_exitcode(status),
        "load": round(os.getloadavg()[0], 1),
    }
    print(json.dumps(row))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
