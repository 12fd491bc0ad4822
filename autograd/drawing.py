"""draw: the computation graph with the chain rule written on every edge.

Each value is a box (label, data, grad) and each op its own small node. The edge from an input
into an op carries the op table's formula of that input's local partial derivative and its value;
once gradients exist it also carries what flows back along it: the output's gradient times the
local partial. A node's grad is then visibly the sum of what its outgoing edges bring back.
"""
from __future__ import annotations

import html
import math
import re
from collections import deque
from typing import Callable, Iterable, Mapping

import graphviz

from .engine import Constant, Value, topological_order

_CONSTANT_MODES = ("inline", "node", "hide")
_HL = "#d62728"        # highlighted path
_FLOW = "#1f5fbf"      # gradient flowing back
_DONE = "#d9f2d9"      # step-through: node already visited
_CURRENT = "#ffd27f"   # step-through: node being visited
_READY = "#fff7d6"     # step-through: gradient complete, waiting for its turn


def fmt(x: float, precision: int = 4) -> str:
    """A number with ``precision`` significant digits, as shown on drawings and in text."""
    if isinstance(x, Value):
        x = x.data
    if not math.isfinite(x):
        return str(x)
    s = f"{x:.{precision}g}"
    return "0" if s == "-0" else s


class Names:
    """Display names: a node's label, a Constant's number, else a short id ``v1, v2, ...``."""

    def __init__(self, precision: int = 4, unlabelled: str = "id") -> None:
        self.precision = precision
        self.unlabelled = unlabelled
        self._ids: dict[Value, str] = {}

    def __call__(self, v: Value) -> str:
        if isinstance(v, Constant):
            return fmt(v.data, self.precision)
        if v.label:
            return v.label
        if self.unlabelled == "value":
            return fmt(v.data, self.precision)
        name = self._ids.get(v)
        if name is None:
            name = self._ids[v] = f"v{len(self._ids) + 1}"
        return name


def local_partials(node: Value) -> tuple[float, ...]:
    """∂node/∂parent for each parent, evaluated on floats by the op table."""
    return tuple(float(d) for d in node._op.partials(*[p.data for p in node._parents], node.data))


def partial_formula(node: Value, i: int, names: Callable[[Value], str]) -> str:
    """The op table's formula of ∂node/∂(input i) with the inputs' and output's names put in."""
    parents = node._parents
    template = node._op.formula(i, len(parents))
    return template.format(*[names(p) for p in parents], out=names(node))


def _ancestors_with_depth(root: Value, depth: int | None, budget: float,
                          count: Callable[[Value], int]
                          ) -> tuple[list[Value], set[Value], dict[Value, int]]:
    """Breadth-first over parents up to ``depth`` ops from root; stops as soon as the node
    count passes ``budget`` (so a huge graph is refused without being walked)."""
    dist = {root: 0}
    order = [root]
    cut: set[Value] = set()
    total = count(root)
    queue = deque([root])
    while queue:
        n = queue.popleft()
        if n._op is None:
            continue
        if depth is not None and dist[n] >= depth:
            cut.add(n)
            continue
        for p in n._parents:
            if p not in dist:
                dist[p] = dist[n] + 1
                order.append(p)
                queue.append(p)
                total += count(p)
                if total > budget:
                    raise _TooBig(total)
    return order, cut, dist


class _TooBig(Exception):
    def __init__(self, seen: int) -> None:
        self.seen = seen


def _on_paths(nodes: Iterable[Value], target: Value) -> set[Value]:
    """Nodes (among ``nodes``) that depend on ``target``: exactly those on a root-to-target path."""
    nodes = list(nodes)
    members = set(nodes)
    children: dict[Value, list[Value]] = {}
    for n in nodes:
        for p in n._parents:
            if p in members:
                children.setdefault(p, []).append(n)
    found = {target} if target in members else set()
    stack = list(found)
    while stack:
        for c in children.get(stack.pop(), ()):
            if c not in found:
                found.add(c)
                stack.append(c)
    return found


def _number(nodes: list[Value], dist: Mapping[Value, int], names: Names) -> Names:
    # Unlabelled values get their v1, v2, ... farthest from the root first, so that they count
    # up in the direction the forward pass ran.
    for v in sorted(nodes, key=lambda v: -dist[v]):
        names(v)
    return names


