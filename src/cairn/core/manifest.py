"""Manifests as prolly trees: content-defined chunks of the sorted entry list.

A manifest is the sorted set of entries of a version. It is stored as chunks:

* a **leaf** holds consecutive entries; a leaf ends after an entry whose path hash meets
  the leaf mask (or at the end of the list);
* a **node** at level L >= 1 holds descriptors of consecutive children; it ends after a
  child whose last-path hash meets the level-L mask (different bits per level).

Boundaries depend only on the paths, so the tree's shape is a function of the set of
paths alone, and editing k entries rewrites O(k) leaves plus the path to the root.

Each chunk has two hashes:

* its **key**: BLAKE3 of its stored encoding (what the chunk store is addressed by);
* its **identity**: BLAKE3 over the (path, entry digest) pairs below it only.

The artifact digest is the identity of the root, so it depends on the set of
(path, entry digest) and never on sizes, extras, history, chunking or insertion order.
"""

from __future__ import annotations

import abc

import json
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, NamedTuple

import blake3

from .digest import content_digest, digest_bytes


FORMAT = 1
LEAF_BITS = 7  # average 128 entries a leaf (~15 KB encoded)
NODE_BITS = 6  # average 64 children a node
_LEAF_MASK = (1 << LEAF_BITS) - 1
_NODE_MASK = (1 << NODE_BITS) - 1

ChunkLoader = Callable[[list[str]], Mapping[str, bytes]]
ChunkSink = Callable[[str, bytes], None]


_NO_EXTRA: Mapping[str, Any] = MappingProxyType({})


class Entry(NamedTuple):
    """One logical path of a version (immutable).

    A NamedTuple rather than a frozen dataclass: logging 50,000 files makes 50,000 of these
    several times over, and a frozen dataclass costs 0.8 µs each to build against 0.25 µs."""

    path: str
    digest: str  # "<algo>:<value>", see core.digest
    size: int
    ref: str | None = None
    extra: Mapping[str, Any] = _NO_EXTRA

    def to_row(self) -> list:
        row: list = [self.path, self.digest, self.size]
        if self.ref is not None or self.extra:
            row.append(self.ref)
        if self.extra:
            row.append(dict(self.extra))
        return row

    @classmethod
    def from_row(cls, row: list) -> "Entry":
        # Paths are not re-validated here (hot path); every writer of files validates them.
        if len(row) == 3:
            return cls(row[0], row[1], int(row[2]))
        return cls(row[0], row[1], int(row[2]), row[3], (row[4] if len(row) > 4 else None) or _NO_EXTRA)


