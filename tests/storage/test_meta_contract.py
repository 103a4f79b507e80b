"""The metadata store contract, run against SQLite and a real PostgreSQL: the engine's use
cases (commit, dedup, dense version numbers under concurrent writers, alias moves and their
history, distributed drafts, lineage) plus chunks and migrations.

Concurrent writers are threads, each with its own MetaStore and Engine on the same URL,
as separate processes or server replicas would be."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from cairn.core.errors import (
    ArtifactNotFoundError,
    ConflictError,
    LockedError,
    RunNotFoundError,
    StoreError,
    UsageError,
)
from cairn.core.manifest import Entry
from cairn.core.names import ArtifactRef, parse_ref
from cairn.core.versions import CommitRequest
from cairn.engine import Engine
from cairn.storage.blobs.local import LocalBlobStore
from cairn.storage.meta import schema
from cairn.storage.registry import open_meta

WRITERS = 6


@pytest.fixture(params=["sqlite", "postgresql"])
def meta_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'meta.sqlite'}"
    return request.getfixturevalue("pg_database")


@pytest.fixture
def blobs(tmp_path: Path):
    store = LocalBlobStore(tmp_path / "blobs")
    yield store
    store.close()


@pytest.fixture
def engines(meta_url: str, blobs) -> Callable[[], Engine]:
    """Make engines on the test's metadata store (each with its own MetaStore); all disposed after."""
    made: list[Engine] = []

    def make() -> Engine:
        e = Engine(open_meta(meta_url), blobs)
        made.append(e)
        return e

    yield make
    for e in made:
        e.meta.dispose()


@pytest.fixture
def engine(engines) -> Engine:
    return engines()


def entries(blobs, files: dict[str, bytes]) -> list[Entry]:
    out = []
    for path, data in files.items():
        digest, size = blobs.put_bytes(data)
        out.append(Entry(path, digest, size))
    blobs.flush()
    return out


def request(blobs, files: dict[str, bytes], name: str = "data", **kw) -> CommitRequest:
    return CommitRequest("ent", "proj", name, "dataset", entries=entries(blobs, files), **kw)


def warm(engines: Callable[[], Engine], n: int) -> list[Engine]:
    """``n`` engines already connected (schema checked), so that their writers really collide."""
    made = [engines() for _ in range(n)]
    for e in made:
        e.meta.open()
    return made


def resolve(engine: Engine, ref: str):
    return engine.resolve(parse_ref(ref), "ent", "proj")


def in_threads(n: int, fn: Callable[[int], object]) -> list:
    """Run fn(0..n-1) in n threads released together; re-raise the first failure."""
    barrier = threading.Barrier(n)
    results: list = [None] * n
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = fn(i)
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


# -- commit, resolve, dedup -------------------------------------------------------


def test_commit_and_resolve(engine, blobs):
    v = engine.commit(
        request(
            blobs,
            {"a.txt": b"a", "dir/b.txt": b"b"},
            aliases=["best"],
            tags=["t1"],
            metadata={"k": 1},
            description="first",
        )
    )
    assert (v.version, v.file_count, v.size, v.aliases, v.tags) == ("v0", 2, 2, ("latest", "best"), ("t1",))
    assert (v.metadata, v.description) == ({"k": 1}, "first")
    for ref in ("data:latest", "data:v0", "data:best"):
        assert resolve(engine, ref).id == v.id
    assert engine.resolve(ArtifactRef("data", v.digest), "ent", "proj").id == v.id
    assert [(e.path, e.size) for e in engine.manifest(v.manifest_key)] == [("a.txt", 1), ("dir/b.txt", 1)]
    with pytest.raises(ArtifactNotFoundError):
        resolve(engine, "data:v1")
    with pytest.raises(ArtifactNotFoundError):
        resolve(engine, "other:latest")


def test_same_content_is_deduplicated(engine, blobs):
    v0 = engine.commit(request(blobs, {"a": b"1"}))
    v1 = engine.commit(request(blobs, {"a": b"2"}))
    again = engine.commit(request(blobs, {"a": b"1"}, aliases=["again"]))
    assert (v0.version, v1.version, again.id) == ("v0", "v1", v0.id)
    assert set(again.aliases) == {"latest", "again"}
    assert [v.version for v in engine.list_versions("ent", "proj", "data")] == ["v0", "v1"]


def test_content_a_version_has_is_committed_without_building_or_checking(engine, blobs, monkeypatch):
    first = engine.commit(request(blobs, {"a": b"1", "d/b": b"2"}))
    engine.commit(request(blobs, {"a": b"3"}))
    req = request(blobs, {"d/b": b"2", "a": b"1"}, aliases=["again"])  # any order

    def refuse(*a, **kw):  # noqa: ANN002, ANN003
        raise AssertionError("an identical version needs no chunks and no blob check")

    monkeypatch.setattr(engine.meta, "put_chunks", refuse)
    monkeypatch.setattr(engine.blobs, "has", refuse)
    again = engine.commit(req)
    assert (again.id, again.version) == (first.id, "v0")
    assert set(again.aliases) == {"latest", "again"}


def test_content_of_a_deleted_version_makes_a_new_one(engine, blobs):
    v0 = engine.commit(request(blobs, {"a": b"1"}))
    engine.commit(request(blobs, {"a": b"2"}))
    engine.delete_version(v0.id)
    back = engine.commit(request(blobs, {"a": b"1"}))
    assert back.version == "v2" and back.digest == v0.digest
    assert [(e.path, e.digest) for e in engine.manifest(back.manifest_key)] == [
        ("a", request(blobs, {"a": b"1"}).entries[0].digest)
    ]


def test_identical_content_under_another_type_is_still_a_conflict(engine, blobs):
    engine.commit(request(blobs, {"a": b"1"}))
    with pytest.raises(ConflictError):
        engine.commit(CommitRequest("ent", "proj", "data", "model", entries=request(blobs, {"a": b"1"}).entries))


