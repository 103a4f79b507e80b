"""What the store accepts: one definition of each limit, matching the columns of
``storage/meta/schema.py``, shared by the SDK, the engine and the server's request models.

The engine refuses a value past a limit with a ``UsageError`` before anything is written,
on the embedded store too (SQLite does not enforce VARCHAR lengths, PostgreSQL does and
also refuses NUL in text); the server's request models state the same limits in the
OpenAPI document and translate them at the edge.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .errors import UsageError

MAX_NAME = 128  # entity, project, artifact, type, alias, tag, user: VARCHAR(128)
MAX_RUN_ID = 64  # runs.id VARCHAR(64)
MAX_RUN_TEXT = 256  # runs.name, group_name, job_type: VARCHAR(256)
MAX_RUN_STATE = 16  # runs.state VARCHAR(16)
MAX_DISTRIBUTED_ID = 256  # drafts.distributed_id VARCHAR(256)
MAX_DIGEST = 80  # a content digest or manifest key: versions.digest, project_blobs.digest, chunks.key
MAX_ENTRY_DIGEST = 300  # an entry's digest (a reference's "uri:..." included): draft_entries.digest
MAX_INT = 2**63 - 1  # BIGINT: sizes, ids
MAX_TTL_SECONDS = 100 * 365 * 86400  # a hundred years; None means "never expires"
MAX_JSON_DEPTH = 64  # nesting of metadata and run config
MAX_KEY = 256  # an API key or a staged upload's key as sent by a caller
# Blobs in one batch through the server (POST .../blobs/batch, docs/formats.md): the server
# refuses more (413) before hashing any, and the client splits its batches at this count as
# well as at their bytes. Each distinct entry costs the server an object-store PUT and an
# index row, and the answer a digest, so the count, not the bytes, sets a batch's time: a
# batch of 10,000 distinct tiny blobs took 52 s to SeaweedFS in-process (load average 12.5
# on 2 cores; tests/server/test_blob_batch.py), against the client's 60 s read timeout.
# 2,000 keeps such a batch near 10 s and its answer under 150 KiB; tiny files then go in a
# few more requests (50,000 in 25), which the server runs side by side (4 per caller).
MAX_BATCH_BLOBS = 2_000

# Characters that no name, alias or tag may hold: control and format characters (NUL,
# newlines, zero-width joiners, bidi overrides), surrogates (not UTF-8, not storable),
# private-use and unassigned code points, and line/paragraph separators.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def ascii_int(text: Any, max_digits: int = 18) -> int | None:
    """The whole number ``text`` spells in ASCII digits (at most ``max_digits`` of them, so it
    fits a BIGINT), or None. ``str.isdigit`` alone is not enough: it takes '²' and '١',
    which ``int()`` then refuses or reads as another number."""
    if isinstance(text, str) and 0 < len(text) <= max_digits and text.isascii() and text.isdigit():
        return int(text)
    return None


def bad_char(text: str, *, allow_newlines: bool = False) -> str | None:
    """The first character of ``text`` that no label may hold, or None. ASCII text without
    controls (nearly every name) is answered by one scan."""
    if text.isascii() and text.isprintable():
        return None
    import unicodedata  # here: nearly every name is ASCII, and the module is a shared library to load

    for ch in text:
        if allow_newlines and ch in "\n\r\t":
            continue
        if unicodedata.category(ch) in _REFUSED_CATEGORIES:
            return ch
    return None


def describe_char(ch: str) -> str:
    """How a message names a character it refuses: ``the control character U+0009``,
    ``the invisible format character U+200B (ZERO WIDTH SPACE)``."""
    import unicodedata

    cat = unicodedata.category(ch)
    kind = {"Cc": "the control character", "Cf": "the invisible format character"}.get(cat, "the character")
    name = unicodedata.name(ch, "")
    return f"{kind} U+{ord(ch):04X}" + (f" ({name})" if name else "")


def check_text(value: Any, what: str, max_len: int | None = None, *, optional: bool = False) -> str | None:
    """Free text (a description, a run name): a string without NUL or surrogates (neither can
    be stored as UTF-8 text), at most ``max_len`` characters when given."""
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise UsageError(f"{what} must be a string, got {type(value).__name__}")
    if max_len is not None and len(value) > max_len:
        raise UsageError(f"{what} {value[:40]!r}… is {len(value)} characters long; at most {max_len} are allowed")
    if "\x00" in value:
        raise UsageError(f"{what} {value[:80]!r} contains the control character U+0000 (NUL); remove it")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise UsageError(f"{what} {value[:80]!r} is not valid Unicode text (it holds a lone surrogate)") from None
    return value


def check_label(value: Any, what: str, max_len: int, *, optional: bool = False) -> str | None:
    """A one-line label (run name, group, job type): text without control or invisible characters."""
    if value is None and optional:
        return None
    check_text(value, what, max_len)
    if (ch := bad_char(value)) is not None:
        raise UsageError(f"{what} {value[:80]!r} contains {describe_char(ch)}; use visible characters only")
    return value


def check_int(value: Any, what: str, *, lo: int = 0, hi: int = MAX_INT, optional: bool = False) -> int | None:
    """An integer in ``[lo, hi]`` (``bool`` is not one)."""
    if value is None and optional:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise UsageError(f"{what} must be an integer, got {type(value).__name__}")
    if not lo <= value <= hi:
        raise UsageError(f"{what} must be between {lo} and {hi}, got {value}")
    return value


def check_ttl(value: Any) -> int | None:
    """A time to live in whole seconds: positive, at most a hundred years, or None (never)."""
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= MAX_TTL_SECONDS:
        raise UsageError(
            f"ttl must be a positive duration of at most {MAX_TTL_SECONDS} seconds (100 years) or None, "
            f"got {value!r} seconds"
        )
    return value


def json_depth_ok(value: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """True when ``value`` nests dicts and lists at most ``limit`` levels deep. Iterative, so a
    value nested 100,000 levels is answered without a RecursionError."""
    stack = [(value, 1)]
    while stack:
        v, depth = stack.pop()
        children: Iterable[Any]
        if isinstance(v, dict):
            children = v.values()
        elif isinstance(v, (list, tuple)):
            children = v
        else:
            continue
        if depth > limit:
            return False
        stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list, tuple)))
    return True
