"""The shapes of the rows the engine reads, for the type checker.

``Tx.first`` and ``Tx.rows`` hand back named tuples whose fields are known only at run time
(``SELECT *``); these protocols name the fields the engine reads, as the schema
(``storage/meta/schema.py``) declares them. A timestamp is text on SQLite and an aware
``datetime`` on PostgreSQL (``tx.as_utc`` makes it a datetime).
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

Stored = datetime | str  # a timestamp column as the database hands it back


class ArtifactRow(Protocol):
    """A row of ``artifacts`` (a collection)."""

    @property
    def id(self) -> int: ...

    @property
    def project_id(self) -> int: ...

    @property
    def name(self) -> str: ...

    @property
    def type(self) -> str: ...

    @property
    def description(self) -> str | None: ...

    @property
    def created_at(self) -> Stored: ...

    @property
    def next_index(self) -> int: ...

    @property
    def kind(self) -> str: ...


class VersionRow(Protocol):
    """A row of ``versions`` joined with its collection and project, and for a link with its
    source (``records._VERSIONS``: the ``s_*`` fields are None for a logged version)."""

    @property
    def id(self) -> int: ...

    @property
    def artifact_id(self) -> int: ...

    @property
    def idx(self) -> int: ...

    @property
    def digest(self) -> str: ...

    @property
    def manifest_key(self) -> str: ...

    @property
    def file_count(self) -> int: ...

    @property
    def size(self) -> int: ...

    @property
    def description(self) -> str | None: ...

    @property
    def metadata(self) -> str: ...

    @property
    def state(self) -> str: ...

    @property
    def ttl_seconds(self) -> int | None: ...

    @property
    def created_at(self) -> Stored: ...

    @property
    def updated_at(self) -> Stored: ...

    @property
    def run_id(self) -> str | None: ...

    @property
    def link_of(self) -> int | None: ...

    @property
    def a_name(self) -> str: ...

    @property
    def a_type(self) -> str: ...

    @property
    def p_entity(self) -> str: ...

    @property
    def p_name(self) -> str: ...

    @property
    def s_idx(self) -> int | None: ...

    @property
    def s_description(self) -> str | None: ...

    @property
    def s_metadata(self) -> str | None: ...

    @property
    def s_ttl(self) -> int | None: ...

    @property
    def s_run_id(self) -> str | None: ...

    @property
    def s_name(self) -> str | None: ...

    @property
    def s_entity(self) -> str | None: ...

    @property
    def s_project(self) -> str | None: ...


class RunRow(Protocol):
    """A row of ``runs`` joined with its project and last history step (``records.runs_where``)."""

    @property
    def id(self) -> str: ...

    @property
    def project_id(self) -> int: ...

    @property
    def name(self) -> str: ...

    @property
    def group_name(self) -> str | None: ...

    @property
    def job_type(self) -> str | None: ...

    @property
    def config(self) -> str: ...

    @property
    def state(self) -> str: ...

    @property
    def created_at(self) -> Stored: ...

    @property
    def finished_at(self) -> Stored | None: ...

    @property
    def summary(self) -> str: ...

    @property
    def tags(self) -> str: ...

    @property
    def notes(self) -> str | None: ...

    @property
    def exit_code(self) -> int | None: ...

    @property
    def p_entity(self) -> str: ...

    @property
    def p_name(self) -> str: ...

    @property
    def last_step(self) -> int | None: ...


class DraftRow(Protocol):
    """A row of ``drafts`` (a distributed artifact being built)."""

    @property
    def id(self) -> int: ...

    @property
    def artifact_id(self) -> int: ...

    @property
    def distributed_id(self) -> str: ...

    @property
    def state(self) -> str: ...

    @property
    def version_id(self) -> int | None: ...

    @property
    def finished_by(self) -> str | None: ...

    @property
    def created_at(self) -> Stored: ...
