"""The harness of the gc race tests: writers and a gc loop as real processes on one store,
SIGKILLed and restarted at seeded random moments; then the checks that matter.

Used by tests/engine/test_gc_race.py (embedded store) and tests/server/test_gc_race_server.py
(replicas on PostgreSQL + SeaweedFS)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

WORKER = Path(__file__).parent / "engine" / "gc_race_worker.py"


class Race:
    def __init__(self, tmp: Path, env: dict[str, str], writers: int, seed: int) -> None:
        self.tmp, self.env, self.seed = tmp, env, seed
        self.rng = random.Random(seed)
        self.roles = ["gc"] + [f"writer {seed * 100 + i}" for i in range(writers)]
        self.procs: dict[int, subprocess.Popen] = {}
        self.restarts = 0
        self.env_for = lambda slot: {}  # more environment for one slot (e.g. which replica)
        self.kills = {"gc": 0, "writer": 0}

    def _start(self, slot: int) -> None:
        role = self.roles[slot]
        log = self.tmp / f"log-{slot}.txt"
        env = {**self.env, **self.env_for(slot), "CAIRN_CACHE_DIR": str(self.tmp / f"cache-{slot}-{self.restarts}")}
        args = [sys.executable, str(WORKER), *role.split()[:1], str(log), *role.split()[1:]]
        if role.startswith("writer"):  # a restarted writer does other things than its predecessor
            args[-1] = str(int(args[-1]) + 1000 * self.restarts)
        self.procs[slot] = subprocess.Popen(
            args, env=env, cwd=self.tmp, stdout=subprocess.DEVNULL, stderr=open(self.tmp / f"stderr-{slot}.txt", "a")
        )
        self.restarts += 1

    def run(self, seconds: float) -> None:
        """Run every role; SIGKILL one at a random moment (seeded), restart it; repeat."""
        for slot in range(len(self.roles)):
            self._start(slot)
        end = time.monotonic() + seconds
        gc_runs = 0
        while time.monotonic() < end:
            time.sleep(self.rng.uniform(0.3, 2.5))  # the random moment of the next kill
            slot = self.rng.randrange(len(self.roles))
            if slot == 0:
                # gc is killed only once the current process has finished a run (observed in its
                # log), so that a slow machine still sees runs complete between kills
                done = self._lines(0)
                if done <= gc_runs:
                    continue
                gc_runs = done
            self.procs[slot].send_signal(signal.SIGKILL)
            self.procs[slot].wait()
            self.kills["gc" if slot == 0 else "writer"] += 1
            self._start(slot)
        for p in self.procs.values():
            p.send_signal(signal.SIGKILL)
            p.wait()

    def _lines(self, slot: int) -> int:
        log = self.tmp / f"log-{slot}.txt"
        return len(log.read_text().splitlines()) if log.exists() else 0

    def outcomes(self) -> dict[str, int]:
        """How many writer operations ended ok / refused / error, and the error lines."""
        counts = {"ok": 0, "refused": 0, "error": 0, "gc": 0}
        self.errors: list[str] = []
        for slot in range(len(self.roles)):
            log = self.tmp / f"log-{slot}.txt"
            if not log.exists():
                continue
            for line in log.read_text().splitlines():
                kind = line.split(" ", 1)[0]
                if kind in counts:
                    counts[kind] += 1
                if kind == "error":
                    self.errors.append(line)
        return counts


def child_env(store_env: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CAIRN_", "GC_"))}
    env.update(store_env, CAIRN_SILENT="1")
    return env


def referenced(ms, blobs) -> tuple[set[str], set[str]]:
    """Blobs and manifest chunks that committed versions and open drafts reference, found
    the plain way (every entry of every manifest), not with gc's walk."""
    from cairn.core.manifest import Manifest

    with ms.read() as tx:
        keys = tx.scalars("SELECT DISTINCT manifest_key FROM versions WHERE state = 'COMMITTED'")
        draft = set(tx.scalars("SELECT digest FROM draft_entries WHERE ref IS NULL"))
    digests, chunks = set(draft), set()
    for key in keys:
        m = Manifest(key, ms.get_chunks)
        digests.update(e.digest for e in m if e.ref is None)
        stack = [key]
        while stack:  # every chunk of the tree
            k = stack.pop()
            chunks.add(k)
            node = m._get(k)
            stack.extend(c[2] for c in node.get("children", []))
    parts = getattr(blobs, "recipe_parts", None)
    if parts is not None:
        for chunk_list in parts(list(digests)).values():
            digests.update(chunk_list)
    return digests, chunks