def test_incremental_commit_on_a_base_version(engine, blobs):
    from cairn.core.versions import Edits

    base = engine.commit(request(blobs, {"keep": b"k", "drop/x": b"x", "drop/y": b"y", "change": b"c0"}))
    [changed] = entries(blobs, {"change": b"c1"})
    v = engine.commit(
        CommitRequest(
            "ent",
            "proj",
            "data",
            "dataset",
            base_version_id=base.id,
            edits=Edits(upserts={"change": changed}, remove_prefixes={"drop/"}),
        )
    )
    assert v.version == "v1"
    assert [e.path for e in engine.manifest(v.manifest_key)] == ["change", "keep"]
    scratch = engine.commit(request(blobs, {"keep": b"k", "change": b"c1"}, name="scratch"))
    assert scratch.digest == v.digest


# -- concurrency -------------------------------------------------------------------


def test_concurrent_writers_get_dense_versions(engines, blobs):
    """Six writers at once, on an artifact (and a store) that does not exist yet: v0..v5."""
    reqs = [request(blobs, {"f": f"writer {i}".encode()}) for i in range(WRITERS)]
    made = in_threads(WRITERS, lambda i: engines().commit(reqs[i]))
    assert sorted(v.index for v in made) == list(range(WRITERS))
    listed = engines().list_versions("ent", "proj", "data")
    assert [v.index for v in listed] == list(range(WRITERS))
    assert len({v.digest for v in listed}) == WRITERS
    assert resolve(engines(), "data:latest").index in range(WRITERS)


@pytest.mark.parametrize("rounds", [5])
def test_concurrent_writers_collide_on_a_warm_store(engines, blobs, rounds):
    """Connected writers released together, round after round: still v0..vN without gaps."""
    writers = warm(engines, WRITERS)
    for r in range(rounds):
        reqs = [request(blobs, {"f": f"round {r} writer {i}".encode()}) for i in range(WRITERS)]
        in_threads(WRITERS, lambda i, reqs=reqs: writers[i].commit(reqs[i]))
    assert [v.index for v in writers[0].list_versions("ent", "proj", "data")] == list(range(rounds * WRITERS))


def test_concurrent_writers_of_the_same_content_make_one_version(engines, blobs):
    writers = warm(engines, WRITERS)
    for r in range(3):
        reqs = [
            request(blobs, {"same": f"{r}".encode(), "more": b"m"}, aliases=[f"r{r}-by-{i}"]) for i in range(WRITERS)
        ]
        made = in_threads(WRITERS, lambda i, reqs=reqs: writers[i].commit(reqs[i]))
        assert {v.id for v in made} == {made[0].id} and made[0].version == f"v{r}"
        v = resolve(writers[0], "data:latest")
        assert set(v.aliases) == {"latest", *(f"r{r}-by-{i}" for i in range(WRITERS))}


def test_concurrent_writers_on_many_artifacts(engines, blobs):
    reqs = [request(blobs, {"f": f"{i}".encode()}, name=f"art{i % 3}") for i in range(WRITERS)]
    in_threads(WRITERS, lambda i: engines().commit(reqs[i]))
    e = engines()
    for n in range(3):
        assert [v.version for v in e.list_versions("ent", "proj", f"art{n}")] == ["v0", "v1"]


# -- aliases -------------------------------------------------------------------------


def test_alias_moves_and_history(engine, blobs):
    v0 = engine.commit(request(blobs, {"a": b"0"}, aliases=["best"]))
    v1 = engine.commit(request(blobs, {"a": b"1"}, aliases=["best"]))
    assert resolve(engine, "data:best").id == v1.id
    assert engine.get_version(v0.id).aliases == ()
    engine.update_version(v0.id, aliases=["best", "prod"])
    assert resolve(engine, "data:best").id == v0.id and resolve(engine, "data:latest").id == v1.id
    engine.update_version(v0.id, aliases=[])
    with pytest.raises(ArtifactNotFoundError):
        resolve(engine, "data:prod")
    moves = [
        (m["alias"], m["old_version_id"], m["new_version_id"]) for m in engine.alias_history("ent", "proj", "data")
    ]
    assert moves[:6] == [
        ("latest", None, v0.id),
        ("best", None, v0.id),
        ("latest", v0.id, v1.id),
        ("best", v0.id, v1.id),
        ("best", v1.id, v0.id),
        ("prod", None, v0.id),
    ]
    assert sorted(moves[6:]) == [("best", v0.id, None), ("prod", v0.id, None)]  # dropped together


def test_delete_moves_latest_back(engine, blobs):
    v0 = engine.commit(request(blobs, {"a": b"0"}))
    v1 = engine.commit(request(blobs, {"a": b"1"}))
    engine.delete_version(v1.id)
    assert resolve(engine, "data:latest").id == v0.id
    with pytest.raises(ArtifactNotFoundError):
        resolve(engine, "data:v1")
    assert engine.commit(request(blobs, {"a": b"2"})).version == "v2"  # numbers are never reused


# -- ids are never handed out twice ---------------------------------------------------


def _id_columns(tx) -> dict[str, str]:  # noqa: ANN001
    """Every table with an ``id`` integer primary key: how its ids are drawn."""
    if tx.dialect == "postgresql":
        return dict(
            tx.tuples(
                "SELECT table_name, coalesce(identity_generation, column_default, '') FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND column_name = 'id' AND data_type = 'bigint'"
            )
        )
    out = {}
    for table, sql in tx.tuples("SELECT name, sql FROM sqlite_master WHERE type = 'table'"):
        pk = [c for c in tx.tuples(f"PRAGMA table_info('{table}')") if c[5]]  # (cid, name, type, notnull, dflt, pk)
        if [(c[1], c[2]) for c in pk] == [("id", "INTEGER")]:
            out[table] = "AUTOINCREMENT" if "AUTOINCREMENT" in sql.upper() else "rowid (reuses a dropped newest id)"
    return out


