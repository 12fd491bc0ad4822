"""draw: the computation graph with the chain rule written on every edge.

Each value is a box (label, data, grad) and each op its own small node. The edge from an input
into an op carries the op table's formula of that input's local partial derivative and its value,
and what flows back along it: the output's gradient times the local partial. A node's grad is
then visibly the sum of what its outgoing edges bring back.

Gradients come from the engine's own walk (``backprop``), never from ``.grad``, so the picture
is the same before ``backward()``, after it and after ``zero_grad()``. The graph is read through
``autograd.graph`` only; a step-through passes its ``BackwardState`` in as ``state``.
Every piece of user text goes through ``autograd.escape`` into graphviz's HTML-like labels.
"""
from __future__ import annotations

import numbers
import re
from collections import deque
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping

from ..escape import MAX_SHOWN, html_text, shown
from ..graph import (BackwardState, Names, backward_state, dependents, fill, fmt, local_partials,
                    partial_formula, same_number)
from ..engine import Constant, Value
from .shading import COLOR_BY, MARKS, Legend, shade
from ..forward import forwardprop

if TYPE_CHECKING:
    import graphviz

_CONSTANT_MODES = ("inline", "node", "hide")
_HL = "#d62728"        # highlighted path
_FLOW = "#1f5fbf"      # gradient flowing back
_DONE = "#d9f2d9"      # step-through: node already visited
_CURRENT = "#ffd27f"   # step-through: node being visited
_READY = "#fff7d6"     # step-through: gradient complete, waiting for its turn
_TANGENT = "#007a5a"   # a tangent carried forward (Okabe–Ito bluish green, darkened for text)
_LINE = "#666666"
_TEXT_LIMIT = 4 * MAX_SHOWN  # a formula holds several names, each already cut to MAX_SHOWN
_CLUSTER_DEPTH = 8     # label prefixes nest at most this deep ("a.b.c. ... .z" stops there)
_CHEAP_LAYOUT_BENDS = 2000
"""Above this many estimated bends (virtual nodes of long edges), dot's optimal placement and
spline routing take minutes; draw then asks for a bounded, straight-edged layout instead."""
_CHEAP_LAYOUT = {"nslimit": "0.2", "nslimit1": "0.2", "mclimit": "0.2", "splines": "line"}


def require_graphviz(tool: str = "draw"):
    """The graphviz package, imported only when a picture is made, so that importing autograd
    needs nothing beyond Python; without it, an ImportError saying how to install it."""
    try:
        import graphviz
    except ImportError as e:
        raise ImportError(
            f"{tool} needs the graphviz Python package and the Graphviz programs: "
            "pip install graphviz, plus the system package (apt-get install graphviz, "
            "brew install graphviz or conda install graphviz)") from e
    return graphviz


def _h(text: object, limit: int = _TEXT_LIMIT) -> str:
    return html_text(text, limit)


class _TooBig(Exception):
    def __init__(self, seen: int) -> None:
        self.seen = seen


# ------------------------------------------------------------------------------- draw

