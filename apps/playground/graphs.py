"""Loss graphs for the playground: one example's graph compiled once for training, an eager one
per example for the explorer.

Training replays ``nn.train.example_graph``, the graph ``fit(compile=True)`` trains on: one
example's loss term with the example's inputs and target as leaves, replayed over every point of
a batch in one call (``batch`` for loss and gradients, ``map`` for the outputs). Adding or
removing a point never recompiles anything. The playground's squared error regresses onto ±1
targets, so its labels reach ``nn.losses.mse`` as 2y − 1.
"""
from __future__ import annotations

from typing import Sequence

from autograd import Value
from nn import MLP, losses
from nn.train import example_graph

from .data import Point


def example_loss(model: MLP, loss: str, point: Point) -> Value:
    """The loss of ``model`` on one point, built eagerly with ``nn.losses`` and labelled "loss"."""
    out = model([point.x, point.y])
    if isinstance(out, list):
        value = losses.softmax_cross_entropy([out], [point.label])
    elif loss == "cross-entropy":
        value = losses.bce_with_logits([out], [point.label])
    elif loss == "hinge":
        value = losses.hinge([out], [point.label])
    else:
        value = losses.mse([out], [2.0 * point.label - 1.0])
    value.label = "loss"
    return value


_BINARY = {"cross-entropy": losses.bce_with_logits, "hinge": losses.hinge, "squared": losses.mse}


class Batches:
    """Forward and backward over any list of points, on one example's compiled graph."""

    def __init__(self, model: MLP, loss: str, classes: int) -> None:
        self.loss, self.classes = loss, classes
        self.loss_fn = losses.softmax_cross_entropy if classes > 2 else _BINARY[loss]
        self.graph = example_graph(model, self.loss_fn, [0.0, 0.0])

    def _target(self, p: Point):
        return 2.0 * p.label - 1.0 if self.loss_fn is losses.mse else p.label

    def run(self, points: Sequence[Point], backward: bool = False,
            count: bool = True) -> tuple[float, int | None]:
        """Mean loss over ``points`` and the number right (None without ``count``: a training
        step needs no count, and the outputs for it cost a third of the step); with
        ``backward``, add the gradient of that mean into every weight's ``grad``."""
        n = len(points)
        if not n:
            return 0.0, 0 if count else None
        X = [[p.x, p.y] for p in points]
        rows = self.graph.rows(X, [self._target(p) for p in points])
        if backward:
            # Last to first, as one backward of the mean would add the examples' gradients.
            terms = self.graph.term.batch(rows[::-1], gradient=1.0 / n)[::-1]
        else:
            terms = self.graph.term.map(rows)
        if not count:
            return sum(terms) / n, None
        outs = self.graph.outputs(X, range(n))
        return sum(terms) / n, sum(self._correct(o, p.label) for o, p in zip(outs, points))

    def _correct(self, out, label: int) -> bool:
        if self.classes == 2:
            return (out > 0) == bool(label)
        return max(range(len(out)), key=out.__getitem__) == label
