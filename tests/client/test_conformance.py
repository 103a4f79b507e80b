"""Every client has every method of the ``Client`` protocol, with the protocol's parameters.

mypy checks the same statically (``_conforms: type[Client] = ...`` at the end of each client
module, run by ``./dev.sh test``); this asks it at run time, where a method left out (once
hidden behind ``LocalClient.__getattr__``) fails by name."""

import inspect

import pytest

from cairn.client.base import Client
from cairn.client.http import HttpClient
from cairn.client.local import LocalClient
from cairn.client.null import NullClient
from cairn.core.errors import UsageError

CLIENTS = [LocalClient, HttpClient, NullClient]


def protocol_members() -> list[str]:
    return sorted(
        n for n, v in vars(Client).items() if not n.startswith("_") and (callable(v) or isinstance(v, property))
    )


def test_the_protocol_lists_the_operations():
    members = protocol_members()
    assert len(members) > 30 and {"commit", "resolve", "download", "entity", "version_users"} <= set(members)


@pytest.mark.parametrize("cls", CLIENTS, ids=lambda c: c.__name__)
def test_no_attribute_forwarding(cls):
    assert "__getattr__" not in vars(cls)


@pytest.mark.parametrize("cls", CLIENTS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("name", protocol_members())
def test_client_has_the_method_with_the_protocols_parameters(cls, name):
    want = vars(Client)[name]
    if isinstance(want, property):  # a property, or an attribute set in __init__ (mypy checks its type)
        assert hasattr(cls, name) or f"self.{name} = " in inspect.getsource(cls.__init__)
        return
    assert hasattr(cls, name), f"{cls.__name__} lacks Client.{name}"
    params = [(p.name, p.kind, p.default) for p in inspect.signature(want).parameters.values()]
    have = [(p.name, p.kind, p.default) for p in inspect.signature(getattr(cls, name)).parameters.values()]
    assert have[: len(params)] == params, f"{cls.__name__}.{name} takes other parameters than Client.{name}"
    extra = list(inspect.signature(getattr(cls, name)).parameters.values())[len(params) :]
    assert all(p.default is not inspect.Parameter.empty for p in extra), f"{cls.__name__}.{name} needs more"


def test_disabled_client_refuses_what_it_cannot_do_by_saying_so():
    c = NullClient()
    assert c.missing_blobs("e", "p", ["blake3:" + "0" * 64]) == set()
    assert c.get_retention("e", "p", None) is None
    for call in (
        lambda: c.report_damaged("blake3:" + "0" * 64),
        lambda: c.update_collection("e", "p", "n", description="x"),
        lambda: c.delete_collection("e", "p", "n"),
        lambda: c.delete_project("e", "p"),
        lambda: c.set_retention("e", "p", None, None),
    ):
        with pytest.raises(UsageError, match="mode='disabled'"):
            call()
