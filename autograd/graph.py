"""The graph, read: the public layer every tool is built on.

A graph is recorded by the engine as Values pointing at their parents. This module reads it in
the ways the tools need (backward, drawing, explaining, stepping, compiling, the explorer page)
so that none of them reaches into the engine's insides:

- walks: ``topological_order`` (parents first) and ``backprop`` (the reverse walk, returning the
  order and ∂root/∂node for every node), both iterative;
- relations: ``dependents`` (which nodes lie on a path to some source nodes), ``distances``;
- the chain rule at one node: ``local_partials``, ``send`` and ``partial_formula``, read from
  the op table;
- display: ``Names`` (label, a constant's number, else v1, v2, ...) and ``fmt``;
- the backward pass as state: ``BackwardState``, what a renderer shows after k steps;
- ``graph_data(root)``: all of it as JSON-ready data (the schema is in docs/graph-data.md).
"""
from __future__ import annotations

import json
import math
import re
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

from .engine import Constant, Value, backprop, topological_order
from .escape import MAX_SHOWN, shown

__all__ = ["topological_order", "backprop", "dependents", "distances", "local_partials", "send",
           "is_dead", "is_saturated", "SATURATION",
           "partial_formula", "partial_formulas", "expression", "fill", "Names", "graph_names",
           "fmt", "same_number", "BackwardState", "backward_state", "graph_data", "to_json",
           "SCHEMA_VERSION"]

SCHEMA_VERSION = 1


# ------------------------------------------------------------------------------- relations

def dependents(order: Sequence[Value], sources: Iterable[Value]) -> set[Value]:
    """The nodes of ``order`` (parents before children) that are a source or depend on one.

    With ``sources={x}`` these are exactly the nodes on some path from the root down to ``x``;
    with every non-constant leaf as a source, the nodes that need a gradient.
    """
    found = set(sources)
    for node in order:
        if node not in found and any(p in found for p in node.parents):
            found.add(node)
    return found


def distances(root: Value) -> dict[Value, int]:
    """Fewest ops between ``root`` and each node it depends on (breadth-first, root is 0)."""
    dist = {root: 0}
    queue = deque([root])
    while queue:
        n = queue.popleft()
        for p in n.parents:
            if p not in dist:
                dist[p] = dist[n] + 1
                queue.append(p)
    return dist


# ------------------------------------------------------------------- units that stopped learning

# A tanh unit is saturated when |out| > 0.97, the threshold of Karpathy's makemore lecture on
# activations and gradients; a sigmoid unit when its output rescaled to (−1, 1), 2·out − 1, is.
# Either way the local slope is below 6% of its largest value.
SATURATION = 0.97


def is_dead(node: Value) -> bool:
    """A ReLU whose input is ≤ 0: its output is 0 and its local slope is 0."""
    op = node.operation
    return op is not None and op.name == "relu" and node.parents[0].data <= 0.0


def is_saturated(node: Value, threshold: float = SATURATION) -> bool:
    """A sigmoid or tanh whose output sits near one of its flat ends (see ``SATURATION``)."""
    op = node.operation
    if op is None or op.name not in ("sigmoid", "tanh"):
        return False
    out = node.data if op.name == "tanh" else 2.0 * node.data - 1.0
    return abs(out) > threshold



# ------------------------------------------------------------------- the chain rule at a node

def local_partials(node: Value) -> tuple[float, ...]:
    """∂node/∂parent for each parent, evaluated on floats by the op table (() for a leaf)."""
    op = node.operation
    if op is None:
        return ()
    return tuple(float(d) for d in op.partials(*[p.data for p in node.parents], node.data))


def send(node: Value, i: int, g: float) -> float:
    """What ``node`` passes to its input ``i`` when ``g`` arrives: g·∂node/∂input, formed by the
    op as backward forms it (g / x, not g·(1/x); exactly 0 through a closed gate, even for an
    infinite g). Forward mode uses it the same way, with a tangent for g."""
    return float(node.operation.partials(*[p.data for p in node.parents], node.data, g=g)[i])


# A template names input i as {i} and the output as {out}; {{ and }} stand for braces.
_SLOT = re.compile(r"\{\{|\}\}|\{(\d+|out)\}")


def fill(template: str, inputs: Sequence[str], out: str) -> str:
    """Put names into an op-table template in one pass, never reading the names (or any brace
    that is not a slot, such as one in a primitive's own name) as template syntax."""
    def slot(m: re.Match) -> str:
        key = m[1]
        if key is None:
            return m[0][0]
        if key == "out":
            return out
        i = int(key)
        return inputs[i] if i < len(inputs) else m[0]
    return _SLOT.sub(slot, template)


def partial_formula(node: Value, i: int, names: Callable[[Value], str]) -> str:
    """The op table's formula of ∂node/∂(input i) with the inputs' and output's names put in."""
    parents = node.parents
    # The template may hold a primitive's name: made printable and bounded like a label.
    template = shown(node.operation.formula(i, len(parents)), 4 * MAX_SHOWN)
    return fill(template, [names(p) for p in parents], names(node))


