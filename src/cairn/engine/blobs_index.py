"""Which project holds which blob, and which objects are being written or may be unchecked.

Dedup is per project, never across: a project holds a blob only once its bytes came from
one of its own clients (knowing a digest is not having the file).

Bytes reach the object store only through the server's hands: batches and single PUTs
it hashes as they arrive (and writes even where the store holds them: ``rewrite``, so that
an upload's time never tells whether another project holds the blob), and presigned uploads (``server/uploads``) that go to a staging
key unique to the upload and that it reads back and hashes before copying them into
place. No client ever writes a blob's own key, so an object found there proves nothing
about the caller: a project holds a blob only through its own verified upload.

A row in ``blob_claims`` marks a digest being written through the server, or (from older
versions, which let clients write a blob's key directly) an object that may hold unchecked
bytes. ``store_checked`` takes a claim while it writes, and every write it runs puts the
verified bytes at the blob's key whether or not an object is there (``rewrite``; staged
uploads are copied over it too), so whatever a claim vouched for is replaced, and nothing
else can replace it afterwards (presigned URLs of older servers only create absent
objects). Its claims are then cleared: a digest that some project holds and that has no
claim is an object known right. An object found under an earlier claim is not read back
(it once was): that read made a write take longer exactly when another project was
writing the same blob at that moment, telling the caller so.

Healing. An object can still go bad or go missing later (a disk, an operator, a bucket
rule). A client whose download of a blob fails to verify reports it (``report_damaged``):
the server reads the object itself, sets a damaged one aside (``quarantine``), and lists
the digest in ``damaged_blobs``. No project "holds" a listed digest, so the next client
that logs the same bytes, in any project, sends them; the server's verified write clears
the row. Besides the upload being checked, only a reader that saw wrong bytes reads an object.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ..core.digest import digest_of, hasher
from ..core.errors import BlobNotFoundError, StoreError
from ..core.manifest import Manifest
from ..storage.base import BlobStore
from ..storage.meta.sql import MetaStore
from ..storage.meta.tx import Tx, batches, in_list, insert_ignore
from . import gcmarks, records

COLLECTING_WAITS = (0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 4.0)  # for gc to finish removing a blob being sent again


def check_content_digest(digest: str) -> None:
    """UsageError unless ``digest`` names stored content (``blake3:<64 hex>``)."""
    from ..core.digest import Digest
    from ..core.errors import UsageError

    try:
        ok = Digest.parse(digest).is_content
    except ValueError as e:
        raise UsageError(f"{digest[:100]!r} is not a blob digest: {e}") from None
    if not ok:
        raise UsageError(f"blobs are addressed by blake3 digests, got {digest[:100]!r}")


def project_has(meta: MetaStore, entity: str, project: str, digests: list[str]) -> set[str]:
    found: set[str] = set()
    with meta.read() as tx:
        pid = records.project_id(tx, entity, project)
        if pid is None:
            return found
        for part in batches(digests):
            ph, params = in_list(part)
            q = (
                f"SELECT digest FROM project_blobs WHERE project_id = :pid AND digest IN {ph} "
                "AND digest NOT IN (SELECT digest FROM damaged_blobs)"
            )
            found.update(tx.scalars(q, {**params, "pid": pid}))
    return found


def _claims(tx: Tx, digests: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for part in batches(digests):
        ph, params = in_list(part)
        out.update(tx.tuples(f"SELECT digest, project_id FROM blob_claims WHERE digest IN {ph}", params))
    return out


def _held_anywhere(tx: Tx, digests: list[str]) -> set[str]:
    out: set[str] = set()
    for part in batches(digests):
        ph, params = in_list(part)
        out.update(tx.scalars(f"SELECT DISTINCT digest FROM project_blobs WHERE digest IN {ph}", params))
    return out


def _record(tx: Tx, pid: int, digests: list[str]) -> None:
    insert_ignore(tx, "project_blobs", [{"project_id": pid, "digest": d} for d in dict.fromkeys(digests)])


def _not_collected(tx: Tx, blobs: BlobStore | None, digests: list[str]) -> list[str]:
    """Those of ``digests`` that gc is not removing and, if it removed them, that are back."""
    states = gcmarks.blob_states(tx, digests)
    gone = [d for d in digests if states.get(d) == gcmarks.DELETED]
    back = set(blobs.has(gone)) if gone and blobs is not None else set()
    gcmarks.forget_tombstones(tx, list(back))
    return [d for d in digests if states.get(d) not in (gcmarks.DELETING, gcmarks.DELETED) or d in back]


# -- server-side writes ----------------------------------------------------------------


def store_checked(
    meta: MetaStore,
    blobs: BlobStore,
    entity: str,
    project: str,
    digests: list[str],
    write: Callable[[list[str]], None],
) -> None:
    """Run ``write(digests)``, which stores bytes the server hashed at the digests' keys
    whether or not objects are there (so no object a client wrote unchecked is taken as
    right), under claims that keep gc away, then record the digests for the project. The
    same work whoever else holds or is writing them."""
    wanted = list(dict.fromkeys(digests))
    for wait in (*COLLECTING_WAITS, None):
        with meta.write() as tx:
            gcmarks.guard(tx)
            busy = [d for d, s in gcmarks.blob_states(tx, wanted).items() if s == gcmarks.DELETING]
            if not busy:
                pid = records.project_id(tx, entity, project, create=True)
                before = _claims(tx, wanted)
                now = tx.now()
                insert_ignore(
                    tx,
                    "blob_claims",
                    [{"digest": d, "project_id": pid, "created_at": now} for d in wanted if d not in before],
                )
                break
        if wait is None:
            raise StoreError(f"blob {busy[0]} is being removed by garbage collection; send it again in a moment")
        time.sleep(wait)  # gc removes a batch of condemned blobs in well under a second
    try:
        write(wanted)
    except BaseException:
        # nothing was written under the claims taken here: left in place, they would keep
        # gc from these digests for nothing
        _drop_claims(meta, pid, [d for d in wanted if d not in before])
        raise
    with meta.write() as tx:
        gcmarks.guard(tx)
        kept = _not_collected(tx, blobs, wanted)
        _record(tx, pid, kept)
        for part in batches(wanted):
            ph, params = in_list(part)
            tx.execute(f"DELETE FROM blob_claims WHERE digest IN {ph}", params)
            tx.execute(f"DELETE FROM damaged_blobs WHERE digest IN {ph}", params)
    if len(kept) < len(wanted):  # written while gc removed them (a write slower than its grace period)
        lost = sorted(set(wanted) - set(kept))[0]
        raise StoreError(f"blob {lost} was removed by garbage collection while it was being written; send it again")


def _drop_claims(meta: MetaStore, pid: int, digests: list[str]) -> None:
    with meta.write() as tx:
        for part in batches(digests):
            ph, params = in_list(part)
            tx.execute(f"DELETE FROM blob_claims WHERE project_id = :pid AND digest IN {ph}", {**params, "pid": pid})


def object_matches(blobs: BlobStore, digest: str) -> bool:
    """Whether the stored object's bytes hash to ``digest`` (one full read)."""
    try:
        f = blobs.open(digest)
    except BlobNotFoundError:
        return False
    h = hasher()
    with f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return digest_of(h) == digest