def graph_names(root: Value, precision: int = 4) -> Names:
    """The names ``draw(root)`` gives its values (v1, v2, ... for unlabelled ones)."""
    nodes, _, dist = _ancestors_with_depth(root, None, math.inf, lambda v: 0)
    return _number(nodes, dist, Names(precision))


def same_number(formula: str, value: str) -> bool:
    """Whether a formula is just the number it evaluates to (so "= value" would repeat it)."""
    return formula.replace("−", "-") == value


def _cluster_key(v: Value) -> tuple[str, ...]:
    # "L1.N3.w2" lives in cluster L1 > L1.N3; a label without a dot is in no cluster.
    if isinstance(v, Constant) or not v.label or "." not in v.label:
        return ()
    return tuple(v.label.split(".")[:-1])


def _e(s: str) -> str:
    return html.escape(s, quote=False)


class _View:
    """What to show for each node and edge: gradients, flows and step-through styling."""

    def __init__(self, grads: Mapping[Value, float] | None, flows: bool,
                 complete: set[Value] | None = None, visited: set[Value] | None = None,
                 current: Value | None = None) -> None:
        self.grads = grads            # None: read .grad; else only the nodes present have a grad
        self.flows = flows
        self.complete = complete
        self.visited = visited
        self.current = current

    def grad(self, v: Value) -> tuple[float | None, bool]:
        """(gradient or None, whether it is final)."""
        if self.grads is None:
            return v.grad, True
        if v not in self.grads:
            return None, False
        return self.grads[v], self.complete is None or v in self.complete

    def sends(self, node: Value) -> bool:
        if self.grads is None:
            return self.flows
        return self.visited is not None and node in self.visited


def draw(root: Value, *, rankdir: str = "LR", precision: int = 4, constants: str = "inline",
         highlight: Value | None = None, group: bool = False, depth: int | None = None,
         max_nodes: int = 300, flows: bool | None = None, step: int | None = None,
         format: str = "svg") -> graphviz.Digraph:  # noqa: A002 - graphviz's own name
    """The graph behind ``root`` as a ``graphviz.Digraph``, the chain rule on every edge.

    ``constants``: "inline" (numbers written into the op node), "node" (small plaintext nodes) or
    "hide". ``highlight``: a value whose paths from the root stand out. ``group``: cluster nodes
    by their labels' dotted prefix (``L1.N3.w2`` in L1 > L1.N3). ``depth``: draw only what is at
    most that many ops away from ``root``. ``flows``: show what flows back along each edge (by
    default once ``backward`` has run, i.e. when ``root.grad`` is nonzero). ``step``: the graph
    after that many steps of the backward pass (see ``backward_steps``). A graph with more than
    ``max_nodes`` drawn nodes raises ``ValueError`` at once instead of hanging the layout; with
    ``group=True`` it is first drawn with each cluster collapsed to a single node.
    """
    if not isinstance(root, Value):
        raise TypeError(f"draw: root must be a Value, got {type(root).__name__}")
    if rankdir not in ("LR", "TB", "RL", "BT"):
        raise ValueError(f"draw: rankdir must be LR, TB, RL or BT, got {rankdir!r}")
    if constants not in _CONSTANT_MODES:
        raise ValueError(f"draw: constants must be one of {_CONSTANT_MODES}, got {constants!r}")
    if depth is not None and (not isinstance(depth, int) or depth < 0):
        raise ValueError(f"draw: depth must be a non-negative int, got {depth!r}")

    def count(v: Value) -> int:
        # A value box plus its op node; constants cost a node only when drawn as one.
        if isinstance(v, Constant):
            return 1 if constants == "node" else 0
        return 1 if v._op is None else 2

    try:
        nodes, cut, dist = _ancestors_with_depth(root, depth, max_nodes, count)
    except _TooBig as big:
        if group and step is None and highlight is None:
            collapsed = _collapsed(root, max_nodes, rankdir, format, precision)
            if collapsed is not None:
                return collapsed
        raise ValueError(
            f"draw: the graph of {root!r} has more than {max_nodes} nodes (stopped counting at "
            f"{big.seen}), too many to lay out readably"
            + (" even with each cluster collapsed to one node" if group else "")
            + "; draw the part near a node with draw(node, depth=3), hide constants with "
            "constants='hide', or pass a larger max_nodes") from None

    if step is not None:
        from .steps import _state_after
        view = _View(*_state_after(root, step))
    else:
        view = _View(None, bool(root.grad) if flows is None else flows)

    names = Names(precision)
    on_path = _on_paths(nodes, highlight) if highlight is not None else set()
    dot = graphviz.Digraph(name="autograd", format=format, graph_attr={
        "rankdir": rankdir, "fontname": "Helvetica", "nodesep": "0.25", "ranksep": "0.5"},
        node_attr={"fontname": "Helvetica", "fontsize": "11"},
        edge_attr={"fontname": "Helvetica", "fontsize": "10", "arrowsize": "0.7"})

    ids = {v: f"n{k}" for k, v in enumerate(nodes)}
    names = _number(nodes, dist, names)
    clusters: dict[tuple[str, ...], graphviz.Digraph] = {}

    def body(key: tuple[str, ...]) -> graphviz.Digraph:
        if not group or not key:
            return dot
        for k in range(1, len(key) + 1):
            sub = key[:k]
            if sub not in clusters:
                clusters[sub] = graphviz.Digraph(name="cluster_" + ".".join(sub), graph_attr={
                    "label": ".".join(sub), "style": "rounded,dashed", "color": "#888888",
                    "fontsize": "11"})
        return clusters[key]

    for v in nodes:
        if isinstance(v, Constant):
            continue  # drawn by the op that uses it, inside that op's cluster
        g = body(_cluster_key(v))
        g.node(ids[v], _value_label(v, names, view, precision, v in cut), shape="plaintext",
               **_value_style(v, view, v in on_path))
        if v._op is None or v in cut:
            continue
        op_id = "op" + ids[v]
        hl = v in on_path
        g.node(op_id, _e(_op_label(v, names, constants)), shape="circle" if len(
            _op_label(v, names, constants)) <= 3 else "ellipse", width="0.3", height="0.3",
            margin="0.02", fontsize="11", style="filled",
            fillcolor=_CURRENT if v is view.current else "#eeeeee",
            color=_HL if hl else "#666666", penwidth="2" if hl else "1")
        dot.edge(op_id, ids[v], color=_HL if hl else "#666666", penwidth="2" if hl else "1")
        _input_edges(dot, g, v, op_id, ids, names, view, constants, on_path, precision)
    for key in sorted(clusters, key=len, reverse=True):
        parent = clusters[key[:-1]] if len(key) > 1 else dot
        parent.subgraph(clusters[key])
    return dot


