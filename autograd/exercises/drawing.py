"""The learner's graph drawn by ``autograd.draw``, the learner's grads beside the engine's."""
from __future__ import annotations

from autograd import draw

from .engine_side import Ours, graph_named

BIG = 20
"""A graph with more named nodes than this (the 2-2-2 network) is drawn without the flows on its
edges and at its natural size: it is several thousand points wide even top to bottom."""


def draw_result(result):   # a report.GraphResult
    """The graph of ``result`` with the learner's gradients given (``draw`` marks the boxes
    where they differ from the engine's) and the paths to the entry node highlighted; a big
    graph at its natural size (a file to zoom into; Jupyter's view scales it to the column).
    None for a result without gradients or a graph too big to lay out."""
    if not result.grads:
        return None
    ours = Ours(graph_named(result.graph))
    given = {ours.nodes[name]: g for name, g in result.grads.items()
             if name in ours.nodes and g is not None}
    entry = ours.nodes.get(result.entry.node) if result.entry is not None else None
    big = len(ours.nodes) > BIG
    try:
        # Top to bottom: a box holds four numbers, so left to right runs wide very soon.
        dot = draw(ours.root, grads=given, highlight=entry, rankdir="TB", flows=not big)
    except ValueError:   # more nodes than a drawing can show (the 5,000-deep chain)
        return None
    if big:
        dot.graph_attr.pop("size", None)
    return dot