class SortedEntries(abc.ABC):
    """Entries already in path order with unique paths, that can be iterated more than once
    without being held whole (a new artifact's entries once spilled to disk): a commit
    streams them, where it sorts and checks a list."""

    @abc.abstractmethod
    def __iter__(self) -> Iterator[Entry]: ...

    @abc.abstractmethod
    def __len__(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Child:
    """A descriptor of a chunk as seen from its parent."""

    last: str  # last path below this chunk
    ident: str  # identity hash (hex)
    key: str  # storage key ("blake3:<hex>")
    count: int
    size: int


@dataclass(frozen=True, slots=True)
class Root:
    """What a version records about its manifest."""

    key: str
    digest: str  # the artifact digest: "blake3:<identity of the root>"
    count: int
    size: int


def _path_hash(path: str) -> int:
    return int.from_bytes(blake3.blake3(path.encode()).digest(), "little")


def _leaf_boundary(path: str | bytes) -> bool:
    # the low bits of the path hash: its first 4 bytes suffice (BLAKE3 output is a stream)
    p = path.encode() if isinstance(path, str) else path
    return int.from_bytes(blake3.blake3(p).digest(4), "little") & _LEAF_MASK == 0


_HASH_BITS = 256  # the path hash is BLAKE3's 32 bytes


def _node_boundary(path_hash: int, level: int) -> bool:
    # Past the hash's bits (level 16) no child ends a node, so the level closes into one root:
    # shifted to zero, every child would end its own node and the build would never finish.
    # No tree that finished before reaches that level with two chunks, so no digest changes.
    shift = 16 * level
    return shift < _HASH_BITS and (path_hash >> shift) & _NODE_MASK == 0


def _encode(obj: Any) -> tuple[str, bytes]:
    data = json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()
    return digest_bytes(data), data


def _leaf_child(entries: list[Entry], sink: ChunkSink, idents: list[bytes] | None = None) -> Child:
    """A leaf chunk; ``idents`` are the entries' identity records when the caller has them."""
    if idents is None:
        idents = [_ident_record(e.path.encode(), e.digest) for e in entries]
    key, data = _encode({"format": FORMAT, "leaf": [e.to_row() for e in entries]})
    sink(key, data)
    ident = _leaf_ident(entries, idents)
    return Child(ident.last, ident.ident, key, ident.count, ident.size)


def _ident_record(path: bytes, digest: str) -> bytes:
    return len(path).to_bytes(4, "little") + path + digest.encode() + b"\n"


def _node_child(children: list[Child], level: int, sink: ChunkSink) -> Child:
    h = blake3.blake3(b"cairn.manifest.node.v1\0")
    for c in children:
        h.update(bytes.fromhex(c.ident))
    key, data = _encode(
        {"format": FORMAT, "level": level, "children": [[c.last, c.ident, c.key, c.count, c.size] for c in children]}
    )
    sink(key, data)
    return Child(children[-1].last, h.hexdigest(), key, sum(c.count for c in children), sum(c.size for c in children))


def decode_chunk(key: str, data: bytes) -> dict:
    """A manifest chunk's JSON; ``StoreError`` for a chunk of another format."""
    obj = json.loads(data)
    if obj.get("format") != FORMAT:
        from .errors import StoreError

        raise StoreError(f"manifest chunk {key} has format {obj.get('format')!r}; this cairn reads format {FORMAT}")
    return obj


def _leaf_ident(entries: list[Entry], idents: list[bytes]) -> Child:
    """A leaf's descriptor without its chunk (no key): what ``identity`` needs."""
    h = blake3.blake3(b"cairn.manifest.leaf.v1\0")
    h.update(b"".join(idents))
    return Child(entries[-1].path if entries else "", h.hexdigest(), "", len(entries), sum(e.size for e in entries))


def _chunk_leaves(entries: Iterable[Entry], sink: ChunkSink | None) -> list[Child]:
    """The leaves over ``entries``, each chunk written to ``sink``; with no sink only their
    identities are computed (no chunk is encoded)."""
    # each path is encoded once, for both its boundary hash and its identity record
    leaves: list[Child] = []
    cur: list[Entry] = []
    idents: list[bytes] = []

    def leaf(cur: list[Entry], idents: list[bytes]) -> Child:
        return _leaf_ident(cur, idents) if sink is None else _leaf_child(cur, sink, idents)

    b3, mask = blake3.blake3, _LEAF_MASK
    for e in entries:
        p = e.path.encode()
        cur.append(e)
        # _ident_record and _leaf_boundary, inlined: two calls fewer per entry, ~0.02 s of
        # the 50,000-entry identity that logging a folder again computes
        idents.append(len(p).to_bytes(4, "little") + p + e.digest.encode() + b"\n")
        if int.from_bytes(b3(p).digest(4), "little") & mask == 0:
            leaves.append(leaf(cur, idents))
            cur, idents = [], []
    if cur:
        leaves.append(leaf(cur, idents))
    return leaves


def _build_levels(children: list[Child], sink: ChunkSink) -> Child:
    """Build the internal levels over ``children`` up to a single root."""
    level = 1
    while len(children) > 1:
        parents: list[Child] = []
        cur: list[Child] = []

        for c in children:
            cur.append(c)
            if _node_boundary(_path_hash(c.last), level):
                parents.append(_node_child(cur, level, sink))
                cur = []
        if cur:
            parents.append(_node_child(cur, level, sink))
        children = parents
        level += 1
    return children[0]


def _root(top: Child) -> Root:
    return Root(top.key, content_digest(top.ident), top.count, top.size)


def build(entries: Iterable[Entry], sink: ChunkSink) -> Root:
    """Chunk entries, already sorted by path with unique paths, writing each chunk to ``sink``."""
    leaves = _chunk_leaves(entries, sink)
    if not leaves:
        leaves = [_leaf_child([], sink)]
    return _root(_build_levels(leaves, sink))


def identity(entries: Iterable[Entry]) -> str:
    """The artifact digest ``build`` gives these entries (sorted, unique paths), computed
    without encoding or storing any leaf: a commit of content that a version already has
    finds it this way. 50,000 entries: see ``engine.commit``."""
    leaves = _chunk_leaves(entries, None)
    if not leaves:
        return empty_root().digest
    return content_digest(_build_levels(leaves, lambda k, d: None).ident)


def empty_root() -> Root:
    return build([], lambda k, d: None)


def chunk_matches(key: str, data: bytes) -> bool:
    """Whether ``data`` is the chunk stored under ``key`` (its key is the BLAKE3 of it)."""
    return digest_bytes(data) == key


def checked(load: ChunkLoader) -> ChunkLoader:
    """``load``, with every chunk it returns checked against its key (the BLAKE3 of its
    bytes): a chunk changed where it is stored (a renamed or edited entry, a bit flip) is an
    IntegrityError naming it, never a manifest taken as it reads. Costs one BLAKE3 pass over
    the chunks: 0.27 s for the 98.8 MiB of a 1,000,000-entry manifest, ~3% of loading all
    its entries (8.8 s on a busy 2-core machine; bench/integrity.py)."""

    def load_checked(keys: list[str]) -> Mapping[str, bytes]:
        got = load(keys)
        for key, data in got.items():
            if not chunk_matches(key, data):
                from .errors import IntegrityError

                raise IntegrityError(
                    f"manifest chunk {key} does not match its key: the stored manifest was changed or "
                    "damaged, so the versions that use it cannot be trusted; restore the store's "
                    "metadata from a backup"
                )
        return got

    return load_checked


class Manifest:
    """Read access to a stored manifest tree through a chunk loader; every chunk is checked
    against its key as it is loaded (``checked``)."""

    def __init__(self, root_key: str, load: ChunkLoader) -> None:
        self.root_key = root_key
        self._load = checked(load)

    def _get(self, key: str) -> dict:
        return decode_chunk(key, _need(self._load([key]), key))

    def leaves(self) -> list[Child]:
        """Descriptors of every leaf, in path order (reads internal nodes only)."""
        node = self._get(self.root_key)
        if "leaf" in node:
            return [_leaf_child([Entry.from_row(r) for r in node["leaf"]], lambda k, d: None)]
        frontier = [Child(*c) for c in node["children"]]
        level = node["level"]
        while level > 1:
            loaded = self._load([c.key for c in frontier])
            nxt: list[Child] = []
            for c in frontier:
                nxt.extend(Child(*x) for x in decode_chunk(c.key, loaded[c.key])["children"])
            frontier = nxt
            level -= 1
        return frontier

    def chunk_keys(self) -> set[str]:
        """The key of every chunk of this tree, root and leaves included (reads internal
        nodes only: a leaf's key is listed in its parent)."""
        keys = {self.root_key}
        node = self._get(self.root_key)
        if "leaf" in node:
            return keys
        frontier = [c[2] for c in node["children"]]
        level = node["level"]
        keys.update(frontier)
        while level > 1:
            nxt: list[str] = []
            for i in range(0, len(frontier), 64):
                batch = frontier[i : i + 64]
                loaded = self._load(batch)
                for k in batch:
                    nxt.extend(c[2] for c in decode_chunk(k, _need(loaded, k))["children"])
            keys.update(nxt)
            frontier = nxt
            level -= 1
        return keys

    def leaf_entries(self, key: str) -> list[Entry]:
        return [Entry.from_row(r) for r in self._get(key)["leaf"]]

    def leaf_entries_many(self, keys: list[str]) -> dict[str, list[Entry]]:
        """The entries of several leaves, loaded in one call to the chunk loader."""
        loaded = self._load(keys)
        return {k: [Entry.from_row(r) for r in decode_chunk(k, _need(loaded, k))["leaf"]] for k in keys}

    def __iter__(self) -> Iterator[Entry]:
        leaves = self.leaves()
        for i in range(0, len(leaves), 64):
            keys = [c.key for c in leaves[i : i + 64]]
            loaded = self._load(keys)
            for k in keys:
                for r in decode_chunk(k, loaded[k])["leaf"]:
                    yield Entry.from_row(r)

    def range(self, lo: str, hi: str | None) -> Iterator[Entry]:
        """Entries with lo <= path < hi (hi None: to the end). Descends only into the
        children whose path span meets [lo, hi), loading them 64 at a time."""
        yield from self._range(self.root_key, self._get(self.root_key), lo, hi)

    def _range(self, key: str, node: dict, lo: str, hi: str | None) -> Iterator[Entry]:
        if "leaf" in node:
            for r in node["leaf"]:
                if r[0] < lo:
                    continue
                if hi is not None and r[0] >= hi:
                    return
                yield Entry.from_row(r)
            return
        kids = node["children"]
        start = bisect_left([c[0] for c in kids], lo)
        stop = start  # up to and including the first child that reaches hi
        while stop < len(kids):
            stop += 1
            if hi is not None and kids[stop - 1][0] >= hi:
                break
        wanted = [c[2] for c in kids[start:stop]]
        for i in range(0, len(wanted), 64):
            batch = wanted[i : i + 64]
            loaded = self._load(batch)
            for k in batch:
                yield from self._range(k, decode_chunk(k, _need(loaded, k)), lo, hi)

    def prefix(self, prefix: str) -> Iterator[Entry]:
        return self.range(prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1) if prefix else None)

    def get(self, path: str) -> Entry | None:
        for e in self.range(path, path + "\0"):
            return e
        return None


