"""Content-defined chunkers from PyPI, each timed ALONE on the same in-memory data (issue 15):
is our cutter (pyfastcdc, FastCDC 2020 with 256 KiB / 1 MiB / 4 MiB) the bottleneck, and is
a faster well-kept one available? Run in a throwaway virtualenv holding the candidates:

    python -m venv /tmp/cdc && /tmp/cdc/bin/pip install pyfastcdc fastcdc pith-cdc tilecdc blake3
    /tmp/cdc/bin/python bench/chunkers.py [--mib 512]

Only speed is compared: each cuts at its own boundaries (a switch would change every stored
recipe; see docs/formats.md). Chunkers that cannot use 1 MiB average chunks are timed at
their largest setting and say so.
"""

from __future__ import annotations

import argparse
import os
import random
import time

MIN, AVG, MAX = 256 << 10, 1 << 20, 4 << 20


def timed(name: str, fn, size: int) -> None:  # noqa: ANN001
    best = wall = float("inf")
    n = 0
    for _ in range(5):
        t, c = time.perf_counter(), time.process_time()
        n = fn()
        best = min(best, time.process_time() - c)  # CPU time: the machine is shared
        wall = min(wall, time.perf_counter() - t)
    print(
        f"  {name:62s} cpu {best:6.3f} s  {size / best / 1e9:5.2f} GB/s per core  (wall {wall:.3f} s)  {n} chunks",
        flush=True,
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mib", type=int, default=512)
    args = ap.parse_args()
    rnd = random.Random(15)
    data = b"".join(rnd.randbytes(1 << 20) for _ in range(args.mib))
    size = len(data)
    print(
        f"{args.mib} MiB of random bytes, best of 5 (CPU time), load average {os.getloadavg()[0]:.2f}, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    )
    import blake3

    timed("(for scale) BLAKE3, 1 thread", lambda: len(blake3.blake3(data, max_threads=1).digest()), size)
    from pyfastcdc import FastCDC

    cdc = FastCDC(AVG, min_size=MIN, max_size=MAX)
    timed("pyfastcdc 0.3.1 cut_buf (ours: FastCDC 2020, Cython)", lambda: sum(1 for _ in cdc.cut_buf(data)), size)
    try:
        from fastcdc import fastcdc_cy  # noqa: F401  # the compiled one, else it is pure Python
        import fastcdc
    except ImportError as e:
        print(f"  fastcdc: not importable ({e})")
    else:
        timed(
            "fastcdc 1.7.0 (FastCDC 2016, Cython)", lambda: sum(1 for _ in fastcdc.fastcdc(data, MIN, AVG, MAX)), size
        )
    try:
        import pith_cdc
    except ImportError as e:
        print(f"  pith-cdc: not importable ({e})")
    else:
        try:
            timed(
                "pith-cdc 0.1.1 (FastCDC, Rust through ctypes)", lambda: len(pith_cdc.chunk(data, MIN, AVG, MAX)), size
            )
        except Exception as e:  # noqa: BLE001  # its own size limits
            print(f"  pith-cdc with 256K/1M/4M: refused ({e})")
    try:
        import tilecdc
    except ImportError as e:
        print(f"  tilecdc: not importable ({e})")
    else:
        top = tilecdc.MAX_AVG_SIZE
        c = tilecdc.Chunker(min_size=top // 4, avg_size=top, max_size=top * 4)
        timed(
            f"tilecdc 0.1.2 ({c.impl}; avg at most {top >> 10} KiB: 32x more chunks)", lambda: len(c.chunk(data)), size
        )


if __name__ == "__main__":
    main()
