"""The CLI shows cairn's log (the ``cairn`` logger) on stderr: warnings by default, more with
``-v``/``-vv`` or CAIRN_LOG_LEVEL (a level name or number)."""

from __future__ import annotations

import logging
import os

from ..core.limits import ascii_int

_FORMAT = "%(levelname)s %(name)s: %(message)s"


def level_from(verbose: int, env: str | None) -> int:
    if verbose >= 2:
        return logging.DEBUG
    if verbose == 1:
        return logging.INFO
    if env:
        named = logging.getLevelName(env.strip().upper())
        if isinstance(named, int):
            return named
        if (level := ascii_int(env.strip(), 3)) is not None:
            return level
    return logging.WARNING


class _CliHandler(logging.StreamHandler):
    """A handler the CLI added (to stderr): found again by its type, never added twice."""


def setup_logging(verbose: int = 0) -> None:
    """Send the ``cairn`` logger's records at the chosen level to stderr (once per process)."""
    log = logging.getLogger("cairn")
    log.setLevel(level_from(verbose, os.environ.get("CAIRN_LOG_LEVEL")))
    if not any(isinstance(h, _CliHandler) for h in log.handlers):
        handler = _CliHandler()  # stderr, looked up at each record
        handler.setFormatter(logging.Formatter(_FORMAT))
        log.addHandler(handler)
        log.propagate = False


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, and the record's extra
    fields (the access log's method, path, status, duration_ms, user)."""

    _PLAIN = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        import json

        doc = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        doc.update({k: v for k, v in vars(record).items() if k not in self._PLAIN and not k.startswith("_")})
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return json.dumps(doc, default=str)


def setup_server_logging(as_json: bool | None = None) -> None:
    """The server's logs on stderr: ``cairn`` (with the access log, ``cairn.access``) and
    uvicorn's own, as text or, with ``--log-json``/CAIRN_LOG_JSON=1, JSON lines."""
    import time

    if as_json is None:
        as_json = os.environ.get("CAIRN_LOG_JSON", "").lower() in ("1", "true", "yes")
    handler = _CliHandler()
    if as_json:
        formatter: logging.Formatter = JsonFormatter()
    else:
        formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%SZ")
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    level = level_from(0, os.environ.get("CAIRN_LOG_LEVEL"))
    for name in ("cairn", "uvicorn"):
        log = logging.getLogger(name)
        for h in [h for h in log.handlers if isinstance(h, _CliHandler)]:
            log.removeHandler(h)
        log.addHandler(handler)
        log.setLevel(level)
        log.propagate = False
    # the access log is on unless asked away: one INFO line per request
    logging.getLogger("cairn.access").setLevel(min(level, logging.INFO))
