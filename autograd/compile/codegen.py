"""codegen: straight-line Python for a graph's forward and backward, from the traced templates.

One statement per node (a few for a branch), expressions folded at most ``trace.MAX_NEST`` deep,
so Python's compiler never recurses deeply. Templates are filled with ``str.format_map`` and a
dict built once per node, so the cost is linear in the number of inputs of even a very wide node.
"""
from __future__ import annotations

import builtins
from typing import Callable, Sequence

from ..engine import Value
from .replay import Compiled, needs_grad
from .trace import NAMESPACE, template


class _Namespace:
    """The generated functions' globals: the trace namespace plus the functions called as is."""

    def __init__(self) -> None:
        self.globals = dict(NAMESPACE)  # exec wants a plain dict
        self._names: dict[int, str] = {}

    def callee(self, fn: Callable) -> str:
        name = self._names.get(id(fn))
        if name is None:
            name = self._names[id(fn)] = f"C{len(self._names)}"
            self.globals[name] = fn
        return name


def _names(i: int, slots: Sequence[int], tmp: str, res: str) -> dict[str, str]:
    names = {f"a{k}": f"v{p}" for k, p in enumerate(slots)}
    names.update(out=f"v{i}", g=f"g{i}", t=f"{tmp}{i}_", r=f"{res}{i}_")
    return names


def _forward_source(order: list[Value], index: dict, leaves: list[Value],
                    ns: _Namespace) -> list[str]:
    lines = ["def forward(D):", f"    {''.join(f'v{index[leaf]}, ' for leaf in leaves)}= D"]
    for i, node in enumerate(order):
        op = node.operation
        if op is None:
            continue
        slots = [index[p] for p in node.parents]
        tpl = template(op, len(slots), "forward")
        if tpl is None:
            args = ", ".join(f"v{p}" for p in slots)
            lines.append(f"    v{i} = {ns.callee(op.forward)}({args})")
            continue
        names = _names(i, slots, "t", "r")
        lines += ["    " + s.format_map(names) for s in tpl.py]
        lines.append(f"    v{i} = {tpl.py_outs[0].format_map(names)}")
    lines.append(f"    return ({', '.join(f'v{i}' for i in range(len(order)))},)")
    return lines


