"""The learner's graph drawn by ``autograd.draw``, the learner's grads beside the engine's."""
from __future__ import annotations

from autograd import draw

from .engine_side import Ours, graph_named
from .report import GraphResult


def draw_result(result: GraphResult):
    """The graph of ``result`` with the learner's gradients given (``draw`` marks the boxes
    where they differ from the engine's) and the paths to the entry node highlighted; None for a
    result without gradients or a graph too big to lay out."""
    if not result.grads:
        return None
    ours = Ours(graph_named(result.graph))
    given = {ours.nodes[name]: g for name, g in result.grads.items()
             if name in ours.nodes and g is not None}
    entry = ours.nodes.get(result.entry.node) if result.entry is not None else None
    try:
        return draw(ours.root, grads=given, highlight=entry)
    except ValueError:   # more nodes than a drawing can show (the 5,000-deep chain)
        return None