def test_every_id_column_draws_from_a_counter_that_never_goes_back(engine):
    """SQLite's INTEGER PRIMARY KEY alone reuses the id of a dropped newest row; AUTOINCREMENT
    and PostgreSQL's identity columns never do. Checked on every table, so that a table added
    later cannot forget it."""
    engine.meta.open()
    with engine.meta.read() as tx:
        got = _id_columns(tx)
    want = "BY DEFAULT" if tx.dialect == "postgresql" else "AUTOINCREMENT"
    tables = {"projects", "artifacts", "versions", "alias_log", "drafts", "users", "api_keys", "version_log"}
    assert tables <= set(got) and {t: want for t in got} == got


def test_an_id_is_never_handed_out_twice(engine, blobs):
    """A caller holding the id of a version that is gone (deleted newest, a deleted
    collection, a deleted project) reaches nothing, never the row made after it."""
    v0 = engine.commit(request(blobs, {"a": b"0"}))
    v1 = engine.commit(request(blobs, {"a": b"1"}))
    engine.delete_version(v1.id)
    v2 = engine.commit(request(blobs, {"a": b"2"}))
    assert v2.id not in (v0.id, v1.id) and engine.get_version(v1.id).state == "DELETED"
    engine.delete_version(v1.id)  # deleting the deleted one again touches nothing
    assert engine.get_version(v2.id).state == "COMMITTED"

    # the newest collection goes whole, with its versions' rows: their ids stay spent
    engine.delete_collection("ent", "proj", "data")
    again = engine.commit(request(blobs, {"a": b"3"}))
    assert again.version == "v0" and again.id > v2.id
    for stale in (v0.id, v1.id, v2.id):
        with pytest.raises(ArtifactNotFoundError):
            engine.get_version(stale)
        with pytest.raises(ArtifactNotFoundError):
            engine.delete_version(stale, delete_aliases=True)
        with pytest.raises(ArtifactNotFoundError):
            engine.update_version(stale, description="stale")
    assert engine.get_version(again.id).state == "COMMITTED" and engine.get_version(again.id).description is None

    # a deleted project: its id and its collections' ids are spent too
    with engine.meta.read() as tx:
        pid, art = tx.first(
            "SELECT p.id, a.id FROM projects p JOIN artifacts a ON a.project_id = p.id WHERE p.name = 'proj'"
        )
    engine.delete_project("ent", "proj")
    newer = engine.commit(request(blobs, {"a": b"4"}))
    with engine.meta.read() as tx:
        pid2, art2 = tx.first(
            "SELECT p.id, a.id FROM projects p JOIN artifacts a ON a.project_id = p.id WHERE p.name = 'proj'"
        )
    assert pid2 > pid and art2 > art and newer.id > again.id
    with pytest.raises(ArtifactNotFoundError):
        engine.get_version(again.id)


def _layout_and_rows(tx) -> tuple[dict, dict]:  # noqa: ANN001
    """Each table's columns, keys and indexes (SQLite) and its rows, to compare a store before
    and after a migration."""
    if tx.dialect == "postgresql":
        tables = tx.scalars("SELECT tablename FROM pg_catalog.pg_tables WHERE schemaname = current_schema()")
        layout = {
            "indexes": sorted(
                tx.tuples("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()")
            )
        }
    else:
        tables = tx.scalars("SELECT name FROM sqlite_master WHERE type = 'table' AND name <> 'sqlite_sequence'")
        layout = {
            "indexes": sorted(tx.tuples("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"))
        }
        for t in tables:
            unique = [
                tuple(c[2] for c in tx.tuples(f"PRAGMA index_info('{i[1]}')"))
                for i in tx.tuples(f"PRAGMA index_list('{t}')")
                if i[3] == "u"  # UNIQUE constraints' own indexes
            ]
            layout[t] = (
                tx.tuples(f"PRAGMA table_info('{t}')"),
                sorted(tuple(fk[2:5]) for fk in tx.tuples(f"PRAGMA foreign_key_list('{t}')")),
                sorted(unique),
            )
    rows = {t: sorted(map(repr, tx.tuples(f"SELECT * FROM {t}"))) for t in tables if t != "schema_info"}
    return layout, rows


