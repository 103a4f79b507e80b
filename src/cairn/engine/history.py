"""A run's record: the history of what it logged (one row per step), its summary and config.

A row is stored as one JSON object (``_step`` included) in ``run_history``; the summary and
config are JSON documents on the run. Rows arrive in batches (the SDK buffers ``log``
calls), and each batch is one transaction together with the summary and config it came
with, so a reader never sees rows without the summary they produced.
"""

from __future__ import annotations

import math
from typing import Any

from ..core.errors import LockedError, RunNotFoundError, UsageError
from ..core.limits import MAX_JSON_DEPTH, MAX_RUN_TEXT, check_label, check_text, json_depth_ok
from ..core.versions import RunState
from ..storage.meta.sql import MetaStore
from ..storage.meta.tx import Tx
from .run_docs import MAX_NOTES, check_tags, config_json, dumps, summary_json
from . import records

MAX_STEP = 2**62  # far beyond any real run; keeps steps inside a signed 64-bit column
MAX_SAMPLES = 100_000


def check_rows(rows: Any) -> list[tuple[int, str]]:
    """(step, JSON text) of each row, in order; UsageError for anything that is not a list
    of objects with an integer ``_step`` in increasing order."""
    if not isinstance(rows, list):
        raise UsageError("history rows must be a list of objects")
    out: list[tuple[int, str]] = []
    last = -1
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise UsageError(f"history row {i} is not an object")
        if not json_depth_ok(row):
            raise UsageError(f"history row {i} is nested more than {MAX_JSON_DEPTH} levels deep; flatten it")
        step = row.get("_step")
        if isinstance(step, bool) or not isinstance(step, int) or not 0 <= step < MAX_STEP:
            raise UsageError(f"history row {i} needs an integer _step between 0 and {MAX_STEP - 1}, not {step!r}")
        if step <= last:
            raise UsageError(f"history row {i}: steps must increase (step {step} after {last})")
        for key in row:
            if not isinstance(key, str) or not key:
                raise UsageError(f"history row {i} has an empty or non-text key")
        last = step
        out.append((step, dumps(row)))
    return out


def append(
    ms: MetaStore, run_id: str, rows: list[dict], summary: dict | None = None, config: dict | None = None
) -> None:
    """Store history rows (a row at a step already stored replaces it) and, if given, the
    whole summary and config, in one transaction. LockedError if the run is finished."""
    checked = check_rows(rows)
    sets, params = _doc_sets(summary, config)
    with ms.write() as tx:
        pid, rid = records.run_key(tx, run_id)
        _require_running(tx, pid, rid)
        if checked:
            tx.execute_many(
                "INSERT INTO run_history (run_project, run_id, step, data) VALUES (:pid, :rid, :step, :data) "
                "ON CONFLICT (run_project, run_id, step) DO UPDATE SET data = excluded.data",
                [{"pid": pid, "rid": rid, "step": s, "data": d} for s, d in checked],
            )
        if sets:
            tx.execute(
                f"UPDATE runs SET {', '.join(sets)} WHERE project_id = :pid AND id = :rid",
                {**params, "pid": pid, "rid": rid},
            )


def _doc_sets(summary: dict | None, config: dict | None) -> tuple[list[str], dict]:
    sets, params = [], {}
    if summary is not None:
        sets.append("summary = :summary")
        params["summary"] = summary_json(summary)
    if config is not None:
        sets.append("config = :config")
        params["config"] = config_json(config)
    return sets, params


def _require_running(tx: Tx, pid: int, run_id: str) -> None:
    state = tx.scalar("SELECT state FROM runs WHERE project_id = :pid AND id = :rid", {"pid": pid, "rid": run_id})
    if state is None:
        raise RunNotFoundError(run_id)
    if state != RunState.RUNNING:
        raise LockedError(
            f"run {run_id} is {state}; its history cannot grow. Resume it with "
            f"init(id={run_id!r}, resume='allow') to log more"
        )


def _like(key: str) -> str:
    text = dumps(key)  # as the key appears in a stored row: "key":
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + ":%"


def rows(
    ms: MetaStore,
    run_id: str,
    keys: list[str] | None = None,
    min_step: int | None = None,
    max_step: int | None = None,
    limit: int | None = None,
    samples: int | None = None,
) -> list[str]:
    """The JSON texts of history rows in step order: those with ``min_step <= _step <
    max_step`` that hold every key of ``keys``, at most ``limit`` of them; with ``samples``,
    at most that many spread evenly over the matching rows (first and last included)."""
    if samples is not None and not 1 <= samples <= MAX_SAMPLES:
        raise UsageError(f"samples must be between 1 and {MAX_SAMPLES}, not {samples}")
    where = ["run_project = :pid AND run_id = :rid"]
    params: dict[str, Any] = {}
    if min_step is not None:
        where.append("step >= :lo")
        params["lo"] = int(min_step)
    if max_step is not None:
        where.append("step < :hi")
        params["hi"] = int(max_step)
    for i, key in enumerate(keys or ()):
        # a cheap pre-filter in SQL on both databases; the caller's parse confirms it
        where.append(f"data LIKE :k{i} ESCAPE '\\'")
        params[f"k{i}"] = _like(key)
    cond = " AND ".join(where)
    with ms.read() as tx:
        params["pid"], params["rid"] = records.run_key(tx, run_id)
        if samples is None:
            q = f"SELECT data FROM run_history WHERE {cond} ORDER BY step"
            if limit is not None:
                q += f" LIMIT {int(limit)}"
            return tx.scalars(q, params)
        n = tx.scalar(f"SELECT count(*) FROM run_history WHERE {cond}", params)
        if n <= samples:
            return tx.scalars(f"SELECT data FROM run_history WHERE {cond} ORDER BY step", params)
        every = math.ceil((n - 1) / max(samples - 1, 1))
        q = (
            f"SELECT data FROM (SELECT data, step, ROW_NUMBER() OVER (ORDER BY step) AS rn "
            f"FROM run_history WHERE {cond}) t WHERE (rn - 1) % :every = 0 OR rn = :n ORDER BY step"
        )
        return tx.scalars(q, {**params, "every": every, "n": n})


def update(
    ms: MetaStore,
    run_id: str,
    summary: dict | None = None,
    config: dict | None = None,
    tags: list[str] | None = None,
    notes: str | None = None,
    name: str | None = None,
) -> None:
    """Replace the given parts of a run's record (finished runs too, as W&B's ``run.update()``)."""
    sets, params = _doc_sets(summary, config)
    if tags is not None:
        sets.append("tags = :tags")
        params["tags"] = dumps(check_tags(tags))
    if notes is not None:
        sets.append("notes = :notes")
        params["notes"] = check_text(notes, "run notes", MAX_NOTES)
    if name is not None:
        if name == "":
            raise UsageError("a run name cannot be empty")
        sets.append("name = :name")
        params["name"] = check_label(name, "run name", MAX_RUN_TEXT)
    if not sets:
        return
    with ms.write() as tx:
        pid, rid = records.run_key(tx, run_id)
        tx.execute(
            f"UPDATE runs SET {', '.join(sets)} WHERE project_id = :pid AND id = :rid",
            {**params, "pid": pid, "rid": rid},
        )
