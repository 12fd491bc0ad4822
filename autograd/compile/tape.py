"""tape: replay a graph from a flat list of op-table calls (any size, nothing generated)."""
from __future__ import annotations

from typing import Sequence

from ..engine import Value
from .replay import Compiled, needs_grad


class TapeCompiled(Compiled):
    """One (forward, partials, slot, input slots) entry per op node, walked in order."""

    def __init__(self, root: Value, order: list[Value], inputs: Sequence[Value] = ()) -> None:
        super().__init__(root, order, "tape", inputs)
        index = self._index
        needs = needs_grad(order, index)
        self._leaf_slots = [index[n] for n in self.leaves]
        self._tape = [(n.operation.forward, n.operation.partials, i,
                       tuple(index[p] for p in n.parents))
                      for i, n in enumerate(order) if n.operation is not None]
        self._needs = needs
        self._wanted = [(leaf, index[leaf]) for leaf in self.leaves if needs[index[leaf]]]

    def _run_forward(self, data: list[float]) -> Sequence[float]:
        vals = [0.0] * len(self._order)
        for d, i in zip(data, self._leaf_slots):
            vals[i] = d
        for fwd, _, i, args in self._tape:
            vals[i] = fwd(*[vals[a] for a in args])
        return vals

    def _run_backward(self, seed: float) -> None:
        vals, needs = self._values, self._needs
        grads = [0.0] * len(vals)
        grads[-1] = seed
        for _, partials, i, args in reversed(self._tape):
            if not needs[i]:
                continue
            # The op forms each product g·∂ itself (g / x, not g·(1/x)), as in eager.
            terms = partials(*[vals[a] for a in args], vals[i], g=grads[i])
            for a, d in zip(args, terms):
                if needs[a]:
                    grads[a] += d
        for leaf, i in self._wanted:
            leaf.grad += grads[i]
