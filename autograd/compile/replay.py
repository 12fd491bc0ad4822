"""replay: what every compiled graph shares, whichever way it is replayed."""
from __future__ import annotations

import numbers
import operator
from itertools import chain
from typing import Sequence

from ..engine import Constant, Value, data_edits, data_of
from ..graph import dependents

get_data = operator.attrgetter("data")


def data_reader(leaves: Sequence[Value]):
    """A function reading the leaves' ``data`` as a list: the engine's bulk reader where every
    leaf reads ``data`` through Value's own property, else an attribute lookup per leaf."""
    if all(type(n).data is Value.data for n in leaves):
        return data_of
    return lambda nodes: list(map(get_data, nodes))


def real(x, what: str) -> float:
    """``x`` as a float if ``Value.backward`` would accept it (a real number, not a bool)."""
    if not isinstance(x, numbers.Real) or isinstance(x, bool):
        raise TypeError(f"compile: {what} must be a real number, got {type(x).__name__} {x!r}")
    return float(x)


def check_seed(gradient) -> float:
    """The upstream gradient of ``backward``, as a float."""
    if type(gradient) is float:  # the common case, without the isinstance check on an ABC
        return gradient
    return real(gradient, "backward gradient")


op_and_parents = operator.attrgetter("operation", "parents")
_is_float = float.__instancecheck__


def _shaped(keep, result):
    """map's or batch's result for one node kept (not in a list): its value per row."""
    if isinstance(keep, Value):
        roots, kept = result
        return roots, [k[0] for k in kept]
    return result


def needs_grad(order: list[Value], index: dict | None = None) -> list[bool]:
    """Per node: whether a non-Constant leaf lies behind it (the graph layer's ``dependents``
    of those leaves, as flags in ``order``)."""
    leaves = [n for n in order if n.operation is None and not isinstance(n, Constant)]
    found = dependents(order, leaves)
    return [n in found for n in order]


class Compiled:
    """A graph traced once: ``forward()`` and ``backward()`` replay it on the leaves' data."""

    def __init__(self, root: Value, order: list[Value], mode: str,
                 inputs: Sequence[Value] = ()) -> None:
        self.root = root
        self.mode = mode
        self._order = order
        self._index = dict(zip(order, range(len(order))))
        self.leaves = [n for n in order if n.operation is None]
        self._data_of = data_reader(self.leaves)
        self.inputs = list(inputs)
        self._values: Sequence[float] = [n.data for n in order]
        self._read: int | None = None  # data_edits() when the last forward() read the leaves

    def __len__(self) -> int:
        return len(self._order)

    def __repr__(self) -> str:
        return (f"Compiled({len(self._order)} nodes, {len(self.leaves)} leaves, "
                f"mode={self.mode!r})")

    def forward(self) -> float:
        """Recompute every node from the leaves' current ``data``; returns the root's value."""
        edits = data_edits()
        data = self._gather()
        self._values = self._run_forward(data)
        self._read = edits
        return self._values[-1]

    def backward(self, gradient: float = 1.0) -> None:
        """Add ∂root/∂leaf × gradient into each leaf's ``grad`` (Constants are skipped).

        If a leaf changed since the last ``forward()`` (or none ran yet), forward runs first, so
        the gradient is always that of the current leaves.
        """
        seed = check_seed(gradient)
        if self._read is None or data_edits() != self._read:
            self.forward()
        self._run_backward(seed)

    def _gather(self) -> Sequence:
        return self._data_of(self.leaves)

    # Many examples through one per-example graph: the leaves named ``inputs`` at compile time
    # take each row's numbers in turn; every other leaf keeps its data.

    def map(self, rows, keep: Sequence[Value] | Value = ()):
        """The root's value for each row of input values (one number per compiled input).

        With ``keep`` (nodes of this graph), returns ``(roots, kept)``: ``kept[i]`` lists those
        nodes' values in row i, as the same replay computed them (no second pass); with one
        node as ``keep`` (not in a list), ``kept[i]`` is its value in row i."""
        return _shaped(keep, self._each_row(rows, None, self._slots(keep)))

    def batch(self, rows, gradient: float = 1.0, keep: Sequence[Value] | Value = ()):
        """Forward and backward for each row: returns the root's values and adds the sum over
        rows of ∂root/∂leaf × gradient into the ``grad`` of every leaf but the inputs.
        ``keep`` as in ``map``."""
        return _shaped(keep, self._each_row(rows, self._seed_for_batch(gradient),
                                            self._slots(keep)))

    def _slots(self, keep: Sequence[Value] | Value) -> list[int] | None:
        """The slots of the nodes ``keep`` names (None for none), checked before any row runs."""
        if isinstance(keep, Value):
            return [self._slot(keep)]
        return [self._slot(n) for n in keep] if keep else None

    def _slot(self, node: Value) -> int:
        try:
            return self._index[node]
        except (KeyError, TypeError):
            raise KeyError(f"compile: {node!r} is not a node of the compiled graph") from None

    def _each_row(self, rows, seed: float | None, keep: list[int] | None = None):
        # The inputs take each row's numbers in turn (and are given back their own after);
        # with a seed, backward runs after each row's forward.
        rows = self._rows(rows)
        saved = [(x.data, x.grad) for x in self.inputs]
        try:
            out, kept = [], []
            for row in rows:
                for x, v in zip(self.inputs, row):
                    x.data = v
                out.append(self.forward())
                if keep is not None:
                    kept.append([self._values[s] for s in keep])
                if seed is not None:
                    self._run_backward(seed)
            return out if keep is None else (out, kept)
        finally:
            for x, (d, g) in zip(self.inputs, saved):
                x.data, x.grad = d, g
            self._read = None

    def _need_inputs(self) -> None:
        if not self.inputs:
            raise ValueError("compile: map() and batch() need the inputs, as in "
                             "compile(root, inputs=[x1, x2, ...])")

    def _seed_for_batch(self, gradient) -> float:
        self._need_inputs()
        return check_seed(gradient)

    def _rows(self, rows) -> list:
        """The rows as lists of floats, each as long as ``inputs``."""
        self._need_inputs()
        k = len(self.inputs)
        rows = rows if type(rows) is list else list(rows)
        # Lists of floats of the right length (the common case) are used as they are.
        if all(type(row) is list and len(row) == k for row in rows) and all(
                map(_is_float, chain.from_iterable(rows))):
            return rows
        out = []
        for r, row in enumerate(rows):
            row = list(row)
            # Rows of floats (the common case) need no per-value check or message.
            if not all(map(_is_float, row)):
                row = [real(v, f"row {r}: an input value") for v in row]
            if len(row) != k:
                raise ValueError(f"compile: row {r} has {len(row)} values, expected {k} "
                                 f"(one per input)")
            out.append(row)
        return out

    def _run_forward(self, data: list[float]) -> Sequence[float]:
        raise NotImplementedError

    def _run_backward(self, seed: float) -> None:
        raise NotImplementedError

    def value(self, node: Value) -> float:
        """The value ``node`` had in the last ``forward()`` (its data at compile time before)."""
        return self._values[self._slot(node)]

    def values(self, nodes: Sequence[Value]) -> list[float]:
        """``value`` for each of ``nodes``."""
        return [self.value(n) for n in nodes]
