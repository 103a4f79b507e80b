"""A layered (Sugiyama-style) layout of a lineage graph, computed on the server and drawn
as SVG by the template: columns by hop distance (ancestors left, descendants right), the
order inside each column by repeated barycentre sweeps to cut edge crossings, and one
cubic curve per edge. Boxes have a fixed size, so 200 nodes stay legible; the page pans and
zooms the drawing (``static/lineage.js``)."""

from __future__ import annotations

from dataclasses import dataclass

from ..engine.lineage import Graph, Node

BOX_W, BOX_H = 190, 46
GAP_X, GAP_Y = 70, 14
SWEEPS = 6


@dataclass(frozen=True)
class Box:
    node: Node
    x: int
    y: int


@dataclass(frozen=True)
class Layout:
    boxes: list[Box]
    edges: list[str]  # SVG path data, one per edge
    width: int
    height: int
    box_w: int = BOX_W
    box_h: int = BOX_H


def _order(g: Graph, layers: dict[int, list[str]]) -> None:
    """Reorder each layer by the mean position of its neighbours in the layer before it,
    sweeping right then left, a few times (the barycentre heuristic)."""
    near: dict[str, list[str]] = {k: [] for k in g.nodes}
    for a, b in g.edges:
        near[a].append(b)
        near[b].append(a)
    keys = sorted(layers)
    for sweep in range(SWEEPS):
        seq = keys if sweep % 2 == 0 else list(reversed(keys))
        for prev, cur in zip(seq, seq[1:]):
            pos = {k: i for i, k in enumerate(layers[prev])}

            def centre(k: str, pos: dict[str, int] = pos) -> float:
                ps = [pos[n] for n in near[k] if n in pos]
                return sum(ps) / len(ps) if ps else float("inf")

            here = {k: i for i, k in enumerate(layers[cur])}
            layers[cur].sort(key=lambda k: (centre(k), here[k]))


def layout(g: Graph) -> Layout:
    layers: dict[int, list[str]] = {}
    for key, node in g.nodes.items():  # insertion order: the walk's (a stable start)
        layers.setdefault(node.layer, []).append(key)
    _order(g, layers)
    tallest = max(len(v) for v in layers.values())
    height = tallest * (BOX_H + GAP_Y) - GAP_Y
    first = min(layers)
    at: dict[str, tuple[int, int]] = {}
    boxes = []
    for layer, keys in sorted(layers.items()):
        x = (layer - first) * (BOX_W + GAP_X)
        top = (height - (len(keys) * (BOX_H + GAP_Y) - GAP_Y)) // 2  # each column centred
        for i, key in enumerate(keys):
            y = top + i * (BOX_H + GAP_Y)
            at[key] = (x, y)
            boxes.append(Box(g.nodes[key], x, y))
    paths = []
    for a, b in g.edges:
        (ax, ay), (bx, by) = at[a], at[b]
        if ax < bx:  # the usual case: left to right
            x1, y1, x2, y2 = ax + BOX_W, ay + BOX_H // 2, bx, by + BOX_H // 2
        else:  # a cycle (a run that used what it wrote) or a same-column edge: loop around
            x1, y1, x2, y2 = ax + BOX_W // 2, ay + BOX_H, bx + BOX_W // 2, by + BOX_H
        bend = max(abs(x2 - x1) // 2, 40)
        if ax < bx:
            paths.append(f"M{x1},{y1} C{x1 + bend},{y1} {x2 - bend},{y2} {x2},{y2}")
        else:
            paths.append(f"M{x1},{y1} C{x1},{y1 + bend} {x2},{y2 + bend} {x2},{y2}")
    width = (max(layers) - first + 1) * (BOX_W + GAP_X) - GAP_X
    return Layout(boxes, paths, width, height)
