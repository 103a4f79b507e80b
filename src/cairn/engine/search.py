"""Finding versions by what people remember of them: a word of the artifact's name or
type, an alias, a tag, or a metadata value (``key=value`` for one top-level key). Links
(registry collections) are found too, by their own name, type and aliases and by their
source's metadata and tags, and only when the source's entity is one of ``entities`` as well.

The database narrows the candidates with LIKE over names, aliases, tags and the stored
metadata text, only in the entities the caller may read (``entities``); each candidate is
then checked here, so a metadata *key*, or JSON punctuation, never matches a word meant
for values. Matching is case-insensitive, by substring.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..core.errors import UsageError
from ..core.versions import COMMITTED, VersionInfo
from ..storage.meta.sql import MetaStore
from ..storage.meta.tx import in_list
from . import records

MAX_QUERY = 200
CANDIDATES = 2000  # rows the database hands back at most; the page shows fewer


@dataclass(frozen=True)
class Hit:
    version: VersionInfo
    matched: tuple[str, ...]  # what matched: "name", "type", "alias x", "tag y", "metadata k=v"


@dataclass(frozen=True)
class Query:
    text: str  # lower-cased
    key: str | None = None  # "acc=0.9": only metadata[acc] is looked at

    @classmethod
    def parse(cls, raw: str) -> "Query":
        raw = raw.strip()
        if not raw:
            raise UsageError("type something to search for: a name, type, alias, tag or metadata value (key=value)")
        if len(raw) > MAX_QUERY:
            raise UsageError(f"a search is at most {MAX_QUERY} characters, got {len(raw)}")
        if "\x00" in raw:
            raise UsageError("a search cannot contain a NUL character")
        key, sep, value = raw.partition("=")
        if sep and key.strip() and value.strip():
            return cls(value.strip().lower(), key.strip())
        return cls(raw.lower())


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _leaves(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaves(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, list):
        for v in value:
            yield from _leaves(v, path)
    else:
        yield path, value


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _matches(v: VersionInfo, q: Query) -> tuple[str, ...]:
    found: list[str] = []
    if q.key is None:
        if q.text in v.name.lower():
            found.append("name")
        if q.text in v.type.lower():
            found.append("type")
        found += [f"alias {a}" for a in v.aliases if q.text in a.lower()]
        found += [f"tag {t}" for t in v.tags if q.text in t.lower()]
        leaves = _leaves(v.metadata, "")
    else:
        leaves = _leaves(v.metadata[q.key], q.key) if q.key in v.metadata else iter(())
    for path, value in leaves:
        if q.text in _text(value).lower():
            found.append(f"metadata {path}={_text(value)[:60]}")
            if len(found) > 5:
                break
    return tuple(found)


def search(
    ms: MetaStore, raw: str, entities: list[str] | None, type_: str | None = None, limit: int = 200
) -> tuple[list[Hit], bool]:
    """Committed versions matching ``raw`` in the projects of ``entities`` (None: every
    entity), newest first; and whether there were more than ``limit``."""
    q = Query.parse(raw)
    if entities is not None and not entities:
        return [], False
    params: dict[str, Any] = {
        "q": _like(q.text),
        "qj": _like(json.dumps(q.text)[1:-1].lower()),
        "s": COMMITTED,
        "n": CANDIDATES,
    }
    # a link (registry) is found by its own name, type and aliases and by its source's metadata
    # and tags, as its page shows them; it is found only where its source may be read too
    md = "lower(COALESCE(s.metadata, v.metadata))"
    meta = f"({md} LIKE :q ESCAPE '\\' OR {md} LIKE :qj ESCAPE '\\')"
    if q.key is None:
        where = (
            f"(lower(a.name) LIKE :q ESCAPE '\\' OR lower(a.type) LIKE :q ESCAPE '\\' OR {meta}"
            " OR EXISTS (SELECT 1 FROM aliases al WHERE al.version_id = v.id AND lower(al.alias) LIKE :q ESCAPE '\\')"
            " OR EXISTS (SELECT 1 FROM tags t WHERE t.version_id = COALESCE(v.link_of, v.id)"
            " AND lower(t.tag) LIKE :q ESCAPE '\\'))"
        )
    else:
        where = meta
    where = f"v.state = :s AND (v.link_of IS NULL OR s.state = :s) AND {where}"
    if type_:
        where += " AND a.type = :t"
        params["t"] = type_
    if entities is not None:
        ph, more = in_list(entities)
        where += f" AND p.entity IN {ph} AND (v.link_of IS NULL OR sp.entity IN {ph})"
        params.update(more)
    with ms.read() as tx:
        ids = tx.scalars(
            "SELECT v.id FROM versions v JOIN artifacts a ON v.artifact_id = a.id JOIN projects p ON a.project_id = p.id "
            "LEFT OUTER JOIN versions s ON s.id = v.link_of LEFT OUTER JOIN artifacts sa ON sa.id = s.artifact_id "
            "LEFT OUTER JOIN projects sp ON sp.id = sa.project_id "
            f"WHERE {where} ORDER BY v.id DESC LIMIT :n",
            params,
        )
        hits = []
        for part in range(0, len(ids), 500):
            ph, more = in_list(ids[part : part + 500])
            for v in records.versions_where(tx, f"v.id IN {ph}", more, order="v.id DESC"):
                matched = _matches(v, q)
                if matched:
                    hits.append(Hit(v, matched))
    return hits[:limit], len(hits) > limit
