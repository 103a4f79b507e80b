"""``cairn sync`` against a real ``cairn server`` (its own store, users with roles): what an
offline store holds arrives whole (versions, aliases, tags, metadata, ttl, links, runs with
history, config and summary, lineage), a second sync sends nothing, an interrupted sync
resumes, a read-only user cannot write, and the way back (--from) gives equal digests."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from datetime import timedelta

import pytest
from helpers import write
from servers import cairn_server

import cairn
from cairn.client import get_client
from cairn.client.settings import Settings
from cairn.client.sync import sync
from cairn.core import progress
from cairn.core.errors import CairnError
from cairn.engine import accounts as auth
from cairn.storage.meta.sql import MetaStore


@pytest.fixture
def server(tmp_path):
    """A server with alice (write on 'vision') and bob (read on 'vision')."""
    home = tmp_path / "server-home"
    meta = MetaStore.sqlite(home / "meta.sqlite")
    keys = {name: auth.create_user(meta, name) for name in ("alice", "bob")}
    auth.add_member(meta, "vision", "alice", "write")
    auth.add_member(meta, "vision", "bob", "read")
    meta.dispose()
    with cairn_server(tmp_path / "srv", {"CAIRN_DIR": str(home)}, "--no-ui") as url:
        yield url, keys


def remote(url: str, key: str):  # noqa: ANN201
    return get_client(dataclasses.replace(Settings.from_env(), base_url=url, api_key=key, entity="vision"))


def offline_work() -> dict:
    """What a laptop logs offline: a run with history that logs a dataset twice (the second
    an incremental edit), a distributed artifact, a second run that uses the dataset and
    links a model into a registry collection."""
    with cairn.init(project="mnist", mode="offline", config={"lr": 0.1}, tags=["laptop"]) as run:
        for step in range(5):
            run.log({"loss": 1.0 / (step + 1)})
        a = cairn.Artifact("images", "dataset", metadata={"rows": 3}, description="three images")
        for i in range(3):
            a.add_file(str(write(f"img/{i}.png", f"image {i}" * 100)), name=f"{i}.png")
        a.add_file(str(write("big.bin", b"x" * (3 << 20))), name="big.bin")
        a.ttl = timedelta(days=30)
        run.log_artifact(a, aliases=["best"], tags=["clean"])
        a.wait()
        d = cairn.Api().artifact("mnist/images:v0").new_draft()
        d.add_file(str(write("img/3.png", "image 3")), name="3.png")
        d.save()
        run.summary["acc"] = 0.9
    with cairn.init(project="mnist", group="dist") as run:
        for part in range(2):
            p = cairn.Artifact("shards", "dataset")
            p.add_file(str(write(f"shard{part}.txt", f"shard {part}")), name=f"shard{part}.txt")
            (run.upsert_artifact if part == 0 else run.finish_artifact)(p, distributed_id="d1")
    with cairn.init(project="mnist", job_type="train") as run:
        run.log({"only": 1})  # one history row, at step 0
        run.use_artifact("images:v1")
        m = cairn.Artifact("net", "model")
        m.add_file(str(write("net.pt", "weights")), name="net.pt")
        run.log_artifact(m)
        run.link_artifact(m, "mnist/registry")
        used_by = run.id
    return {"user": used_by}


def versions_of(client, entity: str) -> dict[str, tuple]:  # noqa: ANN001
    out = {}
    for e, p in client.list_projects():
        if e != entity:
            continue
        for c in client.list_collections(e, p):
            for v in client.list_versions(e, p, c.name):
                out[f"{p}/{v.name}:v{v.index}"] = (
                    v.digest,
                    tuple(sorted(v.aliases)),
                    tuple(sorted(v.tags)),
                    v.metadata,
                    v.description,
                    v.ttl_seconds,
                    v.run_id,
                )
    return out


def runs_of(client, entity: str) -> dict[str, tuple]:  # noqa: ANN001
    return runs_of_project(client, entity, "mnist")


def runs_of_project(client, entity: str, project: str) -> dict[str, tuple]:  # noqa: ANN001
    return {
        r.id: (
            r.name,
            r.config,
            r.summary,
            tuple(r.tags),
            r.state,
            r.last_step,
            client.run_history(r.id),
            sorted(f"{v.name}:v{v.index}" for v in client.run_inputs(r.id)),
            sorted(f"{v.name}:v{v.index}" for v in client.run_outputs(r.id)),
        )
        for r in client.list_runs(entity, project)
    }


def test_sync_copies_everything_then_sends_nothing_and_comes_back_equal(server, tmp_path):
    url, keys = server
    info = offline_work()
    local, dst = get_client(), remote(url, keys["alice"])
    before = versions_of(local, "local")
    assert len(before) == 5  # images v0 v1, shards v0, net v0, registry v0

    with progress.reporting(progress.Recorder()) as seen:
        first = sync(local, dst)
    assert not first.skipped
    assert len(first.versions_sent) == 4 and len(first.links_sent) == 1
    assert first.blobs_sent >= 7 and first.bytes_sent > 3 << 20
    assert len(first.runs_created) == 3 and first.history_rows == 6
    labels = [t.label for t in seen.tasks]
    assert "syncing versions" in labels and "syncing runs" in labels
    synced = next(t for t in seen.tasks if t.label == "syncing versions")
    assert synced.files_done == synced.files_total == 5

    assert versions_of(dst, "vision") == before  # numbers kept: the server's collections were empty
    assert runs_of(dst, "vision") == runs_of(local, "local")
    assert [v.name for v in dst.run_inputs(info["user"])] == ["images"]
    # the files themselves, downloaded from the server (and verified by the download)
    v1 = next(v for v in dst.list_versions("vision", "mnist", "images") if v.index == 1)
    n = dst.download(list(dst.manifest(v1.manifest_key)), tmp_path / "dl", v1)
    assert n == 5 and (tmp_path / "dl" / "big.bin").stat().st_size == 3 << 20

    again = sync(local, dst)
    assert not again.changed and again.blobs_sent == 0 and again.history_rows == 0
    assert again.versions_present == 4
    assert versions_of(dst, "vision") == before

    # the way back, into an empty embedded store: the same digests
    fresh = get_client(dataclasses.replace(Settings.from_env(), dir=tmp_path / "copy", entity="local"))
    back = sync(dst, fresh, entity="local")
    assert not back.skipped and len(back.versions_sent) == 4
    assert versions_of(fresh, "local") == before
    assert runs_of(fresh, "local") == runs_of(local, "local")


def test_a_sync_interrupted_half_way_resumes(server):
    url, keys = server
    for i in range(4):
        a = cairn.Artifact("data", "dataset")
        a.add_file(str(write(f"d{i}.bin", f"content {i}" * 1000)), name="d.bin")
        a.add_file(str(write("common.bin", "shared by every version")), name="common.bin")
        a.save()
    local, dst = get_client(), remote(url, keys["alice"])

    class Interrupt(progress.Recorder):
        """Stops the sync (as Ctrl-C would) once the second version has been committed and
        the third version's blobs have been uploaded, before its commit."""

        def task(self, label: str):
            t = super().task(label)
            if label == "uploading" and sum(x.label == "uploading" for x in self.tasks) == 3:
                close = t.close

                def interrupted() -> None:
                    close()
                    raise KeyboardInterrupt

                t.close = interrupted
            return t

    with progress.reporting(Interrupt()), pytest.raises(KeyboardInterrupt):
        sync(local, dst, ["uncategorized"])
    assert [v.index for v in dst.list_versions("vision", "uncategorized", "data")] == [0, 1]
    resumed = sync(local, dst, ["uncategorized"])
    assert resumed.versions_present == 2 and len(resumed.versions_sent) == 2
    assert resumed.blobs_sent == 1  # the third version's blob went before the interruption
    assert versions_of(dst, "vision") == versions_of(local, "local")
    assert not sync(local, dst).changed


