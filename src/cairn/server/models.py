"""The HTTP API's request and error shapes, as pydantic models: what the server checks at
the edge and what the OpenAPI document states. Every limit comes from ``core/limits.py``
(the engine enforces the same limits itself; these translate them into the schema and a
400 before the engine is reached). No model outside this module parses a request body."""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from fastapi import Path, Query
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    ValidationError,
    model_validator,
)

from ..core.paging import MAX_PAGE
from ..core.digest import is_content_digest
from ..core import limits as L
from ..core.manifest import Entry
from ..core.names import normalize_path
from ..core.versions import CommitRequest, Edits

# -- patterns (pydantic's Rust regexes: "$" is the end of the text) -------------------------

NAME_PATTERN = r"^[A-Za-z0-9_.-]+$"
BLOB_DIGEST_PATTERN = r"^blake3:[0-9a-f]{64}$"
ENTRY_DIGEST_PATTERN = r"^(blake3:[0-9a-f]{64}|(etag|version|uri):.+)$"
NO_CONTROL_PATTERN = r"^[^\x00-\x1f\x7f]+$"

# What each pattern means, for the error message (the pattern alone tells a caller little).
PATTERN_HELP = {
    NAME_PATTERN: "letters, digits, '-', '_' and '.' only",
    BLOB_DIGEST_PATTERN: "a blob digest: 'blake3:' and 64 lowercase hex digits",
    ENTRY_DIGEST_PATTERN: "a digest naming its algorithm: 'blake3:<64 hex>', 'etag:…', 'version:…' or 'uri:…'",
    NO_CONTROL_PATTERN: "text without control characters",
}

Name = Annotated[str, StringConstraints(min_length=1, max_length=L.MAX_NAME, pattern=NAME_PATTERN)]
RunId = Annotated[str, StringConstraints(min_length=1, max_length=L.MAX_RUN_ID, pattern=NAME_PATTERN)]
Label = Annotated[str, StringConstraints(max_length=L.MAX_RUN_TEXT, pattern=NO_CONTROL_PATTERN)]
AliasText = Annotated[str, StringConstraints(min_length=1, max_length=L.MAX_NAME, pattern=NO_CONTROL_PATTERN)]
BlobDigest = Annotated[str, StringConstraints(max_length=L.MAX_DIGEST, pattern=BLOB_DIGEST_PATTERN)]
ChunkKey = Annotated[str, StringConstraints(max_length=L.MAX_DIGEST, pattern=BLOB_DIGEST_PATTERN)]
VersionId = Annotated[int, Field(ge=1, le=L.MAX_INT)]
Ttl = Annotated[int, Field(ge=1, le=L.MAX_TTL_SECONDS, description="seconds; null: never expires")]
Json = dict[str, Any]

# -- path and query parameters ----------------------------------------------------------------

EntityPath = Annotated[str, Path(min_length=1, max_length=L.MAX_NAME, pattern=NAME_PATTERN)]
ProjectPath = EntityPath
NamePath = EntityPath
RunIdPath = Annotated[str, Path(min_length=1, max_length=L.MAX_RUN_ID, pattern=NAME_PATTERN)]
AliasPath = Annotated[
    str,
    Path(
        min_length=1,
        max_length=L.MAX_NAME,
        pattern=NO_CONTROL_PATTERN,
        description="an alias, 'vN' or a version's 'blake3:' digest",
    ),
]
DistributedIdPath = Annotated[str, Path(min_length=1, max_length=L.MAX_DISTRIBUTED_ID, pattern=NO_CONTROL_PATTERN)]
DigestPath = Annotated[str, Path(max_length=L.MAX_DIGEST, pattern=BLOB_DIGEST_PATTERN)]
VersionIdPath = Annotated[int, Path(ge=1, le=L.MAX_INT)]
EntityQuery = Annotated[str | None, Query(min_length=1, max_length=L.MAX_NAME, pattern=NAME_PATTERN)]
TypeQuery = Annotated[str | None, Query(min_length=1, max_length=L.MAX_NAME, pattern=NAME_PATTERN)]
LimitQuery = Annotated[
    int | None,
    Query(ge=1, le=MAX_PAGE, description="a page of at most this many; the answer's 'next' is the next page's cursor"),
]
AfterQuery = Annotated[
    str | None, Query(min_length=1, max_length=L.MAX_NAME, description="the cursor a page's 'next' handed out")
]
RunFiltersQuery = Annotated[
    str | None, Query(max_length=4096, description='W&B\'s run filters as a JSON object, e.g. {"group": "g"}')
]
RunOrderQuery = Annotated[str | None, Query(max_length=32, description="[+|-]created_at, [+|-]name or [+|-]state")]
TagsQuery = Annotated[
    list[Annotated[str, StringConstraints(max_length=L.MAX_NAME)]] | None,
    Query(max_length=100, description="only versions with every one of these tags"),
]
FilenameQuery = Annotated[str | None, Query(min_length=1, max_length=255, pattern=NO_CONTROL_PATTERN)]