def _collapsed(root: Value, max_nodes: int, rankdir: str, format: str,  # noqa: A002
               precision: int) -> graphviz.Digraph | None:
    """The graph with every cluster (``L1.N3``) drawn as one node, or None if still too big.

    Edges between clusters stand for many edges at once, so they carry no partials.
    """
    order = topological_order(root)
    unit: dict[Value, tuple[str, ...]] = {}
    members: dict[tuple[str, ...], list[Value]] = {}
    loose: list[Value] = []
    for v in order:
        if isinstance(v, Constant):
            continue
        key = _cluster_key(v)
        if key:
            unit[v] = key
            members.setdefault(key, []).append(v)
        else:
            loose.append(v)
    size = len(members) + sum(1 if v._op is None else 2 for v in loose)
    if size > max_nodes:
        return None
    dot = graphviz.Digraph(name="autograd", format=format, graph_attr={
        "rankdir": rankdir, "fontname": "Helvetica", "compound": "true"},
        node_attr={"fontname": "Helvetica", "fontsize": "11"},
        edge_attr={"arrowsize": "0.7", "color": "#666666"})
    names = Names(precision)
    ids = {key: f"u{k}" for k, key in enumerate(members)}
    ids.update({v: f"n{k}" for k, v in enumerate(loose)})
    outer: dict[tuple[str, ...], graphviz.Digraph] = {}
    for key in sorted(members, key=_natural):
        vs = members[key]
        params = sum(1 for v in vs if v._op is None)
        text = f"<b>{_e('.'.join(key))}</b><br/>{len(vs)} values, {params} leaves"
        outs = [v for v in vs if v.label.endswith(".out")]
        if len(outs) == 1:
            text += (f"<br/>out {_e(fmt(outs[0].data, precision))}, "
                     f"grad {_e(fmt(outs[0].grad, precision))}")
        # A collapsed cluster sits inside its enclosing cluster (a neuron inside its layer).
        g = dot
        if len(key) > 1:
            g = outer.setdefault(key[:-1], graphviz.Digraph(
                name="cluster_" + ".".join(key[:-1]), graph_attr={
                    "label": ".".join(key[:-1]), "style": "rounded,dashed",
                    "color": "#888888"}))
        g.node(ids[key], f"<{text}>", shape="box", style="rounded,filled",
               fillcolor="#eef3fb")
    for sub in outer.values():
        dot.subgraph(sub)
    for v in loose:
        dot.node(ids[v], _value_label(v, names, _View(None, False), precision, False),
                 shape="plaintext")
        if v._op is not None:
            dot.node("op" + ids[v], _e(v._op.symbol), shape="circle", width="0.3",
                     height="0.3", margin="0.02", style="filled", fillcolor="#eeeeee")
            dot.edge("op" + ids[v], ids[v])
    drawn: set[tuple[str, str]] = set()
    for v in order:
        if v._op is None or isinstance(v, Constant):
            continue
        head = ids[unit[v]] if v in unit else "op" + ids[v]
        for p in v._parents:
            if isinstance(p, Constant):
                continue
            tail = ids[unit[p]] if p in unit else ids[p]
            if tail != head and (tail, head) not in drawn:
                drawn.add((tail, head))
                dot.edge(tail, head)
    return dot


