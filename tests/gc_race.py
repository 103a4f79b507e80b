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
    """The roles as processes: slot 0 is the gc loop, the others writers. Every process
    appends a line to its log per finished operation (a writer's commit, refusal or
    deletion; one gc run), which is what the race waits on: never on the clock."""

    def __init__(self, tmp: Path, env: dict[str, str], writers: int, seed: int) -> None:
        self.tmp, self.env, self.seed = tmp, env, seed
        self.rng = random.Random(seed)
        self.roles = ["gc"] + [f"writer {seed * 100 + i}" for i in range(writers)]
        self.procs: dict[int, subprocess.Popen] = {}
        self.started_at: dict[int, int] = {}  # a slot's log lines when its current process started
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
        self.started_at[slot] = self._lines(slot)
        self.procs[slot] = subprocess.Popen(
            args, env=env, cwd=self.tmp, stdout=subprocess.DEVNULL, stderr=open(self.tmp / f"stderr-{slot}.txt", "a")
        )
        self.restarts += 1

    def run(self, min_ok: int = 10, min_gc_runs: int = 3, writer_kills: int = 3, gc_kills: int = 1) -> None:
        """Run every role; SIGKILL one (chosen by the seeded generator) at a random moment of
        its work, restart it; repeat until the race has happened: ``min_ok`` writer
        operations and ``min_gc_runs`` gc runs finished while the others ran, and at least
        that many kills of each. Each kill waits until its victim has finished an operation
        since it started (a writer's commit or deletion, a whole gc run: observed in its
        log), then a seeded 0-0.5 s more, so that it lands somewhere inside the next one. A
        slow machine makes the race take longer, never fail; pytest-timeout guards a hang."""
        for slot in range(len(self.roles)):
            self._start(slot)
        try:
            while not self._happened(min_ok, min_gc_runs, writer_kills, gc_kills):
                slot = self.rng.randrange(len(self.roles))
                self._wait_for_work(slot)
                time.sleep(self.rng.uniform(0, 0.5))  # where in its next operation the kill lands
                self.procs[slot].send_signal(signal.SIGKILL)
                self.procs[slot].wait()
                self.kills["gc" if slot == 0 else "writer"] += 1
                self._start(slot)
        finally:
            for p in self.procs.values():
                p.send_signal(signal.SIGKILL)
                p.wait()

    def _wait_for_work(self, slot: int) -> None:
        """Until the slot's current process has finished an operation (a line in its log)."""
        while self._lines(slot) <= self.started_at[slot]:
            if self.procs[slot].poll() is not None:  # it may not end by itself: a bug to show
                tail = (self.tmp / f"stderr-{slot}.txt").read_text(errors="replace")[-3000:]
                raise AssertionError(
                    f"{self.roles[slot]} ended by itself (exit {self.procs[slot].returncode}):\n{tail}"
                )
            time.sleep(0.05)  # polling the log, not a guess at how long the work takes

    def _happened(self, min_ok: int, min_gc_runs: int, writer_kills: int, gc_kills: int) -> bool:
        counts = self.outcomes()
        return (
            counts["ok"] >= min_ok
            and counts["gc"] >= min_gc_runs
            and self.kills["writer"] >= writer_kills
            and self.kills["gc"] >= gc_kills
        )

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
