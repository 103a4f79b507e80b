"""Each phase of storing one large file, timed ALONE on a page-cached file (issue 15): where
the time of ``LocalBlobStore.put_file`` goes, and what each candidate step costs.

    python bench/large_file_phases.py FILE [--chunkers]

Wall and CPU seconds per phase; CPU near twice the wall time means both cores (the machine
has 2). ``--chunkers`` also times the other content-defined chunkers from PyPI that are
importable in this environment (their boundaries differ from ours: only their speed counts).
"""

from __future__ import annotations

import argparse
import mmap
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

import blake3
from pyfastcdc import FastCDC

CDC_AVG, CDC_MIN, CDC_MAX = 1 << 20, 256 << 10, 4 << 20


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def phase(name: str, fn) -> object:  # noqa: ANN001
    c, t = cpu(), time.perf_counter()
    out = fn()
    wall, used = time.perf_counter() - t, cpu() - c
    print(f"  {name:58s} {wall:6.2f} s wall  {used:6.2f} s cpu", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--chunkers", action="store_true")
    args = ap.parse_args()
    src = Path(args.file)
    size = src.stat().st_size
    os.system(f"cat '{src}' > /dev/null")
    print(
        f"{size >> 20} MiB, load average {os.getloadavg()[0]:.2f}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    )
    buf = bytearray(16 << 20)

    def read() -> None:
        with open(src, "rb", buffering=0) as f:
            while f.readinto(buf):
                pass

    phase("read (16 MiB readinto, page cache)", read)
    fd = os.open(src, os.O_RDONLY)
    m = mmap.mmap(fd, 0, prot=mmap.PROT_READ)
    m.madvise(mmap.MADV_SEQUENTIAL)

    def hash1() -> str:
        return blake3.blake3(m, max_threads=1).hexdigest()

    def hash_all() -> str:
        return blake3.blake3(m, max_threads=blake3.blake3.AUTO).hexdigest()

    phase("BLAKE3 whole file, 1 thread (mmap)", hash1)
    phase("BLAKE3 whole file, max_threads=AUTO (mmap)", hash_all)
    cdc = FastCDC(CDC_AVG, min_size=CDC_MIN, max_size=CDC_MAX)
    cuts = phase(
        "pyfastcdc cut_buf over mmap (cuts only)", lambda: [(c.offset, c.length) for c in cdc.cut_buf(memoryview(m))]
    )
    with open(src, "rb") as f:
        phase("pyfastcdc cut_stream (its own reads: today's path)", lambda: sum(1 for _ in cdc.cut_stream(f)))
    with memoryview(m) as mv:  # released before the map is closed
        phase(
            "BLAKE3 of each chunk, 1 thread",
            lambda: [blake3.blake3(mv[o : o + n], max_threads=1).digest() for o, n in cuts],
        )
    tmp = Path(tempfile.mkdtemp(dir=src.parent))
    try:

        def write_chunks() -> None:
            view = memoryview(m)
            for i, (o, n) in enumerate(cuts):
                w = os.open(tmp / f"w{i}", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
                part = view[o : o + n]
                while part:
                    part = part[os.write(w, part) :]
                os.close(w)

        def copy_chunks() -> None:
            for i, (o, n) in enumerate(cuts):
                w = os.open(tmp / f"c{i}", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
                done = 0
                while done < n:
                    done += os.copy_file_range(fd, w, n - done, o + done, 0)
                os.close(w)

        phase(f"write {len(cuts)} chunk files (os.write from mmap)", write_chunks)
        phase("sync", os.sync)
        phase(f"copy {len(cuts)} chunk files (copy_file_range)", copy_chunks)
        phase("sync", os.sync)
        phase("cp of the whole file (copy_file_range)", lambda: shutil.copyfile(src, tmp / "whole"))
        phase("sync", os.sync)
    finally:
        shutil.rmtree(tmp)
    if args.chunkers:
        others(m)
    m.close()
    os.close(fd)


def others(m: mmap.mmap) -> None:
    try:
        import fastcdc  # type: ignore[import-not-found]
        from fastcdc import fastcdc_cy  # type: ignore[import-not-found]  # noqa: F401
    except ImportError as e:
        print(f"  fastcdc (PyPI 'fastcdc'): not importable ({e})")
    else:
        phase(
            "fastcdc (PyPI 'fastcdc', cython) over bytes",
            lambda: sum(1 for _ in fastcdc.fastcdc(bytes(m), CDC_MIN, CDC_AVG, CDC_MAX, fat=False, hf=None)),
        )


if __name__ == "__main__":
    main()
