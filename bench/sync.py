"""`cairn sync` of the "small" and "big" data sets to a server, against `cairn artifact put`
of the same folders to the same kind of server.

    python bench/sync.py [--quick] [--out]

For each data set: the folder is logged into a fresh embedded store (`cairn artifact put`,
not timed), then onto a fresh `cairn server` (its own embedded store, loopback) it is
  1. synced (`cairn sync --to URL`): everything travels;
  2. synced again: nothing should travel (only listings);
and, onto another fresh server, put directly (`cairn artifact put` with CAIRN_BASE_URL).
Each is its own process; wall time. With --out, a
section is appended to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import data  # noqa: E402
from servers import cairn_server  # noqa: E402


def cli(env: dict[str, str], *args: str) -> float:
    """Run `cairn ARGS`; its wall time in seconds."""
    t = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "cairn.cli", "-q", *args], env={**os.environ, **env}, capture_output=True, text=True
    )
    took = time.perf_counter() - t
    if out.returncode != 0:
        raise SystemExit(f"cairn {' '.join(args)} failed:\n{out.stderr[-2000:]}")
    return took


def one(name: str, quick: bool, work: Path) -> dict:
    spec = data.specs(quick)[name]
    folder = data.ensure(spec, data.dataset_dir(data.DEFAULT_WORK, quick, name), log=lambda *a: None)
    base = {"CAIRN_CACHE_DIR": str(work / "cache"), "CAIRN_SETTINGS": "/nonexistent/settings.json"}
    for var in ("CAIRN_BASE_URL", "CAIRN_API_KEY"):
        os.environ.pop(var, None)
    local = {**base, "CAIRN_DIR": str(work / f"{name}-laptop")}
    cli(local, "artifact", "put", str(folder), "--name", f"bench/{name}", "--type", "dataset")
    row = {"dataset": spec.describe()}
    with cairn_server(work / f"{name}-srv1", {"CAIRN_DIR": str(work / f"{name}-server1")}, "--no-ui") as url:
        row["sync"] = cli(local, "sync", "--to", url)
        row["sync again"] = cli(local, "sync", "--to", url)
    with cairn_server(work / f"{name}-srv2", {"CAIRN_DIR": str(work / f"{name}-server2")}, "--no-ui") as url:
        remote = {
            **base,
            "CAIRN_DIR": str(work / f"{name}-client"),
            "CAIRN_BASE_URL": url,
            "CAIRN_CACHE_DIR": str(work / "cache2"),
        }
        row["put"] = cli(remote, "artifact", "put", str(folder), "--name", f"bench/{name}", "--type", "dataset")
    return row


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="the quick data sets (a tenth)")
    ap.add_argument("--out", action="store_true", help="append the table to bench/RESULTS.md")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="cairn-sync-bench-") as tmp:
        for name in ("small", "big"):
            rows.append(one(name, args.quick, Path(tmp)))
            print(rows[-1], flush=True)
    lines = [
        "| data set | `cairn sync` | sync again (nothing to send) | `cairn artifact put` to a server |",
        "|---|---|---|---|",
    ]
    for r in rows:
        cells = [f"{r[k]:.1f} s" for k in ("sync", "sync again", "put")]
        lines.append(f"| {r['dataset']} | " + " | ".join(cells) + " |")
    print("\n".join(lines))
    if args.out:
        stamp = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
        with open(Path(__file__).parent / "RESULTS.md", "a") as f:
            f.write(
                f"\n## Sync (`python bench/sync.py{' --quick' if args.quick else ''}`, {stamp} UTC, lifecycle; "
                f"2 shared cores, load average {os.getloadavg()[0]:.0f})\n\n" + "\n".join(lines) + "\n"
            )


if __name__ == "__main__":
    main()
