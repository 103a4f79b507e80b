"""What the CLI does with an error: a user's mistake is one line naming the thing and what to
do (exit 1; ``--debug`` shows the traceback); a bug in cairn is left as the traceback it is.

A user's mistakes are cairn's own error tree, the operating system's answers about files
(no such file, permission denied, a file where a folder should be) and the answers of
services the user points cairn at (an object store, PostgreSQL) — the CLI catches only those
(STYLE 15: usage / die / BUG)."""

from __future__ import annotations

import sys
from typing import Any

import click

from . import output

# Modules whose exceptions are answers from a service the user chose (URL, credentials,
# network), not cairn's bugs. Matched by module so that none has to be imported.
_SERVICE_ERRORS = {
    "botocore": "the object store",
    "boto3": "the object store",
    "psycopg": "PostgreSQL",
    "sqlalchemy": "the metadata database",
    "sqlite3": "the SQLite metadata store",
    "urllib3": "the network",
}


def _service(e: BaseException) -> str | None:
    for klass in type(e).__mro__:
        top = klass.__module__.partition(".")[0]
        if top in _SERVICE_ERRORS:
            return _SERVICE_ERRORS[top]
    return None


def user_error(e: BaseException) -> str | None:
    """The one-line message for an error the user caused, or None for a bug."""
    from ..core.errors import CairnError

    if isinstance(e, CairnError):
        return str(e)
    if isinstance(e, OSError) and _service(e) is None:
        if e.filename is not None and e.strerror:
            what = f"{e.filename!s}" + (f" -> {e.filename2!s}" if e.filename2 else "")
            return f"{what}: {e.strerror}{_os_hint(e)}"
        return str(e)
    service = _service(e)
    if service is not None:
        text = " ".join(str(e).split()) or type(e).__name__
        if len(text) > 300:
            text = text[:300] + "…"
        return f"{service} refused or failed: {text} ({type(e).__name__}); check its URL, credentials and that it is running"
    return None


def _os_hint(e: OSError) -> str:
    if isinstance(e, PermissionError):
        return "; check the permissions, or choose another path"
    if isinstance(e, NotADirectoryError):
        return "; a file is where a folder is needed: choose another path"
    if isinstance(e, IsADirectoryError):
        return "; a folder is where a file is needed: choose another path"
    return ""


class Root(click.Group):
    """The root group: runs a command, turns user errors into one line, and shows the
    progress summaries of a command that succeeded."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            out = super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise  # click's own: usage errors (exit 2), --help, ctrl-c at a prompt
        except KeyboardInterrupt:
            if ctx.params.get("debug"):
                raise
            output.error("interrupted")
            sys.exit(130)
        except Exception as e:  # noqa: BLE001 - sorted into the user's mistakes and bugs below
            message = user_error(e)
            if message is None or ctx.params.get("debug"):
                raise  # a bug in cairn: its traceback, as it is
            output.fail(message)
        output.flush_notes()
        return out