@dataclass(frozen=True, slots=True)
class _Subtree:
    """An unchanged subtree standing in for its items in a level's sequence during an edit."""

    child: Child
    level: int  # 0: a leaf


def _closes(item: Entry | Child | _Subtree, stage: int) -> bool:
    """Whether ``item`` ends a chunk when stage ``stage`` groups its sequence (0: entries into leaves)."""
    path = item.path if isinstance(item, Entry) else item.child.last if isinstance(item, _Subtree) else item.last
    if stage == 0:
        return _leaf_boundary(path)
    return _node_boundary(_path_hash(path), stage)


def _need(loaded: Mapping[str, bytes], key: str) -> bytes:
    data = loaded.get(key)
    if data is None:
        from .errors import StoreError

        raise StoreError(
            f"manifest chunk {key} is missing from the store: the store is damaged; restore it from a backup"
        )
    return data


def _root_child(manifest: Manifest) -> tuple[Child, int]:
    """The root's own descriptor (its identity is computed from its content) and level."""
    key = manifest.root_key
    node = decode_chunk(key, _need(manifest._load([key]), key))
    if "leaf" in node:
        return _leaf_child([Entry.from_row(r) for r in node["leaf"]], lambda k, d: None), 0
    level = node["level"]
    return _node_child([Child(*x) for x in node["children"]], level, lambda k, d: None), level


