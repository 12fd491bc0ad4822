"""One graphviz layout of a view: where each box sits and the spline of each edge.

Graphviz only places boxes of a size we choose (no text reaches it, so no label needs DOT
escaping); the page draws the text itself. Big views get a layout budget so that dot finishes in
seconds: fewer network-simplex and crossing-minimisation rounds, straight edges past a size.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Hashable, Iterable

import graphviz

CHAR = 7.8      # points per character of the page's 13-point text (a little generous)
LINE = 16.5     # points per line of text
PAD = 14.0      # points of padding inside a box, both sides together


@dataclass
class Layout:
    """A view's boxes ``(kind, ref, x, y, w, h, count)`` (centre, size in points; ``count`` of
    values inside a cluster box) and its edges ``[box, box, path]`` (indices into boxes)."""

    key: str
    width: float
    height: float
    boxes: list[tuple]
    edges: list[list]


def box_size(lines: Iterable[str]) -> tuple[float, float]:
    lines = list(lines)
    return max(len(s) for s in lines) * CHAR + PAD, len(lines) * LINE + 10.0


def budget(n: int) -> dict[str, str]:
    """Graph attributes that bound dot's work on ``n`` boxes."""
    attrs = {"rankdir": "LR", "nodesep": "0.18", "ranksep": "0.45", "outputorder": "edgesfirst"}
    if n > 150:
        attrs.update(nslimit="4", nslimit1="4", mclimit="0.3", searchsize="30",
                     remincross="false")
    if n > 600:
        attrs.update(splines="line", nslimit="1", nslimit1="1", mclimit="0.1")
    return attrs


def lay_out(key: str, units: dict[int, tuple[str, Any]], links: list[tuple[int, int]],
            sizes: dict[Hashable, tuple[float, float]]) -> Layout:
    """Lay out the boxes standing for ``units`` (value id → its box) with an edge for every
    link between two different boxes; ``sizes`` gives each box's (width, height) in points."""
    boxes = list(dict.fromkeys(units.values()))
    number = {b: k for k, b in enumerate(boxes)}
    counts: dict[Any, int] = {}
    for b in units.values():
        counts[b] = counts.get(b, 0) + 1
    pairs = list(dict.fromkeys((number[units[s]], number[units[t]]) for s, t in links
                               if s in units and t in units and units[s] != units[t]))
    dot = graphviz.Digraph(graph_attr=budget(len(boxes)),
                           node_attr={"shape": "box", "fixedsize": "true", "label": ""},
                           edge_attr={"arrowsize": "0.7"})
    for k, b in enumerate(boxes):
        w, h = sizes[b]
        dot.node(f"b{k}", width=f"{w / 72:.3f}", height=f"{h / 72:.3f}")
    for s, t in pairs:
        dot.edge(f"b{s}", f"b{t}")
    return _read_plain(key, dot.pipe(format="plain").decode("ascii"), boxes, counts)


def _read_plain(key: str, text: str, boxes: list, counts: dict) -> Layout:
    # plain: "graph s w h", "node name x y w h ...", "edge tail head n x1 y1 ... xn yn ...",
    # in inches with y pointing up; the page wants points with y pointing down.
    placed: dict[int, tuple] = {}
    edges, height, width = [], 0.0, 0.0
    for line in text.splitlines():
        f = line.split()
        if not f:
            continue
        if f[0] == "graph":
            width, height = float(f[2]) * 72, float(f[3]) * 72
        elif f[0] == "node":
            k = int(f[1][1:])
            kind, ref = boxes[k]
            placed[k] = (kind, ref, _r(float(f[2]) * 72), _r(height - float(f[3]) * 72),
                         _r(float(f[4]) * 72), _r(float(f[5]) * 72), counts[boxes[k]])
        elif f[0] == "edge":
            n = int(f[3])
            pts = [(float(f[4 + 2 * i]) * 72, height - float(f[5 + 2 * i]) * 72)
                   for i in range(n)]
            edges.append([int(f[1][1:]), int(f[2][1:]), _path(pts)])
    return Layout(key, _r(width), _r(height), [placed[k] for k in range(len(boxes))], edges)


def _r(x: float) -> float:
    return round(x, 1)


def _path(pts: list[tuple[float, float]]) -> str:
    # A B-spline in graphviz's form: a start point, then three control points per piece.
    s = f"M{pts[0][0]:.1f},{pts[0][1]:.1f}"
    for i in range(1, len(pts) - 2, 3):
        s += "C" + " ".join(f"{x:.1f},{y:.1f}" for x, y in pts[i:i + 3])
    return s