class Body(BaseModel):
    """A request body: unknown fields are refused (a misspelt field would be silently lost),
    and values are taken as the JSON types the schema states (strict: ``false`` is not the
    size 0, ``"5"`` not the integer 5)."""

    model_config = ConfigDict(extra="forbid", strict=True)


# -- manifests --------------------------------------------------------------------------------

EntryPath = Annotated[str, StringConstraints(min_length=1)]
EntryDigest = Annotated[str, StringConstraints(pattern=ENTRY_DIGEST_PATTERN)]
Size = Annotated[int, Field(ge=0, le=L.MAX_INT)]
Ref = Annotated[str, StringConstraints(pattern=NO_CONTROL_PATTERN)]


def _row_shape(v: Any) -> str | None:
    return str(len(v)) if isinstance(v, (list, tuple)) and 3 <= len(v) <= 5 else None


# An entry is a JSON array, validated by pydantic's Rust core as a tuple chosen by its length:
# one model per entry would cost ~10x as much on a 1,000,000-entry commit (bench in the
# commit message of this module).
EntryRow = Annotated[
    Annotated[tuple[EntryPath, BlobDigest, Size], Tag("3")]  # no reference: a stored file
    | Annotated[tuple[EntryPath, EntryDigest, Size, Ref | None], Tag("4")]
    | Annotated[tuple[EntryPath, EntryDigest, Size, Ref | None, Json], Tag("5")],
    Discriminator(
        _row_shape,
        custom_error_type="entry_shape",
        custom_error_message="a manifest entry is an array [path, digest, size, ref?, extra?]",
    ),
    Field(description="[path, digest, size, ref?, extra?]: one file of the version"),
]


class EditsBody(Body):
    upserts: list[EntryRow] = Field(default_factory=list)
    removes: list[str] = Field(default_factory=list)
    remove_prefixes: list[str] = Field(default_factory=list)


class CommitBody(Body):
    """A version to commit (or a contribution to a distributed draft): either ``entries``,
    every file of the version, or ``base_version_id`` with ``edits`` to apply to it."""

    type: Name
    entries: list[EntryRow] | None = None
    base_version_id: VersionId | None = Field(None, description="incremental: the version the edits apply to")
    base_manifest_key: ChunkKey | None = Field(
        None, description="incremental: that version's manifest key as the caller saw it (refused if it changed)"
    )
    edits: EditsBody | None = None
    description: str | None = None
    metadata: Json | None = None
    aliases: list[AliasText] = Field(default_factory=list, max_length=1000)
    tags: list[AliasText] = Field(default_factory=list, max_length=1000)
    ttl_seconds: Ttl | None = None
    run_id: RunId | None = None


def _entries(rows: list[tuple]) -> list[Entry]:
    """Entries from validated rows; the checks no schema states (canonical paths, a reference
    for every non-content digest) in one cheap pass."""
    import itertools

    from ..core.errors import InvalidPathError, UsageError
    from ..core.names import all_canonical

    entries = list(itertools.starmap(Entry, rows))  # a row is Entry's fields in order
    if not all_canonical([e.path for e in entries]):
        for e in entries:
            if normalize_path(e.path) != e.path:
                raise InvalidPathError(e.path, "not in canonical form")
    for r in rows:  # a 3-item row's digest is a blob digest already (its schema says so)
        if len(r) > 3 and r[3] is None and not is_content_digest(r[1]):
            raise UsageError(f"entry {r[0]!r}: a stored file needs a blake3 digest, got {r[1]!r}")
    return entries