class _Backward:
    """Writes the backward function: one block per node that needs a gradient, adding into its
    inputs' gradients the products g·∂ that the op's partials form, as eager adds them."""

    def __init__(self, order: list[Value], index: dict, ns: _Namespace) -> None:
        self.order, self.index, self.ns = order, index, ns
        self.needs = needs_grad(order, index)
        self.has_grad = [False] * len(order)
        self.zeroed: list[str] = []  # accumulators first touched inside a skippable block
        self.body: list[str] = []

    def source(self, leaves: list[Value]) -> list[str]:
        n, root = len(self.order), len(self.order) - 1
        if self.needs[root]:
            self.body.append(f"    g{root} = seed")
            self.has_grad[root] = True
        for i in range(root, -1, -1):
            if self.order[i].operation is not None and self.needs[i]:
                self.node(i)
        lines = ["def backward(V, L, seed):", f"    ({', '.join(f'v{i}' for i in range(n))},) = V"]
        if self.zeroed:
            lines.append(f"    {' = '.join(self.zeroed)} = 0.0")
        lines += self.body
        for k, leaf in enumerate(leaves):
            if self.has_grad[self.index[leaf]]:
                # Eager's sum starts at +0.0, here at the first term, which may be -0.0; adding
                # +0.0 makes the two agree in sign too (nothing else differs).
                lines.append(f"    L[{k}].grad += 0.0 + g{self.index[leaf]}")
        lines.append("    return None")
        return lines

    def node(self, i: int) -> None:
        node = self.order[i]
        op = node.operation
        slots = [self.index[p] for p in node.parents]
        tpl = template(op, len(slots), "partials")
        if tpl is None:
            outs = [f"d{i}_{k}" for k in range(len(slots))]
            args = ", ".join([f"v{p}" for p in slots] + [f"v{i}", f"g=g{i}"])
            block = [f"({', '.join(outs)},) = {self.ns.callee(op.partials)}({args})"]
            guard = None
        else:
            names = _names(i, slots, "u", "d")
            block = [s.format_map(names) for s in tpl.py]
            outs = [o.format_map(names) for o in tpl.py_outs]
            guard = self.guard(i, slots, tpl.selects, names)
        skippable = guard is not None
        block += self.accumulate(i, slots, outs, skippable)
        if skippable:
            self.body.append(f"    if {guard}:")
            self.body += ["        " + s for s in block]
        else:
            self.body += ["    " + s for s in block]

    def guard(self, i: int, slots: list[int], selects, names: dict) -> str | None:
        """When the block runs: unless g == 0 and the products are then provably all ±0.

        Eager adds every product, and with g == 0 a product is ±0 (which changes no sum) unless
        it meets an infinite or NaN number. The template says which inputs must be finite for
        all its products to be ±0 at g == 0 (see ``trace._zero_when_g_is``); the block runs
        unless g == 0 and those are finite (0·their sum is 0; an overflowing sum only makes the
        block run, which is always exact). Inputs that need no gradient are left out: what is
        added into them is never read.
        """
        if selects is None:
            return None
        picked: dict[str, None] = {}  # ordered, without repeats
        for k, p in enumerate(slots):
            if self.needs[p]:
                for e in selects[k]:
                    picked[names[f"a{e[1]}"] if e[0] == "in" else names["out"]] = None
        picked = list(picked)
        if not picked:
            return f"g{i}"
        total = picked[0] if len(picked) == 1 else f"sum(({', '.join(picked)},))"
        return f"g{i} or 0.0 * {total}"

    def accumulate(self, i: int, slots: list[int], outs: list[str], skippable: bool) -> list[str]:
        lines = []
        for p, d in zip(slots, outs):
            if not self.needs[p]:
                continue
            # Adding -g is subtracting g, bit for bit: written as such, without the negation.
            neg = d == f"(-g{i})"
            term = f"g{i}" if neg else d
            if self.has_grad[p] or skippable:
                if not self.has_grad[p]:
                    self.zeroed.append(f"g{p}")
                lines.append(f"g{p} {'-' if neg else '+'}= {term}")
            else:
                lines.append(f"g{p} = {'-' if neg else ''}{term}")
            self.has_grad[p] = True
        return lines


def python_source(order: list[Value]) -> str:
    """The generated source of the forward and backward functions for ``order``."""
    return _source(order, {node: i for i, node in enumerate(order)}, _Namespace())


def _source(order: list[Value], index: dict, ns: _Namespace) -> str:
    leaves = [n for n in order if n.operation is None]
    fwd = _forward_source(order, index, leaves, ns)
    bwd = _Backward(order, index, ns).source(leaves)
    return "\n".join(fwd) + "\n\n" + "\n".join(bwd) + "\n"


def _build(order: list[Value], index: dict):
    ns = _Namespace()
    src = _source(order, index, ns)
    try:
        exec(builtins.compile(src, "<autograd.compile>", "exec"), ns.globals)
    except (RecursionError, MemoryError, SyntaxError) as e:
        raise ValueError(f"compile: Python could not compile the generated code for "
                         f"{len(order)} nodes ({type(e).__name__}: {e}); lower MAX_CODE_NODES "
                         f"to use the tape") from e
    return ns.globals["forward"], ns.globals["backward"]


class CodeCompiled(Compiled):
    """Replays generated straight-line Python."""

    def __init__(self, root: Value, order: list[Value], inputs: Sequence[Value] = ()) -> None:
        super().__init__(root, order, "code", inputs)
        self._fwd, self._bwd = _build(order, self._index)

    def _run_forward(self, data: list[float]) -> Sequence[float]:
        return self._fwd(data)

    def _run_backward(self, seed: float) -> None:
        self._bwd(self._values, self.leaves, seed)
