"""One graphviz layout of a view: where each box sits and the spline of each edge.

Graphviz only places boxes of a size we choose (no text reaches it, so no label needs DOT
escaping); the page draws the text itself. Big views get a layout budget so that dot finishes in
seconds: fewer network-simplex and crossing-minimisation rounds, straight edges past a size.

Two layout sources read the same DOT and answer in the same ``plain`` format: the ``dot``
program (the default), or any function ``source -> plain text`` passed as ``layout=``, such as
Graphviz compiled to WebAssembly in a browser page.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Hashable, Iterable

from ..drawing import require_graphviz

LayoutSource = Callable[[str], str]
"""Lays out one DOT graph and answers graphviz's ``plain`` text."""


CHAR = 7.8      # points per character of the page's 13-point text (a little generous)
LINE = 16.5     # points per line of text
PAD = 14.0      # points of padding inside a box, both sides together
DENSE = 400     # edges past which dot places the boxes along a thinned set of edges


@dataclass
class Layout:
    """A view's boxes ``(kind, ref, x, y, w, h, count)`` (centre, size in points; ``count`` of
    values inside a cluster box) and its edges ``[box, box, path]`` (indices into boxes; path
    None for a straight line from one box's side to the other's)."""

    key: str
    width: float
    height: float
    boxes: list[tuple]
    edges: list[list]


def box_size(lines: Iterable[str]) -> tuple[float, float]:
    lines = list(lines)
    return max(len(s) for s in lines) * CHAR + PAD, len(lines) * LINE + 10.0


def budget(n: int) -> dict[str, str]:
    """Graph attributes that bound dot's work on ``n`` boxes (crossing minimisation and
    network simplex rounds; straight edges past a size)."""
    attrs = {"rankdir": "LR", "nodesep": "0.18", "ranksep": "0.45", "outputorder": "edgesfirst"}
    if n > 150:
        attrs.update(nslimit="4", nslimit1="4", mclimit="0.3", searchsize="30",
                     remincross="false")
    if n > 600:
        attrs.update(splines="line", nslimit="1", nslimit1="1", mclimit="0.1")
    return attrs


@dataclass
class Job:
    """One view to lay out: its DOT source and what reading dot's answer needs."""

    key: str
    source: str
    boxes: list
    counts: dict
    pairs: list
    thin: bool


def prepare(key: str, units: dict[int, tuple[str, Any]], links: list[tuple[int, int]],
            sizes: dict[Hashable, tuple[float, float]]) -> Job:
    """The DOT for the boxes standing for ``units`` (value id → its box) with an edge for
    every link between two different boxes; ``sizes`` gives each box's (width, height)."""
    boxes = list(dict.fromkeys(units.values()))
    number = {b: k for k, b in enumerate(boxes)}
    counts: dict[Any, int] = {}
    for b in units.values():
        counts[b] = counts.get(b, 0) + 1
    pairs = list(dict.fromkeys((number[units[s]], number[units[t]]) for s, t in links
                               if s in units and t in units and units[s] != units[t]))
    # Dense views (a neuron's weights feeding a hundred examples) would spend minutes in dot's
    # crossing minimisation: dot then sees one edge into each box, from the input that sets its
    # rank, and the page draws every edge as a straight line between the boxes.
    thin = len(pairs) > DENSE
    laid = _spanning(len(boxes), pairs) if thin else pairs
    # Only numbers and our own names reach DOT, so it is written directly (nothing to escape).
    lines = ["digraph {", *(f"  {k}={v}" for k, v in budget(len(boxes)).items()),
             '  node [shape=box fixedsize=true label=""]', "  edge [arrowsize=0.7]"]
    for k, b in enumerate(boxes):
        w, h = sizes[b]
        lines.append(f"  b{k} [width={w / 72:.3f} height={h / 72:.3f}]")
    lines.extend(f"  b{s} -> b{t}" for s, t in laid)
    lines.append("}")
    source = "\n".join(lines) + "\n"
    return Job(key, source, boxes, counts, pairs, thin)


def lay_out(jobs: list[Job], layout: LayoutSource | None = None) -> list[Layout]:
    """Every view laid out: by ``layout`` one view at a time, or by the dot program, all views
    in two processes (one per core), as one process per small view would cost more to start
    than to run."""
    if layout is not None:
        return [_finish(j, layout(j.source)) for j in jobs]
    halves = [jobs[0::2], jobs[1::2]]
    with ThreadPoolExecutor(max_workers=2) as pool:
        texts = list(pool.map(_run, halves))
    done = {id(j): t for half, text in zip(halves, texts) for j, t in zip(half, text)}
    return [_finish(j, done[id(j)]) for j in jobs]


def _run(jobs: list[Job]) -> list[str]:
    if not jobs:
        return []
    # dot reads one graph after another and answers each with a plain block ending in "stop".
    sources = "\n".join(j.source for j in jobs).encode("utf-8")
    text = require_graphviz("explore").pipe("dot", "plain", sources)
    blocks = text.decode("ascii").split("stop\n")
    return blocks[:len(jobs)]


def _finish(job: Job, text: str) -> Layout:
    out = _read_plain(job.key, text, job.boxes, job.counts)
    if job.thin:
        out.edges = [[s, t, None] for s, t in job.pairs]  # straight: the page draws them
    return out


def _spanning(n: int, pairs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """One edge into each box from the input farthest along a longest path, so dot ranks the
    boxes as the full graph would. Cycles (possible between clusters) are cut where found."""
    into: list[list[int]] = [[] for _ in range(n)]
    out: list[list[int]] = [[] for _ in range(n)]
    for s, t in pairs:
        into[t].append(s)
        out[s].append(t)
    waiting = [len(x) for x in into]
    rank, best, done = [0] * n, [-1] * n, [False] * n
    ready = [k for k in range(n) if not waiting[k]]
    left = n
    while left:
        if not ready:  # a cycle: take the box with the fewest unmet inputs
            ready = [min((k for k in range(n) if not done[k]), key=lambda k: (waiting[k], k))]
        k = ready.pop()
        if done[k]:
            continue
        done[k], left = True, left - 1
        for t in out[k]:
            if done[t]:
                continue
            if best[t] < 0 or rank[k] + 1 > rank[t]:
                rank[t], best[t] = rank[k] + 1, k
            waiting[t] -= 1
            if not waiting[t]:
                ready.append(t)
    return [(best[t], t) for t in range(n) if best[t] >= 0]


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
