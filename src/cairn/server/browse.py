"""What the web UI shows of a manifest, computed in time that grows with the page, not the
artifact: one folder level at a time, diffs grouped by kind, and the lineage graph layout.

A folder listing walks the leaves of the prolly tree and skips each sub-folder in one
bisect, so a page of 200 children of a folder holding 1M files reads a handful of leaves
(measured: ~15 ms for a page of a 1M-entry manifest once its leaf descriptors are cached).

Folders are listed before files at any size. The sub-folder names of a folder are found once
per (manifest, folder) by that same walk, which skips every sub-folder's contents but must read
the leaves of the folder's own files (a sub-folder's name can sort between any two files), and
are kept in ``ManifestCache`` (only the names: memory grows with the number of sub-folders, not
of files; bench/ui_pages.py measures the first and later pages of a 1M-entry version).
"""

from __future__ import annotations

import threading
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import TypeVar

from ..core.manifest import Child, Entry, Manifest, diff

V = TypeVar("V")

PAGE_SIZE = 200
FOLDER_NAMES_MAX = 200_000  # sub-folders of one folder kept to list them first; more: path order
PREFETCH = 64  # leaves loaded per call while a folder's own files are scanned for its sub-folders
FOLDER_NAMES_CACHED = 1_000_000  # sub-folder names kept in all (~100 MB at worst), least recently used dropped
_AFTER_SLASH = chr(ord("/") + 1)  # "a0" sorts right after every "a/…" path