def partial_formulas(node: Value, names: Callable[[Value], str]) -> list[str]:
    """``partial_formula`` for every input of ``node``, naming each input once (a neuron's dot
    has 2n + 1 inputs: naming them per formula would cost n² names)."""
    parents, op = node.parents, node.operation
    inputs, out = [names(p) for p in parents], names(node)
    return [fill(shown(op.formula(i, len(parents)), 4 * MAX_SHOWN), inputs, out)
            for i in range(len(parents))]


def expression(node: Value, names: Callable[[Value], str]) -> str:
    """The op's expression of ``node`` in terms of its inputs, e.g. ``w1·i1 + w2·i2 + b1``."""
    parents = node.parents
    template = shown(node.operation.expression(len(parents)), 4 * MAX_SHOWN)
    return fill(template, [names(p) for p in parents], names(node))


# ------------------------------------------------------------------------------- display

def fmt(x: float | Value, precision: int = 4) -> str:
    """A number with ``precision`` significant digits, as shown on drawings and in text."""
    if isinstance(x, Value):
        x = x.data
    if not math.isfinite(x):
        return str(x)
    s = f"{x:.{precision}g}"
    return "0" if s == "-0" else s


def same_number(formula: str, value: str) -> bool:
    """Whether a formula is just the number it evaluates to (so "= value" would repeat it)."""
    return formula.replace("−", "-") == value


class Names:
    """Display names: a node's label, a Constant's number, else a short id ``v1, v2, ...``.

    An id is never a name some label already has: ``number`` reads the labels first, and the
    ids skip them (a value labelled ``v1`` keeps that name; the unlabelled ones are v2, v3, ...).
    """

    def __init__(self, precision: int = 4, unlabelled: str = "id",
                 limit: int | None = None) -> None:
        self.precision = precision
        self.unlabelled = unlabelled
        self.limit = limit  # with a limit, labels are made printable and cut to that length
        self._ids: dict[Value, str] = {}
        self._taken: set[str] = set()
        self._next = 1

    def _label(self, v: Value) -> str | None:
        if isinstance(v, Constant):
            return None
        if v.label or (v.label is not None and not isinstance(v.label, str)):
            label = v.label if isinstance(v.label, str) else str(v.label)
            return label if self.limit is None else shown(label, self.limit)
        return None

    def __call__(self, v: Value) -> str:
        if isinstance(v, Constant):
            return fmt(v.data, self.precision)
        label = self._label(v)
        if label is not None:
            return label
        if self.unlabelled == "value":
            return fmt(v.data, self.precision)
        name = self._ids.get(v)
        if name is None:
            while f"v{self._next}" in self._taken:
                self._next += 1
            name = self._ids[v] = f"v{self._next}"
            self._next += 1
        return name

    def number(self, nodes: Iterable[Value], dist: Mapping[Value, int]) -> Names:
        """Give unlabelled ``nodes`` their v1, v2, ... farthest from the root first (ties in the
        order given, breadth-first from the root for ``graph_names``), so the numbers count up
        in the direction the forward pass ran; ids that a label of ``nodes`` has are skipped."""
        nodes = list(nodes)
        self._taken.update(x for x in map(self._label, nodes) if x is not None)
        for v in sorted(nodes, key=lambda v: -dist[v]):
            self(v)
        return self


def graph_names(root: Value, precision: int = 4, limit: int | None = None) -> Names:
    """The names every tool gives the values behind ``root``: a label, a constant's number, else
    v1, v2, ... numbered farthest from ``root`` first (ties breadth-first from the root), skipping
    any name a label already has. draw, explain, the explorer and the command line all use it."""
    dist = distances(root)
    return Names(precision, limit=limit).number(list(dist), dist)


# ------------------------------------------------------------------ the backward pass as state

@dataclass(frozen=True)
class BackwardState:
    """Where the backward pass stands after some steps: what a renderer shows.

    ``grads`` holds the gradient accumulated so far in every node reached; a node is in
    ``complete`` once every node that uses it has taken its step (its gradient is final);
    ``visited`` nodes have taken their own step, ``current`` the last one (None before the first).
    """

    grads: Mapping[Value, float]
    complete: frozenset[Value] = field(default_factory=frozenset)
    visited: frozenset[Value] = field(default_factory=frozenset)
    current: Value | None = None

    def grad(self, v: Value) -> tuple[float | None, bool]:
        """(gradient so far or None, whether it is final)."""
        if v not in self.grads:
            return None, False
        return self.grads[v], v in self.complete

    def sends(self, node: Value) -> bool:
        """Whether ``node`` has passed its gradient back to its inputs yet."""
        return node in self.visited


