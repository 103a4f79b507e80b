"""The store's limits (core/limits.py, matching the columns) are enforced on the embedded
store too, where SQLite would store anything: a clear UsageError naming the value, before
anything is written."""

from __future__ import annotations

from datetime import timedelta

import pytest
from helpers import write

import cairn
from cairn.client import get_client
from cairn.core.limits import MAX_JSON_DEPTH, MAX_RUN_ID, MAX_RUN_TEXT, MAX_TTL_SECONDS
from cairn.core.names import parse_ref


def nested(depth: int) -> dict:
    d: dict = {}
    for _ in range(depth - 1):
        d = {"x": d}
    return d


def store_is_empty() -> bool:
    c = get_client()
    return c.list_projects() == [] or all(not c.list_collections(e, p) for e, p in c.list_projects())


# -- runs ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kw", "says"),
    [
        ({"id": "r" * (MAX_RUN_ID + 1)}, f"at most {MAX_RUN_ID}"),
        ({"id": "bad\x00id"}, "run id"),
        ({"id": "."}, "'.' and '..'"),
        ({"id": "a\n"}, "letters, digits"),
        ({"name": "n" * (MAX_RUN_TEXT + 1)}, f"at most {MAX_RUN_TEXT}"),
        ({"name": "a\x00b"}, "NUL"),
        ({"name": "a\u200bb"}, "U+200B"),
        ({"group": "g" * (MAX_RUN_TEXT + 1)}, "run group"),
        ({"job_type": "j" * (MAX_RUN_TEXT + 1)}, "job type"),
        ({"job_type": "\ud800"}, "lone surrogate"),
        ({"config": nested(100_000)}, f"more than {MAX_JSON_DEPTH} levels"),
        ({"config": {"k": "\ud800"}}, "valid Unicode"),
        ({"project": ".."}, "'.' and '..'"),
        ({"project": "p\x00"}, "project name"),
        ({"entity": "e" * 129}, "at most 128"),
    ],
)
def test_bad_run_fields_are_refused_before_anything_is_written(kw, says):
    with pytest.raises(cairn.UsageError) as e:
        cairn.init(**kw)
    assert says in str(e.value)
    assert get_client().list_projects() == []


def test_longest_allowed_run_fields_are_fine():
    with cairn.init(
        id="r" * MAX_RUN_ID,
        name="n" * MAX_RUN_TEXT,
        group="g" * MAX_RUN_TEXT,
        job_type="j" * MAX_RUN_TEXT,
        config=nested(MAX_JSON_DEPTH),
    ) as run:
        pass
    assert cairn.Api().run(f"local/uncategorized/{run.id}").name == "n" * MAX_RUN_TEXT


# -- artifact fields at log time ---------------------------------------------------------------


def _log(**kw):
    write("f.txt", "x")
    a = cairn.Artifact("data", "dataset")
    a.add_file("f.txt")
    attrs = kw.pop("attrs", {})
    for k, v in attrs.items():
        setattr(a, k, v)
    with cairn.init() as run:
        run.log_artifact(a, **kw)
    return a


@pytest.mark.parametrize(
    ("kw", "says"),
    [
        ({"aliases": ["a\x00b"]}, "U+0000"),
        ({"aliases": ["best\u200b"]}, "U+200B (ZERO WIDTH SPACE)"),
        ({"aliases": ["\u202eevil"]}, "U+202E"),
        ({"aliases": ["\x1b[31m"]}, "U+001B"),
        ({"aliases": ["."]}, "'.' and '..'"),
        ({"aliases": [".."]}, "'.' and '..'"),
        ({"aliases": ["a" * 129]}, "at most 128"),
        ({"tags": ["t\x00"]}, "tag"),
        ({"tags": ["t\u200b"]}, "tag"),
        ({"tags": ["t\n"]}, "tag"),
        ({"tags": ["t" * 129]}, "at most 128"),
    ],
)
def test_bad_aliases_and_tags_at_log_time(kw, says):
    with pytest.raises(cairn.UsageError) as e:
        _log(**kw)
    assert says in str(e.value)
    assert not cairn.Api().artifact_exists("data")


