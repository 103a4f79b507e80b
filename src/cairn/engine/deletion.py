"""Deleting a collection or a project: their rows go in one transaction; the bytes they
held stay until ``gc`` finds nothing else references them (engine/gc.py).

A deleted version of a collection that lives on keeps its row (state DELETED, its number is
never reused); a deleted collection or project is removed whole, so its name is free again.
"""

from __future__ import annotations

import logging

from ..core.errors import ArtifactNotFoundError, UsageError
from ..core.names import LATEST
from ..storage.meta.sql import MetaStore
from ..storage.meta.tx import Tx, batches, in_list, lock_row
from . import gcmarks, links, records

log = logging.getLogger("cairn.delete")


def _named_aliases(tx: Tx, artifact_ids: list[int]) -> list[str]:
    out: list[str] = []
    for part in batches(artifact_ids):
        ph, params = in_list(part)
        out += [
            f"{name}:{alias}"
            for name, alias in tx.tuples(
                "SELECT a.name, al.alias FROM aliases al JOIN artifacts a ON a.id = al.artifact_id "
                f"WHERE al.artifact_id IN {ph} AND al.alias <> :latest ORDER BY a.name, al.alias",
                {**params, "latest": LATEST},
            )
        ]
    return out


def _where_in(tx: Tx, sql: str, column_values: list, extra: dict | None = None) -> int:
    """Run ``sql`` (with ``{ph}`` for an IN list) once per batch of values; rows affected."""
    n = 0
    for part in batches(column_values):
        ph, params = in_list(part)
        n += tx.execute(sql.format(ph=ph), {**params, **(extra or {})})
    return n


# Tables this module deletes from by name; rows of any other table that points at a deleted
# row (a table added later, e.g. runs' history or registry links) are found in the catalog.
_KNOWN = {
    "aliases",
    "alias_log",
    "tags",
    "usages",
    "outputs",
    "outputs_pending",
    "draft_entries",
    "drafts",
    "versions",
    "retention",
    "artifacts",
    "runs",
    "run_history",
    "project_blobs",
    "blob_claims",
    "projects",
}


def _referencing(tx: Tx, parent: str) -> list[tuple[str, str]]:
    """(table, column) pairs whose foreign key points at ``parent``, outside ``_KNOWN``."""
    if tx.dialect == "postgresql":
        rows = tx.tuples(
            "SELECT kcu.table_name, kcu.column_name FROM information_schema.referential_constraints rc "
            "JOIN information_schema.key_column_usage kcu ON kcu.constraint_name = rc.constraint_name "
            "AND kcu.constraint_schema = rc.constraint_schema "
            "JOIN information_schema.constraint_column_usage ccu ON ccu.constraint_name = rc.unique_constraint_name "
            "AND ccu.constraint_schema = rc.unique_constraint_schema "
            "WHERE ccu.table_name = :p AND kcu.table_schema = current_schema()",
            {"p": parent},
        )
    else:
        rows = []
        for (table,) in tx.tuples("SELECT name FROM sqlite_master WHERE type = 'table'"):
            rows += [(table, fk[3]) for fk in tx.tuples(f"PRAGMA foreign_key_list('{table}')") if fk[2] == parent]
    return sorted({(t, c) for t, c in rows if t not in _KNOWN})


def _run_referencing(tx: Tx) -> list[tuple[str, str]]:
    """(table, column) pairs outside ``_KNOWN`` whose foreign key points at a run: the column
    that holds the run's project (a run is its project and id)."""
    if tx.dialect == "postgresql":
        rows = tx.tuples(
            "SELECT cl.relname, a.attname FROM pg_constraint c "
            "JOIN pg_class cl ON cl.oid = c.conrelid JOIN pg_class p ON p.oid = c.confrelid "
            "CROSS JOIN LATERAL unnest(c.conkey, c.confkey) AS k(child, parent) "
            "JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.child "
            "JOIN pg_attribute pa ON pa.attrelid = c.confrelid AND pa.attnum = k.parent "
            "WHERE c.contype = 'f' AND p.relname = 'runs' AND pa.attname = 'project_id' "
            "AND cl.relnamespace = current_schema()::regnamespace"
        )
    else:
        rows = []
        for (table,) in tx.tuples("SELECT name FROM sqlite_master WHERE type = 'table'"):
            fks = tx.tuples(f"PRAGMA foreign_key_list('{table}')")
            rows += [(table, fk[3]) for fk in fks if fk[2] == "runs" and fk[4] == "project_id"]
    return sorted({(t, c) for t, c in rows if t not in _KNOWN})


def _drop_referencing(tx: Tx, parent: str, ids: list) -> None:
    for table, column in _referencing(tx, parent):
        n = _where_in(tx, f"DELETE FROM {table} WHERE {column} IN {{ph}}", ids)
        if n:
            log.info("deleted %d rows of %s that pointed at deleted %s", n, table, parent)


