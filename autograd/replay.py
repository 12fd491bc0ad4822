"""replay: what every compiled graph shares, whichever way it is replayed."""
from __future__ import annotations

import numbers
import operator
from typing import Sequence

from .engine import Constant, Value

_get_data = operator.attrgetter("data")


def check_seed(gradient) -> float:
    """The upstream gradient of ``backward``: what ``Value.backward`` accepts, as a float."""
    if not isinstance(gradient, numbers.Real) or isinstance(gradient, bool):
        raise TypeError(f"compile: backward gradient must be a real number, got "
                        f"{type(gradient).__name__} {gradient!r}")
    return float(gradient)


def needs_grad(order: list[Value], index: dict) -> list[bool]:
    """Per node: whether a non-Constant leaf lies behind it (parents come first in order)."""
    needs = [False] * len(order)
    for i, node in enumerate(order):
        if node.operation is None:
            needs[i] = not isinstance(node, Constant)
        else:
            needs[i] = any(needs[index[p]] for p in node.parents)
    return needs


class Compiled:
    """A graph traced once: ``forward()`` and ``backward()`` replay it on the leaves' data."""

    def __init__(self, root: Value, order: list[Value], mode: str) -> None:
        self.root = root
        self.mode = mode
        self._order = order
        self._index = {node: i for i, node in enumerate(order)}
        self.leaves = [n for n in order if n.operation is None]
        self._values: Sequence[float] = [n.data for n in order]
        self._read: list | None = None  # the leaves' data the last forward() read

    def __len__(self) -> int:
        return len(self._order)

    def __repr__(self) -> str:
        return (f"Compiled({len(self._order)} nodes, {len(self.leaves)} leaves, "
                f"mode={self.mode!r})")

    def forward(self) -> float:
        """Recompute every node from the leaves' current ``data``; returns the root's value."""
        data = list(map(_get_data, self.leaves))
        self._values = self._run_forward(data)
        self._read = data
        return self._values[-1]

    def backward(self, gradient: float = 1.0) -> None:
        """Add ∂root/∂leaf × gradient into each leaf's ``grad`` (Constants are skipped).

        If a leaf changed since the last ``forward()`` (or none ran yet), forward runs first, so
        the gradient is always that of the current leaves.
        """
        seed = check_seed(gradient)
        if self._read is None or list(map(_get_data, self.leaves)) != self._read:
            self.forward()
        self._run_backward(seed)

    def _run_forward(self, data: list[float]) -> Sequence[float]:
        raise NotImplementedError

    def _run_backward(self, seed: float) -> None:
        raise NotImplementedError

    def value(self, node: Value) -> float:
        """The value ``node`` had in the last ``forward()`` (its data at compile time before)."""
        try:
            return self._values[self._index[node]]
        except (KeyError, TypeError):
            raise KeyError(f"compile: {node!r} is not a node of the compiled graph") from None

    def values(self, nodes: Sequence[Value]) -> list[float]:
        """``value`` for each of ``nodes``."""
        return [self.value(n) for n in nodes]
