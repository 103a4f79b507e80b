"""Which project holds which blob, and who may have written an object unchecked.

Dedup is per project, never across: a project holds a blob only once its bytes came from
one of its own clients (knowing a digest is not having the file).

Bytes reach the object store two ways:

* **through the server** (batches, single PUTs, verified staging): the server hashes them,
  so the object it writes is known right;
* **direct** (small blobs on a presigning store): the client PUTs straight to the store,
  and the server never reads those bytes. A project trusts its own writers, as it trusts
  them with its versions, and every download is verified against its digest; what direct
  uploads must never do is spoil another project's content.

A row in ``blob_claims`` guards that. It says "the object under this digest may hold bytes
that project's client wrote, unchecked", and it is taken *before* anything is written:

* a presigned PUT URL is handed out only for a digest that no project holds and no one has
  claimed, to the project whose claim it then inserts, and it carries ``If-None-Match: *``
  in its signature, so it can create the object but never replace one;
* the server-side paths claim too while they write, so a direct URL is never handed out
  for an object that is being written through the server;
* when a server-side write finds the object already there and a claim existed before it
  began, it reads the object back and hashes it; other bytes are deleted and written again
  from the verified copy. Only then is the claim cleared: a digest that some project holds
  and that has no claim is an object known right.

Healing. An object can still go bad or go missing later (a disk, an operator, a bucket
rule). A client whose download of a blob fails to verify reports it (``report_damaged``):
the server reads the object itself, sets a damaged one aside (``quarantine``), and lists
the digest in ``damaged_blobs``. No project "holds" a listed digest, so the next client
that logs the same bytes, in any project, sends them; they come through the server (the
digest is still held somewhere, so no direct URL is granted), whose verified write clears
the row. Nothing on the hot path reads an object: only a reader that saw wrong bytes does.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ..core.digest import digest_of, hasher
from ..core.errors import BlobNotFoundError, IntegrityError, StoreError
from ..storage.base import BlobStore
from ..storage.meta.sql import MetaStore
from ..storage.meta.tx import Tx, batches, in_list, insert_ignore
from . import gcmarks, records

REWRITES = 3  # a stale direct URL may race a rewrite; each round is checked again
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


def claims_of(tx: Tx, digests: list[str]) -> dict[str, int]:
    """The project id that claims each claimed digest among ``digests``."""
    return _claims(tx, digests)


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


# -- direct uploads ------------------------------------------------------------------


def grant_direct(
    meta: MetaStore, blobs: BlobStore, entity: str, project: str, digests: list[str]
) -> tuple[list[str], list[str]]:
    """Claim for this project the digests nobody holds or claims: ``(granted, through_server)``.

    Granted digests may be PUT straight to the store; the others must come through the
    server, which hashes them (another project holds or is writing that object). A digest
    this project had claimed already (an upload that failed before it was recorded) is
    looked up first: if its object arrived, it is recorded now and not sent again."""
    wanted = list(dict.fromkeys(digests))
    with meta.write() as tx:
        gcmarks.guard(tx)
        pid = records.project_id(tx, entity, project, create=True)
        claims = _claims(tx, wanted)
        held = _held_anywhere(tx, [d for d in wanted if d not in claims])
        busy = {d for d, s in gcmarks.blob_states(tx, wanted).items() if s == gcmarks.DELETING}
        free = [d for d in wanted if d not in claims and d not in held and d not in busy]
        now = tx.now()
        insert_ignore(tx, "blob_claims", [{"digest": d, "project_id": pid, "created_at": now} for d in free])
        claims_now = _claims(tx, wanted)
    ours_before = [d for d in wanted if claims.get(d) == pid]
    present = list(blobs.has(ours_before)) if ours_before else []
    arrived = set(present) - set(record_direct(meta, entity, project, present, blobs) if present else [])
    granted = [d for d in wanted if claims_now.get(d) == pid and d not in arrived]
    return granted, [d for d in wanted if claims_now.get(d) != pid]


def record_direct(
    meta: MetaStore, entity: str, project: str, digests: list[str], blobs: BlobStore | None = None
) -> list[str]:
    """Record the digests this project's client PUT with its direct URLs (created, or found
    there: a 412). Returns those it may not record because the claim is no longer this
    project's (a server-side write checked that object meanwhile); the client must then send
    them through the server."""
    wanted = list(dict.fromkeys(digests))
    with meta.write() as tx:
        gcmarks.guard(tx)
        pid = records.project_id(tx, entity, project, create=True)
        claims = _claims(tx, wanted)
        mine = [d for d in wanted if claims.get(d) == pid]
        mine = _not_collected(tx, blobs, mine)
        _record(tx, pid, mine)
    return [d for d in wanted if d not in set(mine)]


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
    rewritable: bool = True,
) -> None:
    """Run ``write(digests)`` (which stores bytes the server hashed) so that no object a
    client wrote unchecked is taken as right, then record the digests for the project.

    ``rewritable`` says whether ``write`` can be called again for a digest whose existing
    object turned out wrong; if not, that object is deleted and an IntegrityError asks the
    client to send it again."""
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
        # nothing unchecked was written under the claims taken here: left in place, they
        # would later pass for this project's own direct uploads (grant_direct)
        _drop_claims(meta, pid, [d for d in wanted if d not in before])
        raise
    for d in before:  # rare: an object that a client may have written unchecked
        for _ in range(REWRITES):
            if object_matches(blobs, d):
                break
            blobs.delete(d)
            if not rewritable:
                raise IntegrityError(
                    f"the object store held other bytes under {d}, written unchecked by a direct upload; "
                    "they were removed: send the file again",
                    digest=d,
                )
            write([d])
        else:
            raise IntegrityError(f"the object under {d} kept changing while the server rewrote it; try again", digest=d)
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


def adopt_manifest(meta: MetaStore, entity: str, project: str, manifest) -> int:  # noqa: ANN001
    """Record that the project holds every stored blob ``manifest`` references (reading
    each of its leaves once); returns how many entries were looked at."""
    with meta.write() as tx:
        pid = records.project_id(tx, entity, project, create=True)
    return _adopt(meta, pid, manifest, set())


def _adopt(meta: MetaStore, pid: int, manifest, seen_leaves: set[str]) -> int:  # noqa: ANN001
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