def draw(root: Value, *, rankdir: str = "auto", precision: int = 4, constants: str = "inline",
         highlight: Value | None = None, group: bool = False, depth: int | None = None,
         max_nodes: int = 300, flows: bool = True, step: int | None = None,
         state: BackwardState | None = None,
         tangents: Mapping[Value, float] | None = None,
         grads: Mapping[Value, float] | None = None, color_by: str | None = None,
         format: str = "svg") -> graphviz.Digraph:  # noqa: A002 - graphviz's own name
    """The graph behind ``root`` as a ``graphviz.Digraph``, the chain rule on every edge.

    ``rankdir``: "LR" (inputs on the left), "TB" (inputs on top), or "auto": whichever of the two
    makes the narrower picture for this graph's shape (a long chain reads top to bottom, a wide
    shallow sum left to right). Text is never scaled down: a big graph makes a big picture.
    ``constants``: "inline" (numbers written into the op node), "node" (small plaintext nodes) or
    "hide". ``highlight``: a value whose paths from the root stand out. ``group``: cluster nodes
    by their labels' dotted prefix (``L1.N3.w2`` in L1 > L1.N3). ``depth``: draw only what is at
    most that many ops away from ``root``. ``flows``: write on each edge what flows back along it.
    ``state``: a ``BackwardState`` to show (see ``autograd.backward_state``); ``step=k`` is short
    for ``state=backward_state(root, k)``. ``tangents``: seed tangents such as ``{x: 1.0}``, to
    draw the forward pass instead: each value shows its tangent and each edge what it carries
    forward (local partial × the input's tangent). ``grads``: any other assignment of gradients
    (say, from a mistaken backward), written beside the engine's in each box; the nodes where
    the two differ are marked. ``color_by``: "grad" or "data" shades each value by its magnitude
    on a log scale, with a legend, and marks dead ReLUs and saturated sigmoid/tanh units (see
    ``autograd.shading``). A graph with more than ``max_nodes`` drawn nodes raises
    ``ValueError`` at once instead of hanging the layout; with ``group=True`` it is first drawn
    with each cluster collapsed to a single node.
    """
    gv = require_graphviz()
    _check_options(root, rankdir, constants, depth, step, state, highlight)
    _check_tangents(tangents, step, state)
    _check_shading(grads, color_by)
    try:
        nodes, cut, dist = _nearby(root, depth, max_nodes, _cost(constants))
    except _TooBig as big:
        return _too_big(gv, root, big.seen, group and step is None and state is None
                        and highlight is None and tangents is None, max_nodes, rankdir, format,
                        precision)
    styled = step is not None or state is not None
    if state is None:
        state = backward_state(root, step)
    if rankdir == "auto":
        rankdir = _direction(nodes, cut)
    pic = _Picture(gv, root, nodes, dist, precision, constants, flows, state, styled, rankdir,
                   format)
    if tangents is not None:
        pic.seeds, pic.tangents = tangents, _forward_tangents(root, tangents)
    if grads is not None or color_by is not None:
        pic.shade(nodes, grads, color_by)
    on_path = dependents(_parents_first(nodes, cut), [highlight]) if highlight else set()
    for v in nodes:
        if not isinstance(v, Constant):  # a constant is drawn by the op that uses it
            pic.value(v, v in cut, on_path, group)
    return pic.finish(_layout_bends(nodes, cut))


def _check_options(root, rankdir, constants, depth, step, state, highlight) -> None:
    if not isinstance(root, Value):
        raise TypeError(f"draw: root must be a Value, got {type(root).__name__}")
    if rankdir not in ("auto", "LR", "TB", "RL", "BT"):
        raise ValueError(f"draw: rankdir must be auto, LR, TB, RL or BT, got {rankdir!r}")
    if constants not in _CONSTANT_MODES:
        raise ValueError(f"draw: constants must be one of {_CONSTANT_MODES}, got {constants!r}")
    if depth is not None and (not isinstance(depth, int) or isinstance(depth, bool)
                              or depth < 0):
        raise ValueError(f"draw: depth must be a non-negative int, got {depth!r}")
    if state is not None and not isinstance(state, BackwardState):
        raise TypeError(f"draw: state must be a BackwardState (from autograd.backward_state), "
                        f"got {type(state).__name__}")
    if state is not None and step is not None:
        raise ValueError("draw: pass step or state, not both")
    if step is not None and (not isinstance(step, int) or isinstance(step, bool)):
        raise ValueError(f"draw: step must be an int, got {step!r}")
    if highlight is not None and not isinstance(highlight, Value):
        raise TypeError(f"draw: highlight must be a Value, got {type(highlight).__name__}")


def _check_shading(grads, color_by) -> None:
    if color_by is not None and color_by not in COLOR_BY:
        raise ValueError(f"draw: color_by must be one of {COLOR_BY} or None, got {color_by!r}")
    if grads is not None and not isinstance(grads, Mapping):
        raise TypeError(f"draw: grads must be a mapping from Values to gradients, got "
                        f"{type(grads).__name__}")


def _cost(constants: str) -> Callable[[Value], int]:
    def count(v: Value) -> int:
        # A value box plus its op node; a constant drawn as a node is drawn once per use.
        if isinstance(v, Constant):
            return 0
        if v.operation is None:
            return 1
        uses = sum(isinstance(p, Constant) for p in v.parents) if constants == "node" else 0
        return 2 + uses
    return count


