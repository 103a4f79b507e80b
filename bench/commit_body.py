"""How long the server takes to turn a commit body into a CommitRequest: the request model
(server/models.py: entries validated as tuples by pydantic's Rust core, then one cheap pass)
against the reference of a plain ``json.loads``. Run by hand: ``python bench/commit_body.py
[N]`` (default 1,000,000 entries); figures go in bench/RESULTS.md."""

from __future__ import annotations

import json
import statistics
import sys
import time

from cairn.server.models import parse_commit


def body(n: int) -> bytes:
    entries = [[f"dir{i % 1000}/file{i:07d}.bin", "blake3:%064x" % i, i] for i in range(n)]
    return json.dumps({"type": "dataset", "aliases": ["best"], "metadata": {"k": 1}, "entries": entries}).encode()


def timed(fn, repeat: int = 3) -> float:  # noqa: ANN001
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t)
    return statistics.median(runs)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    data = body(n)
    loads = timed(lambda: json.loads(data))
    parse = timed(lambda: parse_commit("e", "p", "n", data))
    print(f"{n:,} entries, body {len(data) / 2**20:.0f} MiB")
    print(f"json.loads alone:           {loads:.2f} s")
    print(f"parse_commit (model+check): {parse:.2f} s")


if __name__ == "__main__":
    main()