# -- damage found by readers --------------------------------------------------------------

SET_ASIDE, MISSING, INTACT = "set aside", "missing", "intact"


def report_damaged(
    meta: MetaStore,
    blobs: BlobStore,
    entity: str,
    project: str,
    digest: str,
    checks: Callable[[str, Callable[[], str]], str] | None = None,
) -> str:
    """A client of ``project`` read ``digest`` wrong or not at all: check the object (one
    full read), set a damaged one aside, and list the digest as damaged so that the next
    upload of those bytes, from any project, is taken. Returns SET_ASIDE, MISSING or INTACT.
    BlobNotFoundError when the project does not hold the digest (nor did before it was
    listed): a caller learns nothing of other projects' blobs. ``checks(digest, check)``,
    when given, decides whether ``check`` runs (the server's ``damage.DamageChecks``)."""
    with meta.read() as tx:
        pid = records.project_id(tx, entity, project)
        held = pid is not None and tx.scalar(
            "SELECT 1 FROM project_blobs WHERE project_id = :pid AND digest = :d", {"pid": pid, "d": digest}
        )
    if not held:
        raise BlobNotFoundError(digest, f"in project {entity}/{project}")
    if checks is None:
        return set_aside(meta, blobs, digest)
    return checks(digest, lambda: set_aside(meta, blobs, digest))


