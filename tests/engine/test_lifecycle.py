"""Delete, gc, TTL and retention on the embedded store: what goes, what stays, and that the
bytes on disk return to where they were once the versions that held them are gone."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path

import pytest
from helpers import write

import cairn
from cairn.client import get_client
from cairn.core.errors import ArtifactNotFoundError, BlobNotFoundError, StoreError, UsageError
from cairn.core import progress
from cairn.engine import gc, gcmarks
from cairn.storage.blobs import local as local_blobs

GRACE = 0.5


def _client():
    return get_client()


def _gc(dry_run: bool = False):
    c = _client()
    return gc.collect(c.meta, c.blobs, gc.GcOptions(dry_run=dry_run))


def _gc_past_grace():
    """Mark, wait out the grace period, sweep: what nothing references is then gone."""
    _gc()
    time.sleep(GRACE * 1.2)
    return _gc()


@pytest.fixture(autouse=True)
def short_grace(cairn_home):
    gcmarks.set_grace(_client().meta, GRACE)


def _disk(home: Path) -> tuple[int, int, int]:
    """(bytes of blob files, bytes of the pack file, manifest chunks). The pack's log is
    checkpointed first, so that its size counts every page it holds."""
    _client().blobs.reclaim_space()
    objects = home / "blobs" / "objects"
    files = sum(f.stat().st_size for f in objects.rglob("*") if f.is_file()) if objects.exists() else 0
    pack = home / "blobs" / "packs.sqlite"
    c = _client()
    with c.meta.read() as tx:
        chunks = tx.scalar("SELECT count(*) FROM chunks")
    return files, pack.stat().st_size if pack.exists() else 0, chunks


def _log(name: str, files: dict[str, bytes], **kw) -> cairn.Artifact:
    a = cairn.Artifact(name, "dataset")
    for path, data in files.items():
        a.add_file(str(write(f"src-{name}/{path}", data)), name=path)
    for k, v in kw.items():
        setattr(a, k, v)
    a.save()
    return a


def _stored_digests() -> set[str]:
    return {d for d, _ in _client().blobs.iter_stored()}


def test_a_deleted_version_disappears_everywhere_and_its_bytes_go(cairn_home):
    shared_bytes = os.urandom(100_000)
    keep = _log("ds", {"shared.bin": shared_bytes, "a.txt": b"one"})
    doomed = _log("ds", {"shared.bin": shared_bytes, "b.bin": os.urandom(200_000), "c.txt": b"small"})
    only_doomed = {doomed.get_entry("b.bin").digest, doomed.get_entry("c.txt").digest}
    shared = keep.get_entry("shared.bin").digest
    assert doomed.version == "v1" and doomed.get_entry("shared.bin").digest == shared
    api = cairn.Api()
    api.artifact("ds:v1").delete()
    with pytest.raises(ArtifactNotFoundError):
        api.artifact("ds:v1")
    assert [a.version for a in api.artifacts("dataset", "ds")] == ["v0"]
    assert api.artifact("ds:latest").version == "v0"
    assert [(c.name, c._info.version_count) for c in api.artifact_collections()] == [("ds", 1)]

    assert only_doomed <= _stored_digests()
    report = _gc_past_grace()
    stored = _stored_digests()
    assert not (only_doomed & stored) and shared in stored
    assert report.removed_blobs.count == 2 and report.removed_blobs.bytes == 200_000 + len(b"small")
    # what stays downloads and verifies
    root = api.artifact("ds:v0").download(root="out")
    assert (Path(root) / "a.txt").read_bytes() == b"one"


def test_a_deleted_version_leaves_the_runs_listings(cairn_home):
    with cairn.init(project="uncategorized") as run:
        for i in range(2):
            a = cairn.Artifact("lin", "dataset")
            a.add_file(str(write(f"lin{i}.txt", f"content {i}")))
            run.log_artifact(a)
        run.use_artifact("lin:v1")
    api = cairn.Api()
    assert [a.version for a in api.run(run.id).logged_artifacts()] == ["v0", "v1"]
    api.artifact("lin:v1").delete()
    assert [a.version for a in api.run(run.id).logged_artifacts()] == ["v0"]
    assert api.run(run.id).used_artifacts() == []


def test_delete_is_refused_while_aliased_unless_asked(cairn_home):
    a = _log("m", {"w.bin": b"weights"})
    api = cairn.Api()
    v = api.artifact("m:v0")
    v.aliases.append("prod")
    v.save()
    with pytest.raises(UsageError) as err:
        api.artifact("m:v0").delete()
    assert "prod" in str(err.value) and "delete_aliases=True" in str(err.value)
    assert api.artifact("m:prod").version == "v0"
    with pytest.raises(UsageError):
        api.artifact_collection("dataset", "m").delete()
    with pytest.raises(UsageError):
        api.delete_project(a.project)
    api.artifact("m:v0").delete(delete_aliases=True)
    with pytest.raises(ArtifactNotFoundError):
        api.artifact("m:prod")


def test_delete_collection_and_project_reclaim_everything(cairn_home):
    base = _log("base", {"b.txt": b"baseline content", "big.bin": os.urandom(150_000)})
    _gc_past_grace()
    before = _disk(cairn_home)
    for i in range(3):
        _log("coll", {"x.bin": os.urandom(120_000 + i), "s.txt": f"small {i}".encode()})
    _log("other", {"y.bin": os.urandom(90_000)})
    with cairn.init(project="elsewhere") as run:
        a = cairn.Artifact("gone", "model")
        a.add_file(str(write("gone.bin", os.urandom(70_000))))
        run.log_artifact(a)
    api = cairn.Api()
    api.artifact_collection("dataset", "coll").delete()
    assert [c.name for c in api.artifact_collections(type_name="dataset")] == ["base", "other"]
    with pytest.raises(ArtifactNotFoundError):
        api.artifact("coll:v0")
    api.artifact_collection("dataset", "other").delete()
    api.delete_project("elsewhere")
    assert "elsewhere" not in api.projects()
    with pytest.raises(ArtifactNotFoundError):
        api.delete_project("elsewhere")
    _gc_past_grace()
    after = _disk(cairn_home)
    assert after[0] == before[0] and after[2] == before[2]
    assert after[1] == before[1]  # the pack gave its freed pages back
    with _client().meta.read() as tx:  # and so did the metadata store
        assert tx.scalar("PRAGMA freelist_count") == 0
    assert base.get_entry("big.bin").digest in _stored_digests()
    assert cairn.Api().artifact("base:v0").download(root="base-out")


def test_deleting_a_project_also_drops_rows_of_tables_that_point_at_it(cairn_home):
    """A table cairn grows later (run history, links) must not make a project undeletable."""
    with cairn.init(project="grown") as run:
        a = cairn.Artifact("x", "dataset")
        a.add_file(str(write("x.txt", "x")))
        run.log_artifact(a)
    c = _client()
    with c.meta.write() as tx:
        tx.execute(
            "CREATE TABLE run_notes (run_project BIGINT NOT NULL, run_id VARCHAR(64) NOT NULL, note TEXT, "
            "FOREIGN KEY (run_project, run_id) REFERENCES runs (project_id, id))"
        )
        tx.execute("CREATE TABLE version_links (version_id BIGINT NOT NULL REFERENCES versions (id))")
        tx.execute("INSERT INTO run_notes SELECT project_id, id, 'hello' FROM runs WHERE id = :r", {"r": run.id})
        tx.execute("INSERT INTO version_links SELECT id FROM versions")
    cairn.Api().delete_project("grown")
    with c.meta.read() as tx:
        assert tx.scalar("SELECT count(*) FROM run_notes") == 0
        assert tx.scalar("SELECT count(*) FROM version_links") == 0
        assert tx.scalar("SELECT count(*) FROM versions") == 0


def test_ttl_deletes_expired_versions_and_keeps_aliased_ones(cairn_home):
    _log("keep", {"k.txt": b"kept"})
    _gc_past_grace()
    before = _disk(cairn_home)
    short = cairn.Artifact("t", "dataset")
    short.add_file(str(write("t0.bin", os.urandom(80_000))))
    short.ttl = timedelta(seconds=1)
    short.save()
    aliased = cairn.Artifact("t", "dataset")
    aliased.add_file(str(write("t1.bin", os.urandom(80_000))))
    aliased.ttl = timedelta(seconds=1)
    aliased.save()
    api = cairn.Api()
    v1 = api.artifact("t:v1")
    v1.aliases.append("pinned")
    v1.save()
    time.sleep(1.1)
    report = _gc()
    assert report.versions_expired == ["local/uncategorized/t:v0"]
    assert report.kept_aliased == ["local/uncategorized/t:v1 (ttl)"]
    with pytest.raises(ArtifactNotFoundError):
        api.artifact("t:v0")
    assert api.artifact("t:pinned").version == "v1"
    api.artifact("t:v1").delete(delete_aliases=True)
    time.sleep(GRACE * 1.2)
    _gc_past_grace()
    after = _disk(cairn_home)
    assert after[0] == before[0] and after[2] == before[2]


def test_retention_keeps_the_last_n_and_every_aliased_version(cairn_home):
    for i in range(5):
        _log("r", {"f.bin": os.urandom(70_000 + i)})
    api = cairn.Api()
    v0 = api.artifact("r:v0")
    v0.aliases.append("golden")
    v0.save()
    coll = api.artifact_collection("dataset", "r")
    with pytest.raises(UsageError):
        coll.set_retention(keep_last=-1)
    coll.set_retention(keep_last=2)
    assert coll.retention.keep_last == 2 and coll.retention.max_age_seconds is None
    dry = _gc(dry_run=True)
    assert dry.versions_retention == ["local/uncategorized/r:v1", "local/uncategorized/r:v2"]
    assert [a.version for a in api.artifacts("dataset", "r")] == ["v0", "v1", "v2", "v3", "v4"]  # dry: nothing changed
    report = _gc()
    assert report.versions_retention == ["local/uncategorized/r:v1", "local/uncategorized/r:v2"]
    assert report.kept_aliased == ["local/uncategorized/r:v0 (retention)"]
    assert [a.version for a in api.artifacts("dataset", "r")] == ["v0", "v3", "v4"]
    coll.set_retention()  # cleared
    assert coll.retention is None


def test_project_retention_applies_where_a_collection_has_none(cairn_home):
    for name in ("p1", "p2"):
        for i in range(3):
            _log(name, {"f.txt": f"{name} {i}".encode()})
    api = cairn.Api()
    api.set_retention(keep_last=1, max_age=timedelta(days=30))  # everything is younger: all kept
    assert api.retention().max_age_seconds == 30 * 86400
    _gc()
    assert len(api.artifacts("dataset", "p1")) == 3
    api.set_retention(keep_last=1)
    api.artifact_collection("dataset", "p2").set_retention(keep_last=2)
    _gc()
    assert [a.version for a in api.artifacts("dataset", "p1")] == ["v2"]
    assert [a.version for a in api.artifacts("dataset", "p2")] == ["v1", "v2"]


def test_dry_run_changes_nothing_and_counts_bytes(cairn_home):
    a = _log("d", {"x.bin": os.urandom(100_000)})
    cairn.Api().artifact("d:v0").delete()
    before = _disk(cairn_home)
    for _ in range(2):
        report = _gc(dry_run=True)
        assert report.removed_blobs.count == 1 and report.removed_blobs.bytes == 100_000
    time.sleep(GRACE * 1.2)
    assert _gc(dry_run=True).removed_blobs.bytes == 100_000
    assert _disk(cairn_home) == before and a.get_entry("x.bin").digest in _stored_digests()
    with _client().meta.read() as tx:
        assert tx.scalar("SELECT count(*) FROM gc_marks") == 0


def test_a_commit_that_relies_on_a_marked_blob_keeps_it(cairn_home):
    """The hazard: a blob gc marked is found present by a writer (dedup) and committed."""
    data = os.urandom(100_000)
    _log("h", {"x.bin": data})
    cairn.Api().artifact("h:v0").delete()
    _gc()  # marks x.bin's blob
    with _client().meta.read() as tx:
        assert tx.scalar("SELECT count(*) FROM gc_marks WHERE kind = 'blob'") == 1
    again = _log("h2", {"x.bin": data})  # found present: not written again; its commit clears the mark
    with _client().meta.read() as tx:
        assert tx.scalar("SELECT count(*) FROM gc_marks WHERE kind = 'blob'") == 0
    time.sleep(GRACE * 1.2)
    _gc()
    assert again.get_entry("x.bin").digest in _stored_digests()
    assert cairn.Api().artifact("h2:v0").download(root="h2")


def test_a_commit_between_gcs_walk_and_its_sweep_keeps_what_it_relies_on(cairn_home):
    """The narrow window: gc has found what is live, then a writer commits a version that
    relies on a marked blob (dedup: found present, not written), then gc condemns. The
    commit cleared the mark in its transaction, so the condemning transaction spares it."""
    data = os.urandom(100_000)
    _log("w", {"x.bin": data})
    cairn.Api().artifact("w:v0").delete()
    _gc()  # marks x.bin's blob and the version's chunk
    time.sleep(GRACE * 1.2)
    logged = []

    class Between(progress.Recorder):
        """A reporter whose "removing" phase, opened once gc knows what is live and before it
        condemns anything, is the moment a writer commits."""

        def task(self, label: str):
            if label == gc.REMOVE and not logged:
                logged.append(_log("w2", {"x.bin": data}))
            return super().task(label)

    c = _client()
    with progress.reporting(Between()) as seen:
        report = gc.collect(c.meta, c.blobs)
    assert logged and report.removed_blobs.count == 0
    assert [t.label for t in seen.tasks if t.label.startswith("gc:")] == [gc.WALK, gc.LIST, gc.REMOVE]
    digest = logged[0].get_entry("x.bin").digest
    assert digest in _stored_digests()
    _gc_past_grace()
    assert digest in _stored_digests()
    assert (Path(cairn.Api().artifact("w2:v0").download(root="w2")) / "x.bin").read_bytes() == data


def test_a_commit_after_gc_removed_its_blob_is_refused_not_broken(cairn_home):
    """A writer that checked a blob before gc removed it (here: the check is forced stale)
    must not commit a version naming it."""
    from cairn.core import manifest as mf
    from cairn.core.versions import CommitRequest

    data = os.urandom(100_000)
    a = _log("g", {"x.bin": data})
    digest = a.get_entry("x.bin").digest
    cairn.Api().artifact("g:v0").delete()
    _gc_past_grace()
    assert digest not in _stored_digests()
    c = _client()
    gcmarks.set_grace(c.meta, 60)  # the tombstone stays (only a gc run drops it); the memory below is young
    c.blobs.seen_ttl = 60
    req = CommitRequest(
        entity="local",
        project="uncategorized",
        name="g3",
        type="dataset",
        entries=[mf.Entry("x.bin", digest, len(data))],
    )
    c.blobs._seen.add(digest)  # a stale memory of presence, as if checked just before the removal
    c.blobs._seen_since = time.monotonic()
    with pytest.raises(BlobNotFoundError) as err:
        c.engine.commit(req)
    assert "removed by garbage collection" in str(err.value)
    with pytest.raises(ArtifactNotFoundError):
        cairn.Api().artifact("g3:latest")


def test_temp_files_older_than_the_grace_period_go(cairn_home):
    _log("t", {"x.txt": b"x"})
    tmp = cairn_home / "blobs" / "tmp"
    old = tmp / "crashed"
    old.write_bytes(b"left by a crash" * 100)
    past = time.time() - 3600
    os.utime(old, (past, past))
    young = tmp / "in-flight"
    young.write_bytes(b"being written")
    report = _gc()
    assert not old.exists() and young.exists()
    assert report.removed_temp.count == 1 and report.removed_temp.bytes == len(b"left by a crash" * 100)


def test_expired_drafts_go_with_their_blobs(cairn_home):
    with cairn.init(project="uncategorized", group="g") as run:
        a = cairn.Artifact("dist", "dataset")
        a.add_file(str(write("part.bin", os.urandom(90_000))))
        run.upsert_artifact(a, distributed_id="abandoned")
    digest = a.get_entry("part.bin").digest
    c = _client()
    report = gc.collect(c.meta, c.blobs, gc.GcOptions(draft_ttl_seconds=3600))
    assert report.drafts_expired == [] and digest in _stored_digests()
    report = gc.collect(c.meta, c.blobs, gc.GcOptions(draft_ttl_seconds=0.001))
    assert report.drafts_expired == ["dist (distributed_id abandoned)"]
    time.sleep(GRACE * 1.2)
    _gc()
    assert digest not in _stored_digests()


def test_chunked_blobs_and_their_chunks_go(cairn_home, monkeypatch):
    monkeypatch.setattr(local_blobs, "CHUNKED_MIN", 1 << 20)
    c = _client()
    c.blobs.chunked_min = 1 << 20
    _log("keep", {"k.txt": b"k"})
    _gc_past_grace()
    before = _disk(cairn_home)
    big = _log("huge", {"h.bin": os.urandom(3 << 20)})
    parts = c.blobs.recipe_parts([big.get_entry("h.bin").digest])[big.get_entry("h.bin").digest]
    assert len(parts) >= 2 and set(parts) <= _stored_digests()
    _gc_past_grace()
    assert set(parts) <= _stored_digests()  # referenced through the recipe: kept
    cairn.Api().artifact("huge:v0").delete()
    _gc_past_grace()
    assert not (set(parts) & _stored_digests())
    assert _disk(cairn_home)[0] == before[0]


def test_only_one_gc_runs_at_a_time(cairn_home):
    c = _client()
    with c.meta.exclusive("gc", gc.GC_RUN_LOCK):
        import subprocess
        import sys

        out = subprocess.run(
            [sys.executable, "-m", "cairn.cli", "gc"],
            capture_output=True,
            text=True,
            env={**os.environ, "CAIRN_DIR": str(cairn_home)},
        )
        assert out.returncode == 1 and "another process holds the gc lock" in out.stderr


def test_a_missing_manifest_chunk_stops_gc_before_it_removes_anything(cairn_home):
    a = _log("m", {"x.bin": os.urandom(70_000)})
    kept = a.get_entry("x.bin").digest
    _log("m2", {"y.bin": os.urandom(70_000)})
    cairn.Api().artifact("m2:v0").delete()
    c = _client()
    with c.meta.write() as tx:
        tx.execute("DELETE FROM chunks WHERE key = :k", {"k": cairn.Api().artifact("m:v0")._version.manifest_key})
    with pytest.raises(StoreError) as err:
        _gc()
    assert "missing" in str(err.value) and "cairn verify" in str(err.value)
    assert kept in _stored_digests()
