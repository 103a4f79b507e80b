"""gc collects what integrity checks and killed servers leave behind: damaged blobs set
aside in ``quarantine/`` (after the quarantine ttl) and a server's upload temp files
(untouched for the grace period and at least an hour); younger ones stay, and a dry run
only counts them."""

from __future__ import annotations

import os
import time

from helpers import write

import cairn
from cairn.client import get_client
from cairn.engine import gc, gcmarks
from cairn.storage.blobs.local import UPLOAD_TEMP_PREFIX

DAY = 86400


def _age(path, seconds: float) -> None:
    """Make a file look ``seconds`` old (its mtime), as if left that long ago."""
    t = time.time() - seconds
    os.utime(path, (t, t))


def _damage_and_set_aside(name: str, data: bytes) -> str:
    a = cairn.Artifact(name, "dataset")
    a.add_file(str(write(f"{name}.bin", data)), name="f.bin")
    a.save()
    digest = a.get_entry("f.bin").digest
    c = get_client()
    path = c.blobs._spath(digest)
    os.chmod(path, 0o644)
    with open(path, "r+b") as f:
        f.write(b"X")  # one flipped byte
    assert c.blobs.quarantine(digest)
    return digest


def test_blobs_set_aside_go_after_the_quarantine_ttl(cairn_home):
    c = get_client()
    _damage_and_set_aside("old", os.urandom(100_000))
    _damage_and_set_aside("young", os.urandom(100_000))
    aside = sorted((cairn_home / "blobs" / "quarantine").iterdir())
    assert len(aside) == 2
    _age(aside[0], 8 * DAY)
    dry = gc.collect(c.meta, c.blobs, gc.GcOptions(dry_run=True))
    assert dry.removed_quarantine.count == 1 and dry.removed_quarantine.bytes == 100_000
    assert len(list((cairn_home / "blobs" / "quarantine").iterdir())) == 2
    report = gc.collect(c.meta, c.blobs)  # default ttl: 7 days
    assert report.removed_quarantine.count == 1
    assert sorted((cairn_home / "blobs" / "quarantine").iterdir()) == aside[1:]
    assert report.lines()[1].endswith(", 1 (97.7 KiB) set-aside damaged blobs"), report.lines()[1]
    report = gc.collect(c.meta, c.blobs, gc.GcOptions(quarantine_ttl_seconds=0))
    assert report.removed_quarantine.count == 1
    assert list((cairn_home / "blobs" / "quarantine").iterdir()) == []


def test_upload_temp_files_a_killed_server_left_go_after_the_grace_period(cairn_home, tmp_path):
    c = get_client()
    gcmarks.set_grace(c.meta, 60)
    temp = tmp_path / "system-temp"
    temp.mkdir()
    left = temp / f"{UPLOAD_TEMP_PREFIX}abc"
    left.write_bytes(b"x" * 1000)
    _age(left, 2 * 3600)  # past the grace period and the server's own hour
    young = temp / f"{UPLOAD_TEMP_PREFIX}ghi"  # past the grace period, not the hour: may be a stalled upload
    young.write_bytes(b"w")
    _age(young, 600)
    live = temp / f"{UPLOAD_TEMP_PREFIX}def"  # an upload in flight writes to its file
    live.write_bytes(b"y" * 10)
    other = temp / "someone-elses-file"
    other.write_bytes(b"z")
    _age(other, 10 * DAY)
    opts = gc.GcOptions(upload_temp=(str(temp), UPLOAD_TEMP_PREFIX))
    report = gc.collect(c.meta, c.blobs, opts)
    assert report.removed_temp.count == 1 and report.removed_temp.bytes == 1000
    assert sorted(p.name for p in temp.iterdir()) == [live.name, young.name, other.name]


def test_cairn_gc_takes_a_quarantine_ttl(cairn_home):
    from click.testing import CliRunner

    from cairn.cli.main import main

    _damage_and_set_aside("a", os.urandom(100_000))
    out = CliRunner().invoke(main, ["gc", "--dry-run", "--quarantine-ttl", "0s", "--json"])
    assert out.exit_code == 0, out.output
    assert '"removed_quarantine"' in out.output and '"count": 1' in out.output
    out = CliRunner().invoke(main, ["gc", "--quarantine-ttl", "nonsense"])
    assert out.exit_code != 0 and "nonsense" in out.output