@pytest.mark.parametrize(
    ("attrs", "says"),
    [
        ({"description": "a\x00b"}, "NUL"),
        ({"description": "\udc80"}, "lone surrogate"),
        ({"description": {"x": 1}}, "description must be a string"),
        ({"description": ["x", "y"]}, "description must be a string"),
        ({"metadata": nested(100_000)}, f"more than {MAX_JSON_DEPTH} levels"),
        ({"metadata": {"k": ["\ud800"]}}, "valid Unicode"),
        ({"ttl": timedelta(seconds=MAX_TTL_SECONDS + 1)}, "100 years"),
        ({"ttl": timedelta(days=999_999_999)}, "100 years"),
    ],
)
def test_bad_artifact_fields_are_refused_when_set(attrs, says):
    a = cairn.Artifact("data", "dataset")
    with pytest.raises(cairn.UsageError) as e:
        for k, v in attrs.items():
            setattr(a, k, v)
    assert says in str(e.value)


def test_description_may_hold_newlines_and_any_script():
    a = _log(attrs={"description": "line one\nline two\tend — ünïcödé ✓", "ttl": timedelta(seconds=MAX_TTL_SECONDS)})
    got = cairn.Api().artifact("data:latest")
    assert got.description == "line one\nline two\tend — ünïcödé ✓"
    assert got.ttl == timedelta(seconds=MAX_TTL_SECONDS)
    assert a.version == "v0"


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"ttl_seconds": 2**63}, "100 years"),
        ({"ttl_seconds": True}, "ttl"),
        ({"description": {"a": 1}}, "description must be a string"),
        ({"description": "x\x00"}, "NUL"),
        ({"metadata": nested(MAX_JSON_DEPTH + 1)}, "levels deep"),
        ({"aliases": ["ok", "z\u200d"]}, "U+200D"),
        ({"run_id": "x" * 65}, "run id"),
    ],
)
def test_engine_refuses_bad_edits_of_a_committed_version(change, says):
    _log(aliases=["keep"])
    c = get_client()
    v = c.resolve(parse_ref("data:latest"), "local", "uncategorized")
    with pytest.raises(cairn.UsageError) as e:
        c.update_version(v.id, **change)
    assert says in str(e.value)
    after = c.get_version(v.id)
    assert (after.description, after.metadata, after.aliases, after.ttl_seconds) == (
        v.description,
        v.metadata,
        v.aliases,
        v.ttl_seconds,
    )


@pytest.mark.parametrize("version_id", [0, -1, 2**63, 2**64])
def test_version_ids_out_of_range_are_usage_errors(version_id):
    with pytest.raises(cairn.UsageError, match="version id"):
        get_client().get_version(version_id)


# -- names: '.' and '..' ---------------------------------------------------------------------


@pytest.mark.parametrize("name", [".", ".."])
def test_dot_names_are_refused(name):
    with pytest.raises(cairn.UsageError, match="cannot be reached through a URL"):
        cairn.Artifact(name, "dataset")
    with pytest.raises(cairn.UsageError, match="cannot be reached through a URL"):
        cairn.init(project=name)
    with pytest.raises(cairn.UsageError, match="cannot be reached through a URL"):
        cairn.init(entity=name)
    assert store_is_empty()


def test_names_with_dots_inside_are_fine():
    with cairn.init(project="p.v2") as run:
        write("f.txt", "x")
        a = cairn.Artifact("...data", "data.set")
        a.add_file("f.txt")
        run.log_artifact(a)
    assert cairn.Api().artifact("p.v2/...data:v0").type == "data.set"


# -- reads ---------------------------------------------------------------------------------


@pytest.mark.parametrize("ref", ["data:a\x00", "data:\u200blatest", "p\x00/data:latest"])
def test_bad_references_are_usage_errors(ref):
    with pytest.raises(cairn.UsageError):
        cairn.Api().artifact(ref)


# -- distributed ids -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("did", "says"),
    [("d" * 257, "at most 256"), ("a/b", "'/'"), ("..", "'.' or '..'"), ("a\x00", "NUL"), ("a\u2028b", "U+2028")],
)
def test_bad_distributed_ids(did, says):
    write("f.txt", "x")
    with cairn.init() as run:
        a = cairn.Artifact("shard", "dataset")
        a.add_file("f.txt")
        with pytest.raises(cairn.UsageError) as e:
            run.upsert_artifact(a, distributed_id=did)
    assert says in str(e.value)
    assert not cairn.Api().artifact_exists("shard")
