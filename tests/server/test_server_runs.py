"""A run's record through a real server: the history, summary and update routes answer
only callers with the role, and bad input is a 4xx that says what to send."""

from __future__ import annotations

import json

import httpx
import pytest
from test_server_auth import as_user, secured  # noqa: F401 - the fixture, reused

import cairn


def _alice_run(monkeypatch, keys) -> cairn.Run:  # noqa: ANN001
    as_user(monkeypatch, keys["alice"])
    run = cairn.init(project="metrics", config={"lr": 0.1})
    for i in range(50):
        run.log({"secret_loss": 1.0 / (i + 1)})
    run.finish()
    return run


def test_roles_gate_history_summary_and_updates(secured, monkeypatch) -> None:  # noqa: ANN001, F811
    url, keys, _ = secured
    run = _alice_run(monkeypatch, keys)
    as_user(monkeypatch, keys["bob"])  # read role: reads everything, changes nothing
    got = cairn.Api().run(f"vision/metrics/{run.id}")
    assert len(got.history(pandas=False)) == 50 and got.summary["secret_loss"] == 1 / 50
    with pytest.raises(cairn.ForbiddenError):
        got.summary["x"] = 1
    bob = {"Authorization": f"Bearer {keys['bob']}"}
    r = httpx.post(f"{url}/api/v1/runs/{run.id}/history", headers=bob, json={"rows": [{"_step": 99}]})
    assert r.status_code == 403
    eve = {"Authorization": f"Bearer {keys['eve']}"}  # no role: learns nothing
    for method, path, body in (
        ("GET", "/history", None),
        ("GET", "", None),
        ("PATCH", "", {"notes": "x"}),
        ("POST", "/history", {"rows": [{"_step": 99}]}),
    ):
        r = httpx.request(method, f"{url}/api/v1/runs/{run.id}{path}", headers=eve, json=body)
        assert r.status_code in (403, 404), (method, path, r.status_code)
        assert "secret_loss" not in r.text
    as_user(monkeypatch, keys["alice"])
    again = cairn.Api().run(f"vision/metrics/{run.id}")
    assert again.lastHistoryStep == 49 and again.notes is None and "x" not in again.summary


def test_bad_history_input_is_a_clear_4xx(secured, monkeypatch) -> None:  # noqa: ANN001, F811
    url, keys, _ = secured
    as_user(monkeypatch, keys["alice"])
    run = cairn.init(project="metrics")
    alice = {"Authorization": f"Bearer {keys['alice']}", "Content-Type": "application/json"}
    post = f"{url}/api/v1/runs/{run.id}/history"
    for body, status, words in (
        (b"not json", 400, "JSON"),
        (b"[1, 2]", 400, "dictionary"),
        (json.dumps({"rows": "x"}).encode(), 400, "list"),
        (json.dumps({"rows": [{"a": 1}]}).encode(), 400, "_step"),
        (json.dumps({"rows": [{"_step": 3}, {"_step": 2}]}).encode(), 400, "increase"),
        (json.dumps({"rows": [], "summary": [1]}).encode(), 400, "summary"),
        (json.dumps({"rows": [], "extra": 1}).encode(), 400, "xtra"),
    ):
        r = httpx.post(post, headers=alice, content=body)
        assert r.status_code == status and words in r.json()["error"]["message"], (body, r.text)
    r = httpx.post(f"{url}/api/v1/runs/nosuchrun/history", headers=alice, json={"rows": [{"_step": 0}]})
    assert r.status_code == 404
    r = httpx.get(f"{url}/api/v1/runs/{run.id}/history", headers=alice, params={"samples": 0})
    assert 400 <= r.status_code < 500
    r = httpx.get(f"{url}/api/v1/runs/{run.id}/history", headers=alice, params={"limit": 10**9})
    assert 400 <= r.status_code < 500
    for body, words in (
        ({"tags": "x"}, "tags"),
        ({"owner": "me"}, "xtra"),
        ({"summary": 3}, "summary"),
        ({"name": ""}, "name"),
    ):
        r = httpx.patch(f"{url}/api/v1/runs/{run.id}", headers=alice, json=body)
        assert r.status_code == 400 and words in r.json()["error"]["message"], (body, r.text)
    run.log({"a": float("nan"), "b": float("-inf")})
    run.finish()
    r = httpx.post(post, headers=alice, json={"rows": [{"_step": 5}]})
    assert r.status_code == 409 and "resume" in r.json()["error"]["message"]
    (row,) = cairn.Api().run(f"vision/metrics/{run.id}").history(pandas=False)
    assert row["a"] != row["a"] and row["b"] == float("-inf")  # NaN and infinity crossed the wire