def _open(manifest: Manifest, sub: _Subtree, stage: int) -> list:
    """The items of an unchanged subtree one level down, as stage ``stage`` sees them."""
    node = decode_chunk(sub.child.key, _need(manifest._load([sub.child.key]), sub.child.key))
    if sub.level == 0:
        return [Entry.from_row(r) for r in node["leaf"]]
    kids = [Child(*x) for x in node["children"]]
    return [_Subtree(k, sub.level - 1) for k in kids] if sub.level - 1 >= stage else kids


def _unwrap(manifest: Manifest, sub: _Subtree) -> Child:
    """The root a fresh build makes of an unchanged subtree alone: a node with a single child
    is not a root (``_build_levels`` stops at the level where one chunk is left)."""
    while sub.level > 0:
        node = decode_chunk(sub.child.key, _need(manifest._load([sub.child.key]), sub.child.key))
        if len(node["children"]) != 1:
            break
        sub = _Subtree(Child(*node["children"][0]), sub.level - 1)
    return sub.child


def apply_edits(
    manifest: Manifest,
    upserts: Mapping[str, Entry],
    removes: Iterable[str],
    sink: ChunkSink,
) -> Root:
    """A new tree equal to ``manifest`` with ``removes`` deleted and ``upserts`` set.

    Only the nodes on the paths from the root to the edited leaves are read (plus, when an
    edit moves a chunk boundary, the neighbours it merges with); every other subtree is
    carried over whole, so an edit of k entries costs O(k × depth) reads and writes, not
    O(entries / 128): one edit in a 1,000,000-entry tree read all 125 internal nodes
    (~20 ms of JSON) before, and reads 3 nodes and 1 leaf now. The result is the tree a
    fresh ``build`` of the edited set makes, key for key (tests/core/test_manifest_props.py).
    """
    removes = set(removes) - set(upserts)
    edited = sorted(set(upserts) | removes)
    if not edited:
        return _root(_root_child(manifest)[0])

    # 1. descend from the root to every leaf holding an edited path, level by level (one
    #    batched load a level); everything else stays a _Subtree. A path after the last
    #    entry belongs to the last leaf.
    top, top_level = _root_child(manifest)
    frontier = [(top, top_level, edited)]  # in path order
    pieces: dict[int, list] = {}
    while frontier:
        loaded = manifest._load([c.key for c, _, _ in frontier])
        nxt = []
        for c, level, paths in frontier:
            node = decode_chunk(c.key, _need(loaded, c.key))
            if level == 0:
                merged = {r[0]: r for r in node["leaf"]}
                for p in paths:
                    if p in upserts:
                        merged[p] = upserts[p]
                    else:
                        merged.pop(p, None)
                pieces[id(c)] = [
                    merged[p] if isinstance(merged[p], Entry) else Entry.from_row(merged[p]) for p in sorted(merged)
                ]
                continue
            kids = [Child(*x) for x in node["children"]]
            lasts = [k.last for k in kids]
            split: dict[int, list[str]] = {}
            for p in paths:
                split.setdefault(min(bisect_left(lasts, p), len(kids) - 1), []).append(p)
            expanded: list[Child | _Subtree] = []
            for i, k in enumerate(kids):
                if i in split:
                    nxt.append((k, level - 1, split[i]))
                    expanded.append(k)
                else:
                    expanded.append(_Subtree(k, level - 1))
            pieces[id(c)] = expanded
        frontier = nxt

    def flatten(c: Child) -> Iterator[Entry | Child | _Subtree]:
        for x in pieces[id(c)]:
            if isinstance(x, Child):
                yield from flatten(x)
            else:
                yield x

    seq: list[Entry | Child | _Subtree] = list(flatten(top))
    written: set[str] = set()

    def write(key: str, data: bytes) -> None:
        written.add(key)
        sink(key, data)

    # 2. re-chunk stage by stage; a _Subtree passes through a stage untouched when the
    #    chunking before it is closed and its own last item closes (or nothing follows),
    #    otherwise it is opened and its items are chunked with their neighbours.
    stage = 0
    while True:
        if not seq:
            return _root(_leaf_child([], write))
        if len(seq) == 1 and stage > 0:
            last = seq[0]
            if isinstance(last, Child) and last.key in written:
                return _root(last)  # built here from two or more items: a real root
            if isinstance(last, _Subtree):
                sub = last
            else:
                assert isinstance(last, Child), "past stage 0 every item is a chunk"
                sub = _Subtree(last, stage - 1)
            return _root(_unwrap(manifest, sub))
        out: list[Entry | Child | _Subtree] = []
        cur: list = []
        todo = list(reversed(seq))
        while todo:
            x = todo.pop()
            if isinstance(x, _Subtree):
                if not cur and (not todo or _closes(x, stage)):
                    out.append(x if x.level > stage else x.child)
                else:
                    todo.extend(reversed(_open(manifest, x, stage)))
                continue
            cur.append(x)
            if _closes(x, stage):
                out.append(_leaf_child(cur, write) if stage == 0 else _node_child(cur, stage, write))
                cur = []
        if cur:
            out.append(_leaf_child(cur, write) if stage == 0 else _node_child(cur, stage, write))
        seq = out
        stage += 1


def diff(old: Manifest | None, new: Manifest) -> Iterator[tuple[str, Entry | None, Entry | None]]:
    """(path, old entry, new entry) for every path that differs; skips identical leaves."""
    old_leaves = old.leaves() if old is not None else []
    new_leaves = new.leaves()
    same = {c.key for c in old_leaves} & {c.key for c in new_leaves}
    a = {e.path: e for c in old_leaves if c.key not in same for e in old.leaf_entries(c.key)} if old is not None else {}
    b = {e.path: e for c in new_leaves if c.key not in same for e in new.leaf_entries(c.key)}
    for p in sorted(set(a) | set(b)):
        ea, eb = a.get(p), b.get(p)
        if ea is None or eb is None or ea.digest != eb.digest or ea.ref != eb.ref:
            yield p, ea, eb


__all__ = [
    "Entry",
    "Child",
    "Root",
    "Manifest",
    "build",
    "apply_edits",
    "checked",
    "chunk_matches",
    "diff",
    "empty_root",
]
