"""A lineage graph over several hops: from a version or a run, its ancestry (the runs that
wrote a version, every writer of a distributed one; the versions a run used) and its
descendants (the runs that used a version; the versions a run wrote).

The walk is breadth-first, ``depth`` hops each way, and never leaves what the caller may
see: ``visible(entity)`` is asked before a node is taken, and a node it refuses is neither
shown nor walked through, nor counted. A node with more than ``fanout`` neighbours one way
keeps them as one counted group (its members are not walked) unless the caller asked to
expand it. ``max_nodes`` bounds the whole graph.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..core.names import run_path
from ..core.versions import COMMITTED, RunInfo, VersionInfo
from ..storage.meta.sql import MetaStore
from . import records, runs

UP, DOWN = -1, 1


@dataclass(frozen=True)
class Node:
    key: str  # "v:<version id>", "r:<run path>" or "g:<parent key>:<up|down>"
    kind: str  # version | run | group
    layer: int  # hops from the focus: negative upstream, positive downstream
    version: VersionInfo | None = None
    run: RunInfo | None = None
    count: int = 0  # of a group: how many nodes it holds
    member_kind: str = ""  # of a group: run | version


@dataclass
class Graph:
    focus: str
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[tuple[str, str]] = field(default_factory=list)  # (from, to) in the direction data flows
    truncated: bool = False  # max_nodes reached: some nodes are left out


def _versions(ms: MetaStore, where: str, params: dict) -> list[VersionInfo]:
    with ms.read() as tx:
        return [v for v in records.versions_where(tx, where, params, order="v.id") if v.state == COMMITTED]


def _runs(ms: MetaStore, where: str, params: dict) -> list[RunInfo]:
    with ms.read() as tx:
        return records.runs_where(tx, where, params)


def producers(ms: MetaStore, version_id: int) -> list[RunInfo]:
    """Every run that wrote the version (each writer of a distributed version)."""
    return _runs(ms, runs.WROTE, {"v": version_id})


def run_key(r: RunInfo) -> str:
    """A run's node key: its path (a run id is unique within its project only)."""
    return "r:" + run_path(r.entity, r.project, r.id)


def _neighbours(ms: MetaStore, node: Node, direction: int) -> list[Node]:
    layer = node.layer + direction
    if node.kind == "version":
        assert node.version is not None
        vid = node.version.link_of or node.version.id  # a link's lineage is its source's
        found_runs = producers(ms, vid) if direction == UP else _runs(ms, runs.USED, {"v": node.version.id})
        return [Node(run_key(r), "run", layer, run=r) for r in found_runs]
    assert node.run is not None
    table = "usages" if direction == UP else "outputs"
    r = node.run
    with ms.read() as tx:
        pid = records.project_id(tx, r.entity, r.project)
    found = _versions(ms, runs.OF_RUN.format(table=table), {"pid": pid, "rid": r.id})
    return [Node(f"v:{v.id}", "version", layer, version=v) for v in found]


def _entity(n: Node) -> str:
    if n.version is not None:
        return n.version.entity
    assert n.run is not None
    return n.run.entity


def walk(
    ms: MetaStore,
    focus: VersionInfo | RunInfo,
    depth: int,
    visible: Callable[[Node], bool],
    expand: frozenset[str] = frozenset(),
    fanout: int = 12,
    max_nodes: int = 600,
) -> Graph:
    """The graph around ``focus`` (see the module's docstring). ``visible(node)`` decides
    whether the caller may see a node (its entity, and for a link its source's)."""
    if isinstance(focus, VersionInfo):
        start = Node(f"v:{focus.id}", "version", 0, version=focus)
    else:
        start = Node(run_key(focus), "run", 0, run=focus)
    g = Graph(start.key, {start.key: start})
    edges: set[tuple[str, str]] = set()
    for direction in (UP, DOWN):
        frontier = [start]
        for _ in range(depth):
            nxt: list[Node] = []
            for node in frontier:
                near = [n for n in _neighbours(ms, node, direction) if visible(n)]
                group_key = f"g:{node.key}:{'up' if direction == UP else 'down'}"
                if len(near) > fanout and group_key not in expand:
                    fresh = [n for n in near if n.key not in g.nodes]
                    linked = [n for n in near if n.key in g.nodes]
                    for n in linked:  # already drawn elsewhere: an edge, not a group member
                        edges.add(_edge(node.key, n.key, direction))
                    if fresh:
                        kinds = {n.kind for n in fresh}
                        g.nodes[group_key] = Node(
                            group_key,
                            "group",
                            node.layer + direction,
                            count=len(fresh),
                            member_kind=kinds.pop() if len(kinds) == 1 else "node",
                        )
                        edges.add(_edge(node.key, group_key, direction))
                    continue
                for n in near:
                    if n.key not in g.nodes:
                        if len(g.nodes) >= max_nodes:
                            g.truncated = True
                            continue
                        g.nodes[n.key] = n
                        nxt.append(n)
                    edges.add(_edge(node.key, n.key, direction))
            frontier = nxt
            if not frontier:
                break
    g.edges = sorted(edges)
    return g


def _edge(near: str, far: str, direction: int) -> tuple[str, str]:
    return (far, near) if direction == UP else (near, far)