def test_a_version_8_store_is_brought_to_version_9(meta_url, engines, blobs, monkeypatch):
    """A store made before ids were kept from reuse (SQLite tables of plain INTEGER PRIMARY
    KEY) keeps every row, column, key and index through the table rebuilds, and from then on
    never hands out a dropped newest id again."""
    from cairn.engine import accounts as auth

    with monkeypatch.context() as old:  # the code of schema version 8
        old.setattr(schema, "SCHEMA_VERSION", 8)
        old.setitem(schema._TYPES["sqlite"], "id", "INTEGER PRIMARY KEY")
        eng = engines()
        v0 = eng.commit(request(blobs, {"a": b"0"}, aliases=["best"], tags=["t"]))
        # a run as version 8 stored it, named by no version or draft: the engine of today
        # reads and writes runs by version 10's keys (that migration has its own test)
        with eng.meta.write() as tx:
            pid = tx.scalar("SELECT id FROM projects WHERE entity = 'ent' AND name = 'proj'")
            tx.execute(
                "INSERT INTO runs (id, project_id, name, config, state, created_at) "
                "VALUES ('r8', :pid, 'r8', '{\"a\": 1}', 'running', :t)",
                {"pid": pid, "t": tx.now()},
            )
        v1 = eng.commit(request(blobs, {"a": b"1"}, description="one", metadata={"k": 1}))
        eng.update_version(v0.id, description="edited", by="ann")
        eng.link_version(v1.id, "ent", "reg", "linked", aliases=["prod"])
        eng.upsert_draft(request(blobs, {"d": b"d"}, name="shards"), "dist-1")
        auth.create_user(eng.meta, "ann")
        gone = eng.commit(request(blobs, {"g": b"g"}, name="gone"))
        eng.delete_collection("ent", "proj", "gone")  # the newest rows go
        with eng.meta.read() as tx:
            before = _layout_and_rows(tx)
            assert _id_columns(tx)["versions"] in ("rowid (reuses a dropped newest id)", "BY DEFAULT")
            assert tx.scalar("SELECT value FROM schema_info WHERE key = 'version'") == "8"
        eng.meta.dispose()
    with monkeypatch.context() as v9:  # version 9 alone
        v9.setattr(schema, "SCHEMA_VERSION", 9)
        store = open_meta(meta_url)
        assert store.open() == 8
        with store.read() as tx:
            after = _layout_and_rows(tx)
            assert _id_columns(tx)["versions"] in ("AUTOINCREMENT", "BY DEFAULT")
        # a newest version dropped at version 9: version 10 rebuilds ``versions`` on SQLite
        # and must keep the highest id handed out
        dropped = Engine(store, blobs).commit(request(blobs, {"z": b"z"}, name="dropped"))
        Engine(store, blobs).delete_collection("ent", "proj", "dropped")
        store.dispose()
    assert after == before
    store = open_meta(meta_url)
    assert store.open() == 9  # and on to version 10
    with store.read() as tx:
        assert _id_columns(tx)["versions"] in ("AUTOINCREMENT", "BY DEFAULT")  # kept by version 10's rebuild
    again = Engine(store, blobs)
    assert again.resolve(parse_ref("data:best"), "ent", "proj").id == v0.id
    assert again.get_version(v0.id).description == "edited" and again.version_history(v0.id)[0]["by"] == "ann"
    assert again.resolve(parse_ref("linked:prod"), "ent", "reg").link_of == v1.id
    # ids dropped before the upgrade are unknown to it; from here on none comes back
    newest = again.commit(request(blobs, {"n": b"n"}, name="newest"))
    assert newest.id > dropped.id
    again.delete_collection("ent", "proj", "newest")
    after_drop = again.commit(request(blobs, {"n": b"n2"}, name="newest"))
    assert after_drop.id > newest.id >= gone.id
    with pytest.raises(ArtifactNotFoundError):
        again.get_version(newest.id)
    store.dispose()


# -- distributed drafts ------------------------------------------------------------------


def test_distributed_draft(engine, blobs):
    runs = [engine.create_run("ent", "proj", group="g").id for _ in range(4)]
    engine.upsert_draft(request(blobs, {"part/1": b"1", "shared": b"s"}, run_id=runs[0]), "dist")
    engine.upsert_draft(request(blobs, {"part/2": b"2", "shared": b"s"}, run_id=runs[1]), "dist")
    with pytest.raises(ConflictError) as err:
        engine.upsert_draft(request(blobs, {"part/3": b"3", "shared": b"other"}, run_id=runs[2]), "dist")
    assert err.value.path == "shared" and set(err.value.runs) == {runs[0], runs[2]}
    with pytest.raises(ArtifactNotFoundError):
        resolve(engine, "data:latest")  # nothing is visible before finish
    v = engine.finish_draft(request(blobs, {"part/4": b"4"}, run_id=runs[3]), "dist")
    assert [e.path for e in engine.manifest(v.manifest_key)] == ["part/1", "part/2", "part/4", "shared"]
    assert {o.id for r in (runs[0], runs[1], runs[3]) for o in engine.run_outputs(r)} == {v.id}
    assert engine.run_outputs(runs[2]) == []
    for again in (engine.upsert_draft, engine.finish_draft):
        with pytest.raises(LockedError) as err:
            again(request(blobs, {"late": b"l"}, run_id=runs[0]), "dist")
        assert "dist" in str(err.value) and "v0" in str(err.value)
    other = engine.finish_draft(request(blobs, {"x": b"x"}), "dist-2")
    assert other.version == "v1"


def test_concurrent_contributions_to_one_draft(engines, blobs):
    writers = warm(engines, WRITERS)
    runs = [writers[0].create_run("ent", "proj").id for _ in range(WRITERS)]
    for d in range(3):
        reqs = [request(blobs, {f"shard/{i}": f"{i}".encode(), "common": b"c"}, run_id=runs[i]) for i in range(WRITERS)]
        in_threads(WRITERS, lambda i, reqs=reqs, d=d: writers[i].upsert_draft(reqs[i], f"dist-{d}"))
        v = writers[0].finish_draft(request(blobs, {}), f"dist-{d}")
        assert v.file_count == WRITERS + 1


def test_concurrent_finishers_of_one_draft(engines, blobs):
    """One finisher wins; the others are told the draft is finished (never a second version)."""
    writers = warm(engines, WRITERS)
    reqs = [request(blobs, {"common": b"c"}) for _ in range(WRITERS)]
    outcomes = in_threads(WRITERS, lambda i: _try(lambda: writers[i].finish_draft(reqs[i], "dist")))
    made = [o for o in outcomes if not isinstance(o, LockedError)]
    assert len(made) == 1 and made[0].version == "v0"
    assert [v.version for v in writers[0].list_versions("ent", "proj", "data")] == ["v0"]


def _try(fn: Callable[[], object]) -> object:
    try:
        return fn()
    except LockedError as e:
        return e


# -- runs and lineage --------------------------------------------------------------


def test_lineage(engine, blobs):
    producer = engine.create_run("ent", "proj", name="p", config={"lr": 0.1})
    v = engine.commit(request(blobs, {"a": b"a"}, run_id=producer.id))
    consumer = engine.create_run("ent", "proj")
    engine.use_version(consumer.id, v.id)
    engine.use_version(consumer.id, v.id)
    engine.finish_run(producer.id)
    assert [o.id for o in engine.run_outputs(producer.id)] == [v.id]
    assert [i.id for i in engine.run_inputs(consumer.id)] == [v.id]
    assert [r.id for r in engine.version_users(v.id)] == [consumer.id]
    assert engine.get_run(producer.id).state == "finished" and engine.get_run(producer.id).config == {"lr": 0.1}


