"""cairn-only scenarios that need more than a CLI call, measured in-process or with real
services: peak RSS against file count (12,500 / 50,000 / 200,000 small files), import
time, a 1,000,000-entry version edited by one entry, 32 processes into one distributed
version, successive in-place edits of a huge file, then appends (bytes stored), and
server + SeaweedFS against raw boto3. Writes a markdown section to stdout (and --out).

    python bench/extra.py [--quick] [--only NAME ...] [--out bench/RESULTS-extra.md]

Run by hand, never in CI. Uses tests/services.py for PostgreSQL-free SeaweedFS.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PY = str(REPO / ".venv" / "bin" / "python")
sys.path.insert(0, str(REPO / "tests"))


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def child(code: str, env: dict[str, str], cwd: str | None = None) -> dict:
    """Run ``code`` in a fresh interpreter; it prints one JSON object as its last line."""
    out = subprocess.run(
        [PY, "-c", textwrap.dedent(code)],
        env={**os.environ, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


# -- import ------------------------------------------------------------------------


def bench_import(work: Path, quick: bool) -> list[str]:
    times = []
    for _ in range(7):
        t = time.perf_counter()
        subprocess.run([PY, "-c", "import cairn"], check=True)
        times.append(time.perf_counter() - t)
    base = []
    for _ in range(7):
        t = time.perf_counter()
        subprocess.run([PY, "-c", "pass"], check=True)
        base.append(time.perf_counter() - t)
    return [
        f'| `python -c "import cairn"` | {median(times):.3f} s (min {min(times):.3f}) | python alone {median(base):.3f} s | target ≤ 0.2 s |'
    ]


# -- wide --------------------------------------------------------------------------

WIDE = """
import json, os, sys, time
from pathlib import Path
import cairn
from cairn.client import get_client
n = int(sys.argv[1]) if len(sys.argv) > 1 else {n}
client = get_client()
# set-up (not timed): n distinct tiny blobs and a version listing them all
t0 = time.perf_counter()
from cairn.core.digest import Digest
items = [(f"d{{i % 1000:03d}}/f{{i:07d}}.txt", f"entry {{i}}\\n".encode()) for i in range({n})]
blobs = [(str(Digest.of_bytes(b)), len(b)) for _, b in items]
client.blobs.put_blobs([(d, b) for (d, _), (_, b) in zip(blobs, items)])  # one transaction
client.blobs.flush()
with cairn.init(project="wide") as run:
    a = cairn.Artifact("wide{n}", "dataset")
    from cairn.core.manifest import Entry
    a._state.staged.put_many([(Entry(p, d, s), None) for (p, _), (d, s) in zip(items, blobs)])  # no local files
    run.log_artifact(a)
setup = time.perf_counter() - t0
Path("edit.txt").write_text("changed")
times = []
for k in range(5):
    Path("edit.txt").write_text(f"changed {{k}}")
    t = time.perf_counter()
    d = cairn.Api().artifact("wide/wide{n}:latest").new_draft()
    d.remove("d500/f0000500.txt") if k == 0 else None
    d.add_file("edit.txt", name="d500/f0000500.txt", overwrite=True)
    d.save()
    times.append(time.perf_counter() - t)
print(json.dumps({{"setup": setup, "times": times, "files": d.file_count}}))
"""


def bench_wide(work: Path, quick: bool) -> list[str]:
    rows = []
    results = {}
    for n in (1000, 100_000) if quick else (1000, 1_000_000):
        home = work / f"wide-{n}"
        shutil.rmtree(home, ignore_errors=True)
        home.mkdir(parents=True)
        r = child(WIDE.format(n=n), {"CAIRN_DIR": str(home / "store")}, cwd=str(home))
        results[n] = r
        rows.append(
            f"| new version of a {n:,}-entry artifact changing 1 entry (draft, add, save; in-process) "
            f"| {median(r['times']):.3f} s (min {min(r['times']):.3f}, max {max(r['times']):.3f}) "
            f"| set-up {r['setup']:.1f} s, {r['files']:,} files | target < 0.2 s |"
        )
    small, big = results[min(results)], results[max(results)]
    rows.append(
        f"| ratio wide / 1,000 entries | {median(big['times']) / median(small['times']):.2f}× | | target ≤ 3× |"
    )
    return rows


# -- distributed -------------------------------------------------------------------

UPSERT = """
import json, os, sys, time
import cairn
n, files, start = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
os.makedirs("src", exist_ok=True)
for i in range(files):
    with open(f"src/{i}.txt", "w") as f:
        f.write(f"process {n} file {i}")
