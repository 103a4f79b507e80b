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

import json
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import blake3


FORMAT = 1
LEAF_BITS = 7  # average 128 entries a leaf (~15 KB encoded)
NODE_BITS = 6  # average 64 children a node
_LEAF_MASK = (1 << LEAF_BITS) - 1
_NODE_MASK = (1 << NODE_BITS) - 1

ChunkLoader = Callable[[list[str]], Mapping[str, bytes]]
ChunkSink = Callable[[str, bytes], None]


@dataclass(frozen=True, slots=True)
class Entry:
    """One logical path of a version."""

    path: str
    digest: str  # "<algo>:<value>", see core.digest
    size: int
    ref: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

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
        ref = row[3] if len(row) > 3 else None
        extra = row[4] if len(row) > 4 else None
        return cls(row[0], row[1], int(row[2]), ref, extra or {})


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


def _leaf_boundary(path: str) -> bool:
    return _path_hash(path) & _LEAF_MASK == 0


def _node_boundary(path_hash: int, level: int) -> bool:
    return (path_hash >> (16 * level)) & _NODE_MASK == 0


def _encode(obj: Any) -> tuple[str, bytes]:
    data = json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()
    return "blake3:" + blake3.blake3(data).hexdigest(), data


def _leaf_child(entries: list[Entry], sink: ChunkSink) -> Child:
    h = blake3.blake3(b"cairn.manifest.leaf.v1\0")
    size = 0
    for e in entries:
        p = e.path.encode()
        h.update(len(p).to_bytes(4, "little") + p + e.digest.encode() + b"\n")
        size += e.size
    key, data = _encode({"format": FORMAT, "leaf": [e.to_row() for e in entries]})
    sink(key, data)
    return Child(entries[-1].path if entries else "", h.hexdigest(), key, len(entries), size)


def _node_child(children: list[Child], level: int, sink: ChunkSink) -> Child:
    h = blake3.blake3(b"cairn.manifest.node.v1\0")
    for c in children:
        h.update(bytes.fromhex(c.ident))
    key, data = _encode(
        {"format": FORMAT, "level": level, "children": [[c.last, c.ident, c.key, c.count, c.size] for c in children]}
    )
    sink(key, data)
    return Child(children[-1].last, h.hexdigest(), key, sum(c.count for c in children), sum(c.size for c in children))


def _decode(key: str, data: bytes) -> dict:
    obj = json.loads(data)
    if obj.get("format") != FORMAT:
        from .errors import StoreError

        raise StoreError(f"manifest chunk {key} has format {obj.get('format')!r}; this cairn reads format {FORMAT}")
    return obj


def _chunk_leaves(entries: Iterable[Entry], sink: ChunkSink) -> list[Child]:
    leaves: list[Child] = []
    cur: list[Entry] = []
    for e in entries:
        cur.append(e)
        if _leaf_boundary(e.path):
            leaves.append(_leaf_child(cur, sink))
            cur = []
    if cur:
        leaves.append(_leaf_child(cur, sink))
    return leaves


def _build_levels(children: list[Child], sink: ChunkSink, known: Mapping[tuple[str, ...], Child] | None = None) -> Child:
    """Build the internal levels over ``children``. A node whose children are exactly those of
    a ``known`` node is that node: it is reused without encoding or hashing (an edit of one
    entry in a 1,000,000-entry tree re-encodes ~3 nodes instead of ~125)."""
    known = known or {}
    level = 1
    while len(children) > 1:
        parents: list[Child] = []
        cur: list[Child] = []

        def close() -> None:
            old = known.get(tuple(c.key for c in cur))
            parents.append(old if old is not None else _node_child(cur, level, sink))

        for c in children:
            cur.append(c)
            if _node_boundary(_path_hash(c.last), level):
                close()
                cur = []
        if cur:
            close()
        children = parents
        level += 1
    return children[0]


def _root(top: Child) -> Root:
    return Root(top.key, "blake3:" + top.ident, top.count, top.size)


def build(entries: Iterable[Entry], sink: ChunkSink) -> Root:
    """Chunk entries, already sorted by path with unique paths, writing each chunk to ``sink``."""
    leaves = _chunk_leaves(entries, sink)
    if not leaves:
        leaves = [_leaf_child([], sink)]
    return _root(_build_levels(leaves, sink))


def empty_root() -> Root:
    return build([], lambda k, d: None)