# -- chunks and migrations -------------------------------------------------------------


def test_chunks_are_idempotent(engines):
    stores = [e.meta for e in warm(engines, WRITERS)]
    stores[0].put_chunks({"k1": b"one", "k2": b"two"})
    stores[0].put_chunks({"k1": b"one"})
    for r in range(5):  # writers of the same new chunks at the same moment
        in_threads(WRITERS, lambda i, r=r: stores[i].put_chunks({"k2": b"two", f"n{i}": b"x", f"shared{r}": b"s"}))
    assert stores[0].get_chunks(["k1", "k2", "shared4", "missing"]) == {"k1": b"one", "k2": b"two", "shared4": b"s"}


def test_migrations_run_once(engines):
    first, second = engines().meta, engines().meta
    assert first.open() == 0  # a new store: created from nothing
    with first.read() as tx:
        rows = tx.tuples("SELECT key, value FROM schema_info")
    assert rows == [("version", str(schema.SCHEMA_VERSION))]
    assert second.open() == schema.SCHEMA_VERSION  # found current: nothing to do


def _undo_version_8(tx) -> None:  # noqa: ANN001
    tx.execute("DROP INDEX ix_version_log_version")
    tx.execute("DROP TABLE version_log")
    tx.execute("UPDATE schema_info SET value = '7'")


def _undo_version_7(tx) -> None:  # noqa: ANN001
    tx.execute("DROP TABLE staged_uploads")
    tx.execute("DROP INDEX ix_api_keys_prefix")
    tx.execute("ALTER TABLE users DROP COLUMN server_admin")
    tx.execute("ALTER TABLE api_keys DROP COLUMN expires_at")
    tx.execute("UPDATE schema_info SET value = '6'")


def _undo_version_6(tx) -> None:  # noqa: ANN001
    tx.execute("DROP TABLE run_history")
    for column in ("summary", "tags", "notes", "exit_code"):
        tx.execute(f"ALTER TABLE runs DROP COLUMN {column}")
    tx.execute("UPDATE schema_info SET value = '5'")


_V10_TABLES = ("runs", "versions", "usages", "outputs", "outputs_pending", "run_history")
_V10_PKEYS = {
    "usages": "run_id, version_id",
    "outputs": "run_id, version_id",
    "outputs_pending": "draft_id, run_id",
    "run_history": "run_id, step",
}


_V11_COLUMNS = {
    "alias_log": "run_project",
    "version_log": "run_project",
    "versions": "run_project",
    "drafts": "finished_by_project",
    "draft_entries": "run_project",
}


def _undo_version_12(tx) -> None:  # noqa: ANN001
    """Back to the version 11 schema, whose staged uploads have no completion lease."""
    tx.execute("DROP INDEX ix_staged_uploads_created")
    tx.execute("ALTER TABLE staged_uploads DROP COLUMN completing_at")
    tx.execute("UPDATE schema_info SET value = '11'")


def _undo_version_11(tx) -> None:  # noqa: ANN001
    """Back to the version 10 schema, whose history rows name a run by its id alone."""
    _undo_version_12(tx)
    for t, column in _V11_COLUMNS.items():
        tx.execute(f"ALTER TABLE {t} DROP COLUMN {column}")
    tx.execute("UPDATE schema_info SET value = '10'")