def prefix_end(prefix: str) -> str | None:
    """The smallest string greater than every string starting with ``prefix`` (None: no bound)."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1) if prefix else None


class ManifestCache:
    """Leaf descriptors and leaf entries by chunk key. Chunks are content-addressed and
    immutable, so entries never go stale; the caps bound memory (a 1M-entry manifest has
    ~8K leaf descriptors, ~2 MB)."""

    def __init__(self, max_trees: int = 16, max_leaves: int = 512) -> None:
        self._trees: OrderedDict[str, list[Child]] = OrderedDict()
        self._leaves: OrderedDict[str, list[Entry]] = OrderedDict()
        self._folders: OrderedDict[tuple[str, str], list[str] | None] = OrderedDict()
        self._folder_names = 0
        self._max_trees, self._max_leaves = max_trees, max_leaves
        # pages run on a thread pool: the caches are shared, so their bookkeeping is locked
        # (what fills them runs outside the lock; two threads may both fill one key, harmlessly)
        self._lock = threading.Lock()

    def leaves(self, m: Manifest) -> list[Child]:
        return self._get(self._trees, self._max_trees, m.root_key, m.leaves)

    def entries(self, m: Manifest, key: str) -> list[Entry]:
        return self._get(self._leaves, self._max_leaves, key, lambda: m.leaf_entries(key))

    def folders(self, m: Manifest, path: str, find: Callable[[], list[str] | None]) -> list[str] | None:
        """The sub-folder names of folder ``path`` of ``m`` (None: more than ``FOLDER_NAMES_MAX``)."""
        key = (m.root_key, path)
        with self._lock:
            if key in self._folders:
                self._folders.move_to_end(key)
                return self._folders[key]
        names = find()
        with self._lock:
            if key not in self._folders:
                self._folders[key] = names
                self._folder_names += len(names or ())
            while self._folder_names > FOLDER_NAMES_CACHED and len(self._folders) > 1:
                _, dropped = self._folders.popitem(last=False)
                self._folder_names -= len(dropped or ())
        return names

    def holds(self, key: str) -> bool:
        with self._lock:
            return key in self._leaves

    def prefetch(self, m: Manifest, keys: list[str]) -> None:
        """Load those of the leaves ``keys`` not held yet in one call (at most the cache's cap)."""
        with self._lock:
            missing = [k for k in dict.fromkeys(keys) if k not in self._leaves][: self._max_leaves]
        if not missing:
            return
        loaded = m.leaf_entries_many(missing)
        with self._lock:
            for k in missing:
                self._leaves[k] = loaded[k]
            while len(self._leaves) > self._max_leaves:
                self._leaves.popitem(last=False)

    def _get(self, store: OrderedDict[str, V], cap: int, key: str, make: Callable[[], V]) -> V:
        with self._lock:
            if key in store:
                store.move_to_end(key)
                return store[key]
        value = make()
        with self._lock:
            store[key] = value
            while len(store) > cap:
                store.popitem(last=False)
        return value


@dataclass
class Folder:
    name: str  # "sub/"
    files: int
    size: int


@dataclass
class Listing:
    """One page of the children of ``path`` (a folder, "" for the root), in path order."""

    path: str
    rows: list[Folder | Entry] = field(default_factory=list)
    next_after: str | None = None  # the cursor of the next page
    files: int = 0  # everything below path
    size: int = 0
    folders_first: bool = True


class Tree:
    """A manifest seen through the cache, with the folder-level reads the UI needs."""

    def __init__(self, manifest: Manifest, cache: ManifestCache) -> None:
        self.m, self.cache = manifest, cache
        self.leaves = cache.leaves(manifest)
        self.lasts = [c.last for c in self.leaves]

    def _entries(self, i: int) -> list[Entry]:
        return self.cache.entries(self.m, self.leaves[i].key)

    def stats(self, lo: str, hi: str | None) -> tuple[int, int]:
        """(files, bytes) with lo <= path < hi: whole leaves by their descriptors, at most
        the two boundary leaves read."""
        files = size = 0
        i = bisect_left(self.lasts, lo)
        while i < len(self.leaves):
            leaf = self.leaves[i]
            first_inside = i > 0 and self.lasts[i - 1] >= lo
            last_inside = hi is None or leaf.last < hi
            if first_inside and last_inside:
                files, size = files + leaf.count, size + leaf.size
            else:
                for e in self._entries(i):
                    if e.path >= lo and (hi is None or e.path < hi):
                        files, size = files + 1, size + e.size
            if not last_inside:
                break
            i += 1
        return files, size

    def get(self, path: str) -> Entry | None:
        i = bisect_left(self.lasts, path)
        if i == len(self.leaves):
            return None
        for e in self._entries(i):
            if e.path == path:
                return e
        return None

    def is_folder(self, prefix: str) -> bool:
        i = bisect_left(self.lasts, prefix)
        if i == len(self.leaves):
            return False
        entries = self._entries(i)
        j = bisect_left([e.path for e in entries], prefix)
        return j < len(entries) and entries[j].path.startswith(prefix)

    def _children(self, path: str, pos: str, ahead: int = 0) -> Iterator[str | Entry]:
        """The children of folder ``path`` from ``pos`` on, in path order: a sub-folder as its
        name ("sub/", skipped past in one bisect), a file as its entry. ``ahead``: when the
        walk steps from a leaf to the next (a run of the folder's own files), load that many
        leaves in one call (one query, not one each: the folder-names scan of a flat folder)."""
        hi = prefix_end(path)
        i = bisect_left(self.lasts, pos)
        while i < len(self.leaves):
            entries = self._entries(i)
            paths = [e.path for e in entries]
            j = bisect_left(paths, pos)
            moved = False
            while j < len(entries):
                e = entries[j]
                if hi is not None and e.path >= hi:
                    return
                rest = e.path[len(path) :]
                if "/" in rest:
                    name = rest.split("/", 1)[0]
                    pos = path + name + _AFTER_SLASH
                    yield name + "/"
                    if pos > self.lasts[i]:  # the folder runs past this leaf: jump
                        i = bisect_left(self.lasts, pos, i + 1)
                        moved = True
                        break
                    j = bisect_left(paths, pos, j + 1)
                else:
                    yield e
                    j += 1
            if not moved:
                i += 1
                if i < len(self.leaves):
                    pos = max(pos, self.lasts[i - 1] + "\0")
                    if ahead and not self.cache.holds(self.leaves[i].key):  # the next batch
                        self.cache.prefetch(self.m, [c.key for c in self.leaves[i : i + ahead]])

    def folder_names(self, path: str) -> list[str] | None:
        """The names ("sub/") of the sub-folders of folder ``path``, in order, found once per
        manifest and folder (``ManifestCache.folders``); None when there are more than
        ``FOLDER_NAMES_MAX``."""

        def find() -> list[str] | None:
            names: list[str] = []
            for x in self._children(path, path, ahead=PREFETCH):
                if isinstance(x, str):
                    names.append(x)
                    if len(names) > FOLDER_NAMES_MAX:
                        return None
            return names

        return self.cache.folders(self.m, path, find)

    def listing(self, path: str, after: str | None = None, limit: int = PAGE_SIZE) -> Listing:
        """Children of folder ``path`` after the cursor ``after`` (a child name; folders end
        in '/'): sub-folders first, then files, each in path order. A folder with more than
        ``FOLDER_NAMES_MAX`` sub-folders lists in plain path order instead;
        ``Listing.folders_first`` says which."""
        hi = prefix_end(path)
        out = Listing(path)
        out.files, out.size = self.stats(path, hi)
        folders = self.folder_names(path)
        out.folders_first = folders is not None

        def at(cursor: str) -> str:
            return path + cursor[:-1] + _AFTER_SLASH if cursor.endswith("/") else path + cursor + "\0"

        found: list[str | Entry]
        if folders is None:
            found = list(islice(self._children(path, at(after) if after else path), limit + 1))
        else:
            found = []
            if not after or after.endswith("/"):
                k = bisect_right(folders, after) if after else 0
                found += folders[k : k + limit + 1]
                files_from = path
            else:
                files_from = at(after)
            if len(found) <= limit:
                files = (x for x in self._children(path, files_from) if not isinstance(x, str))
                found += islice(files, limit + 1 - len(found))
        for x in found[:limit]:
            if isinstance(x, str):
                out.rows.append(Folder(x, *self.stats(path + x, path + x[:-1] + _AFTER_SLASH)))
            else:
                out.rows.append(x)
        if len(found) > limit:
            last = out.rows[-1]
            out.next_after = last.name if isinstance(last, Folder) else last.path[len(path) :]
        return out


def child_name(row: Folder | Entry, path: str) -> str:
    return row.name if isinstance(row, Folder) else row.path[len(path) :]


# -- diffs ---------------------------------------------------------------------------


@dataclass
class Change:
    path: str
    kind: str  # "added" | "removed" | "changed"
    old: Entry | None
    new: Entry | None

    @property
    def entry(self) -> Entry:
        """The entry as it is now, or as it was for a removed path."""
        e = self.new or self.old
        assert e is not None, "a change has an old or a new side"
        return e

    @property
    def delta(self) -> int:
        return (self.new.size if self.new else 0) - (self.old.size if self.old else 0)


def changes(old: Manifest, new: Manifest) -> list[Change]:
    """Every changed path of ``old`` → ``new``; identical leaves are never read."""
    out = []
    for path, a, b in diff(old, new):
        kind = "added" if a is None else "removed" if b is None else "changed"
        out.append(Change(path, kind, a, b))
    return out


# -- lineage ---------------------------------------------------------------------------


@dataclass
class Node:
    label: str
    sub: str
    href: str | None
    kind: str  # "run" | "version" | "more" | "none" (placeholder)
    current: bool = False


@dataclass
class Box:
    node: Node
    x: int
    y: int


@dataclass
class Graph:
    width: int
    height: int
    boxes: list[Box]
    edges: list[tuple[str, bool]]  # (SVG path data, to a placeholder)
    box_w: int
    box_h: int


MAX_SIDE = 8
BOX_W, BOX_H, GAP_X, GAP_Y = 210, 46, 90, 14


def _side(nodes: list[Node], more_href: str | None) -> list[Node]:
    if len(nodes) <= MAX_SIDE:
        return nodes
    rest = len(nodes) - (MAX_SIDE - 1)
    return nodes[: MAX_SIDE - 1] + [Node(f"+{rest} more", "see the list below", more_href, "more")]


def layout(
    left: list[Node],
    center: Node,
    right: list[Node],
    *,
    more_href: str | None = None,
    no_left: str = "none",
    no_right: str = "none",
) -> Graph:
    """Three columns (inputs → center → outputs), each vertically centred, with curved edges.
    An empty side shows one dashed placeholder labelled ``no_left`` / ``no_right``."""
    left = _side(left, more_href) or [Node(no_left, "", None, "none")]
    right = _side(right, more_href) or [Node(no_right, "", None, "none")]
    rows = max(len(left), len(right), 1)
    height = rows * BOX_H + (rows - 1) * GAP_Y
    cols = (left, [center], right)
    xs = [0, BOX_W + GAP_X, 2 * (BOX_W + GAP_X)]
    boxes: list[list[Box]] = []
    for x, col in zip(xs, cols):
        h = len(col) * BOX_H + max(len(col) - 1, 0) * GAP_Y
        top = (height - h) // 2
        boxes.append([Box(n, x, top + k * (BOX_H + GAP_Y)) for k, n in enumerate(col)])
    edges: list[tuple[str, bool]] = []
    mid = boxes[1][0]

    def curve(x1: int, y1: int, x2: int, y2: int) -> str:
        cx = (x1 + x2) // 2
        return f"M{x1},{y1} C{cx},{y1} {cx},{y2} {x2},{y2}"

    for b in boxes[0]:
        edges.append((curve(b.x + BOX_W, b.y + BOX_H // 2, mid.x, mid.y + BOX_H // 2), b.node.kind == "none"))
    for b in boxes[2]:
        edges.append((curve(mid.x + BOX_W, mid.y + BOX_H // 2, b.x, b.y + BOX_H // 2), b.node.kind == "none"))
    return Graph(xs[2] + BOX_W, height, [b for col in boxes for b in col], edges, BOX_W, BOX_H)


def clip(text: str, n: int = 26) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


__all__ = ["ManifestCache", "Tree", "Listing", "Folder", "Change", "changes", "Node", "Graph", "layout", "clip"]