def _natural(key: tuple[str, ...]) -> list:
    # L1.N2 before L1.N10.
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", ".".join(key))]


def _value_label(v: Value, names: Names, view: _View, precision: int, cut: bool) -> str:
    name = names(v)
    shown = f"<b>{_e(name)}</b>" if v.label else f"<font color='#777777'><i>{_e(name)}</i></font>"
    if cut:
        shown = "… → " + shown
    g, final = view.grad(v)
    if g is None:
        grad = "grad &nbsp; &nbsp; &nbsp;"
    else:
        grad = f"grad {_e(fmt(g, precision))}" + ("" if final else " <i>so far</i>")
    return (f"<<table border='0' cellborder='1' cellspacing='0' cellpadding='3'><tr>"
            f"<td>{shown}</td><td>data {_e(fmt(v.data, precision))}</td>"
            f"<td>{grad}</td></tr></table>>")


def _value_style(v: Value, view: _View, hl: bool) -> dict[str, str]:
    style: dict[str, str] = {}
    if view.visited is not None:
        if v is view.current:
            style["fillcolor"] = _CURRENT
        elif v in view.visited or (v._op is None and v in view.complete):
            style["fillcolor"] = _DONE
        elif v in view.complete:
            style["fillcolor"] = _READY
        if "fillcolor" in style:
            style["style"] = "filled"
    if hl:
        style.update(color=_HL, fontcolor=_HL, penwidth="2")
    return style


def _op_label(v: Value, names: Names, constants: str) -> str:
    op, parents = v._op, v._parents
    consts = [isinstance(p, Constant) for p in parents]
    if constants != "inline" or not any(consts):
        return op.symbol
    if op.arity is not None:
        # The op's own expression with the constant written in and a dot for each other input.
        return op.expression(len(parents)).format(
            *["∘" if not c else names(p) for p, c in zip(parents, consts)], out="")
    return op.symbol + " " + ", ".join(names(p) for p, c in zip(parents, consts) if c)


def _input_edges(dot: graphviz.Digraph, g: graphviz.Digraph, v: Value, op_id: str,
                 ids: Mapping[Value, str], names: Names, view: _View, constants: str,
                 on_path: set[Value], precision: int) -> None:
    local = local_partials(v)
    sends = view.sends(v)
    g_out, _ = view.grad(v)
    current = v is view.current
    for i, p in enumerate(v._parents):
        if isinstance(p, Constant):
            if constants == "node":
                cid = f"{op_id}c{i}"
                g.node(cid, _e(names(p)), shape="plaintext", fontsize="10", fontcolor="#555555",
                       width="0", height="0", margin="0.02")
                dot.edge(cid, op_id, color="#aaaaaa", arrowsize="0.5")
            continue
        formula = partial_formula(v, i, names)
        value = fmt(local[i], precision)
        text = f"∂{names(v)}/∂{names(p)} = {formula}"
        if not same_number(formula, value):
            text += f" = {value}"
        label = _e(text)
        if sends and g_out is not None:
            label += (f"<br/><font color='{_FLOW}'>{_e(fmt(g_out, precision))} × {_e(value)} "
                      f"→ {_e(fmt(g_out * local[i], precision))}</font>")
        hl = v in on_path and p in on_path
        color = _HL if hl else ("#e08a00" if current else "#666666")
        dot.edge(ids[p], op_id, label=f"<{label}>", color=color,
                 penwidth="2" if hl or current else "1", fontcolor=_HL if hl else "black")