def _drop_artifacts(tx: Tx, artifact_ids: list[int]) -> int:
    """Every row of these collections; returns how many versions (committed or deleted) went."""
    version_ids: list[int] = []
    draft_ids: list[int] = []
    for part in batches(artifact_ids):
        ph, params = in_list(part)
        version_ids += tx.scalars(f"SELECT id FROM versions WHERE artifact_id IN {ph}", params)
        draft_ids += tx.scalars(f"SELECT id FROM drafts WHERE artifact_id IN {ph}", params)
    n = len(version_ids)
    version_ids = links.links_to_drop(tx, version_ids, artifact_ids) + version_ids  # links' rows go first
    _where_in(tx, "DELETE FROM draft_entries WHERE draft_id IN {ph}", draft_ids)
    _where_in(tx, "DELETE FROM outputs_pending WHERE draft_id IN {ph}", draft_ids)
    _where_in(tx, "DELETE FROM drafts WHERE id IN {ph}", draft_ids)
    for table in ("tags", "usages", "outputs", "version_log"):
        _where_in(tx, f"DELETE FROM {table} WHERE version_id IN {{ph}}", version_ids)
    for table in ("aliases", "alias_log"):
        _where_in(tx, f"DELETE FROM {table} WHERE artifact_id IN {{ph}}", artifact_ids)
    _drop_referencing(tx, "versions", version_ids)
    _where_in(tx, "DELETE FROM versions WHERE id IN {ph}", version_ids)
    _where_in(tx, "DELETE FROM retention WHERE artifact_id IN {ph}", artifact_ids)
    _where_in(tx, "DELETE FROM collection_tags WHERE artifact_id IN {ph}", artifact_ids)
    _drop_referencing(tx, "artifacts", artifact_ids)
    _where_in(tx, "DELETE FROM artifacts WHERE id IN {ph}", artifact_ids)
    return n


def delete_collection(ms: MetaStore, entity: str, project: str, name: str, delete_aliases: bool = False) -> int:
    """Delete the collection ``entity/project/name`` with every version; returns how many
    versions it had. Refused (UsageError) while a version carries an alias other than
    ``latest``, unless ``delete_aliases``."""
    with ms.write() as tx:
        gcmarks.guard(tx)
        art = records.artifact_row(tx, entity, project, name)
        if art is None:
            raise ArtifactNotFoundError(f"{entity}/{project}/{name}", "no such collection; nothing was deleted")
        lock_row(tx, "artifacts", art.id)
        named = _named_aliases(tx, [art.id])
        if named and not delete_aliases:
            raise UsageError(
                f"collection {entity}/{project}/{name} has aliased versions ({', '.join(named)}); "
                "pass delete_aliases=True (--delete-aliases) to delete it with its aliases"
            )
        n = _drop_artifacts(tx, [art.id])
    log.info("deleted collection %s/%s/%s (%d versions); gc reclaims its bytes", entity, project, name, n)
    return n


def delete_project(ms: MetaStore, entity: str, project: str, delete_aliases: bool = False) -> int:
    """Delete the project with its collections, versions, drafts and runs; returns how many
    versions it had. Refused while a version carries an alias other than ``latest``, unless
    ``delete_aliases``. Versions of other projects that its runs used or linked keep their
    content and lose those lineage edges."""
    with ms.write() as tx:
        gcmarks.guard(tx)
        pid = records.project_id(tx, entity, project)
        if pid is None:
            raise ArtifactNotFoundError(f"{entity}/{project}", "no such project; nothing was deleted")
        lock_row(tx, "projects", pid)
        artifact_ids = tx.scalars("SELECT id FROM artifacts WHERE project_id = :pid", {"pid": pid})
        named = _named_aliases(tx, artifact_ids)
        if named and not delete_aliases:
            shown = ", ".join(named[:5]) + (" …" if len(named) > 5 else "")
            raise UsageError(
                f"project {entity}/{project} has aliased versions ({shown}); pass delete_aliases=True "
                "(--delete-aliases) to delete it with its aliases"
            )
        n = _drop_artifacts(tx, artifact_ids)
        # its runs, and what points at them (by project and id: another project may have
        # runs of the same ids); a version names a producing run of its own project only
        n_runs = tx.scalar("SELECT count(*) FROM runs WHERE project_id = :pid", {"pid": pid})
        for table in ("usages", "outputs", "outputs_pending", "run_history"):
            tx.execute(f"DELETE FROM {table} WHERE run_project = :pid", {"pid": pid})
        for table, column in _run_referencing(tx):
            tx.execute(f"DELETE FROM {table} WHERE {column} = :pid", {"pid": pid})
        tx.execute("DELETE FROM runs WHERE project_id = :pid", {"pid": pid})
        for table in ("retention", "project_blobs", "blob_claims"):
            tx.execute(f"DELETE FROM {table} WHERE project_id = :pid", {"pid": pid})
        _drop_referencing(tx, "projects", [pid])
        tx.execute("DELETE FROM projects WHERE id = :pid", {"pid": pid})
    log.info("deleted project %s/%s (%d versions, %d runs); gc reclaims its bytes", entity, project, n, n_runs)
    return n