def backward_state(root: Value, steps: int | None = None, *, seed: float = 1.0) -> BackwardState:
    """The backward pass from ``root`` after ``steps`` of its steps (all of them by default).

    Steps are backward's own order, one per op node; each node's gradient is final by its step,
    so a step adds gradient × local partial into each input.
    """
    if not isinstance(root, Value):
        raise TypeError(f"backward_state: root must be a Value, got {type(root).__name__}")
    order, final = backprop(root, float(seed))
    ops = [v for v in reversed(order) if v.operation is not None]
    if steps is None:
        return BackwardState(final, frozenset(order), frozenset(ops), None)
    if not isinstance(steps, int) or isinstance(steps, bool) or not 0 <= steps <= len(ops):
        raise ValueError(f"step must be an int from 0 to {len(ops)} for this graph, "
                         f"got {steps!r}")
    grads: dict[Value, float] = {root: float(seed)}
    complete = {root}
    for v, done in zip(ops[:steps], _completions(ops)):
        for p, d in zip(v.parents, local_partials(v)):
            grads[p] = grads.get(p, 0.0) + final[v] * d
        complete.update(done)
    return BackwardState(grads, frozenset(complete), frozenset(ops[:steps]),
                         ops[steps - 1] if steps else None)


# ------------------------------------------------------------------------------ graph_data

def _num(x: float) -> float | str:
    # Strict JSON has no inf or nan: they travel as the strings "inf", "-inf", "nan".
    return x if math.isfinite(x) else ("nan" if math.isnan(x) else ("inf" if x > 0 else "-inf"))


def graph_data(root: Value, *, precision: int = 4, seed: float = 1.0) -> dict[str, Any]:
    """The graph behind ``root`` as JSON-ready data: nodes, edges, the forward order and the
    backward pass step by step. Gradients are ∂root/∂node × seed from the engine's own walk
    (``.grad`` is left alone and reported separately as ``grad_attr``)."""
    if not isinstance(root, Value):
        raise TypeError(f"graph_data: root must be a Value, got {type(root).__name__}")
    order, grads = backprop(root, float(seed))
    names = graph_names(root, precision, MAX_SHOWN)
    ids = {v: k for k, v in enumerate(order)}
    nodes = [_node_data(v, ids, names, grads, precision) for v in order]
    edges, into = _edge_data(order, ids, names, grads, precision)
    return {
        "schema": SCHEMA_VERSION,
        "root": ids[root],
        "precision": precision,
        "nodes": nodes,
        "edges": edges,
        "forward": [ids[v] for v in order if v.operation is not None],
        "backward": _backward_steps(order, ids, grads, into),
    }


def _node_data(v: Value, ids, names: Names, grads, precision: int) -> dict[str, Any]:
    op = v.operation
    kind = "constant" if isinstance(v, Constant) else ("leaf" if op is None else "op")
    label = v.label if v.label is None or isinstance(v.label, str) else str(v.label)
    node = {"id": ids[v], "name": names(v), "label": label, "kind": kind,
            "data": _num(v.data), "grad": _num(grads[v]), "grad_attr": _num(v.grad),
            "op": op.name if op else None, "symbol": op.symbol if op else None,
            "parents": [ids[p] for p in v.parents]}
    if op is not None:
        # "net_h1 = w1·i1 + w2·i2 + b1" and the same with the numbers put in.
        node["expression"] = expression(v, names)
        node["expression_values"] = expression(v, lambda p: fmt(p.data, precision))
    return node


def _edge_data(order, ids, names: Names, grads, precision: int):
    edges, into = [], {}
    for v in order:
        if v.operation is None:
            continue
        local = local_partials(v)
        formulas = partial_formulas(v, names)
        into[v] = []
        for i, p in enumerate(v.parents):
            flow = grads[v] * local[i]
            into[v].append((len(edges), p, flow))
            edges.append({"id": len(edges), "source": ids[p], "target": ids[v], "index": i,
                          "formula": formulas[i], "local": _num(local[i]),
                          "local_text": fmt(local[i], precision), "flow": _num(flow)})
    return edges, into


def _completions(ops: list[Value]) -> Iterator[list[Value]]:
    """For each op node in backward's order (``ops``), the inputs whose gradient is final once
    it has stepped: every node that uses them has then taken its step."""
    waiting: dict[Value, int] = {}
    for v in ops:
        for p in set(v.parents):
            waiting[p] = waiting.get(p, 0) + 1
    for v in ops:
        done = []
        for p in set(v.parents):
            waiting[p] -= 1
            if waiting[p] == 0:
                done.append(p)
        yield done


def _backward_steps(order, ids, grads, into) -> list[dict[str, Any]]:
    # One step per op node in backward's order; ``completes`` lists the nodes whose gradient
    # becomes final at that step.
    ops = [v for v in reversed(order) if v.operation is not None]
    return [{"node": ids[v], "grad": _num(grads[v]),
             "sends": [{"edge": e, "to": ids[p], "amount": _num(a)} for e, p, a in into[v]],
             "completes": sorted(ids[p] for p in done)}
            for v, done in zip(ops, _completions(ops))]


def to_json(data: Any, *, for_script: bool = True) -> str:
    """Strict JSON text; with ``for_script`` it is also safe inside an HTML ``<script>`` element
    (``<``, ``>``, ``&`` and the JavaScript line separators are written as escapes)."""
    # ASCII output keeps any label (even a lone surrogate) encodable and readable by JSON.parse.
    text = json.dumps(data, ensure_ascii=True, allow_nan=False, separators=(",", ":"))
    if for_script:
        for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
            text = text.replace(ch, esc)
    return text
