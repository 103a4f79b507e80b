"""The body of ``POST .../blobs/batch`` (docs/formats.md): many small blobs back to back,
each a 4-byte big-endian length then its bytes.

What one batch may cost the server is bounded by its bytes (``Limits.batch_bytes``) and by
its number of entries (``Limits.batch_blobs``): the framing is read first, length prefixes
only, and a body with more entries than the limit is refused (413) as soon as the entry past
it is found, before anything is hashed or stored. Zero-length entries are 4 bytes each, so
without the count a 32 MiB body held 8,388,608 of them: ~3.5 GB of server memory, two
minutes of work and a 592 MiB answer. A repeated entry (the same bytes twice) is hashed
and stored once and answered once.
"""

from __future__ import annotations

import struct

from ..core.digest import Digest
from ..core.errors import UsageError
from ..engine import blobs_index
from .context import ServerContext
from .errors import TooLarge

_LENGTH = struct.Struct(">I")


class TooManyBlobs(TooLarge):
    def __init__(self, limit: int) -> None:
        super().__init__(
            f"this blob batch holds more than {limit} blobs, the most this server takes in one batch "
            f"(its batch_blobs limit); send them in batches of at most {limit} (cairn's client does)"
        )


def split(data: bytes, max_entries: int) -> list[memoryview]:
    """The entries of a batch body, in order, as views of ``data`` (nothing copied).
    ``TooManyBlobs`` (413) as soon as entry ``max_entries + 1`` starts; ``UsageError`` (400)
    for a truncated length prefix or blob. Reads length prefixes only: no entry is hashed."""
    view = memoryview(data)
    out: list[memoryview] = []
    pos, end = 0, len(data)
    while pos < end:
        if len(out) >= max_entries:
            raise TooManyBlobs(max_entries)
        if pos + 4 > end:
            raise UsageError(f"malformed blob batch: truncated length prefix at byte {pos}")
        (n,) = _LENGTH.unpack_from(view, pos)
        if pos + 4 + n > end:
            raise UsageError(
                f"malformed blob batch: entry {len(out)} announces {n} bytes but the body ends {end - pos - 4} bytes later"
            )
        out.append(view[pos + 4 : pos + 4 + n])
        pos += 4 + n
    return out


def store(c: ServerContext, entity: str, project: str, data: bytes) -> list[str]:
    """Hash and store each distinct blob of the batch ``data`` once, for the project; returns
    their digests in the order of first appearance (a repeated entry is not answered again)."""
    entries = split(data, c.limits.batch_blobs)
    distinct = dict.fromkeys(e.tobytes() for e in entries)  # equal bytes are one blob: hashed once
    del entries
    by_digest = {str(Digest.of_bytes(blob)): blob for blob in distinct}
    del distinct

    def write(digests: list[str]) -> None:
        # hashed just above; written even where the store holds them (rewrite), so that the
        # time taken never tells whether another project holds one of these blobs
        c.blobs.put_blobs([(d, by_digest[d]) for d in digests], hashed=True, rewrite=True)
        c.blobs.flush()

    blobs_index.store_checked(c.meta, c.blobs, entity, project, list(by_digest), write)
    return list(by_digest)
