"""gc racing writers on the embedded store: three writer processes log, re-log identical
content (dedup), edit, upsert+finish and delete while a gc loop runs with a 3 s grace
period; writers and gc are SIGKILLed at seeded random moments and restarted. Afterwards
every committed version downloads and verifies, and once gc has run past the grace period
nothing is stored that no version or draft references."""

from __future__ import annotations

import time

import pytest

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
        rows = tx.tuples(
            "SELECT a.name, v.idx FROM versions v JOIN artifacts a ON a.id = v.artifact_id "
            "WHERE v.state = 'COMMITTED' ORDER BY a.name, v.idx"
        )
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


@pytest.mark.slow  # writers and gc killed at random moments of their work, until enough of it happened
@pytest.mark.timeout(1800)  # the race waits on its processes' progress, never on the clock: a guard against a hang
def test_gc_racing_writers_and_sigkills_on_the_embedded_store(cairn_home, tmp_path):
    client = get_client()
    gcmarks.set_grace(client.meta, GRACE)
    race = Race(tmp_path, child_env({"CAIRN_DIR": str(cairn_home)}), writers=3, seed=SEED)
    race.run(min_ok=100, min_gc_runs=15, writer_kills=10, gc_kills=3)
    counts = race.outcomes()
    assert not race.errors, race.errors[:3]
    assert counts["ok"] >= 100 and counts["gc"] >= 15, counts  # the race did happen
    assert race.kills["gc"] >= 3 and race.kills["writer"] >= 10, race.kills
    checked = check_store_after_race(client.meta, client.blobs, tmp_path)
    assert checked >= 5


def test_an_edit_whose_base_was_dropped_is_refused_and_the_id_not_reused(cairn_home):
    """The interleaving behind a failure of the race above (a committed version named a
    manifest chunk gc had removed). An incremental commit (``new_draft`` → ``save``) builds
    on its base's manifest and relies on the base's chunks without settling them, because
    its transaction checks that the base is still committed. Before schema 9, SQLite
    numbered rows max(id) + 1, so when the base was the newest row and its collection was
    dropped, the next version logged took the same id: a check by id alone then saw a
    committed version, and the edit committed on top of chunks gc had removed. Ids are now
    never handed out twice (and the commit also checks the base's manifest key).

    Barrier: the edit's commit has built its manifest and written its new chunks (its last
    step before the transaction); there the collection is dropped, another version is
    logged, and gc marks and (one grace period later) removes the base's chunks."""
    from cairn.core import manifest as mf
    from cairn.core.errors import ArtifactNotFoundError
    from cairn.core.versions import CommitRequest, Edits

    c = get_client()
    gcmarks.set_grace(c.meta, 0.3)
    digest, size = c.blobs.put_bytes(b"shared by every entry of the base")
    # enough entries for several leaves: the edit rewrites one leaf and keeps the others
    entries = [mf.Entry(f"d/{i:05d}.txt", digest, size) for i in range(2000)]
    base = c.engine.commit(
        CommitRequest(entity="local", project="uncategorized", name="e", type="dataset", entries=entries)
    )
    base_chunks = _tree_keys(c.meta, base.manifest_key)
    assert len(base_chunks) > 3
    new_digest, new_size = c.blobs.put_bytes(b"the edit's one new file")
    edit = CommitRequest(
        entity="local",
        project="uncategorized",
        name="e",
        type="dataset",
        base_version_id=base.id,
        edits=Edits(upserts={"d/new.txt": mf.Entry("d/new.txt", new_digest, new_size)}),
    )
    put_chunks, reused = c.meta.put_chunks, []

    def barrier(chunks, tx=None):  # the edit's chunks are written; its transaction is next
        put_chunks(chunks, tx)
        if reused or tx is not None:  # (put_chunks calls itself inside its transaction)
            return
        reused.append(True)
        c.engine.delete_collection("local", "uncategorized", "e", delete_aliases=True)
        other = c.engine.commit(
            CommitRequest(
                entity="local",
                project="uncategorized",
                name="f",
                type="dataset",
                entries=[mf.Entry("x.txt", new_digest, new_size)],
            )
        )
        reused.append(other.id)
        gc.collect(c.meta, c.blobs)  # marks the dropped base's chunks
        time.sleep(0.3 * 1.2)  # the grace period, on the store's clock
        gc.collect(c.meta, c.blobs)  # removes them

    c.meta.put_chunks = barrier
    try:
        with pytest.raises(ArtifactNotFoundError) as err:
            c.engine.commit(edit)
    finally:
        del c.meta.put_chunks
    assert reused[1] > base.id  # the newest id, dropped, is not handed out again
    assert "base version" in str(err.value)
    with c.meta.read() as tx:
        assert not set(tx.scalars("SELECT key FROM chunks")) & base_chunks  # gc did remove them
        committed = tx.tuples("SELECT manifest_key FROM versions WHERE state = 'COMMITTED'")
    for (key,) in committed:  # every committed version's manifest is whole
        _tree_keys(c.meta, key)


def _tree_keys(ms, root_key: str) -> set[str]:
    """Every chunk key of a manifest tree; fails if one is missing."""
    from cairn.core.manifest import decode_chunk

    keys, frontier = {root_key}, [root_key]
    while frontier:
        loaded = ms.get_chunks(frontier)
        missing = set(frontier) - set(loaded)
        assert not missing, f"manifest chunks missing: {sorted(missing)[:3]}"
        nxt = []
        for k in frontier:
            node = decode_chunk(k, loaded[k])
            for child in node.get("children", []):
                if child[2] not in keys:
                    keys.add(child[2])
                    nxt.append(child[2])
        frontier = nxt
    return keys


def test_a_draft_whose_base_was_dropped_is_refused(cairn_home, tmp_path):
    """The same interleaving seen from the SDK: a draft made from the newest version, whose
    collection is then dropped before the next version is logged, is refused and never saved
    on top of that other version's files (whose id, since schema 9, is a new one)."""
    from cairn.core.errors import ArtifactNotFoundError

    def log(name: str, data: bytes) -> cairn.Artifact:
        p = tmp_path / f"{name}.bin"
        p.write_bytes(data)
        a = cairn.Artifact(name, "dataset")
        a.add_file(str(p), name=f"{name}.bin")
        a.save()
        return a

    base = log("e", b"e's file")
    draft = cairn.Api().artifact("e:v0").new_draft()
    draft.add_file(str(tmp_path / "e.bin"), name="more.bin")
    cairn.Api().artifact_collection("dataset", "e").delete(delete_aliases=True)
    other = log("f", b"f's file")
    assert int(other.id) > int(base.id)  # the dropped newest id is not handed out again
    with pytest.raises(ArtifactNotFoundError) as err:
        draft.save()
    assert "base version" in str(err.value)
    with pytest.raises(ArtifactNotFoundError):
        cairn.Api().artifact("e:latest")