def test_sync_needs_the_write_role_and_writes_nothing_without_it(server):
    url, keys = server
    a = cairn.Artifact("data", "dataset")
    a.add_file(str(write("x.txt", "x")), name="x.txt")
    a.save()
    with pytest.raises(CairnError) as err:
        sync(get_client(), remote(url, keys["bob"]))
    assert "write" in str(err.value) or "role" in str(err.value)
    assert versions_of(remote(url, keys["alice"]), "vision") == {}
    with pytest.raises(CairnError):
        sync(get_client(), remote(url, keys["alice"]), entity="someone-else")


def test_a_collection_of_another_type_is_reported_and_the_rest_goes(server):
    url, keys = server
    dst = remote(url, keys["alice"])
    with cairn.init(project="p"):
        for name, type_ in (("net", "model"), ("data", "dataset")):
            a = cairn.Artifact(name, type_)
            a.add_file(str(write(f"{name}.txt", name)), name=f"{name}.txt")
            a.save()
    from cairn.core.manifest import Entry
    from cairn.core.versions import CommitRequest

    digest, size = dst.ingest_bytes(b"someone else's dataset named net")
    dst.commit(
        CommitRequest(
            entity="vision", project="p", name="net", type="dataset", entries=[Entry("other.txt", digest, size)]
        )
    )
    dry = sync(get_client(), dst, dry_run=True)
    assert len(dry.versions_sent) == 1 and len(dry.skipped) == 1 and "type" in dry.skipped[0]
    assert [v.name for v in dst.list_versions("vision", "p", "net")] == ["net"]
    with pytest.raises(CairnError):
        dst.list_versions("vision", "p", "data")  # a dry run wrote nothing
    report = sync(get_client(), dst)
    assert len(report.versions_sent) == 1 and "net" in report.skipped[0]
    assert [v.type for v in dst.list_versions("vision", "p", "net")] == ["dataset"]
    assert len(dst.list_versions("vision", "p", "data")) == 1