def _undo_version_10(meta_url: str) -> None:
    """Back to the version 9 schema, whose run ids are unique server-wide (the data kept)."""
    if meta_url.startswith("sqlite"):
        store = open_meta(meta_url)
        with store.write() as tx:
            _undo_version_11(tx)
        store.dispose()
        import sqlite3

        old = sqlite3.connect(":memory:")  # the version 9 schema, to copy its tables' DDL
        for v in range(1, 10):
            for statement in schema.statements(v, "sqlite"):
                old.execute(statement)
        ddl = dict(old.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'"))
        ph = ", ".join(f"'{t}'" for t in _V10_TABLES)
        indexes = [
            sql
            for (sql,) in old.execute(
                f"SELECT sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN ({ph})"
            )
        ]
        conn = sqlite3.connect(meta_url.removeprefix("sqlite:///"), isolation_level=None)  # foreign keys off
        conn.execute("BEGIN IMMEDIATE")
        for t in _V10_TABLES:
            cols = ", ".join(r[1] for r in old.execute(f"PRAGMA table_info({t})"))
            create = re.sub(rf'^CREATE TABLE "?{t}"? \(', f"CREATE TABLE {t}_v9 (", ddl[t], count=1)
            conn.execute(create)
            conn.execute(f"INSERT INTO {t}_v9 ({cols}) SELECT {cols} FROM {t}")
            conn.execute(f"DROP TABLE {t}")
            conn.execute(f"ALTER TABLE {t}_v9 RENAME TO {t}")
        for sql in indexes:
            conn.execute(sql)
        conn.execute("UPDATE schema_info SET value = '9'")
        conn.execute("COMMIT")
        conn.close()
        old.close()
        return
    store = open_meta(meta_url)
    with store.write() as tx:
        _undo_version_11(tx)
        tx.execute("ALTER TABLE runs DROP CONSTRAINT runs_pkey CASCADE")
        for t, pkey in _V10_PKEYS.items():
            tx.execute(f"ALTER TABLE {t} DROP CONSTRAINT {t}_pkey")
            tx.execute(f"ALTER TABLE {t} DROP COLUMN run_project")
            tx.execute(f"ALTER TABLE {t} ADD PRIMARY KEY ({pkey})")
        tx.execute("DROP INDEX IF EXISTS ix_usages_version")
        tx.execute("DROP INDEX IF EXISTS ix_outputs_version")
        tx.execute("DROP INDEX IF EXISTS ix_runs_id")
        tx.execute("ALTER TABLE runs ADD PRIMARY KEY (id)")
        for t in ("versions", *_V10_PKEYS):
            tx.execute(f"ALTER TABLE {t} ADD FOREIGN KEY (run_id) REFERENCES runs (id)")
        tx.execute("UPDATE schema_info SET value = '9'")
    store.dispose()


def test_a_version_9_store_is_brought_to_version_10(meta_url, engines):
    """A store whose run ids were unique server-wide keeps its runs, their history, inputs
    and outputs; from then on the same run id can be made in another project (its owner
    learns nothing of the first), and a bare id that two projects hold must be named by
    its path."""
    eng = engines()
    run = eng.create_run("ent", "proj", run_id="shared")
    used = eng.commit(request(eng.blobs, {"a": b"input"}, "inp"))
    eng.use_version("shared", used.id)
    made = eng.commit(request(eng.blobs, {"b": b"output"}, "out", run_id="shared"))
    eng.log_history("shared", [{"x": 1, "_step": 0}])
    _undo_version_10(meta_url)
    store = open_meta(meta_url)
    assert store.open() == 9
    from cairn.engine import Engine

    again = Engine(store, eng.blobs)
    assert again.get_run("shared").id == run.id and again.get_run("shared").last_step == 0
    assert [v.id for v in again.run_inputs("shared")] == [used.id]
    assert [v.id for v in again.run_outputs("shared")] == [made.id]
    assert again.run_history("shared") == ['{"x":1,"_step":0}']
    other = again.create_run("stranger", "own", run_id="shared", resume="never")  # a free id to her
    assert (other.entity, other.project, other.id) == ("stranger", "own", "shared")
    again.log_history("stranger/own/shared", [{"y": 2, "_step": 0}])
    assert again.run_history("ent/proj/shared") == ['{"x":1,"_step":0}']
    assert again.run_history("stranger/own/shared") == ['{"y":2,"_step":0}']
    assert again.run_inputs("stranger/own/shared") == [] and again.run_outputs("stranger/own/shared") == []
    with pytest.raises(UsageError, match="entity/project/shared"):
        again.get_run("shared")
    assert again.get_run("shared", "ent", "proj").project == "proj"
    assert {r.entity for r in again.version_users(used.id)} == {"ent"}
    store.dispose()


def test_a_version_10_store_is_brought_to_version_11(meta_url, engines):
    """History rows written when they named a run by its id alone get the run of their own
    project when it has one, and no run otherwise (a move made by another project's run:
    which run of that id it was is not known); new rows name the run's project."""
    eng = engines()
    eng.create_run("ent", "proj", run_id="shared")
    eng.create_run("other", "elsewhere", run_id="shared")
    v = eng.commit(request(eng.blobs, {"a": b"a"}, aliases=["best"], run_id="shared"))
    eng.update_version(v.id, description="edited", run_id="shared")
    link = eng.link_version(v.id, "ent", "reg", "linked", ["prod"], run_id="other/elsewhere/shared")
    eng.upsert_draft(request(eng.blobs, {"d": b"d"}, name="shards", run_id="shared"), "dist-1")
    store = open_meta(meta_url)
    with store.write() as tx:
        _undo_version_11(tx)
    store.dispose()
    store = open_meta(meta_url)
    assert store.open() == 10
    again = Engine(store, eng.blobs)
    own = {"run_id": "shared", "run_entity": "ent", "run_project": "proj"}
    none = dict.fromkeys(own)
    runs = lambda rows: [{k: r[k] for k in own} for r in rows]  # noqa: E731
    assert runs(again.alias_history("ent", "proj", "data")) == [own, own]
    assert runs(again.version_history(v.id)) == [own]
    assert runs(again.alias_history("ent", "reg", "linked")) == [none, none]
    with store.read() as tx:
        pid = tx.scalar("SELECT id FROM projects WHERE entity = 'ent' AND name = 'proj'")
        assert tx.tuples("SELECT run_project FROM versions ORDER BY id") == [(pid,), (None,)]
        assert tx.tuples("SELECT run_project FROM draft_entries") == [(pid,)]
    again.update_version(link.id, add_aliases=["staging"], run_id="other/elsewhere/shared")
    moved = runs(again.alias_history("ent", "reg", "linked"))[-1]
    assert moved == {"run_id": "shared", "run_entity": "other", "run_project": "elsewhere"}
    with pytest.raises(RunNotFoundError):  # a run that does not exist is refused, not recorded
        again.update_version(link.id, add_aliases=["x"], run_id="nosuchrun")
    store.dispose()


def test_a_version_5_store_is_brought_to_version_6(meta_url, engines):
    """A store made before runs kept a record gains history, summary, tags and notes; its runs stay."""
    eng = engines()
    eng.create_run("e", "kept", run_id="oldrun", config={"a": 1})
    _undo_version_10(meta_url)
    with eng.meta.write() as tx:
        _undo_version_8(tx)
        _undo_version_7(tx)
        _undo_version_6(tx)
    store = open_meta(meta_url)
    assert store.open() == 5
    from cairn.engine import Engine

    again = Engine(store, eng.blobs)
    run = again.get_run("oldrun")
    assert run.config == {"a": 1} and run.summary == {} and run.tags == () and run.last_step is None
    again.log_history("oldrun", [{"x": 1, "_step": 0}], summary={"x": 1})
    assert again.run_history("oldrun") == ['{"x":1,"_step":0}'] and again.get_run("oldrun").summary == {"x": 1}
    store.dispose()


# -- a run's record ---------------------------------------------------------------------------


def test_history_rows_summary_and_config_in_one_batch(engine):
    import json

    engine.create_run("e", "p", run_id="r1", config={"a": 1}, tags=["t"], notes="n")
    rows = [{"loss": 1.0 / (i + 1), "_step": i, **({"a_b": i} if i % 10 == 0 else {})} for i in range(100)]
    rows.append({"100%": "x", "nan": float("nan"), "_step": 100})
    engine.log_history("r1", rows, summary={"loss": 0.01}, config={"a": 2})
    engine.log_history("r1", [{"loss": 5, "_step": 100}])  # a step stored again replaces its row
    run = engine.get_run("r1")
    assert (run.summary, run.config, run.tags, run.notes, run.last_step) == ({"loss": 0.01}, {"a": 2}, ("t",), "n", 100)
    got = [json.loads(t) for t in engine.run_history("r1")]
    assert [r["_step"] for r in got] == list(range(101)) and got[-1] == {"loss": 5, "_step": 100}
    # key filters match the key exactly: '_' and '%' are not wildcards
    assert [json.loads(t)["_step"] for t in engine.run_history("r1", keys=["a_b"])] == list(range(0, 100, 10))
    assert engine.run_history("r1", keys=["aXb"]) == []
    assert len(engine.run_history("r1", min_step=10, max_step=20)) == 10
    assert len(engine.run_history("r1", limit=7)) == 7
    sampled = [json.loads(t)["_step"] for t in engine.run_history("r1", samples=10)]
    assert len(sampled) <= 10 and sampled[0] == 0 and sampled[-1] == 100 and sampled == sorted(sampled)


def test_history_refuses_bad_rows_and_finished_runs(engine):
    engine.create_run("e", "p", run_id="r2")
    for rows, match in (
        ("nope", "list"),
        ([1], "not an object"),
        ([{"a": 1}], "_step"),
        ([{"_step": -1}], "_step"),
        ([{"_step": True}], "_step"),
        ([{"_step": 2}, {"_step": 1}], "increase"),
        ([{"_step": 1, "": 2}], "empty"),
    ):
        with pytest.raises(UsageError, match=match):
            engine.log_history("r2", rows)
    with pytest.raises(UsageError, match="summary"):
        engine.log_history("r2", [], summary=[1])
    with pytest.raises(RunNotFoundError):
        engine.log_history("nosuch", [{"_step": 0}])
    with pytest.raises(UsageError, match="samples"):
        engine.run_history("r2", samples=0)
    engine.finish_run("r2", 0)
    with pytest.raises(LockedError, match="resume"):
        engine.log_history("r2", [{"_step": 0}])
    engine.update_run("r2", summary={"late": 1}, tags=["x"], name="renamed")  # the record stays editable
    assert engine.get_run("r2").summary == {"late": 1} and engine.get_run("r2").name == "renamed"
    with pytest.raises(UsageError, match="tags"):
        engine.update_run("r2", tags="x")
    assert engine.get_run("r2").last_step is None


def test_deleting_a_project_deletes_its_runs_history(engine):
    engine.create_run("e", "gone", run_id="r3")
    engine.log_history("r3", [{"x": i, "_step": i} for i in range(10)])
    engine.delete_project("e", "gone")
    with engine.meta.read() as tx:
        assert tx.scalar("SELECT count(*) FROM run_history WHERE run_id = 'r3'") == 0
    with pytest.raises(RunNotFoundError):
        engine.get_run("r3")


def test_a_version_6_store_is_brought_to_version_7(meta_url, engines):
    """A store made before key expiry and server admins keeps its users and keys: none
    expires, none is a server admin."""
    from cairn.engine import accounts as auth

    meta = engines().meta
    key = auth.create_user(meta, "old")
    _undo_version_10(meta_url)
    with meta.write() as tx:
        _undo_version_8(tx)
        _undo_version_7(tx)
    store = open_meta(meta_url)
    assert store.open() == 6
    who = auth.authenticate(store, key)
    assert who.name == "old" and not who.server_admin
    assert [k.state() for k in auth.list_keys(store, "old")] == ["active"]
    with store.read() as tx:
        assert tx.scalar("SELECT count(*) FROM staged_uploads") == 0
    store.dispose()


def test_a_version_7_store_is_brought_to_version_8(meta_url, engines):
    """A store made before versions kept a history of edits gains one: edits from then on
    are recorded, its versions stay."""
    eng = engines()
    v = eng.commit(request(eng.blobs, {"a": b"kept"}))
    _undo_version_10(meta_url)
    with eng.meta.write() as tx:
        _undo_version_8(tx)
    store = open_meta(meta_url)
    assert store.open() == 7
    from cairn.engine import Engine

    again = Engine(store, eng.blobs)
    assert again.version_history(v.id) == []
    again.update_version(v.id, aliases=["best"], by="ann")
    [row] = again.version_history(v.id)
    assert (row["action"], row["by"], row["detail"]) == ("edit", "ann", {"aliases_added": ["best"]})
    store.dispose()


def test_a_version_1_store_is_brought_to_version_2(meta_url, engines):
    """A store made before direct uploads gains their claims table (and the later tables), and
    keeps its data."""
    meta = engines().meta
    meta.open()
    _undo_version_10(meta_url)
    with meta.write() as tx:
        _undo_version_8(tx)
        _undo_version_7(tx)
        _undo_version_6(tx)
        tx.execute("DROP TABLE blob_claims")
        tx.execute("DROP INDEX ix_project_blobs_digest")
        tx.execute("DROP TABLE damaged_blobs")  # version 3
        for table in ("gc_marks", "retention", "store_settings"):  # version 4
            tx.execute(f"DROP TABLE {table}")
        tx.execute("DROP TABLE collection_tags")  # version 5
        tx.execute("DROP INDEX ix_versions_link_of")
        tx.execute("ALTER TABLE versions DROP COLUMN link_of")
        tx.execute("ALTER TABLE artifacts DROP COLUMN kind")
        tx.execute("UPDATE schema_info SET value = '1'")
        tx.execute("INSERT INTO projects (entity, name, created_at) VALUES ('e', 'kept', :t)", {"t": tx.now()})
    store = open_meta(meta_url)
    assert store.open() == 1
    with store.read() as tx:
        assert tx.scalar("SELECT value FROM schema_info WHERE key = 'version'") == str(schema.SCHEMA_VERSION)
        assert tx.scalar("SELECT count(*) FROM blob_claims") == 0
        assert tx.scalar("SELECT count(*) FROM damaged_blobs") == 0
        assert tx.scalar("SELECT count(*) FROM gc_marks") == 0
        assert tx.scalar("SELECT count(*) FROM versions WHERE link_of IS NOT NULL") == 0
        assert tx.scalar("SELECT kind FROM artifacts") is None  # no rows, but the column is back
        assert tx.scalar("SELECT name FROM projects WHERE entity = 'e'") == "kept"


def test_a_newer_schema_is_refused(meta_url, engines):
    with engines().meta.write() as tx:
        tx.execute("UPDATE schema_info SET value = :v", {"v": str(schema.SCHEMA_VERSION + 1)})
    with pytest.raises(StoreError) as err:
        open_meta(meta_url).open()
    assert "newer" in str(err.value) and "upgrade cairn" in str(err.value)


def test_unreachable_database_is_a_store_error(postgres):
    from sqlalchemy.engine import make_url

    url = make_url(postgres).set(port=1, database="nope").render_as_string(hide_password=False)
    with pytest.raises(StoreError) as err:
        open_meta(url).open()
    assert "***" in str(err.value) and "cairn:cairn" not in str(err.value)


# -- the web UI's queries: search, lineage, a version's history --------------------------------


def test_search_matches_values_in_the_entities_given(engine):
    from cairn.engine.search import search

    a = engine.commit(
        request(
            engine.blobs,
            {"a": b"1"},
            "m",
            metadata={"opt": {"name": "Zebra_50%"}, "acc": 0.5},
            aliases=["best"],
            tags=["reviewed"],
        )
    )
    engine.commit(
        CommitRequest(
            "other", "proj", "m", "dataset", entries=entries(engine.blobs, {"b": b"2"}), metadata={"note": "zebra_50%"}
        )
    )
    engine.commit(request(engine.blobs, {"c": b"3"}, "plain", metadata={"zebra": "no", "cat": "tiger-50"}))

    def found(q, ents=("ent",)):
        hits = search(engine.meta, q, None if ents is None else list(ents))[0]
        return [(h.version.entity, h.version.name) for h in hits]

    assert found("zebra_50%") == [("ent", "m")]  # any case, % and _ plain characters, a key never a value
    assert sorted(found("zebra", None)) == [("ent", "m"), ("other", "m")]
    assert found("zebra", []) == []
    assert found("ebra 50") == [] and found("a_5") == [("ent", "m")]
    assert found("tiger_50") == [] and found("tiger%50") == [] and found("tiger-50") == [("ent", "plain")]
    assert found("opt=zebra") == [("ent", "m")] and found("acc=zebra") == [] and found("acc=0.5") == [("ent", "m")]
    assert (
        found("BEST") == [("ent", "m")] and found("review") == [("ent", "m")] and found("plain") == [("ent", "plain")]
    )
    engine.delete_version(a.id, delete_aliases=True)
    assert found("zebra") == []  # deleted versions are not found


def test_lineage_walks_every_writer_and_stops_at_what_is_hidden(engine):
    from cairn.engine import lineage

    raw = engine.commit(request(engine.blobs, {"r": b"raw"}, "raw"))
    writers = [engine.create_run("ent", "proj", run_id=f"w{i}") for i in range(3)]
    for w in writers:
        engine.use_version(w.id, raw.id)
        engine.upsert_draft(request(engine.blobs, {f"{w.id}.txt": w.id.encode()}, "shards", run_id=w.id), "d")
    shards = engine.finish_draft(request(engine.blobs, {}, "shards", run_id=writers[0].id), "d")
    engine.create_run("other", "x", run_id="spy")
    engine.use_version("spy", shards.id)
    everyone = lambda n: True  # noqa: E731
    g = lineage.walk(engine.meta, shards, 2, everyone)
    assert {k for k, n in g.nodes.items() if n.layer == -1} == {"r:ent/proj/w0", "r:ent/proj/w1", "r:ent/proj/w2"}
    assert {k for k, n in g.nodes.items() if n.layer == -2} == {f"v:{raw.id}"}
    assert set(g.nodes) >= {"r:other/x/spy"} and (f"v:{shards.id}", "r:other/x/spy") in g.edges
    mine = lambda n: (n.version or n.run).entity == "ent"  # noqa: E731
    assert "r:other/x/spy" not in lineage.walk(engine.meta, shards, 2, mine).nodes
    g = lineage.walk(engine.meta, shards, 1, everyone, fanout=2)
    assert g.nodes[f"g:v:{shards.id}:up"].count == 3 and "r:ent/proj/w0" not in g.nodes
    g = lineage.walk(engine.meta, shards, 1, everyone, frozenset({f"g:v:{shards.id}:up"}), fanout=2)
    assert {"r:ent/proj/w0", "r:ent/proj/w1", "r:ent/proj/w2"} <= set(g.nodes)


def test_a_version_keeps_a_history_of_its_edits(engine):
    v = engine.commit(request(engine.blobs, {"a": b"1"}, metadata={"acc": 1, "keep": 2}))
    engine.update_version(v.id, aliases=["best"], tags=["t"], metadata={"acc": 2, "keep": 2, "new": 1}, by="ann")
    engine.update_version(v.id, aliases=["best"], by="ann")  # nothing changed: nothing recorded
    engine.update_version(v.id, description="d", remove_aliases=["best"], tags=[])
    engine.delete_version(v.id)  # only "latest" left: allowed without delete_aliases
    rows = engine.version_history(v.id)
    assert [(r["action"], r["by"]) for r in rows] == [("delete", None), ("edit", None), ("edit", "ann")]
    assert rows[2]["detail"] == {"aliases_added": ["best"], "tags_added": ["t"], "metadata_keys": ["acc", "new"]}
    assert rows[1]["detail"] == {"description": True, "aliases_removed": ["best"], "tags_removed": ["t"]}
    assert rows[0]["detail"] == {"aliases_removed": ["latest"]}