def set_aside(meta: MetaStore, blobs: BlobStore, digest: str) -> str:
    """Check the object of ``digest`` (one full read); if it is damaged or missing, set it
    aside and list it as damaged, so that the next upload of those bytes is taken and heals
    every version naming it. Returns SET_ASIDE, MISSING or INTACT (then nothing changes)."""
    quarantine = getattr(blobs, "quarantine", None)
    if quarantine is not None:  # re-hashes the object; False: it reads right, or is absent
        state = SET_ASIDE if quarantine(digest) else INTACT if blobs.has([digest]) else MISSING
    elif object_matches(blobs, digest):
        state = INTACT
    else:
        state = MISSING if not blobs.has([digest]) else SET_ASIDE
        if state == SET_ASIDE:  # a store that cannot set aside: remove the wrong object
            blobs.delete(digest)
    if state == INTACT:
        return state
    with meta.write() as tx:
        insert_ignore(tx, "damaged_blobs", {"digest": digest, "found_at": tx.now()})
    return state


# -- indexing versions -----------------------------------------------------------------


def adopt_manifest(meta: MetaStore, entity: str, project: str, manifest: Manifest) -> int:
    """Record that the project holds every stored blob ``manifest`` references (reading
    each of its leaves once); returns how many entries were looked at."""
    with meta.write() as tx:
        pid = records.project_id(tx, entity, project, create=True)
    return _adopt(meta, pid, manifest, set())


def _adopt(meta: MetaStore, pid: int, manifest: Manifest, seen_leaves: set[str]) -> int:
    leaves = [c.key for c in manifest.leaves() if c.key not in seen_leaves]
    seen_leaves.update(leaves)
    n = 0
    for i in range(0, len(leaves), 64):
        keys = leaves[i : i + 64]
        digests = [e.digest for k in keys for e in manifest.leaf_entries(k) if e.ref is None]
        n += len(digests)
        with meta.write() as tx:
            _record(tx, pid, digests)
    return n


def index_versions(meta: MetaStore) -> int:
    """Record, for every project, the blobs its versions and drafts reference. Versions
    committed in-process (no server in between) do not record what their project holds;
    this runs when a store gets its first user, so that the server then serves each
    project its own blobs and no others. Leaves shared by several versions are read once."""
    import logging

    from ..core.errors import StoreError
    from ..core.manifest import Manifest
    from ..core.versions import COMMITTED

    with meta.read() as tx:
        # committed versions only: a deleted one's chunks may be gone (gc), and it serves nothing
        trees = tx.tuples(
            "SELECT DISTINCT a.project_id, v.manifest_key FROM versions v "
            "JOIN artifacts a ON v.artifact_id = a.id WHERE v.state = :s ORDER BY a.project_id",
            {"s": COMMITTED},
        )
        drafted = tx.tuples(
            "SELECT DISTINCT a.project_id, e.digest FROM draft_entries e "
            "JOIN drafts d ON e.draft_id = d.id JOIN artifacts a ON d.artifact_id = a.id "
            "WHERE e.ref IS NULL"
        )
    seen: dict[int, set[str]] = {}
    n = 0
    log = logging.getLogger("cairn.server")
    for pid, key in trees:
        try:
            n += _adopt(meta, pid, Manifest(key, meta.get_chunks), seen.setdefault(pid, set()))
        except StoreError as e:  # a damaged manifest: its blobs stay unindexed ('cairn verify' reports it)
            log.warning("cannot index the blobs of manifest %s: %s", key, e)
    with meta.write() as tx:
        for pid in {p for p, _ in drafted}:
            _record(tx, pid, [d for p, d in drafted if p == pid])
    if trees or drafted:
        log.info("indexed the blobs of %d version trees (%d entries)", len(trees), n)
    return n