class Manifest:
    """Read access to a stored manifest tree through a chunk loader."""

    def __init__(self, root_key: str, load: ChunkLoader) -> None:
        self.root_key = root_key
        self._load = load

    def _get(self, key: str) -> dict:
        data = self._load([key]).get(key)
        if data is None:
            from .errors import StoreError

            raise StoreError(f"manifest chunk {key} is missing from the store: the store is damaged; restore it from a backup")
        return _decode(key, data)

    def leaves(self) -> list[Child]:
        """Descriptors of every leaf, in path order (reads internal nodes only). Also fills
        ``nodes``: each non-root internal node by the keys of its children."""
        self.nodes: dict[tuple[str, ...], Child] = {}
        node = self._get(self.root_key)
        if "leaf" in node:
            return [_leaf_child([Entry.from_row(r) for r in node["leaf"]], lambda k, d: None)]
        frontier = [Child(*c) for c in node["children"]]
        level = node["level"]
        while level > 1:
            loaded = self._load([c.key for c in frontier])
            nxt: list[Child] = []
            for c in frontier:
                kids = [Child(*x) for x in _decode(c.key, loaded[c.key])["children"]]
                self.nodes[tuple(k.key for k in kids)] = c
                nxt.extend(kids)
            frontier = nxt
            level -= 1
        return frontier

    def leaf_entries(self, key: str) -> list[Entry]:
        return [Entry.from_row(r) for r in self._get(key)["leaf"]]

    def __iter__(self) -> Iterator[Entry]:
        leaves = self.leaves()
        for i in range(0, len(leaves), 64):
            keys = [c.key for c in leaves[i : i + 64]]
            loaded = self._load(keys)
            for k in keys:
                for r in _decode(k, loaded[k])["leaf"]:
                    yield Entry.from_row(r)

    def range(self, lo: str, hi: str | None) -> Iterator[Entry]:
        """Entries with lo <= path < hi (hi None: to the end)."""
        leaves = self.leaves()
        lasts = [c.last for c in leaves]
        i = bisect_left(lasts, lo)
        for c in leaves[i:]:
            for e in self.leaf_entries(c.key):
                if e.path < lo:
                    continue
                if hi is not None and e.path >= hi:
                    return
                yield e

    def prefix(self, prefix: str) -> Iterator[Entry]:
        return self.range(prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1) if prefix else None)

    def get(self, path: str) -> Entry | None:
        for e in self.range(path, path + "\0"):
            return e
        return None


def apply_edits(
    manifest: Manifest,
    upserts: Mapping[str, Entry],
    removes: Iterable[str],
    sink: ChunkSink,
) -> Root:
    """A new tree equal to ``manifest`` with ``removes`` deleted and ``upserts`` set.

    Only leaves that hold an edited path are read and rewritten; internal levels are
    re-derived from leaf descriptors (O(n / 128) work, no leaf reads). Unchanged chunks
    come out with the keys they already have, so a sink that skips known keys writes O(k).
    """
    removes = set(removes) - set(upserts)
    edited = sorted(set(upserts) | removes)
    leaves = manifest.leaves()
    if not edited:
        leaves_out = leaves
    else:
        lasts = [c.last for c in leaves]
        touched: dict[int, list[str]] = {}
        for p in edited:
            touched.setdefault(min(bisect_left(lasts, p), len(leaves) - 1), []).append(p)
        leaves_out = []
        carry: list[Entry] = []
        for i, leaf in enumerate(leaves):
            if i not in touched and not carry:
                leaves_out.append(leaf)
                continue
            merged = {e.path: e for e in carry}
            for e in manifest.leaf_entries(leaf.key):
                merged[e.path] = e
            for p in touched.get(i, ()):
                if p in upserts:
                    merged[p] = upserts[p]
                else:
                    merged.pop(p, None)
            ordered = [merged[p] for p in sorted(merged)]
            carry = []
            cur: list[Entry] = []
            for e in ordered:
                cur.append(e)
                if _leaf_boundary(e.path):
                    leaves_out.append(_leaf_child(cur, sink))
                    cur = []
            carry = cur
        if carry:
            leaves_out.append(_leaf_child(carry, sink))
        if not leaves_out:
            leaves_out = [_leaf_child([], sink)]
    return _root(_build_levels(leaves_out, sink, manifest.nodes))


def diff(old: Manifest | None, new: Manifest) -> Iterator[tuple[str, Entry | None, Entry | None]]:
    """(path, old entry, new entry) for every path that differs; skips identical leaves."""
    old_leaves = old.leaves() if old is not None else []
    new_leaves = new.leaves()
    same = {c.key for c in old_leaves} & {c.key for c in new_leaves}
    a = {e.path: e for c in old_leaves if c.key not in same for e in old.leaf_entries(c.key)}  # type: ignore[union-attr]
    b = {e.path: e for c in new_leaves if c.key not in same for e in new.leaf_entries(c.key)}
    for p in sorted(set(a) | set(b)):
        ea, eb = a.get(p), b.get(p)
        if ea is None or eb is None or ea.digest != eb.digest or ea.ref != eb.ref:
            yield p, ea, eb


__all__ = ["Entry", "Child", "Root", "Manifest", "build", "apply_edits", "diff", "empty_root"]
