"""Numbers a caller sends in a query or a header are ASCII digits of a sane length: '²' and
other scripts' digits pass ``str.isdigit`` and then fail ``int()``, and ``int()`` refuses more
than 4,300 digits, both ValueErrors (a 500) unless checked first."""

from __future__ import annotations

import asyncio

import pytest
from starlette.requests import Request
from starlette.types import Message

from cairn.server.limits import BodyLimit
from cairn.server.ui_lineage import DEFAULT_DEPTH, _depth


def request(query: bytes) -> Request:
    return Request({"type": "http", "method": "GET", "path": "/", "headers": [], "query_string": query})


@pytest.mark.parametrize("raw", [b"%C2%B2", b"%D9%A3", b"1" * 5000, b"-1", b"", b"5", b"04x"])
def test_a_lineage_depth_that_is_not_one_offered_is_the_default(raw: bytes):
    assert _depth(request(b"depth=" + raw)) == DEFAULT_DEPTH


def test_a_lineage_depth_offered_is_taken():
    assert _depth(request(b"depth=4")) == 4 and _depth(request(b"depth=08")) == 8


def send_with_length(length: bytes, limit: int = 100) -> list[Message]:
    sent: list[Message] = []
    reached: list[bool] = []

    async def app(scope, receive, send) -> None:  # noqa: ANN001
        reached.append(True)

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/x", "headers": [(b"content-length", length)]}
    asyncio.run(BodyLimit(app, lambda method, path: limit)(scope, receive, send))
    return sent if not reached else [{"reached": True}]


def test_a_content_length_of_thousands_of_digits_is_a_413():
    sent = send_with_length(b"9" * 5000)
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 413
    assert send_with_length(b"101")[0]["status"] == 413
    assert send_with_length(b"100") == [{"reached": True}]
