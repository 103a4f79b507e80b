"""/api/ready needs no key, so it must not be a way to make a replica hit its stores: its
answer is reused for a moment and concurrent callers share one check. And it tells an
anonymous caller only ready or not, with a reason code per store, never what failed."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import anyio
import httpx
import pytest

from cairn.server import probes
from cairn.server.app import create_app
from cairn.storage.blobs.local import LocalBlobStore
from cairn.storage.meta.sql import MetaStore


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def app(tmp_path):  # noqa: ANN001, ANN201
    return create_app(MetaStore.sqlite(tmp_path / "meta.sqlite"), LocalBlobStore(tmp_path / "blobs"), ui=False)


def counting(monkeypatch: pytest.MonkeyPatch, fail: BaseException | None = None) -> list[str]:
    """Record each real check of the metadata store (raising ``fail`` instead, if given)."""
    calls: list[str] = []
    real = probes._check_meta

    def check(c):  # noqa: ANN001, ANN202
        calls.append("meta")
        if fail is not None:
            raise fail
        real(c)

    monkeypatch.setattr(probes, "_check_meta", check)
    return calls


async def _get_many(app, n: int) -> list[httpx.Response]:  # noqa: ANN001
    transport = httpx.ASGITransport(app=app)
    out: list[httpx.Response] = []
    async with httpx.AsyncClient(transport=transport, base_url="http://replica") as client:

        async def one() -> None:
            out.append(await client.get("/api/ready"))

        async with anyio.create_task_group() as tg:
            for _ in range(n):
                tg.start_soon(one)
    return out


def in_thread(fn, *args):  # noqa: ANN001, ANN002, ANN201
    """``anyio.run`` in a thread of its own (a browser test earlier in the session may have
    left an event loop running in this one)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(anyio.run, fn, *args).result()


def get_many(app, n: int) -> list[httpx.Response]:  # noqa: ANN001
    return in_thread(_get_many, app, n)


def test_concurrent_and_repeated_calls_check_the_stores_once(app, monkeypatch):
    clock = Clock()
    app.state.cairn.ready = probes.ReadyCache(ttl=1.5, clock=clock)
    calls = counting(monkeypatch)
    answers = get_many(app, 50)
    assert [r.status_code for r in answers] == [200] * 50
    assert {r.text for r in answers} == {'{"ready":true,"metadata":"ok","blobs":"ok"}'}
    assert calls == ["meta"]  # fifty callers, one check in flight that all of them waited for
    clock.now += 1.0
    assert [r.status_code for r in get_many(app, 20)] == [200] * 20
    assert calls == ["meta"]  # still within the time an answer is reused
    clock.now += 0.6
    assert [r.status_code for r in get_many(app, 20)] == [200] * 20
    assert calls == ["meta", "meta"]  # stale: asked once more, for all of them
    assert app.state.cairn.ready.checks == 2


def test_an_outage_answers_a_reason_code_and_nothing_else(app, monkeypatch):
    clock = Clock()
    app.state.cairn.ready = probes.ReadyCache(ttl=1.5, clock=clock)
    secret = "could not connect to server: db-7.internal.example:5432 password authentication failed for cairn"
    calls = counting(monkeypatch, fail=RuntimeError(secret))
    answers = get_many(app, 10)
    assert calls == ["meta"]
    for r in answers:
        assert r.status_code == 503 and int(r.headers["retry-after"]) >= 1
        assert r.headers["cache-control"] == "no-store"
        assert r.json() == {"ready": False, "metadata": "unavailable", "blobs": "ok"}
        assert "db-7" not in r.text and "password" not in r.text
    # the outage is remembered only as long as a good answer would be
    monkeypatch.setattr(probes, "_check_meta", lambda c: calls.append("meta-again"))
    clock.now += 2
    assert [r.status_code for r in get_many(app, 3)] == [200] * 3
    assert calls == ["meta", "meta-again"]


def test_ready_needs_no_key_and_takes_no_input(app):
    answers = in_thread(_anonymous, app)
    for r in answers:
        assert r.status_code == 200, r.text
        assert r.json() == {"ready": True, "metadata": "ok", "blobs": "ok"}  # the same for any caller


async def _anonymous(app) -> list[httpx.Response]:  # noqa: ANN001
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://replica") as client:
        return [
            await client.get("/api/ready"),
            await client.get("/api/ready", headers={"Authorization": "Bearer not-a-key"}),
            await client.get("/api/ready?verbose=1&detail=all"),
        ]