def _nearby(root: Value, depth: int | None, budget: float, count: Callable[[Value], int]
            ) -> tuple[list[Value], set[Value], dict[Value, int]]:
    """Breadth-first over parents up to ``depth`` ops from root; stops as soon as the node
    count passes ``budget`` (so a huge graph is refused without being walked)."""
    dist = {root: 0}
    order = [root]
    cut: set[Value] = set()
    total = count(root)
    if total > budget:
        raise _TooBig(total)
    queue = deque([root])
    while queue:
        n = queue.popleft()
        if n.operation is None:
            continue
        if depth is not None and dist[n] >= depth:
            cut.add(n)
            continue
        for p in n.parents:
            if p not in dist:
                dist[p] = dist[n] + 1
                order.append(p)
                queue.append(p)
                total += count(p)
                if total > budget:
                    raise _TooBig(total)
    return order, cut, dist


def _drawn_inputs(v: Value, cut: set[Value]) -> tuple[Value, ...]:
    return () if v in cut else v.parents


def _parents_first(nodes: list[Value], cut: set[Value]) -> list[Value]:
    """The drawn nodes with every drawn input before its users (Kahn's order, iterative)."""
    members = set(nodes)
    waiting = {v: 0 for v in nodes}
    users: dict[Value, list[Value]] = {}
    for v in nodes:
        for p in set(_drawn_inputs(v, cut)):
            if p in members:
                waiting[v] += 1
                users.setdefault(p, []).append(v)
    ready = [v for v in nodes if waiting[v] == 0]
    out = []
    while ready:
        v = ready.pop()
        out.append(v)
        for u in users.get(v, ()):
            waiting[u] -= 1
            if waiting[u] == 0:
                ready.append(u)
    return out


def _layout_bends(nodes: list[Value], cut: set[Value]) -> int:
    """How many bends dot will add for edges spanning several ranks (an upper estimate: ranks
    by longest path, two per op since edge labels take a rank of their own)."""
    rank: dict[Value, int] = {}
    bends = 0
    for v in _parents_first(nodes, cut):
        ins = [p for p in _drawn_inputs(v, cut) if p in rank]
        rank[v] = 2 * (1 + max((rank[p] for p in ins), default=-1))
        bends += sum(rank[v] - rank[p] - 2 for p in ins)
    return bends


# Rough sizes in px for choosing a direction: a value's box, an edge's two-line label beside it.
_BOX_W, _LABEL_W = 190, 230