entries_of = _entries  # server/bodies.py: a streamed commit's rows, a window at a time


def commit_request(entity: str, project: str, name: str, body: CommitBody) -> CommitRequest:
    req = CommitRequest(
        entity=entity,
        project=project,
        name=name,
        type=body.type,
        description=body.description,
        metadata=body.metadata or {},
        aliases=body.aliases,
        tags=body.tags,
        ttl_seconds=body.ttl_seconds,
        run_id=body.run_id,
    )
    if body.entries is not None:
        req.entries = _entries(body.entries)
    elif body.base_version_id is not None:
        req.base_version_id, req.base_manifest_key = body.base_version_id, body.base_manifest_key
        ed = body.edits or EditsBody()
        req.edits = Edits(
            upserts={e.path: e for e in _entries(ed.upserts)},
            removes={normalize_path(p) for p in ed.removes},
            remove_prefixes={normalize_path(p) + "/" for p in ed.remove_prefixes},
        )
    else:
        req.entries = []
    return req


def parse_commit(entity: str, project: str, name: str, data: bytes) -> CommitRequest:
    """A commit request from a raw JSON body: CPU work (1,000,000 entries: ~1 s), so callers
    run it off the event loop. A body that does not fit ``CommitBody`` raises
    ``RequestValidationError`` (the one 400 shape)."""
    from fastapi.exceptions import RequestValidationError

    try:
        body = CommitBody.model_validate_json(data or b"{}")
    except ValidationError as e:
        raise RequestValidationError([{**err, "loc": ("body", *err["loc"])} for err in e.errors()]) from None
    return commit_request(entity, project, name, body)


# -- other bodies -----------------------------------------------------------------------------


class Digests(Body):
    digests: list[BlobDigest] = Field(max_length=100_000)


class DirectRequest(Body):
    """``sizes[i]`` is the size of ``digests[i]``: each URL admits that many bytes, and the
    server reads back no other size. A client that sends no sizes (from before they were
    asked for) is told to send everything through the server."""

    digests: list[BlobDigest] = Field(max_length=5_000)
    sizes: list[Annotated[int, Field(ge=0, le=L.MAX_INT)]] | None = Field(default=None, max_length=5_000)

    @model_validator(mode="after")
    def _one_size_each(self) -> DirectRequest:
        if self.sizes is not None and len(self.sizes) != len(self.digests):
            raise ValueError(f"sizes has {len(self.sizes)} entries for {len(self.digests)} digests: send one size each")
        return self


class UrlRequest(Body):
    digests: list[BlobDigest] = Field(max_length=5_000)


class UploadStart(Body):
    digest: BlobDigest
    size: Size
    checked: bool = True  # accepted from older clients; every upload is now staged and hashed


class UploadPart(Body):
    number: Annotated[int, Field(ge=1, le=10_000)]
    etag: Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=NO_CONTROL_PATTERN)]


class UploadDone(Body):
    upload_id: Annotated[str, StringConstraints(min_length=1, max_length=L.MAX_KEY, pattern=NO_CONTROL_PATTERN)]
    digest: BlobDigest
    # the parts the client sent (a multipart upload): the store must hold exactly these
    parts: list[UploadPart] | None = Field(default=None, max_length=10_000)


class ChunkKeys(Body):
    version_id: VersionId  # the chunks must belong to this (readable) version's manifest tree
    keys: list[ChunkKey] = Field(max_length=10_000)


class VersionPatch(Body):
    description: str | None = None
    metadata: Json | None = None
    ttl_seconds: Ttl | None = None
    aliases: list[AliasText] | None = Field(None, max_length=1000)
    tags: list[AliasText] | None = Field(None, max_length=1000)
    run_id: RunId | None = None
    remove_aliases: list[AliasText] | None = Field(None, max_length=1000)
    add_aliases: list[AliasText] | None = Field(None, max_length=1000)  # moved here; others untouched
    add_tags: list[AliasText] | None = Field(None, max_length=1000)  # added; others untouched
    remove_tags: list[AliasText] | None = Field(None, max_length=1000)


class CollectionPatch(Body):
    description: str | None = None
    tags: list[AliasText] | None = Field(None, max_length=1000)


