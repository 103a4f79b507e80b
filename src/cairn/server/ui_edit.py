"""What the version page needs to edit a version: whether the viewer may, the CSRF token
of its login, and the version's history.

Edits themselves go through the JSON API the SDK uses (``PATCH``/``DELETE
/api/v1/versions/{id}``), called by ``static/edit.js`` with the login cookie and the token
(``csrf``); the API checks the role (``authz.gate``), so hiding the controls from a reader
is a courtesy, not the protection.
"""

from __future__ import annotations

from typing import Any

from ..core.versions import VersionInfo
from ..engine import accounts as auth
from . import authz, csrf
from .context import ServerContext

HISTORY_ROWS = 200


def can_write(c: ServerContext, who: auth.Principal, v: VersionInfo) -> bool:
    role = auth.role_on(c.meta, who, v.entity)
    return role is not None and auth.ROLES[role] >= auth.ROLES["write"]


def page_context(c: ServerContext, who: auth.Principal, v: VersionInfo, cookie_key: str | None) -> dict[str, Any]:
    """The template values of the edit controls and the history card."""
    writer = can_write(c, who, v)
    return {
        "can_write": writer,
        "csrf_token": csrf.token(c.csrf_secret(), cookie_key) if writer else "",
        "history": history(c, who, v),
    }


def history(c: ServerContext, who: auth.Principal, v: VersionInfo) -> list[dict[str, Any]]:
    """The version's recorded edits and the alias moves that reached or left it otherwise
    (a commit moving ``latest``, a link, a run's ``log_artifact(aliases=…)``), newest first.
    An edit's own alias changes are also in the alias log, a few microseconds apart: those
    are shown once, as the edit. A run is shown to ``who`` when ``who`` can read it."""
    edits = c.engine.version_history(v.id)
    rows = [{**_run(r), "at": r["at"], "by": r["by"], "what": describe(r["action"], r["detail"])} for r in edits]
    logged: dict[tuple[str, bool], list] = {}  # (alias, added here?) -> times of edits that did it
    for r in edits:
        for key, added in (("aliases_added", True), ("aliases_removed", False)):
            for a in r["detail"].get(key, []):
                logged.setdefault((a, added), []).append(r["at"])
    for m in c.engine.alias_history(v.entity, v.project, v.name):
        if v.id not in (m["old_version_id"], m["new_version_id"]):
            continue
        same = logged.get((m["alias"], m["new_version_id"] == v.id), [])
        if any(abs((m["at"] - at).total_seconds()) < 1 for at in same):
            continue
        if m["new_version_id"] == v.id:
            what = f"alias {m['alias']} " + ("moved here" if m["old_version_id"] else "added")
        else:
            what = f"alias {m['alias']} " + ("moved to another version" if m["new_version_id"] else "removed")
        rows.append({**_run(m), "at": m["at"], "by": None, "what": what})
    rows.sort(key=lambda r: r["at"], reverse=True)
    return authz.readable_run_rows(c, who, rows[:HISTORY_ROWS])


def _run(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row.get(k) for k in authz.RUN_FIELDS}


def describe(action: str, detail: dict[str, Any]) -> str:
    """One line for a recorded change, e.g. "aliases +best −prod; metadata acc, step"."""
    if action == "delete":
        gone = detail.get("aliases_removed")
        return "deleted" + (f" (with aliases {', '.join(gone)})" if gone else "")
    parts = []
    for key, label in (("aliases", "aliases"), ("tags", "tags")):
        added, removed = detail.get(f"{key}_added", []), detail.get(f"{key}_removed", [])
        if added or removed:
            parts.append(label + " " + " ".join([f"+{a}" for a in added] + [f"−{a}" for a in removed]))
    if detail.get("description"):
        parts.append("description")
    if "metadata_keys" in detail:
        parts.append("metadata " + ", ".join(detail["metadata_keys"]))
    if "ttl_seconds" in detail:
        parts.append(f"ttl {detail['ttl_seconds']}")
    return "; ".join(parts) or action
