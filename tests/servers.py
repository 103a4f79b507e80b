"""Real ``cairn server`` processes for tests, on loopback ports."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from services import free_ports


@contextmanager
def cairn_server(workdir: Path, env: dict[str, str], *args: str) -> Iterator[str]:
    """Start ``cairn server`` with ``args`` on a free port; yield its base URL once it answers."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_ports(1)[0]
    log = open(workdir / f"server-{port}.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "cairn.cli", "server", "--host", "127.0.0.1", "--port", str(port), *args],
        env={**os.environ, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/api/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                tail = (workdir / f"server-{port}.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"cairn server did not start (exit {proc.poll()}):\n{tail}")
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