def test_cairn_sync_cli_dry_run_and_json(server, cairn_home):
    url, keys = server
    a = cairn.Artifact("data", "dataset")
    a.add_file(str(write("x.txt", "x")), name="x.txt")
    a.save()
    env = {
        **__import__("os").environ,
        "CAIRN_DIR": str(cairn_home),
        "CAIRN_API_KEY": keys["alice"],
        "CAIRN_ENTITY": "vision",
        "CAIRN_SETTINGS": "/nonexistent/settings.json",
    }
    run = subprocess.run(
        [sys.executable, "-m", "cairn.cli", "sync", "--to", url, "--dry-run", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["dry_run"] and len(report["versions_sent"]) == 1
    run = subprocess.run(
        [sys.executable, "-m", "cairn.cli", "sync", "--to", url, "nosuchproject"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode != 0 and "nosuchproject" in run.stderr and "Traceback" not in run.stderr
    run = subprocess.run(
        [sys.executable, "-m", "cairn.cli", "sync", "--to", url], env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0 and "sent 1 versions" in run.stderr + run.stdout
    # not a terminal: one summary line per phase (a terminal gets bars: tests/cli/test_progress_terminal.py)
    assert "syncing versions: 1 file," in run.stderr and "syncing runs: 1 file," in run.stderr


def _cli_env(home, key: str) -> dict[str, str]:  # noqa: ANN001
    import os

    return {
        **os.environ,
        "CAIRN_DIR": str(home),
        "CAIRN_API_KEY": key,
        "CAIRN_ENTITY": "vision",
        "CAIRN_SETTINGS": "/nonexistent/settings.json",
    }


def _cli_sync(env: dict[str, str], url: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "cairn.cli", "sync", "--to", url, "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize(
    ("kill_at", "path_end"),
    [
        ("commit", "/artifacts/data/versions"),  # the server committed it; the client never heard
        ("blobs", "/blobs/batch"),  # the server holds the blob; nothing committed it
    ],
)
def test_cairn_sync_killed_half_way_resumes_and_makes_nothing_twice(server, cairn_home, kill_at, path_end):
    """The real CLI, killed with SIGKILL at a point the test observes: the 4th request of a
    kind reached the server and was done there, and the client waits for its answer (a
    proxy withholds it, tests/gate.py). Run again, the sync finishes: every version is on
    the server once with the source's digest, no blob travels twice, and a third run sends
    nothing."""
    import os
    import signal

    from gate import Gate

    url, keys = server
    n = 8
    with cairn.init(project="kill", config={"lr": 0.1}) as run:
        for step in range(3):
            run.log({"loss": 1.0 / (step + 1)})
        for i in range(n):  # one blob of its own per version, and one all of them share
            a = cairn.Artifact("data", "dataset", metadata={"i": i})
            a.add_file(str(write(f"d{i}.bin", os.urandom(20_000))), name="d.bin")
            a.add_file(str(write("common.bin", "shared by every version")), name="common.bin")
            run.log_artifact(a, aliases=[f"a{i}"])
            a.wait()
    env = _cli_env(cairn_home, keys["alice"])
    dst = remote(url, keys["alice"])

    with Gate(url, lambda method, path: method == "POST" and path.endswith(path_end), nth=4) as gate:
        proc = subprocess.Popen(
            [sys.executable, "-m", "cairn.cli", "sync", "--to", gate.url, "kill"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            while not gate.held.wait(0.1):  # the observable point: the server did the 4th request
                assert proc.poll() is None, f"the sync ended before the gate: {proc.stderr.read().decode()}"
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    committed = 4 if kill_at == "commit" else 3  # the 4th batch is the 4th version's blob
    assert [v.index for v in dst.list_versions("vision", "kill", "data")] == list(range(committed))
    assert [r.id for r in dst.list_runs("vision", "kill")] == [run.id]

    resumed = _cli_sync(env, url)
    assert resumed["versions_present"] == committed and len(resumed["versions_sent"]) == n - committed
    assert resumed["blobs_sent"] == n - 4  # the 4 blobs of its own the server got before the kill
    assert resumed["runs_created"] == [] and resumed["history_rows"] == 0 and not resumed["skipped"]

    local = get_client()
    assert versions_of(dst, "vision") == versions_of(local, "local")  # digests, aliases, metadata
    assert [v.index for v in dst.list_versions("vision", "kill", "data")] == list(range(n))  # none twice
    assert runs_of_project(dst, "vision", "kill") == runs_of_project(local, "local", "kill")
    for v in dst.list_versions("vision", "kill", "data"):  # the bytes on the server hash to the digests
        assert dst.download(list(dst.manifest(v.manifest_key)), cairn_home.parent / f"dl{v.index}", v) == 2

    again = _cli_sync(env, url)
    assert (again["versions_sent"], again["links_sent"], again["runs_created"], again["runs_updated"]) == (
        [],
        [],
        [],
        [],
    )
    assert again["blobs_sent"] == 0 and again["history_rows"] == 0 and again["versions_present"] == n


def _one(client, entity: str, project: str, name: str, index: int):  # noqa: ANN001, ANN202
    return next(v for v in client.list_versions(entity, project, name) if v.index == index)


def test_changes_to_versions_on_both_sides_source_wins_for_what_it_changed(server, tmp_path):
    """After a first sync, the source moves an alias, takes one off, adds and removes tags,
    changes description, metadata and ttl; the server changes other things meanwhile (and
    one the source changed too). The next sync brings the source's changes (it wins where
    both changed), keeps the server's own, and a third changes nothing. The base survives
    between syncs in its file."""
    from cairn.client.sync_base import SyncBase

    url, keys = server
    with cairn.init(project="p"):
        for i in range(2):
            a = cairn.Artifact("data", "dataset", description=f"d{i}", metadata={"i": i})
            a.add_file(str(write(f"f{i}.txt", f"file {i}")), name="f.txt")
            a.save()
            a.wait()
    local, dst = get_client(), remote(url, keys["alice"])
    s0, s1 = _one(local, "local", "p", "data", 0), _one(local, "local", "p", "data", 1)
    local.update_version(s0.id, aliases=["best"], tags=["t1", "keep"])
    local.update_version(s1.id, aliases=["prod"])

    def base() -> SyncBase:  # a new object each time: what the last sync saved is read back
        return SyncBase.for_peer(tmp_path / "base", f"to {url} into vision")

    first = sync(local, dst, base=base())
    assert len(first.versions_sent) == 2 and not first.versions_updated
    d0, d1 = _one(dst, "vision", "p", "data", 0), _one(dst, "vision", "p", "data", 1)
    assert (set(d0.aliases), set(d0.tags), set(d1.aliases)) == ({"best"}, {"t1", "keep"}, {"prod", "latest"})

    # the source's changes
    local.update_version(s1.id, aliases=["best"], description="laptop", metadata={"i": 1, "new": True})
    local.update_version(s0.id, tags=["t2", "keep"], ttl_seconds=3600)
    # the server's own, one of them on a field the source changed too (v1's description)
    dst.update_version(d0.id, aliases=["best", "server-only"], description="server's own")
    dst.update_version(d1.id, tags=["srv"], description="server")

    second = sync(local, dst, base=base())
    assert not second.versions_sent and second.versions_present == 2 and not second.skipped
    assert len(second.versions_updated) == 2
    d0, d1 = _one(dst, "vision", "p", "data", 0), _one(dst, "vision", "p", "data", 1)
    assert set(d1.aliases) == {"best", "latest"}  # moved, and prod taken off
    assert set(d0.aliases) == {"server-only"}  # the server's own alias stays
    assert (d1.description, d1.metadata, tuple(d1.tags)) == ("laptop", {"i": 1, "new": True}, ("srv",))
    assert (d0.description, d0.ttl_seconds, set(d0.tags)) == ("server's own", 3600, {"t2", "keep"})

    third = sync(local, dst, base=base())
    assert not third.changed and not third.versions_updated
    assert (_one(dst, "vision", "p", "data", 1), _one(dst, "vision", "p", "data", 0)) == (d1, d0)

    # without a base (another machine, or a sync of an older cairn): labels are joined,
    # nothing is taken off, nothing else is touched
    local.update_version(s0.id, tags=["t3"], description="again")
    joined = sync(local, dst)
    assert len(joined.versions_updated) == 1
    d0 = _one(dst, "vision", "p", "data", 0)
    assert set(d0.tags) == {"t2", "keep", "t3"} and d0.description == "server's own"


def test_deleted_versions_stay_unless_asked_and_open_drafts_do_not_go(server, tmp_path):
    """A version deleted on the source after it was synced stays on the server (reported)
    unless delete=True; that is refused while the server's version carries an alias. A
    deleted version never synced, and an open draft, are not copied."""
    from cairn.client.sync_base import SyncBase

    url, keys = server
    local, dst = get_client(), remote(url, keys["alice"])
    with cairn.init(project="p", group="g") as run:
        for i in range(3):
            a = cairn.Artifact("data", "dataset")
            a.add_file(str(write(f"f{i}.txt", f"file {i}")), name="f.txt")
            a.save()
            a.wait()
        part = cairn.Artifact("shards", "dataset")
        part.add_file(str(write("s0.txt", "shard 0")), name="s0.txt")
        run.upsert_artifact(part, distributed_id="open")
    s = {v.index: v for v in local.list_versions("local", "p", "data")}

    def base() -> SyncBase:
        return SyncBase.for_peer(tmp_path / "base", f"to {url} into vision")

    local.delete_version(s[2].id)  # deleted before any sync: never goes
    first = sync(local, dst, base=base())
    assert len(first.versions_sent) == 2 and not first.deletions_kept
    with pytest.raises(CairnError):
        dst.list_versions("vision", "p", "shards")  # the open draft stayed home
    d = {v.index: v for v in dst.list_versions("vision", "p", "data")}
    assert sorted(d) == [0, 1]

    local.delete_version(s[0].id)
    kept = sync(local, dst, base=base())
    assert len(kept.deletions_kept) == 1 and not kept.changed
    assert dst.get_version(d[0].id).state == "COMMITTED"
    dst.update_version(d[0].id, aliases=["pinned"])  # someone on the server relies on it
    refused = sync(local, dst, base=base(), delete=True)
    assert not refused.versions_deleted and "pinned" in refused.skipped[0]
    assert dst.get_version(d[0].id).state == "COMMITTED"
    dst.update_version(d[0].id, aliases=[])
    deleted = sync(local, dst, base=base(), delete=True)
    assert len(deleted.versions_deleted) == 1 and not deleted.skipped
    assert dst.get_version(d[0].id).state == "DELETED" and dst.get_version(d[1].id).state == "COMMITTED"
    assert not sync(local, dst, base=base(), delete=True).changed

    with cairn.init(project="p", group="g") as run:  # the draft finished: it goes as its version
        part = cairn.Artifact("shards", "dataset")
        part.add_file(str(write("s1.txt", "shard 1")), name="s1.txt")
        run.finish_artifact(part, distributed_id="open")
    done = sync(local, dst, base=base())
    assert len(done.versions_sent) == 1
    assert [e.path for e in dst.manifest(dst.list_versions("vision", "p", "shards")[0].manifest_key)] == [
        "s0.txt",
        "s1.txt",
    ]


def test_cairn_sync_cli_keeps_its_base_between_runs(server, cairn_home):
    """The CLI keeps the merge base in CAIRN_DIR/sync/: an alias moved on the source after a
    first `cairn sync` moves on the server with the second, and the third changes nothing."""
    url, keys = server
    for i in range(2):
        a = cairn.Artifact("data", "dataset")
        a.add_file(str(write(f"f{i}.txt", f"file {i}")), name="f.txt")
        a.save()
        a.wait()
    local = get_client()
    v0 = _one(local, "local", "uncategorized", "data", 0)
    local.update_version(v0.id, aliases=["best"])
    env = _cli_env(cairn_home, keys["alice"])
    assert len(_cli_sync(env, url)["versions_sent"]) == 2
    assert list((cairn_home / "sync").glob("*.json"))
    v1 = _one(local, "local", "uncategorized", "data", 1)
    local.update_version(v1.id, aliases=["best"])
    second = _cli_sync(env, url)
    assert len(second["versions_updated"]) == 1 and not second["versions_sent"]
    dst = remote(url, keys["alice"])
    assert "best" in _one(dst, "vision", "uncategorized", "data", 1).aliases
    assert "best" not in _one(dst, "vision", "uncategorized", "data", 0).aliases
    third = _cli_sync(env, url)
    assert (third["versions_updated"], third["versions_sent"], third["deletions_kept"]) == ([], [], [])


def test_versions_are_appended_with_a_mapping_and_cairn_sync_from_brings_them_back(server, cairn_home, tmp_path):
    """The server's collection already holds a version of its own: the source's versions are
    appended after it, in order, and the report maps each (src:vN -> dst:vM). Then
    `cairn sync --from` copies the server's project into another embedded store: every
    version, the server's own first, with the same digests, and a second run sends nothing."""
    import os

    from cairn.core.manifest import Entry
    from cairn.core.versions import CommitRequest

    url, keys = server
    dst = remote(url, keys["alice"])
    digest, size = dst.ingest_bytes(b"the server's own first version")
    dst.commit(
        CommitRequest(entity="vision", project="p", name="data", type="dataset", entries=[Entry("s.txt", digest, size)])
    )
    with cairn.init(project="p"):
        for i in range(2):
            a = cairn.Artifact("data", "dataset")
            a.add_file(str(write(f"f{i}.txt", f"file {i}")), name="f.txt")
            a.save()
            a.wait()
    env = _cli_env(cairn_home, keys["alice"])
    sent = _cli_sync(env, url)
    assert sent["versions_sent"] == ["local/p/data:v0 -> vision/p/data:v1", "local/p/data:v1 -> vision/p/data:v2"]
    local = get_client()
    there = {v.index: v.digest for v in dst.list_versions("vision", "p", "data")}
    assert [there[1], there[2]] == [_one(local, "local", "p", "data", i).digest for i in (0, 1)]

    copy = tmp_path / "copy"
    back_env = {**env, "CAIRN_DIR": str(copy), "CAIRN_ENTITY": "local"}
    done = subprocess.run(
        [sys.executable, "-m", "cairn.cli", "sync", "--from", url, "p", "--json"],
        env={**back_env, "CAIRN_API_KEY": keys["alice"]},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)["versions_sent"]) == 3
    fresh = get_client(dataclasses.replace(Settings.from_env(), dir=copy, entity="local"))
    assert {v.index: v.digest for v in fresh.list_versions("local", "p", "data")} == there
    again = subprocess.run(
        [sys.executable, "-m", "cairn.cli", "sync", "--from", url, "p", "--json"],
        env=back_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert again.returncode == 0, again.stderr
    report = json.loads(again.stdout)
    assert not report["versions_sent"] and not report["versions_updated"] and report["versions_present"] == 3
    assert os.path.isdir(copy / "sync")  # the base of that direction lives in the store it went into


def test_an_unreadable_sync_base_is_a_first_sync_not_a_failure(tmp_path, caplog):
    """A damaged base file (a disk that filled, a hand edit) makes the next sync behave as a
    first one (labels joined, nothing taken off) and is written anew; it never stops a sync."""
    from cairn.client.sync_base import SyncBase

    base = SyncBase.for_peer(tmp_path, "to http://x into vision")
    base.path.parent.mkdir(parents=True)
    base.path.write_text('{"versions": {"1": ')
    again = SyncBase.for_peer(tmp_path, "to http://x into vision")
    assert again.get(1, 7) is None and "cannot be read" in caplog.text
    a = cairn.Artifact("data", "dataset")
    a.add_file(str(write("x.txt", "x")), name="x.txt")
    a.save()
    a.wait()
    got = get_client().list_versions("local", "uncategorized", "data")[0]
    again.put(got.id, 7, got)
    again.save()
    third = SyncBase.for_peer(tmp_path, "to http://x into vision")
    assert third.get(got.id, 7)["aliases"] == [] and third.get(got.id, 8) is None
    assert third.synced_in("local/uncategorized/data") == [got.id]
    assert SyncBase.for_peer(tmp_path, "from http://x into local").path != third.path  # one file per direction


def test_an_alias_taken_off_a_link_on_the_source_goes_off_it_on_the_server(server, tmp_path):
    """Links (the registry) carry their own aliases: one the source moves from a link to
    another moves on the server with the next sync, and a third sync changes nothing."""
    from cairn.client.sync_base import SyncBase

    url, keys = server
    local, dst = get_client(), remote(url, keys["alice"])
    with cairn.init(project="p") as run:
        for i in range(2):
            m = cairn.Artifact("net", "model")
            m.add_file(str(write(f"w{i}.pt", f"weights {i}")), name="w.pt")
            run.log_artifact(m)
            m.wait()
            run.link_artifact(m, "p/registry", aliases=["prod"] if i == 0 else [])

    def base() -> SyncBase:
        return SyncBase.for_peer(tmp_path / "base", f"to {url} into vision")

    first = sync(local, dst, base=base())
    assert len(first.links_sent) == 2
    links = {v.index: v for v in dst.list_versions("vision", "p", "registry")}
    assert "prod" in links[0].aliases and "prod" not in links[1].aliases

    src_links = {v.index: v for v in local.list_versions("local", "p", "registry")}
    local.update_version(src_links[1].id, aliases=["prod"])  # the source promotes the second model
    second = sync(local, dst, base=base())
    assert not second.skipped and second.versions_updated
    links = {v.index: v for v in dst.list_versions("vision", "p", "registry")}
    assert "prod" in links[1].aliases and "prod" not in links[0].aliases
    assert not sync(local, dst, base=base()).versions_updated


def _settings_of(client, entity: str, project: str, name: str) -> tuple:  # noqa: ANN001
    c = next(c for c in client.list_collections(entity, project) if c.name == name)
    return c.description, set(c.tags), client.get_retention(entity, project, name)


def _log(project: str, name: str, text: str) -> None:
    a = cairn.Artifact(name, "dataset")
    a.add_file(str(write(f"{name}.txt", text)), name="f.txt")
    a.save()
    a.wait()


def test_a_collections_description_tags_and_retention_go_by_the_same_rule(server, tmp_path):
    """A collection's own description, tags and retention policy: a first sync sets them
    where the server's collection has none and adds the tags it lacks (the server's own
    description and policy stay); later, what the source changed since the base wins, what
    only the server changed stays (a cleared policy is cleared there too); a further sync
    changes nothing. A dry run says what would change and changes nothing."""
    from cairn.client.sync_base import SyncBase
    from cairn.core.manifest import Entry
    from cairn.core.versions import CommitRequest
    from cairn.engine.retention import Retention

    url, keys = server
    local, dst = get_client(), remote(url, keys["alice"])
    digest, size = dst.ingest_bytes(b"the server's own version")
    dst.commit(
        CommitRequest(
            entity="vision", project="p", name="other", type="dataset", entries=[Entry("s.txt", digest, size)]
        )
    )
    dst.update_collection("vision", "p", "other", description="the server's", tags=["srv"])
    dst.set_retention("vision", "p", "other", Retention(keep_last=2))
    with cairn.init(project="p"):
        _log("p", "data", "data")
        _log("p", "other", "other")
    local.update_collection("local", "p", "data", description="laptop data", tags=["a", "b"])
    local.set_retention("local", "p", "data", Retention(keep_last=5, max_age_seconds=86400))
    local.update_collection("local", "p", "other", description="laptop other", tags=["a"])
    local.set_retention("local", "p", "other", Retention(keep_last=9))

    def base() -> SyncBase:
        return SyncBase.for_peer(tmp_path / "base", f"to {url} into vision")

    dry = sync(local, dst, base=base(), dry_run=True)
    assert sorted(dry.collections_updated) == [
        "local/p/data -> vision/p/data (description, retention, tags)",
        "local/p/other -> vision/p/other (tags)",
    ]
    assert "data" not in {c.name for c in dst.list_collections("vision", "p")}  # nothing was made
    assert _settings_of(dst, "vision", "p", "other") == ("the server's", {"srv"}, Retention(keep_last=2))

    first = sync(local, dst, base=base())
    assert len(first.collections_updated) == 2 and not first.skipped
    assert _settings_of(dst, "vision", "p", "data") == ("laptop data", {"a", "b"}, Retention(5, 86400))
    assert _settings_of(dst, "vision", "p", "other") == ("the server's", {"srv", "a"}, Retention(keep_last=2))

    # the source's changes; the server's own, one of them on a field the source changed too
    local.update_collection("local", "p", "data", description="laptop, edited", tags=["b", "c"])
    local.set_retention("local", "p", "data", None)
    local.update_collection("local", "p", "other", description="laptop other, edited")
    dst.update_collection("vision", "p", "data", description="server edit", tags=["a", "b", "srv2"])
    dst.update_collection("vision", "p", "other", tags=["srv", "a", "srv3"])

    second = sync(local, dst, base=base())
    assert sorted(second.collections_updated) == [
        "local/p/data -> vision/p/data (description, retention, tags)",
        "local/p/other -> vision/p/other (description)",
    ]
    assert _settings_of(dst, "vision", "p", "data") == ("laptop, edited", {"b", "c", "srv2"}, None)
    assert _settings_of(dst, "vision", "p", "other") == (
        "laptop other, edited",
        {"srv", "a", "srv3"},
        Retention(keep_last=2),  # the source never changed its policy since the base
    )

    third = sync(local, dst, base=base())
    assert not third.changed and not third.collections_updated


def test_cairn_sync_from_a_server_brings_a_collections_settings_and_changes_nothing_twice(server, cairn_home, tmp_path):
    """`cairn sync --from` copies a collection's description, tags and policy into an
    embedded store; a change made on the server later arrives with the next run, one made
    only in the embedded store stays, and a run after that changes nothing."""
    from cairn.engine.retention import Retention

    url, keys = server
    with cairn.init(project="p"):
        _log("p", "data", "data")
    env = _cli_env(cairn_home, keys["alice"])
    assert len(_cli_sync(env, url)["versions_sent"]) == 1
    dst = remote(url, keys["alice"])
    dst.update_collection("vision", "p", "data", description="on the server", tags=["srv"])
    dst.set_retention("vision", "p", "data", Retention(keep_last=3))

    copy = tmp_path / "copy"
    back_env = {**env, "CAIRN_DIR": str(copy), "CAIRN_ENTITY": "local"}

    def sync_from() -> dict:
        done = subprocess.run(
            [sys.executable, "-m", "cairn.cli", "sync", "--from", url, "p", "--json"],
            env=back_env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    assert sync_from()["collections_updated"] == ["vision/p/data -> local/p/data (description, retention, tags)"]
    fresh = get_client(dataclasses.replace(Settings.from_env(), dir=copy, entity="local"))
    assert _settings_of(fresh, "local", "p", "data") == ("on the server", {"srv"}, Retention(keep_last=3))

    dst.update_collection("vision", "p", "data", tags=["srv", "new"])
    dst.set_retention("vision", "p", "data", Retention(max_age_seconds=3600))
    fresh.update_collection("local", "p", "data", description="my copy's own")
    assert sync_from()["collections_updated"] == ["vision/p/data -> local/p/data (retention, tags)"]
    assert _settings_of(fresh, "local", "p", "data") == ("my copy's own", {"srv", "new"}, Retention(None, 3600))
    again = sync_from()
    assert (again["collections_updated"], again["versions_updated"], again["versions_sent"]) == ([], [], [])


def test_a_sync_base_without_collections_reads_and_keeps_its_versions(tmp_path):
    """A base written before collections were synced (no "collections" key) still gives its
    versions; its collections count as never synced (first-sync rule), and the next save
    writes both."""
    from cairn.client.sync_base import SyncBase

    base = SyncBase.for_peer(tmp_path, "to http://x into vision")
    base.path.parent.mkdir(parents=True)
    was = {"description": None, "metadata": {}, "ttl_seconds": None, "aliases": ["best"], "tags": []}
    base.path.write_text(json.dumps({"peer": "p", "versions": {"3": {"dst": 9, "in": "local/p/d", "was": was}}}))
    old = SyncBase.for_peer(tmp_path, "to http://x into vision")
    assert old.get(3, 9) == was and old.collection("local/p/d", "vision/p/d") is None
    old.put_collection("local/p/d", "vision/p/d", {"description": "x", "tags": ["t"], "retention": None})
    old.save()
    again = SyncBase.for_peer(tmp_path, "to http://x into vision")
    assert again.get(3, 9) == was
    assert again.collection("local/p/d", "vision/p/d") == {"description": "x", "tags": ["t"], "retention": None}
    assert again.collection("local/p/d", "vision/p/other") is None  # synced elsewhere: no base here


def _base_at(tmp_path, url: str):  # noqa: ANN001, ANN202
    from cairn.client.sync_base import SyncBase

    return SyncBase.for_peer(tmp_path / "base", f"to {url} into vision")


def test_delete_spares_a_teammates_version_the_sync_mapped_by_digest(server, tmp_path):
    """A teammate logs content X on the server; the laptop logs the same X, and the sync maps
    the laptop's version to the teammate's (it makes nothing). The laptop then deletes its
    own version: `sync --delete` must not delete the teammate's; it reports it as kept, with
    why. A version the sync did make is still deleted by the same run."""
    url, keys = server
    local, dst = get_client(), remote(url, keys["alice"])
    with cairn.init(project="p"):
        _log("p", "data", "X, logged by both")
        _log("p", "data", "only the laptop's")
    s0, s1 = _one(local, "local", "p", "data", 0), _one(local, "local", "p", "data", 1)
    # the teammate's own version of X: the same file, committed on the server first
    from cairn.core.versions import CommitRequest

    dst.ingest_bytes(b"X, logged by both")
    entries = list(local.manifest(s0.manifest_key))
    theirs = dst.commit(CommitRequest(entity="vision", project="p", name="data", type="dataset", entries=entries))
    assert theirs.digest == s0.digest

    first = sync(local, dst, base=_base_at(tmp_path, url))
    assert first.versions_present == 1 and len(first.versions_sent) == 1
    mine = _one(dst, "vision", "p", "data", 1)
    assert mine.digest == s1.digest

    local.delete_version(s0.id)
    local.delete_version(s1.id)
    report = sync(local, dst, base=_base_at(tmp_path, url), delete=True)
    assert report.versions_deleted == [f"{s1.qualified_name} -> vision/p/data:v1"]
    assert len(report.deletions_kept) == 1 and "not made by this sync" in report.deletions_kept[0]
    assert dst.get_version(theirs.id).state == "COMMITTED"  # the teammate's stays
    assert dst.get_version(mine.id).state == "DELETED"
    again = sync(local, dst, base=_base_at(tmp_path, url), delete=True)
    assert not again.versions_deleted and dst.get_version(theirs.id).state == "COMMITTED"


def test_delete_trusts_no_id_from_a_tampered_base_file(server, tmp_path):
    """The base file is untrusted input: an entry edited to point at another project's
    version (its id, and a forged record of what the sync made) deletes nothing there, nor
    do malformed entries stop the sync."""
    from cairn.core.manifest import Entry
    from cairn.core.versions import CommitRequest

    url, keys = server
    local, dst = get_client(), remote(url, keys["alice"])
    digest, size = dst.ingest_bytes(b"the secret model")
    secret = dst.commit(
        CommitRequest(entity="vision", project="secret", name="model", type="model", entries=[Entry("m", digest, size)])
    )
    with cairn.init(project="p"):
        _log("p", "data", "mine")
    s0 = _one(local, "local", "p", "data", 0)
    assert len(sync(local, dst, base=_base_at(tmp_path, url)).versions_sent) == 1
    mine = _one(dst, "vision", "p", "data", 0)

    path = _base_at(tmp_path, url).path
    kept = json.loads(path.read_text())
    entry = kept["versions"][str(s0.id)]
    assert entry["dst"] == mine.id and entry["made"]["digest"] == s0.digest
    entry["dst"] = secret.id
    entry["made"] = {"entity": "vision", "project": "secret", "name": "model", "index": 0, "digest": secret.digest}
    kept["versions"]["not-an-id"] = {"dst": "1 OR 1=1"}
    kept["versions"]["999999"] = {"dst": True, "in": "local/p/data", "was": {}}
    path.write_text(json.dumps(kept))

    local.delete_version(s0.id)
    report = sync(local, dst, base=_base_at(tmp_path, url), delete=True)
    assert not report.versions_deleted and not report.skipped
    assert "stale or was edited" in report.deletions_kept[0]
    assert dst.get_version(secret.id).state == "COMMITTED"
    assert dst.get_version(mine.id).state == "COMMITTED"  # the base no longer says it is ours
    again = sync(local, dst, base=_base_at(tmp_path, url), delete=True)
    assert not again.versions_deleted and not again.deletions_kept
    assert dst.get_version(secret.id).state == "COMMITTED"


def test_delete_with_a_stale_base_deletes_nothing_on_a_new_server_at_the_same_url(server, tmp_path):
    """A base kept for a server that was replaced (a new server, a restored database, at the
    same URL): the recorded destination id now names another version of the same
    collection, with other content. `sync --delete` deletes nothing there."""
    from cairn.core.manifest import Entry
    from cairn.core.versions import CommitRequest

    url, keys = server
    local = get_client()
    with cairn.init(project="p"):
        _log("p", "data", "mine")
    s0 = _one(local, "local", "p", "data", 0)
    base = _base_at(tmp_path, url)  # kept under the first server's URL; used against the new one
    assert len(sync(local, remote(url, keys["alice"]), base=base).versions_sent) == 1
    target = _base_at(tmp_path, url).synced_to(s0.id)
    assert target is not None

    home = tmp_path / "new-home"
    meta = MetaStore.sqlite(home / "meta.sqlite")
    key = auth.create_user(meta, "alice")
    auth.add_member(meta, "vision", "alice", "write")
    meta.dispose()
    with cairn_server(tmp_path / "srv2", {"CAIRN_DIR": str(home)}, "--no-ui") as url2:
        new = remote(url2, key)
        made = []
        while not any(v.id == target for v in made):  # someone's versions, until one has the old id
            digest, size = new.ingest_bytes(f"their data {len(made)}".encode())
            made.append(
                new.commit(
                    CommitRequest(
                        entity="vision", project="p", name="data", type="dataset", entries=[Entry("t", digest, size)]
                    )
                )
            )
            assert len(made) < 50
        theirs = next(v for v in made if v.id == target)
        assert theirs.digest != s0.digest

        local.delete_version(s0.id)
        report = sync(local, new, base=_base_at(tmp_path, url), delete=True)
        assert not report.versions_deleted and not report.skipped
        assert "stale or was edited" in report.deletions_kept[0]
        assert all(new.get_version(v.id).state == "COMMITTED" for v in made)


def test_an_alias_added_on_the_server_while_a_sync_updates_the_version_survives(server, tmp_path):
    """The sync reads the server's version, then updates its aliases and tags; a teammate
    adds an alias and a tag to it in between (tests/gate.py runs their change when the sync's update reaches
    the proxy, before it is forwarded). The sync sends only what it changes (alias
    and tag deltas), so the teammate's alias and tag survive next to those the sync brought."""
    from gate import Gate

    url, keys = server
    local, dst = get_client(), remote(url, keys["alice"])
    with cairn.init(project="p"):
        _log("p", "data", "d0")
        _log("p", "data", "d1")
    s0 = _one(local, "local", "p", "data", 0)
    local.update_version(s0.id, aliases=["old"], tags=["old-tag"])
    assert len(sync(local, dst, base=_base_at(tmp_path, url)).versions_sent) == 2
    d0 = _one(dst, "vision", "p", "data", 0)
    local.update_version(s0.id, aliases=["best"], tags=["new-tag"])  # the source adds one and takes one off

    def teammate() -> None:
        remote(url, keys["alice"]).update_version(d0.id, add_aliases=["teammates"], add_tags=["their-tag"])

    patch = f"/versions/{d0.id}"
    with Gate(url, lambda method, path: method == "PATCH" and path.endswith(patch), nth=1, before=teammate) as gate:
        report = sync(local, remote(gate.url, keys["alice"]), base=_base_at(tmp_path, url))
        assert gate.interleaved.is_set()
    assert report.versions_updated == [f"{s0.qualified_name} -> vision/p/data:v0 (aliases, tags)"]
    assert set(dst.get_version(d0.id).aliases) == {"best", "teammates"}
    assert set(dst.get_version(d0.id).tags) == {"new-tag", "their-tag"}
    assert not sync(local, dst, base=_base_at(tmp_path, url)).changed
    # add_aliases moves an alias from the version holding it; a bad one is a clear 4xx
    d1 = _one(dst, "vision", "p", "data", 1)
    assert set(dst.update_version(d1.id, add_aliases=["teammates"]).aliases) == {"teammates", "latest"}
    assert set(dst.get_version(d0.id).aliases) == {"best"}
    with pytest.raises(CairnError) as err:
        dst.update_version(d1.id, add_aliases=["no spaces or / here"])
    assert "alias" in str(err.value)
    assert set(dst.update_version(d1.id, add_tags=["x"], remove_tags=["their-tag", "never"]).tags) == {"x"}
    with pytest.raises(CairnError) as err:
        dst.update_version(d1.id, add_tags=["a/b"])
    assert "tag" in str(err.value)
    assert set(dst.get_version(d1.id).tags) == {"x"}
