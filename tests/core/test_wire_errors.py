"""Each error class owns its wire form: an error rebuilt from a server's answer is the same
class with the same message and identifiers as the one raised on the embedded store."""

from __future__ import annotations

import inspect

import pytest

import cairn
from cairn.core import wire
from cairn.core import errors as E


@pytest.mark.parametrize("cls", sorted(E.by_name().values(), key=lambda c: c.__name__), ids=lambda c: c.__name__)
def test_every_error_class_round_trips_its_wire_form(cls):
    """Each class rebuilds itself from its wire form through its constructor: same class,
    same message, same identifiers (what a server sends is what the embedded store raises)."""
    samples = {
        "InvalidPathError": lambda: cls("../x", "has '..'"),
        "ArtifactNotFoundError": lambda: cls("e/p/a:v3", "no committed version has that version or alias"),
        "RunNotFoundError": lambda: cls("e/p/r1"),
        "BlobNotFoundError": lambda: cls("blake3:" + "0" * 64, "(entry 'a.txt')"),
        "ConflictError": lambda: cls("path differs", path="a.txt", runs=("r1", "r2")),
        "IntegrityError": lambda: cls("corrupt", path="a.txt", digest="blake3:" + "1" * 64),
        "FileChangedError": lambda: cls("/tmp/x.bin", "x.bin"),
        "ArtifactNotLoggedError": lambda: cls("Artifact.version", "data"),
        "ArtifactFinalizedError": lambda: cls("add_file to", "e/p/data:v0", "it is logged"),
        "NotAModelError": lambda: cls("e/p/data:v0", "dataset"),
    }
    original = samples.get(cls.__name__, lambda: cls("something went wrong"))()
    body = wire.error_out(original)
    assert body["error"]["type"] == cls.__name__
    back = wire.error_in(body, 400)
    assert type(back) is cls and str(back) == str(original)
    names = set(inspect.signature(cls.__init__).parameters) - {"self", "message"}
    assert back.to_wire() == original.to_wire()
    for attr in (n for n in names if hasattr(original, n)):
        assert getattr(back, attr) == getattr(original, attr), attr


def test_a_hostile_error_body_does_not_plant_attributes_or_crash():
    back = wire.error_in({"error": {"type": "IntegrityError", "message": 5, "path": ["x"], "digest": {"a": 1}}}, 422)
    assert isinstance(back, cairn.IntegrityError) and back.path is None and back.digest is None
    back = wire.error_in({"error": {"type": "__class__", "message": "m"}}, 500)
    assert type(back) is cairn.CairnError
    back = wire.error_in({"error": {"type": "ConflictError", "message": "m", "runs": "abc"}}, 409)
    assert back.runs == ()
    assert isinstance(wire.error_in("not json", 502), cairn.StoreError)


def test_a_server_only_error_travels_as_its_nearest_core_class():
    from cairn.server.errors import PayloadTooLarge

    body = wire.error_out(PayloadTooLarge(10))
    assert body["error"]["type"] == "UsageError"
    assert isinstance(wire.error_in(body, 413), cairn.UsageError)
