"""``PublicRun``: a run as ``Api().run(path)`` returns it — attributes, record, lineage."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ..core.errors import UsageError
from ..core.names import run_path
from ..core.versions import COMMITTED
from .artifact import Artifact, from_version
from .options import not_acted_on
from .record import Summary

if TYPE_CHECKING:
    from ..client import Client
    from ..core.versions import RunInfo


def _editable(field: str, doc: str) -> Any:  # a property of PublicRun: edited in memory, stored by update()
    return property(
        lambda self: self._edited()[field], lambda self, value: self._edited().__setitem__(field, value), doc=doc
    )


class PublicRun:
    """A run as the Api sees it: its attributes, its record (config, summary, history) and
    its lineage. Change ``name``, ``tags``, ``notes`` or ``config`` and call ``update()``;
    ``summary.update({...})`` and ``summary[key] = value`` are stored at once, as W&B's."""

    def __init__(self, info: "RunInfo", client: "Client") -> None:
        self._info = info
        self._client = client

    id = property(lambda self: self._info.id, doc="The run's id (unique within its project).")
    entity = property(lambda self: self._info.entity, doc="The entity (user or team) the run belongs to.")
    project = property(lambda self: self._info.project, doc="The project the run is in.")
    group = property(lambda self: self._info.group, doc="The run's group (distributed runs share one), or None.")
    job_type = property(lambda self: self._info.job_type, doc='The run\'s job type ("train", "eval", …), or None.')
    state = property(lambda self: self._info.state, doc='"running", "finished" or "failed".')
    created_at = property(lambda self: self._info.created_at, doc="When the run started.")
    path = property(
        lambda self: [self._info.entity, self._info.project, self._info.id],
        doc="``[entity, project, id]``, as W&B's public run has it.",
    )
    # how the client names this run: a run id is unique within its project only
    _ref = property(lambda self: run_path(self._info.entity, self._info.project, self._info.id))
    lastHistoryStep = property(
        lambda self: -1 if self._info.last_step is None else self._info.last_step,
        doc="The last step logged to the history; -1 when nothing was logged.",
    )  # noqa: N815

    @property
    def client(self) -> "Client":
        """The client this run reads and writes through (W&B's public ``Run.client`` too)."""
        return self._client

    @property
    def url(self) -> str | None:
        """The run's page on the server; None on the embedded store."""
        base = getattr(getattr(self._client, "settings", None), "base_url", None)
        return f"{base.rstrip('/')}/runs/{self.id}" if base else None

    # editable, stored by update()
    def _edited(self) -> dict:
        if "_edits" not in self.__dict__:
            self.__dict__["_edits"] = {
                "name": self._info.name,
                "tags": list(self._info.tags),
                "notes": self._info.notes,
                "config": dict(self._info.config),
            }
        return self.__dict__["_edits"]

    name = _editable("name", "The run's display name; assign one, then ``update()``.")
    tags = _editable("tags", "The run's tags; assign a list, then ``update()``.")
    notes = _editable("notes", "The run's notes; assign them, then ``update()``.")
    config = _editable("config", "The run's config (a dict); change it, then ``update()``.")

    @property
    def summary(self) -> Summary:
        """One value per key (the last logged, or one assigned); assignments are stored at once."""
        if "_summary" not in self.__dict__:
            self.__dict__["_summary"] = Summary(self._info.summary, on_change=self._store_summary)
        return self.__dict__["_summary"]

    def _store_summary(self) -> None:
        self._client.update_run(self._ref, summary=self.summary.as_dict())

    def update(self) -> None:
        """Store the changes made to name, tags, notes and config (and the summary)."""
        e = self._edited()
        if not isinstance(e["config"], dict):
            raise UsageError("run.config must be a dict")
        self._client.update_run(
            self._ref,
            name=e["name"],
            tags=list(e["tags"]),
            notes=e["notes"],
            config=e["config"],
            summary=self.summary.as_dict(),
        )
        self._info = dataclasses.replace(
            self._info,
            name=e["name"],
            tags=tuple(e["tags"]),
            notes=e["notes"],
            config=dict(e["config"]),
            summary=self.summary.as_dict(),
        )

    # history
    def history(
        self,
        samples: int = 500,
        keys: list[str] | None = None,
        x_axis: str = "_step",
        pandas: bool = True,
        stream: str = "default",
    ) -> Any:
        """At most ``samples`` rows spread over the run (first and last included), in step
        order. With ``keys``, only rows that hold all of them, each reduced to those keys
        and ``x_axis``. A pandas DataFrame when pandas is installed and ``pandas`` is True,
        else a list of dicts."""
        if stream != "default":
            not_acted_on("Run.history", "stream", "cairn records no system metrics")
            rows: list[dict] = []
        else:
            keys = _keys(keys, x_axis)
            texts = self._client.run_history(self._ref, keys=keys, samples=int(samples))
            rows = _select((json.loads(t) for t in texts), keys, x_axis)
        if pandas:
            try:
                import pandas as pd
            except ImportError:
                return rows
            return pd.DataFrame(rows)
        return rows

    def scan_history(
        self,
        keys: list[str] | None = None,
        page_size: int = 1000,
        min_step: int | None = None,
        max_step: int | None = None,
    ) -> Iterator[dict]:
        """Every row (``min_step <= _step < max_step``) in step order, fetched ``page_size``
        at a time; with ``keys``, only rows holding all of them, reduced to those and ``_step``."""
        if not isinstance(page_size, int) or page_size < 1:
            raise UsageError(f"page_size must be a positive integer, not {page_size!r}")
        keys = _keys(keys, "_step")
        lo = min_step
        while True:
            texts = self._client.run_history(self._ref, keys=keys, min_step=lo, max_step=max_step, limit=page_size)
            page = [json.loads(t) for t in texts]
            yield from _select(page, keys, "_step")
            if len(page) < page_size:
                return
            lo = page[-1]["_step"] + 1

    # lineage
    def logged_artifacts(self) -> list[Artifact]:
        """The versions this run made that still exist (deleted ones are gone from every listing)."""
        return [from_version(v, self._client) for v in self._client.run_outputs(self._ref) if v.state == COMMITTED]

    def used_artifacts(self) -> list[Artifact]:
        """The versions this run used that still exist."""
        return [from_version(v, self._client) for v in self._client.run_inputs(self._ref) if v.state == COMMITTED]

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, PublicRun) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    def __repr__(self) -> str:
        return f"<Run {'/'.join(self.path)} ({self.state})>"


def _keys(keys: Any, x_axis: str) -> list[str] | None:
    if keys is None:
        return None
    if isinstance(keys, str) or not all(isinstance(k, str) for k in keys):
        raise UsageError("keys must be a list of metric names")
    return list(dict.fromkeys([*keys, x_axis] if x_axis not in keys else keys))


def _select(rows: Any, keys: list[str] | None, x_axis: str) -> list[dict]:
    if keys is None:
        return list(rows)
    return [{k: r[k] for k in keys} for r in rows if all(k in r for k in keys)]
