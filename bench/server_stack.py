"""What the server benches share: PostgreSQL + SeaweedFS started as tests/services.py does,
one `cairn server` per checkout being compared (its own database and bucket prefix, a user
with write on the bench entity), and the CPU seconds of a process read from /proc.

Used by server_large_file.py and server_small_files.py; needs tests/ on sys.path (they put it
there) and the server extra installed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class Replica:
    """One checkout's server: its URL, the bench user's API key and the server's pid."""

    url: str
    key: str
    pid: int


def cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` and its reaped children (in seconds)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


@contextmanager
def server_stack(tmp: Path, variants: list[tuple[str, str]], entity: str) -> Iterator[tuple[Any, dict[str, Replica]]]:
    """PostgreSQL, SeaweedFS with a bucket ``cairn``, and a server per (label, src folder) in
    ``variants`` on s3://cairn/<label>; yields (the SeaweedFS handle, {label: Replica})."""
    from servers import cairn_server
    from services import create_database, postgres_server, seaweed_s3, server_pid

    from cairn.engine import accounts as auth
    from cairn.storage.registry import open_meta

    with ExitStack() as stack:
        pg = stack.enter_context(postgres_server(tmp / "pg"))
        s3 = stack.enter_context(seaweed_s3(tmp / "s3"))
        s3.client().create_bucket(Bucket="cairn")
        replicas = {}
        for label, path in variants:
            meta_url = "postgresql://" + create_database(pg, f"reg_{label}").partition("://")[2]
            meta = open_meta(meta_url)
            key = auth.create_user(meta, "bencher")
            auth.add_member(meta, entity, "bencher", "write")
            meta.dispose()
            env = {**s3.env(), "PYTHONPATH": path, "CAIRN_DIR": str(tmp / f"home-{label}")}
            url = stack.enter_context(
                cairn_server(tmp / f"srv-{label}", env, "--meta", meta_url, "--blobs", f"s3://cairn/{label}")
            )
            replicas[label] = Replica(url, key, server_pid(int(url.rsplit(":", 1)[1])))
        yield s3, replicas
