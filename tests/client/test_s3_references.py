"""``s3://`` references against a real S3 (the session's SeaweedFS): one object, a prefix, a
missing key, and a reference whose object changed after it was logged."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from cairn.client.references import entries_for, open_reference
from cairn.core.errors import IntegrityError, UsageError


@pytest.fixture
def bucket(server_stack: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    for k, v in server_stack.s3_env.items():
        monkeypatch.setenv(k, v)
    name = f"refs-{uuid.uuid4().hex[:12]}"
    s3 = server_stack.seaweed.client()
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="one.txt", Body=b"one")
    s3.put_object(Bucket=name, Key="dir/", Body=b"")  # a folder marker: not a file
    s3.put_object(Bucket=name, Key="dir/a.txt", Body=b"a")
    s3.put_object(Bucket=name, Key="dir/sub/b.txt", Body=b"bb")
    return name


def test_an_object_is_one_entry_its_etag_the_checksum(bucket: str):
    (e,) = entries_for(f"s3://{bucket}/one.txt", None, True, None)
    assert (e.path, e.size, e.ref) == ("one.txt", 3, f"s3://{bucket}/one.txt")
    assert e.digest == "etag:" + e.extra["etag"] and e.extra["etag"]
    with open_reference(e) as r:
        assert r.read() == b"one"
    (named,) = entries_for(f"s3://{bucket}/one.txt", "renamed.txt", False, None)
    assert (named.path, named.digest) == ("renamed.txt", f"uri:s3://{bucket}/one.txt")


def test_a_prefix_is_every_object_below_it(bucket: str):
    got = entries_for(f"s3://{bucket}/dir", "data", True, None)
    assert [(e.path, e.size) for e in got] == [("data/a.txt", 1), ("data/sub/b.txt", 2)]
    with open_reference(got[1]) as r:
        assert r.read() == b"bb"
    with pytest.raises(UsageError, match="max_objects=1"):
        entries_for(f"s3://{bucket}/dir/", None, True, 1)


def test_a_missing_key_is_refused_by_name(bucket: str):
    with pytest.raises(FileNotFoundError, match=f"s3://{bucket}/nothing"):
        entries_for(f"s3://{bucket}/nothing", None, True, None)


def test_an_object_changed_after_logging_is_refused(bucket: str, server_stack: Any):
    (e,) = entries_for(f"s3://{bucket}/one.txt", None, True, None)
    server_stack.seaweed.client().put_object(Bucket=bucket, Key="one.txt", Body=b"changed")
    with pytest.raises(IntegrityError, match="changed since it was logged") as err:
        open_reference(e)
    assert err.value.path == "one.txt"