class LinkRequest(Body):
    entity: Name
    project: Name
    name: Name
    aliases: list[AliasText] = Field(default_factory=list, max_length=1000)
    run_id: RunId | None = None
    # the linking run's project, when its id is in several projects the caller can read
    run_entity: Name | None = None
    run_project: Name | None = None


class RunCreate(Body):
    id: RunId | None = None
    name: Label | None = None
    group: Label | None = None
    job_type: Label | None = None
    config: Json | None = None
    tags: list[Label] | None = Field(None, max_length=1000)
    notes: str | None = None
    resume: Literal["allow", "must", "never"] | None = None


class RunFinish(Body):
    exit_code: Annotated[int, Field(ge=-(2**31), le=2**31 - 1)] = 0
    config: Json | None = None
    summary: Json | None = None


class Use(Body):
    version_id: VersionId


class HistoryBody(Body):
    """A batch of a run's history: one object per step, each with an increasing integer
    ``_step`` (checked by the engine), plus the whole summary and config when they changed."""

    rows: list[dict[str, Any]] = Field(max_length=100_000)
    summary: Json | None = None
    config: Json | None = None


class RunPatch(Body):
    summary: Json | None = None
    config: Json | None = None
    tags: list[Label] | None = Field(None, max_length=1000)
    notes: str | None = None
    name: Label | None = None


M = TypeVar("M", bound=BaseModel)


def parse_json_body(model: type[M], data: bytes) -> M:
    """``model`` from a raw JSON body that may hold NaN and infinities (a run's values do);
    a body that does not fit raises ``RequestValidationError`` (the one 400 shape)."""
    import json

    from fastapi.exceptions import RequestValidationError

    if not data.strip():  # the body is required (as the document says): none is not "{}"
        raise RequestValidationError(
            [{"type": "missing", "loc": ("body",), "msg": "a JSON object is required", "input": None}]
        )
    try:
        obj = json.loads(data)
    except (ValueError, RecursionError) as e:
        raise RequestValidationError(
            [{"type": "json_invalid", "loc": ("body",), "msg": f"not valid JSON: {e}", "input": None}]
        ) from None
    try:
        return model.model_validate(obj)
    except ValidationError as e:
        raise RequestValidationError([{**err, "loc": ("body", *err["loc"])} for err in e.errors()]) from None


# -- errors -----------------------------------------------------------------------------------


class ErrorDetail(BaseModel):
    type: str = Field(description="the cairn error class, e.g. UsageError, ArtifactNotFoundError")
    message: str = Field(description="what went wrong and what to do")
    path: str | None = None
    runs: list[str] | None = None
    digest: str | None = None
    name: str | None = None
    run: str | None = None


class ErrorBody(BaseModel):
    """Every error the API answers, whatever its status."""

    error: ErrorDetail


_ERRORS = {
    400: "Bad request: a malformed body, parameter or value (the message names it)",
    401: "No API key, or an invalid one",
    403: "The key lacks the role this needs",
    404: "No such thing (or not one this key may see)",
    409: "Conflict: two writers disagree, or the thing can no longer change",
    413: "The request body is larger than this server accepts",
    422: "Bytes do not match their digest; nothing was stored",
    503: "A store (database or object store) is unreachable; try again",
}
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": text} for code, text in _ERRORS.items()
}


def validation_message(errors: list[dict]) -> str:
    """One line naming the first problem of a validation failure, e.g.
    ``invalid request: body.entries[3][1] ('md5:x'): a digest naming its algorithm: …``."""
    if not errors:
        return "invalid request"
    err = errors[0]
    where = ""
    for part in err.get("loc", ()):
        if isinstance(part, int):
            where += f"[{part}]"
        elif isinstance(part, str) and (part.isidentifier() or not where):
            where += ("." if where else "") + part
        # other parts name a union member (a tag such as "3"): not a place in the body
    msg = err.get("msg", "malformed")
    if err.get("type") == "string_pattern_mismatch":
        msg = f"must be {PATTERN_HELP.get(str((err.get('ctx') or {}).get('pattern')), 'in the documented form')}"
    value = err.get("input")
    shown = f" ({value[:80]!r})" if isinstance(value, str) else f" ({value})" if type(value) is int else ""
    return f"invalid request: {where}{shown}: {msg}"
