"""The seam between SDK and engine: ``get_client()`` picks in-process or HTTP from the settings."""

from __future__ import annotations

import threading

from .base import Client
from .settings import Settings

_clients: dict[Settings, Client] = {}
_lock = threading.Lock()


def get_client(settings: Settings | None = None) -> Client:
    """The client for the current settings (one per distinct settings, per process)."""
    settings = settings or Settings.from_env()
    with _lock:
        client = _clients.get(settings)
        if client is None:
            if settings.base_url:
                from .http import HttpClient

                client = HttpClient(settings)
            else:
                from .local import LocalClient

                client = LocalClient(settings)
            _clients[settings] = client
        return client


def reset_clients() -> None:
    """Forget cached clients (tests that switch stores, or after fork)."""
    with _lock:
        for c in _clients.values():
            close = getattr(c, "close", None)
            if close:
                close()
        _clients.clear()


__all__ = ["Client", "Settings", "get_client", "reset_clients"]
