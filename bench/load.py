"""Load: concurrent clients logging, reading and listing through two replicas on PostgreSQL +
SeaweedFS. Run by hand (not by CI); figures go to bench/RESULTS.md.

    .venv/bin/python bench/load.py [--clients 64] [--seconds 300] [--procs 8]

Each client is a thread of one of ``--procs`` worker processes (so that the clients' own
GIL does not become the bottleneck) and uses the SDK with CAIRN_BASE_URL naming both
replicas, half of the processes the first one first. All clients come from one address
without keys, so the replicas' per-caller cap is raised to 64 (else 4 at a time). A client repeats: log a version of its own
artifact (4 small files, one changed each time), read it back (resolve + download),
list (collections, versions). Every HTTP call's latency is taken from the SDK's httpx
client (event hooks), by route. Prints requests/s, p50/p99 per route, errors, and the
replicas' memory (VmHWM, VmRSS) at the end.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import re
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

_SEGMENTS = [
    (re.compile(r"^/api/v1/projects/[^/]+/[^/]+/artifacts/[^/]+/resolve/[^/]+$"), "GET resolve"),
    (re.compile(r"^/api/v1/projects/[^/]+/[^/]+/artifacts/[^/]+/versions$"), "{m} artifact versions"),
    (re.compile(r"^/api/v1/projects/[^/]+/[^/]+/artifacts$"), "GET collections"),
    (re.compile(r"^/api/v1/projects/[^/]+/[^/]+/blobs/([a-z]+(/[a-z]+)?)$"), "POST blobs/{1}"),
    (re.compile(r"^/api/v1/projects/[^/]+/[^/]+/blobs/blake3:[0-9a-f]+$"), "{m} blob"),
    (re.compile(r"^/api/v1/projects/[^/]+/[^/]+/runs$"), "{m} runs"),
    (re.compile(r"^/api/v1/runs/[^/]+/([a-z]+)$"), "POST runs/{1}"),
    (re.compile(r"^/api/v1/versions/\d+$"), "{m} version"),
]


def route(method: str, path: str) -> str:
    for rx, name in _SEGMENTS:
        m = rx.match(path)
        if m:
            return name.replace("{m}", method).replace("{1}", m.group(1) if m.groups() else "")
    return f"{method} {path}"


def worker(proc: int, threads: int, urls: list[str], seconds: float, out: mp.Queue) -> None:
    os.environ["CAIRN_SILENT"] = "1"
    os.environ["CAIRN_CACHE_DIR"] = tempfile.mkdtemp(prefix=f"load-cache-{proc}-")
    import cairn
    from cairn.client import get_client

    lat: dict[str, list[float]] = defaultdict(list)
    errors: list[str] = []
    counts = defaultdict(int)
    lock = threading.Lock()

    def client_loop(n: int) -> None:
        work = Path(tempfile.mkdtemp(prefix=f"load-{proc}-{n}-"))
        os.environ.setdefault("CAIRN_ENTITY", "load")
        end = time.monotonic() + seconds
        i = 0
        name = f"p{proc}c{n}"
        for k in range(4):
            (work / f"f{k}.txt").write_text(f"{name} file {k}\n" * 100)
        while time.monotonic() < end:
            try:
                (work / "f0.txt").write_text(f"{name} version {i}\n" * 100)
                a = cairn.Artifact(name, "dataset")
                a.add_dir(str(work))
                a.save(project="load")
                got = cairn.Api().artifact(f"load/{name}:latest")
                got.download(str(work.parent / f"dl-{proc}-{n}"))
                cairn.Api().artifact_collections("load")
                cairn.Api().artifacts("dataset", f"load/{name}")
                with lock:
                    counts["cycles"] += 1
            except Exception as e:  # every error counts; the loop goes on
                with lock:
                    errors.append(f"{type(e).__name__}: {e}"[:300])
            i += 1

    os.environ["CAIRN_BASE_URL"] = ",".join(urls if proc % 2 == 0 else reversed(urls))  # half on each replica
    os.environ["CAIRN_ENTITY"] = "load"
    client = get_client()

    def on_request(request):  # noqa: ANN001, ANN202
        request.extensions["t0"] = time.perf_counter()

    def on_response(response):  # noqa: ANN001, ANN202
        took = time.perf_counter() - response.request.extensions["t0"]
        with lock:
            lat[route(response.request.method, response.request.url.path)].append(took)
            if response.status_code >= 500:
                counts["http_5xx"] += 1
            if response.status_code == 429:
                counts["http_429"] += 1

    client._http.event_hooks = {"request": [on_request], "response": [on_response]}
    ts = [threading.Thread(target=client_loop, args=(n,)) for n in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    out.put({"lat": dict(lat), "errors": errors, "counts": dict(counts)})


def server_pid(port: int) -> int | None:
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                args = open(f"/proc/{d}/cmdline", "rb").read().split(b"\0")
            except OSError:
                continue
            if b"--port" in args and args[args.index(b"--port") + 1] == str(port).encode():
                return int(d)
    return None


def memory(pid: int) -> dict[str, str]:
    return {line.split(":")[0]: line.split(":")[1].strip() for line in open(f"/proc/{pid}/status")
            if line.startswith(("VmHWM", "VmRSS"))}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=64)
    ap.add_argument("--seconds", type=float, default=300)
    ap.add_argument("--procs", type=int, default=8)
    args = ap.parse_args()
    from servers import cairn_server
    from services import create_database, postgres_server, seaweed_s3

    work = Path(tempfile.mkdtemp(prefix="cairn-load-"))
    with postgres_server(work / "pg") as pg, seaweed_s3(work / "s3") as s3:
        s3.client().create_bucket(Bucket="cairn")
        meta = "postgresql://" + create_database(pg, "registry").partition("://")[2]
        # every client comes from 127.0.0.1 without a key: one caller for the per-caller cap
        env = {**s3.env(), "CAIRN_DIR": str(work / "unused-home"), "CAIRN_SERVER_HEAVY_PER_CALLER": "64"}
        srv = ("--meta", meta, "--blobs", "s3://cairn/load", "--no-ui")
        with cairn_server(work / "a", env, *srv) as a, cairn_server(work / "b", env, *srv) as b:
            os.environ.update(s3.env())
            q: mp.Queue = mp.Queue()
            per = args.clients // args.procs
            t0 = time.monotonic()
            ps = [mp.Process(target=worker, args=(i, per, [a, b], args.seconds, q)) for i in range(args.procs)]
            for p in ps:
                p.start()
            results = [q.get() for _ in ps]
            for p in ps:
                p.join()
            wall = time.monotonic() - t0
            mem = {u: memory(server_pid(int(u.rsplit(":", 1)[1]))) for u in (a, b)}
    lat: dict[str, list[float]] = defaultdict(list)
    errors, counts = [], defaultdict(int)
    for r in results:
        for k, v in r["lat"].items():
            lat[k] += v
        errors += r["errors"]
        for k, v in r["counts"].items():
            counts[k] += v
    total = sum(len(v) for v in lat.values())
    print(f"clients {args.clients} ({args.procs} processes), {wall:.0f} s, {counts['cycles']} cycles "
          f"(log + read + list), {total} requests, {total / wall:.1f} requests/s")
    print(f"errors: {len(errors)}; HTTP 5xx: {counts['http_5xx']}; HTTP 429: {counts['http_429']}")
    for e in errors[:10]:
        print("  ", e)
    print(f"{'route':34} {'n':>7} {'p50 ms':>8} {'p99 ms':>8}")
    for k in sorted(lat, key=lambda k: -len(lat[k])):
        v = sorted(lat[k])
        print(f"{k:34} {len(v):7} {v[len(v) // 2] * 1000:8.1f} {v[min(len(v) - 1, int(len(v) * 0.99))] * 1000:8.1f}")
    print("replica memory:", json.dumps(mem))


if __name__ == "__main__":
    main()
