"""Loss graphs for the playground: one example's graph compiled once for training, an eager one
per example for the explorer.

Training replays ``nn.train.example_graph``, the graph ``fit(compile=True)`` trains on: one
example's loss term with the example's inputs and target as leaves, replayed over every point of
a batch in one call (``batch`` for loss and gradients, ``map`` for the outputs). Adding or
removing a point never recompiles anything. The playground's squared error regresses onto ±1
targets, so its labels reach ``nn.losses.mse`` as 2y − 1.

In the site's worker the same graph may instead be replayed by the JavaScript that
``autograd.compile.javascript`` writes for it (``JavaScriptReplay``: the same ``map`` and
``batch`` as a compiled graph), where that JavaScript is exact: bit for bit what the Python
replay computes.
"""
from __future__ import annotations

import logging
from array import array
from dataclasses import replace
from typing import Callable, Sequence

from autograd import Constant, Value
from autograd.compile import Compiled, JavaScriptUnsupported, javascript
from autograd.engine import data_of
from nn import MLP, losses
from nn.train import example_graph

from .data import Point

log = logging.getLogger("nn.playground")

Loader = Callable[[str], Callable]
"""JavaScript source -> ``run(values, X, rows, out, grads, seed)`` (static/js-replay.js)."""

MIN_ROWS = 4
"""Fewer rows go through the Python replay: a call into JavaScript costs about as much as
replaying two rows in Python (in Pyodide, steps of 1 to 3 rows took about as long either way,
steps of 4 rows or more were faster through JavaScript: ``benchmarks/bench_playground_site.py``)."""


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


class JavaScriptReplay:
    """A compiled graph's ``map`` and ``batch`` run by its exact JavaScript replay, compiled by
    ``load`` (in the site's worker); a call the JavaScript cannot finish (where Python would
    raise) is redone by ``python``, the Python replay of the same graph. Raises
    ``JavaScriptUnsupported`` for a graph whose JavaScript would not be exact."""

    def __init__(self, python: Compiled, load: Loader) -> None:
        js = javascript(python.root, inputs=python.inputs)
        self.python, self.leaves = python, js.leaves
        self.run = load(js.source)
        # The leaves batch adds gradients into: every one but the inputs and the Constants.
        inputs = set(js.inputs)
        self.trained = [(k, leaf) for k, leaf in enumerate(js.leaves)
                        if k not in inputs and not isinstance(leaf, Constant)]

    def map(self, rows) -> list[float]:
        return self._rows(rows, None) or self.python.map(rows)

    def batch(self, rows, gradient: float = 1.0) -> list[float]:
        return self._rows(rows, float(gradient)) or self.python.batch(rows, gradient)

    def _rows(self, rows, seed: float | None) -> list[float] | None:
        """The rows' root values (None where Python must do them: too few rows, or the
        JavaScript says it cannot finish them)."""
        if len(rows) < MIN_ROWS:
            return None
        X = array("d", [v for row in rows for v in row])
        out = array("d", bytes(8 * len(rows)))
        grads = None if seed is None else array("d", [leaf.grad for leaf in self.leaves])
        if self.run(array("d", data_of(self.leaves)), X, len(rows), out, grads, seed or 0.0):
            return None
        if grads is not None:
            for k, leaf in self.trained:
                leaf.grad = grads[k]
        return out.tolist()


_BINARY = {"cross-entropy": losses.bce_with_logits, "hinge": losses.hinge, "squared": losses.mse}


class Batches:
    """Forward and backward over any list of points, on one example's compiled graph."""

    def __init__(self, model: MLP, loss: str, classes: int, load: Loader | None = None) -> None:
        self.loss, self.classes = loss, classes
        self.loss_fn = losses.softmax_cross_entropy if classes > 2 else _BINARY[loss]
        self.graph = example_graph(model, self.loss_fn, [0.0, 0.0])
        self.replay = "C" if self.graph.term.mode == "native" else "Python"
        if load is not None:
            self._javascript(load)

    def _javascript(self, load: Loader) -> None:
        """Replay the graphs in JavaScript where that is exact (else keep the Python replay)."""
        g = self.graph
        try:
            self.graph = replace(g, term=JavaScriptReplay(g.term, load),
                                 scores=JavaScriptReplay(g.scores, load))
        except JavaScriptUnsupported:  # an op whose JavaScript is not bit for bit Python's
            return
        except Exception:  # e.g. EvalError: the worker's policy forbids eval
            log.exception("the JavaScript replay could not be loaded; replaying in Python")
            return
        self.replay = "JS"

    def replay_for(self, rows: int) -> str:
        """What replays a batch of ``rows`` rows: "JS", "C" or "Python"."""
        return "Python" if self.replay == "JS" and rows < MIN_ROWS else self.replay

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