while time.time() < start:
    time.sleep(0.002)
t = time.perf_counter()
with cairn.init(project="dist", group="g") as run:
    a = cairn.Artifact("shards", "predictions")
    a.add_dir("src", name=f"p{n:02d}")
    run.upsert_artifact(a)
print(json.dumps({"t": time.perf_counter() - t}))
"""


def bench_distributed(work: Path, quick: bool) -> list[str]:
    procs_n, files = (8, 100) if quick else (32, 500)
    home = work / "dist"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    env = {**os.environ, "CAIRN_DIR": str(home / "store")}
    start = time.time() + 5
    procs = []
    for n in range(procs_n):
        d = home / f"p{n}"
        d.mkdir()
        procs.append(
            subprocess.Popen(
                [PY, "-c", UPSERT, str(n), str(files), str(start)],
                cwd=d,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    per = []
    for p in procs:
        out, err = p.communicate()
        if p.returncode:
            raise RuntimeError(err[-2000:])
        per.append(json.loads(out.strip().splitlines()[-1])["t"])
    wall = time.time() - start
    r = child(
        """
        import json, time
        import cairn
        t = time.perf_counter()
        with cairn.init(project="dist", group="g") as run:
            a = run.finish_artifact(cairn.Artifact("shards", "predictions"))
        print(json.dumps({"finish": time.perf_counter() - t, "files": a.file_count}))
    """,
        {"CAIRN_DIR": str(home / "store")},
    )
    ok = "every entry present" if r["files"] == procs_n * files else f"MISSING: {r['files']} of {procs_n * files}"
    return [
        f"| {procs_n} processes × {files} files upserted into one distributed version, then finish "
        f"| finish {r['finish']:.3f} s (whole process incl. start-up) | upserts: all done {wall:.1f} s after the start signal, "
        f"slowest {max(per):.2f} s; {ok} | finish < 2 s |"
    ]


# -- large file edits ----------------------------------------------------------------


def bench_large(work: Path, quick: bool) -> list[str]:
    size = (256 << 20) if quick else (1 << 30)
    home = work / "large"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    f = home / "model.bin"
    rnd = random.Random(11)
    with open(f, "wb") as out:
        for _ in range(size // (64 << 20)):
            out.write(rnd.randbytes(64 << 20))
    log = f"""
        import json, time
        import cairn
        t = time.perf_counter()
        with cairn.init(project="large") as run:
            a = cairn.Artifact("model", "model")
            a.add_file({str(f)!r})
            run.log_artifact(a)
        print(json.dumps({{"t": time.perf_counter() - t, "v": a.version}}))
    """
    env = {"CAIRN_DIR": str(home / "store")}

    def stored() -> int:
        return sum(p.stat().st_size for p in (home / "store" / "blobs").rglob("*") if p.is_file())

    times = []
    for k in range(10):
        if k:
            with open(f, "r+b") as fh:
                fh.seek(rnd.randrange(0, size - (1 << 20)))
                fh.write(rnd.randbytes(1 << 20))
        times.append(child(log, env)["t"])
    in_place = stored()
    appended = []
    for _ in range(5):  # then appends: only the new tail (and the chunk it reopens) is new
        with open(f, "ab") as fh:
            fh.write(rnd.randbytes(1 << 20))
        appended.append(child(log, env)["t"])
    grew = stored() - in_place
    gib = size / (1 << 30)
    return [
        f"| 10 successive versions of a {gib:g} GiB file, each with a 1 MiB in-place edit "
        f"| {in_place / (1 << 30):.3f} GiB stored (vs {10 * gib:g} GiB logical) "
        f"| per version median {median(times):.2f} s (first {times[0]:.2f} s) | goal: far below {10 * gib:g} GiB |",
        f"| then 5 more versions, each appending 1 MiB to it | +{grew / (1 << 20):.1f} MiB stored for 5 MiB appended "
        f"(vs {5 * gib:g} GiB logical) | per version median {median(appended):.2f} s | goal: about the bytes appended |",
    ]


# -- server + SeaweedFS vs boto3 --------------------------------------------------------


def bench_server_s3(work: Path, quick: bool) -> list[str]:
    from services import seaweed_s3

    from servers import cairn_server

    n_files = 100 if quick else 1000
    home = work / "s3"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    data = home / "big"
    rnd = random.Random(5)
    for i in range(n_files):
        p = data / f"d{i % 10}" / f"f{i:04d}.bin"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(rnd.randbytes(1 << 20))
    total = n_files << 20
    rows = []
    with seaweed_s3(home / "weed") as s3:
        c = s3.client()
        c.create_bucket(Bucket="raw")
        c.create_bucket(Bucket="cairn")
        from concurrent.futures import ThreadPoolExecutor

        files = sorted(p for p in data.rglob("*.bin"))
        # each timed step starts with nothing left to write back (run.py's method): the
        # steps write 1-2 GiB each, and writeback left over from one slows the next
        subprocess.run(["sync"], check=True)
        t = time.perf_counter()
        with ThreadPoolExecutor(16) as pool:
            list(
                pool.map(lambda p: c.put_object(Bucket="raw", Key=str(p.relative_to(data)), Body=p.read_bytes()), files)
            )
        raw_put = time.perf_counter() - t
        subprocess.run(["sync"], check=True)
        t = time.perf_counter()
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda p: c.get_object(Bucket="raw", Key=str(p.relative_to(data)))["Body"].read(), files))
        raw_get_mem = time.perf_counter() - t
        # a download writes files: the raw floor for it is boto3 getting each object into a file
        raw_out = home / "raw-out"

        def get_to_file(p: Path) -> None:
            dest = raw_out / p.relative_to(data)
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(c.get_object(Bucket="raw", Key=str(p.relative_to(data)))["Body"].read())

        subprocess.run(["sync"], check=True)
        t = time.perf_counter()
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(get_to_file, files))
        raw_get = time.perf_counter() - t
        env = {**s3.env(), "CAIRN_DIR": str(home / "unused")}
        with cairn_server(
            home / "srv", env, "--meta", f"sqlite:///{home / 'meta.sqlite'}", "--blobs", "s3://cairn/r", "--no-ui"
        ) as url:
            cenv = {"CAIRN_BASE_URL": url, "CAIRN_CACHE_DIR": str(home / "cache")}
            subprocess.run(["sync"], check=True)
            r = child(
                f"""
                import json, time
                import cairn
                t = time.perf_counter()
                with cairn.init(project="s3") as run:
                    a = cairn.Artifact("big", "dataset")
                    a.add_dir({str(data)!r})
                    run.log_artifact(a)
                print(json.dumps({{"t": time.perf_counter() - t}}))
            """,
                cenv,
            )
            subprocess.run(["sync"], check=True)
            g = child(
                f"""
                import json, time
                import cairn
                t = time.perf_counter()
                cairn.Api().artifact("s3/big:latest").download({str(home / "out")!r})
                print(json.dumps({{"t": time.perf_counter() - t}}))
            """,
                cenv,
            )
    mb = total / (1 << 20)
    rows.append(
        f"| server + SeaweedFS: log {n_files} × 1 MiB | {r['t']:.2f} s = {mb / r['t']:.0f} MiB/s "
        f"| raw boto3 put (16 threads) {raw_put:.2f} s = {mb / raw_put:.0f} MiB/s → {raw_put / r['t']:.0%} | target ≥ 80% |"
    )
    rows.append(
        f"| server + SeaweedFS: download {n_files} × 1 MiB (empty cache) | {g['t']:.2f} s = {mb / g['t']:.0f} MiB/s "
        f"| raw boto3 get into files (16 threads) {raw_get:.2f} s = {mb / raw_get:.0f} MiB/s → {raw_get / g['t']:.0%}; "
        f"into memory only {raw_get_mem:.2f} s → {raw_get_mem / g['t']:.0%} | target ≥ 80% |"
    )
    return rows


# -- memory against file count -------------------------------------------------------

_PEAK = """
import json, os, subprocess, sys, time
t = time.perf_counter()
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
_, status, ru = os.wait4(p.pid, 0)
print(json.dumps({"status": status, "s": time.perf_counter() - t, "mib": ru.ru_maxrss / 1024}))
"""


def _peak(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(seconds, peak RSS MiB) of one process, from wait4(), measured by a small helper
    process: a child started straight from this one would report this process's own peak
    (Linux keeps the high-water mark of the memory a process replaces at exec)."""
    out = subprocess.run([PY, "-c", _PEAK, *cmd], env={**os.environ, **env}, capture_output=True, text=True, check=True)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    if got["status"] != 0:
        raise SystemExit(f"{cmd} failed ({got['status']})")
    return got["s"], got["mib"]


