"""Loss graphs for the playground: compiled batch graphs for training, an eager one per example.

Training replays compiled graphs (``autograd.compile``) whose inputs and targets are leaves,
refilled before every step. Generating the replay code costs about 7 ms per example (Python's own
compiler), so a batch of any size is cut into pieces of 32, 16, 8, 4, 2 and 1 examples: at most
six graphs per network, each compiled once, serve every batch size, and adding or removing a point
never waits for a compile. The pieces' gradients add up in the weights' ``grad``, each backward
seeded with its share of the mean.

A target enters as a leaf through an identity of the loss: with s = 1 − 2y,
bce(z, y) = softplus(s·z) = bce(s·z, 0); with t = 2y − 1, hinge(z, y) = hinge(t·z, 1) and
(z − t)² = mse(z − t, 0); for classes, a permutation whose first row picks the true class moves
it to index 0, and the log-sum-exp over all classes is unchanged.
"""
from __future__ import annotations

from typing import Sequence

import autograd
from autograd import Value
from nn import MLP, losses

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


CHUNK = 32


def pieces(n: int) -> list[int]:
    """Sizes that add up to ``n``: as many CHUNKs as fit, then powers of two, largest first."""
    rest = n % CHUNK
    return [CHUNK] * (n // CHUNK) + [1 << k for k in reversed(range(CHUNK.bit_length()))
                                     if rest & (1 << k)]


class Batches:
    """Forward and backward over any list of points, on compiled graphs of a few sizes."""

    def __init__(self, model: MLP, loss: str, classes: int) -> None:
        self.model, self.loss, self.classes = model, loss, classes
        self.graphs: dict[int, BatchGraph] = {}

    def run(self, points: Sequence[Point], backward: bool = False) -> tuple[float, int]:
        """Mean loss over ``points`` and the number right; with ``backward``, add the gradient
        of that mean into every leaf's ``grad``."""
        n, start, total, hits = len(points), 0, 0.0, 0
        for size in pieces(n):
            g = self.graphs.get(size)
            if g is None:
                g = self.graphs[size] = BatchGraph(self.model, self.loss, self.classes, size)
            g.load(points[start:start + size])
            loss, right = g.evaluate()
            if backward:
                g.compiled.backward(size / n)
            total += loss * size / n
            hits += right
            start += size
        return total, hits


class BatchGraph:
    """``size`` examples through ``model`` and ``loss``, compiled once, refilled each step."""

    def __init__(self, model: MLP, loss: str, classes: int, size: int) -> None:
        self.classes = classes
        self.inputs = [[Value(0.0, label="x1"), Value(0.0, label="x2")] for _ in range(size)]
        self.outputs = [model(x) for x in self.inputs]
        if classes == 2:
            self.targets = [Value(0.0, label="t") for _ in range(size)]
            root = self._binary(loss)
        else:
            self.targets = [[[Value(0.0) for _ in range(classes)] for _ in range(classes)]
                            for _ in range(size)]
            logits = [[autograd.dot(row, out) for row in rows]
                      for rows, out in zip(self.targets, self.outputs)]
            root = losses.softmax_cross_entropy(logits, [0] * size)
        self.loss = loss
        self.compiled = autograd.compile(root)

    def _binary(self, loss: str) -> Value:
        pairs = list(zip(self.targets, self.outputs))
        zeros = [0] * len(pairs)
        if loss == "cross-entropy":
            return losses.bce_with_logits([t * z for t, z in pairs], zeros)
        if loss == "hinge":
            return losses.hinge([t * z for t, z in pairs], [1] * len(pairs))
        return losses.mse([z - t for t, z in pairs], zeros)

    def load(self, points: Sequence[Point]) -> None:
        """Put ``points`` (exactly ``size`` of them) into the input and target leaves."""
        for (x1, x2), target, p in zip(self.inputs, self.targets, points):
            x1.data, x2.data = p.x, p.y
            if self.classes == 2:
                y = p.label
                target.data = (1.0 - 2.0 * y) if self.loss == "cross-entropy" else (2.0 * y - 1.0)
            else:
                order = [p.label] + [k for k in range(self.classes) if k != p.label]
                for row, k in zip(target, order):
                    for j, leaf in enumerate(row):
                        leaf.data = 1.0 if j == k else 0.0

    def evaluate(self) -> tuple[float, int]:
        """Replay the forward pass: the mean loss and how many examples are classified right."""
        loss = self.compiled.forward()
        hits = 0
        for out, target in zip(self.outputs, self.targets):
            hits += self._correct(out, target)
        return loss, hits

    def _correct(self, out, target) -> bool:
        value = self.compiled.value
        if self.classes == 2:
            label = target.data < 0 if self.loss == "cross-entropy" else target.data > 0
            return (value(out) > 0) == label
        scores = self.compiled.values(out)
        label = next(j for j, leaf in enumerate(target[0]) if leaf.data == 1.0)
        return max(range(len(scores)), key=scores.__getitem__) == label