def _direction(nodes: list[Value], cut: set[Value]) -> str:
    """"TB" or "LR", whichever gives the narrower picture: left to right, the width grows with
    the longest path (a box and an edge label per op); top to bottom, with the most values in
    one rank (each with the labels of its edges beside it). A value's rank is its longest path
    up to the root, so inputs sit just before their first use, as dot places them."""
    level: dict[Value, int] = {}
    for v in reversed(_parents_first(nodes, cut)):
        level.setdefault(v, 0)
        for p in _drawn_inputs(v, cut):
            if not isinstance(p, Constant):
                level[p] = max(level.get(p, 0), level[v] + 1)
    depth = max(level.values(), default=0)
    counts: dict[int, int] = {}
    for r in level.values():
        counts[r] = counts.get(r, 0) + 1
    wide = (depth + 1) * _BOX_W + depth * _LABEL_W
    tall = max(counts.values(), default=1) * (_BOX_W + _LABEL_W // 2)
    return "TB" if tall < wide else "LR"


def _too_big(gv, root: Value, seen: int, collapse: bool, max_nodes: int, rankdir: str,
             format: str, precision: int) -> graphviz.Digraph:  # noqa: A002
    rankdir = "TB" if rankdir == "auto" else rankdir  # collapsed clusters: layers top to bottom
    also = ""
    if collapse:
        try:
            return _collapsed(gv, root, max_nodes, rankdir, format, precision)
        except _TooBig as big:
            also = (f" even with each cluster collapsed to one node (stopped counting at "
                    f"{big.seen} boxes)")
    raise ValueError(
        f"draw: the graph of {shown(repr(root))} has more than {max_nodes} nodes "
        f"(stopped counting at {seen}), too many to lay out readably{also}; draw the part near "
        "a node with draw(node, depth=3), hide constants with constants='hide', or pass a "
        "larger max_nodes")


# --------------------------------------------------------------------------- the picture

class _Picture:
    """One drawing under construction: the graph object, names, state and styles."""

    def __init__(self, gv, root: Value, nodes: list[Value], dist: Mapping[Value, int],
                 precision: int, constants: str, flows: bool, state: BackwardState,
                 styled: bool, rankdir: str, format: str) -> None:  # noqa: A002
        self.gv = gv
        self.dot = _digraph(gv, rankdir, format)
        self.names = Names(precision, limit=MAX_SHOWN).number(nodes, dist)
        self.ids = {v: f"n{k}" for k, v in enumerate(nodes)}
        self.precision, self.constants, self.flows = precision, constants, flows
        self.state, self.styled = state, styled
        self.clusters: dict[tuple[str, ...], Any] = {}
        # Forward mode (draw(tangents=...)): every node's tangent, and the seeds given.
        self.tangents: Mapping[Value, float] | None = None
        self.seeds: Mapping[Value, float] = {}
        self.given: Mapping[Value, float] = {}
        self.shades: dict = {}
        self.legend = Legend()

    def shade(self, nodes: list[Value], given: Mapping[Value, float] | None,
              color_by: str | None) -> None:
        """Fills and marks per value (``autograd.shading``), against the gradients drawn."""
        self.given = given or {}
        self.shades, self.legend = shade(nodes, color_by=color_by, grads=self.state.grads,
                                         given=given)

    def fmt(self, x: float) -> str:
        return fmt(x, self.precision)

    def value(self, v: Value, cut: bool, on_path: set[Value], group: bool) -> None:
        """The value's box, and unless it is a leaf or cut off, its op node and input edges."""
        g = self.cluster(_cluster_key(v)) if group else self.dot
        g.node(self.ids[v], _value_label(self, v, cut), shape="plaintext",
               **_value_style(self, v, v in on_path))
        if v.operation is None or cut:
            return
        op_id = "op" + self.ids[v]
        hl = v in on_path
        text = _op_label(v, self.names, self.constants)
        g.node(op_id, f"<{_h(text)}>", shape="circle" if len(text) <= 3 else "ellipse",
               width="0.3", height="0.3", margin="0.02", fontsize="11", style="filled",
               fillcolor=_CURRENT if self.styled and v is self.state.current else "#eeeeee",
               color=_HL if hl else _LINE, penwidth="2" if hl else "1")
        self.dot.edge(op_id, self.ids[v], color=_HL if hl else _LINE, penwidth="2" if hl else "1")
        _input_edges(self, g, v, op_id, on_path)

    def cluster(self, key: tuple[str, ...]):
        """The subgraph for a label prefix, creating it and its enclosing ones as needed."""
        if not key:
            return self.dot
        for k in range(1, len(key) + 1):
            sub = key[:k]
            if sub not in self.clusters:
                self.clusters[sub] = self.gv.Digraph(
                    name=f"cluster_{len(self.clusters)}", graph_attr={
                        "label": f"<{_h('.'.join(sub))}>", "style": "rounded,dashed",
                        "color": "#888888", "fontsize": "11"})
        return self.clusters[key]

    def finish(self, bends: int) -> graphviz.Digraph:
        # Inner clusters go into their parents first, so each arrives complete.
        for key in sorted(self.clusters, key=len, reverse=True):
            parent = self.clusters[key[:-1]] if len(key) > 1 else self.dot
            parent.subgraph(self.clusters[key])
        if bends > _CHEAP_LAYOUT_BENDS:
            self.dot.graph_attr.update(_CHEAP_LAYOUT)
        if self.legend:
            self.dot.node("legend", _legend_label(self.legend), shape="plaintext")
        return self.dot


def _digraph(gv, rankdir: str, format: str, **extra: str):  # noqa: A002
    return gv.Digraph(name="autograd", format=format, graph_attr={
        # No "size": graphviz would scale a wide graph's text down to fit it. A big graph makes a
        # big picture (it scrolls) and its text stays at the size set here.
        "rankdir": rankdir, "fontname": "Helvetica", "nodesep": "0.25", "ranksep": "0.5",
        **extra},
        node_attr={"fontname": "Helvetica", "fontsize": "11"},
        edge_attr={"fontname": "Helvetica", "fontsize": "10", "arrowsize": "0.7"})


def _cluster_key(v: Value) -> tuple[str, ...]:
    # "L1.N3.w2" lives in cluster L1 > L1.N3; a label without a dot is in no cluster.
    if isinstance(v, Constant) or not v.label:
        return ()
    label = v.label if isinstance(v.label, str) else str(v.label)
    if "." not in label:
        return ()
    # maxsplit bounds the work on a label with a million dots.
    return tuple(label.split(".", _CLUSTER_DEPTH)[:-1])


def _value_label(pic: _Picture, v: Value, cut: bool) -> str:
    look = pic.shades.get(v)
    fill, ink = (look.fill, look.ink) if look is not None else (None, "#000000")
    name = _h(pic.names(v))
    grey = ink if fill else "#777777"  # an unlabelled name stays readable on a dark fill
    shown = f"<b>{name}</b>" if v.label else f"<font color='{grey}'><i>{name}</i></font>"
    if cut:
        shown = "… → " + shown
    g, final = pic.state.grad(v)
    if pic.tangents is not None:
        grad = _tangent_cell(pic, v)
    elif g is None:
        grad = "grad &nbsp; &nbsp; &nbsp;"
    else:
        grad = f"grad {_h(pic.fmt(g))}" + ("" if final else " <i>so far</i>")
    cells = [shown, f"data {_h(pic.fmt(v.data))}", grad]
    if v in pic.given:
        cells.append(f"given {_h(pic.fmt(float(pic.given[v])))}")
    if ink != "#000000":
        cells = [f"<font color='{ink}'>{c}</font>" for c in cells]
    row = "".join(f"<td>{c}</td>" for c in cells)
    table = "border='0'"
    if look is not None and look.marks:
        # Marks are words in the box and the box's outline, never colour alone.
        row += "<td bgcolor='#ffffff'><b>" + _h(" ".join(MARKS[m].tag for m in look.marks)) \
               + "</b></td>"
        table = _outline(look.marks[0])
    if fill:
        table += f" bgcolor='{fill}'"
    return (f"<<table {table} cellborder='1' cellspacing='0' cellpadding='3'><tr>{row}</tr>"
            f"</table>>")


def _outline(mark: str) -> str:
    """Table attributes drawing a mark's outline: dashed, dotted or a heavy solid line."""
    style = MARKS[mark].border
    return "border='3'" if style == "bold" else f"border='2' style='{style}'"


def _legend_label(legend: Legend) -> str:
    """What the shading means: the scale's swatches, then one row per mark that occurs."""
    span = max(1, len(legend.swatches))
    rows = []
    if legend.swatches:
        rows.append(f"<tr><td colspan='{span}' border='0'><b>{_h(legend.title)}</b></td></tr>")
        rows.append("<tr>" + "".join(
            f"<td bgcolor='{fill}'><font color='{ink}'>{_h(text)}</font></td>"
            for fill, ink, text in legend.swatches) + "</tr>")
    for mark in legend.marks:
        rows.append(f"<tr><td colspan='{span}' {_outline(mark.name)} align='left'>"
                    f"<b>{_h(mark.tag)}</b> {_h(mark.meaning)}</td></tr>")
    return (f"<<table border='0' cellborder='1' cellspacing='0' cellpadding='3'>"
            f"{''.join(rows)}</table>>")


def _value_style(pic: _Picture, v: Value, hl: bool) -> dict[str, str]:
    style: dict[str, str] = {}
    st = pic.state
    if pic.styled:
        if v is st.current:
            style["fillcolor"] = _CURRENT
        elif v in st.visited or (v.operation is None and v in st.complete):
            style["fillcolor"] = _DONE
        elif v in st.complete:
            style["fillcolor"] = _READY
        if "fillcolor" in style:
            style["style"] = "filled"
    if hl:
        style.update(color=_HL, fontcolor=_HL, penwidth="2")
    return style


def _op_label(v: Value, names: Names, constants: str) -> str:
    op, parents = v.operation, v.parents
    consts = [isinstance(p, Constant) for p in parents]
    if constants != "inline" or not any(consts):
        return op.symbol
    if op.arity is not None:
        # The op's own expression with the constant written in and a dot for each other input.
        return fill(op.expression(len(parents)),
                    ["∘" if not c else names(p) for p, c in zip(parents, consts)], "")
    return op.symbol + " " + ", ".join(names(p) for p, c in zip(parents, consts) if c)


def _input_edges(pic: _Picture, g, v: Value, op_id: str, on_path: set[Value]) -> None:
    local = local_partials(v)
    sends = pic.flows and pic.state.sends(v)
    g_out, _ = pic.state.grad(v)
    current = pic.styled and v is pic.state.current
    for i, p in enumerate(v.parents):
        if isinstance(p, Constant):
            if pic.constants == "node":
                cid = f"{op_id}c{i}"
                g.node(cid, f"<{_h(pic.names(p))}>", shape="plaintext", fontsize="10",
                       fontcolor="#555555", width="0", height="0", margin="0.02")
                pic.dot.edge(cid, op_id, color="#aaaaaa", arrowsize="0.5")
            continue
        label = _h(_partial_text(pic, v, i, p, local[i]))
        carried = _carried_text(pic, v, p, local[i]) if pic.tangents is not None else None
        if carried:
            label += f"<br/><font color='{_TANGENT}'>{_h(carried)}</font>"
        elif sends and g_out is not None and pic.tangents is None:
            # Backward reads backward: what reaches the input, ← the output's grad × the local.
            label += (f"<br/><font color='{_FLOW}'>{_h(pic.fmt(g_out * local[i]))} ← "
                      f"{_h(pic.fmt(g_out))} × {_h(pic.fmt(local[i]))}</font>")
        hl = v in on_path and p in on_path
        color = _HL if hl else ("#e08a00" if current else (_TANGENT if carried else _LINE))
        pic.dot.edge(pic.ids[p], op_id, label=f"<{label}>", color=color,
                     penwidth="2" if hl or current else "1", fontcolor=_HL if hl else "black")


def _partial_text(pic: _Picture, v: Value, i: int, p: Value, local: float) -> str:
    # "∂net_o1/∂w5 = out_h1 = 0.5933", leaving out "= value" when the formula is that number.
    formula = partial_formula(v, i, pic.names)
    value = pic.fmt(local)
    text = f"∂{pic.names(v)}/∂{pic.names(p)} = {formula}"
    return text if same_number(formula, value) else f"{text} = {value}"


# ------------------------------------------------------------------ forward mode (tangents)

def _check_tangents(tangents, step, state) -> None:
    if tangents is None:
        return
    if not isinstance(tangents, Mapping):
        raise TypeError(f"draw: tangents must map Values to numbers, e.g. {{x: 1.0}}, got "
                        f"{type(tangents).__name__} {shown(repr(tangents))}")
    if step is not None or state is not None:
        raise ValueError("draw: tangents draws the forward pass; pass tangents or step/state, "
                         "not both")
    for node, t in tangents.items():
        if not isinstance(node, Value):
            raise TypeError(f"draw: tangents must map Values to numbers, got key "
                            f"{type(node).__name__} {shown(repr(node))}")
        if not isinstance(t, numbers.Real) or isinstance(t, bool):
            raise TypeError(f"draw: tangents[{shown(repr(node))}] must be a real number, got "
                            f"{type(t).__name__} {shown(repr(t))}")


def _forward_tangents(root: Value, seeds: Mapping[Value, float]) -> dict[Value, float]:
    """Every node's tangent from the forward-mode walk; a seed outside the graph is an error."""
    _, tangents = forwardprop(root, {v: float(t) for v, t in seeds.items()})
    for v in seeds:
        if v not in tangents:
            raise ValueError(f"draw: tangents has a key that {shown(repr(root))} does not "
                             f"depend on: {shown(repr(v))}")
    return tangents


def _tangent_cell(pic: _Picture, v: Value) -> str:
    # A seeded value's tangent was given, not computed: say so.
    seed = " <i>seed</i>" if v in pic.seeds else ""
    return f"tangent {_h(pic.fmt(pic.tangents.get(v, 0.0)))}{seed}"


def _carried_text(pic: _Picture, v: Value, p: Value, local: float) -> str | None:
    """What the edge from p carries into v: local partial × p's tangent → the product, e.g.
    ``0.5933 × 1 → 0.5933``. None where p does not move, or v is seeded (it ignores its inputs)."""
    t = pic.tangents.get(p, 0.0)
    if not pic.flows or not t or v in pic.seeds:
        return None
    return f"{pic.fmt(local)} × {pic.fmt(t)} → {pic.fmt(local * t)}"


# ------------------------------------------------------------- clusters collapsed to boxes

def _collapsed(gv, root: Value, max_nodes: int, rankdir: str, format: str,  # noqa: A002
               precision: int) -> graphviz.Digraph:
    """The graph with every cluster (``L1.N3``) drawn as one node; ``_TooBig`` if still too big.

    Edges between clusters stand for many edges at once, so they carry no partials.
    """
    members, loose = _units(root, max_nodes)
    unit = {v: key for key, vs in members.items() for v in vs}
    dot = _digraph(gv, rankdir, format, compound="true")
    dot.edge_attr.update(color=_LINE)
    ids: dict[Any, str] = {key: f"u{k}" for k, key in enumerate(members)}
    ids.update({v: f"n{k}" for k, v in enumerate(loose)})
    _unit_boxes(gv, dot, members, ids, precision, backward_state(root).grads)
    _loose_values(dot, loose, ids, Names(precision, limit=MAX_SHOWN), precision)
    _unit_edges(dot, list(unit) + loose, unit, ids)
    return dot


def _units(root: Value, max_nodes: int) -> tuple[dict[tuple[str, ...], list[Value]], list[Value]]:
    """Cluster members by key and the values in no cluster, counting boxes as it walks so that
    a graph too big even when collapsed is refused after ``max_nodes`` boxes, not a full walk."""
    members: dict[tuple[str, ...], list[Value]] = {}
    loose: list[Value] = []
    seen = {root}
    queue = deque([root])
    size = 0
    while queue:
        v = queue.popleft()
        if not isinstance(v, Constant):
            key = _cluster_key(v)
            if key:
                size += key not in members
                members.setdefault(key, []).append(v)
            else:
                loose.append(v)
                size += 1 if v.operation is None else 2
            if size > max_nodes:
                raise _TooBig(size)
        for p in v.parents:
            if p not in seen:
                seen.add(p)
                queue.append(p)
    return members, loose


def _unit_boxes(gv, dot, members: Mapping[tuple[str, ...], list[Value]], ids, precision: int,
                grads: Mapping[Value, float]) -> None:
    outer: dict[tuple[str, ...], Any] = {}
    for key in sorted(members, key=_natural):
        vs = members[key]
        params = sum(1 for v in vs if v.operation is None)
        text = f"<b>{_h('.'.join(key))}</b><br/>{len(vs)} values, {params} leaves"
        outs = [v for v in vs if str(v.label).endswith(".out")]
        if len(outs) == 1:
            out = outs[0]
            text += (f"<br/>out {_h(fmt(out.data, precision))}, "
                     f"grad {_h(fmt(grads[out], precision))}")
        # A collapsed cluster sits inside its enclosing cluster (a neuron inside its layer).
        g = dot
        if len(key) > 1:
            if key[:-1] not in outer:
                outer[key[:-1]] = gv.Digraph(name=f"cluster_{len(outer)}", graph_attr={
                    "label": f"<{_h('.'.join(key[:-1]))}>", "style": "rounded,dashed",
                    "color": "#888888"})
            g = outer[key[:-1]]
        g.node(ids[key], f"<{text}>", shape="box", style="rounded,filled", fillcolor="#eef3fb")
    for sub in outer.values():
        dot.subgraph(sub)


def _loose_values(dot, loose: list[Value], ids, names: Names, precision: int) -> None:
    for v in loose:
        dot.node(ids[v], f"<{_h(names(v))}<br/>data {_h(fmt(v.data, precision))}>",
                 shape="box")
        if v.operation is not None:
            dot.node("op" + ids[v], f"<{_h(v.operation.symbol)}>", shape="circle", width="0.3",
                     height="0.3", margin="0.02", style="filled", fillcolor="#eeeeee")
            dot.edge("op" + ids[v], ids[v])


def _unit_edges(dot, values: Iterable[Value], unit, ids) -> None:
    drawn: set[tuple[str, str]] = set()
    for v in values:
        if v.operation is None:
            continue
        head = ids[unit[v]] if v in unit else "op" + ids[v]
        for p in v.parents:
            if isinstance(p, Constant):
                continue
            tail = ids[unit[p]] if p in unit else ids[p]
            if tail != head and (tail, head) not in drawn:
                drawn.add((tail, head))
                dot.edge(tail, head)


def _natural(key: tuple[str, ...]) -> list:
    # L1.N2 before L1.N10.
    return [(0, int(t), "") if t.isdigit() else (1, 0, t)
            for t in re.split(r"(\d+)", ".".join(key))]