def bench_memory(work: Path, quick: bool) -> list[str]:
    """Peak RSS of `cairn artifact put` / `get` for folders of 1 KiB files whose count grows
    16-fold: flat when nothing is held per file beyond a window."""
    cli = str(REPO / ".venv" / "bin" / "cairn")
    counts = [2_000, 8_000, 32_000] if quick else [12_500, 50_000, 200_000]
    rows = []
    for n in counts:
        src = work / f"mem-{n}"
        if not (work / f"mem-{n}.complete").exists():
            shutil.rmtree(src, ignore_errors=True)
            rng = random.Random(n)
            for i in range(n):
                d = src / f"d{i % 100:03d}"
                if i < 100:
                    d.mkdir(parents=True)
                (d / f"f{i:07d}.bin").write_bytes(rng.randbytes(1024))
            (work / f"mem-{n}.complete").touch()
        home = work / f"mem-home-{n}"
        shutil.rmtree(home, ignore_errors=True)
        env = {"CAIRN_DIR": str(home)}
        subprocess.run(["sync"], check=True)
        put = _peak([cli, "artifact", "put", str(src), "--name", "m", "--type", "dataset"], env)
        again = _peak([cli, "artifact", "put", str(src), "--name", "m", "--type", "dataset"], env)
        get = _peak([cli, "artifact", "get", "m:latest", "--root", str(home / "dl")], env)
        get_again = _peak([cli, "artifact", "get", "m:latest", "--root", str(home / "dl")], env)
        runs = (put, again, get, get_again)
        rows.append(
            f"| peak RSS, {n:,} × 1 KiB files (CLI) | log {put[1]:.0f} MiB, again {again[1]:.0f}, download {get[1]:.0f},"
            f" into a matching folder {get_again[1]:.0f} | seconds: "
            + " / ".join(f"{r[0]:.2f}" for r in runs)
            + " | flat in the file count |"
        )
        shutil.rmtree(home, ignore_errors=True)
    return rows


BENCHES = {
    "memory": bench_memory,
    "import": bench_import,
    "wide": bench_wide,
    "distributed": bench_distributed,
    "large": bench_large,
    "server-s3": bench_server_s3,
}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--only", nargs="+", choices=list(BENCHES))
    p.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "cairn-bench-extra")
    p.add_argument("--out", type=Path, default=HERE / "RESULTS-extra.md")
    args = p.parse_args()
    lines = ["| scenario | result | detail | target |", "|---|---|---|---|"]
    for name in args.only or BENCHES:
        print(f"[{name}] ...", file=sys.stderr, flush=True)
        try:
            lines += BENCHES[name](args.work, args.quick)
        except Exception as e:  # noqa: BLE001 - a broken scenario is reported, the others still run
            lines.append(f"| {name} | FAILED | {str(e).splitlines()[-1][:200]} | |")
        print("\n".join(lines[-1:]), file=sys.stderr, flush=True)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    lines.append(f"\nPeak RSS of any child process: {peak:.0f} MiB.")
    text = "\n".join(lines) + "\n"
    args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
