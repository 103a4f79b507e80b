"""gc racing writers on the embedded store: three writer processes log, re-log identical
content (dedup), edit, upsert+finish and delete while a gc loop runs with a 3 s grace
period; writers and gc are SIGKILLed at seeded random moments and restarted. Afterwards
every committed version downloads and verifies, and once gc has run past the grace period
nothing is stored that no version or draft references."""

from __future__ import annotations

import time

from gc_race import Race, child_env, referenced

import cairn
from cairn.client import get_client
from cairn.engine import gc, gcmarks

GRACE = 3.0
SEED = 1729


def check_store_after_race(ms, blobs, tmp_path) -> int:
    """Every committed version downloads and verifies; after a gc past the grace period only
    what is referenced is stored. Returns how many versions were checked."""
    gc.collect(ms, blobs)  # marks what the killed processes left
    time.sleep(GRACE * 1.2)
    gc.collect(ms, blobs)
    api = cairn.Api()
    checked = 0
    with ms.read() as tx:
        rows = tx.tuples("SELECT a.name, v.idx FROM versions v JOIN artifacts a ON a.id = v.artifact_id "
                         "WHERE v.state = 'COMMITTED' ORDER BY a.name, v.idx")
    for name, idx in rows:
        a = api.artifact(f"{name}:v{idx}")
        a.download(root=str(tmp_path / "check" / f"{name}-v{idx}"))  # verifies every file
        checked += 1
    live_blobs, live_chunks = referenced(ms, blobs)
    stored = {d for d, _ in gc._iter_stored(blobs)}
    with ms.read() as tx:
        chunks = set(tx.scalars("SELECT key FROM chunks"))
    assert live_blobs <= stored, f"referenced but missing: {sorted(live_blobs - stored)[:3]}"
    assert stored == live_blobs, f"{len(stored - live_blobs)} unreferenced blobs left after gc past the grace period"
    assert live_chunks <= chunks and chunks == live_chunks
    return checked


def test_gc_racing_writers_and_sigkills_on_the_embedded_store(cairn_home, tmp_path):
    client = get_client()
    gcmarks.set_grace(client.meta, GRACE)
    race = Race(tmp_path, child_env({"CAIRN_DIR": str(cairn_home)}), writers=3, seed=SEED)
    race.run(seconds=30)
    counts = race.outcomes()
    assert not race.errors, race.errors[:3]
    assert counts["ok"] >= 10 and counts["gc"] >= 3, counts  # the race did happen
    assert race.kills["gc"] >= 1 and race.kills["writer"] >= 3, race.kills
    checked = check_store_after_race(client.meta, client.blobs, tmp_path)
    assert checked >= 5
