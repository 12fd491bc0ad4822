"""explain: ∂root/∂wrt written out as a textbook does, path by path, factor by factor.

Reverse mode (the default) reads each path from the root down, as backward walks it; forward
mode reads the same paths from ``wrt`` up, carrying a tangent of 1 and multiplying it by each
local derivative in turn, as a forward-mode walk does.
"""
from __future__ import annotations

import heapq
import math
import re
from dataclasses import dataclass

from ..engine import Constant, Value
from ..escape import MAX_SHOWN, markdown_text, shown, tex_text
from ..forward import forwardprop
from ..graph import (Names, backprop, dependents, fmt, graph_names, local_partials,
                    partial_formula, same_number, send)

_SHOWN_LOCALS = 6
"""A factor through a long run of unlabelled ops lists this many of its local partials."""
_INDENT = "        "
"""Where a factor's own steps are written, under the factor."""


def _sum(xs) -> float:
    # fsum refuses inf + -inf (and overflowing partial sums); the plain sum then says nan/inf.
    xs = list(xs)
    try:
        return math.fsum(xs)
    except (ValueError, OverflowError):
        return sum(xs)


@dataclass(frozen=True)
class Factor:
    """One factor ∂top/∂bottom of a path, with its value.

    ``formula`` is the op table's formula when one op joins the two; ``locals`` lists the local
    partials multiplied together when several unlabelled ops lie between them along one route,
    and ``route`` those ops as (node, input index), top first (empty over several routes).
    """

    top: Value
    bottom: Value
    value: float
    formula: str | None
    locals: tuple[float, ...]
    route: tuple[tuple[Value, int], ...] = ()

    def carry(self, g: float, up: bool = False) -> float:
        """g taken through this factor as the walks take it: each op forms its own product, so
        a closed gate gives 0 even for an infinite g (inf × 0 would say NaN)."""
        if not self.route:
            return g * self.value
        for node, i in (reversed(self.route) if up else self.route):
            # Forward mode carries a zero tangent as 0, even through an infinite slope: an input
            # that does not move moves nothing (as jvp's walk does).
            g = send(node, i, g) if g or not up else 0.0
        return g


@dataclass(frozen=True)
class Path:
    """One path from root to wrt: its factors and their product."""

    factors: tuple[Factor, ...]

    @property
    def product(self) -> float:
        g = 1.0
        for f in self.factors:
            g = f.carry(g)
        return g

    @property
    def through(self) -> tuple[Value, ...]:
        """The named values the path passes through, root and wrt excluded."""
        return tuple(f.bottom for f in self.factors[:-1])

    @property
    def carried(self) -> tuple[float, ...]:
        """Forward mode: the tangent this path carries past each factor, read from wrt up
        (a tangent of 1 on wrt times the factors met so far); the last is its contribution."""
        out, t = [], 1.0
        for f in reversed(self.factors):
            t = f.carry(t, up=True)
            out.append(t)
        return tuple(out)


class Explanation:
    """The result of ``explain``: ``str()`` is plain text, notebooks show Markdown with LaTeX."""

    def __init__(self, root: Value, wrt: Value, paths: list[Path], n_paths: int, total: float,
                 names: Names, precision: int, mode: str = "reverse",
                 forward_total: float | None = None) -> None:
        self.root, self.wrt = root, wrt
        self.mode = mode
        self.forward_total = forward_total  # forward mode: ∂root/∂wrt from a forward walk
        self.paths = paths
        self.n_paths = n_paths
        self.total = total
        self._names = names
        self._p = precision

    @property
    def listed_sum(self) -> float:
        """Sum of the products of the listed paths (the total when none were left out)."""
        return _sum(p.product for p in self.paths)

    @property
    def matches_grad(self) -> bool:
        """Whether ``wrt.grad`` holds the total (true after a single ``root.backward()``)."""
        g, t = self.wrt.grad, self.total
        if math.isnan(g) or math.isnan(t):
            return math.isnan(g) and math.isnan(t)
        return g == t or math.isclose(g, t, rel_tol=1e-9, abs_tol=1e-12)

    def _d(self, top: Value, bottom: Value) -> str:
        return f"∂{self._names(top)}/∂{self._names(bottom)}"

    def __str__(self) -> str:
        f = self._fmt
        head = self._d(self.root, self.wrt)
        if self.n_paths == 0:
            return f"{head} = 0: {self._names(self.root)} does not depend on " \
                   f"{self._names(self.wrt)}."
        if self.root is self.wrt:
            return f"{head} = 1: the root itself."
        if self.mode == "forward":
            return self._forward_text()
        s = "path" if self.n_paths == 1 else "paths"
        lines = [f"{head} by the chain rule: {self.n_paths} {s} from {self._names(self.root)} "
                 f"to {self._names(self.wrt)}, one product of local derivatives each."]
        for k, p in enumerate(self.paths, 1):
            via = ", ".join(self._names(v) for v in p.through)
            lines.append("")
            lines.append(f"path {k}" + (f" (through {via})" if via else "") + ":")
            lines.append("  " + " · ".join(self._d(x.top, x.bottom) for x in p.factors))
            lines.append("    = " + " × ".join(f(x.value) for x in p.factors)
                         + f" = {f(p.product)}")
            for x in p.factors:
                lines.append(f"      {self._d(x.top, x.bottom)} = {self._how(x)}")
        lines.append("")
        lines += self._total_lines([p.product for p in self.paths])
        lines.append(self._grad_note())
        return "\n".join(lines)

    def _total_lines(self, products: list[float]) -> list[str]:
        """The sum of the paths' products (one per listed path) and the total."""
        f = self._fmt
        head = self._d(self.root, self.wrt)
        if len(self.paths) < self.n_paths:
            more = self.n_paths - len(self.paths)
            return [f"… and {more} more path{'s' if more > 1 else ''} not listed "
                    f"(the listed ones sum to {f(_sum(products))}).",
                    f"Sum over all {self.n_paths} paths: {head} = {f(self.total)}"]
        if self.n_paths > 1:
            terms = f(products[0]) + "".join(
                f" − {f(-x)}" if x < 0 else f" + {f(x)}" for x in products[1:])
            return [f"Sum over the {self.n_paths} paths: {head} = {terms} = {f(self.total)}"]
        return [f"{head} = {f(self.total)}"]

    __repr__ = __str__  # the explanation is what a console should show

    def _how(self, x: Factor) -> str:
        """The factor's value and where it comes from: the op table's formula for one op; for
        several ops in a row, their product and then each local derivative on a line of its own
        (∂E_o1/∂v3 = 0.5, ...), named as every view names them."""
        f = self._fmt
        if len(x.route) > 1:
            return self._steps(x)
        if x.formula is not None:
            if same_number(x.formula, f(x.value)):
                return x.formula
            return f"{x.formula} = {f(x.value)}"
        return (f"{f(x.value)}, summed over several routes between them "
                "(through=\"all\" lists each route)")

    def _steps(self, x: Factor) -> str:
        f = self._fmt
        steps = list(zip(x.route, x.locals))
        if len(steps) > _SHOWN_LOCALS:
            # A long run: the first few and the last, with how many lie between.
            skipped = len(steps) - _SHOWN_LOCALS + 1
            shown = steps[:_SHOWN_LOCALS - 1] + [None] + steps[-1:]
        else:
            skipped, shown = 0, steps
        values = [f"… ({skipped:,} more)" if s is None else f(s[1]) for s in shown]
        lines = [" × ".join(values) + f" = {f(x.value)}, one op at a time:"]
        for s in shown:
            if s is None:
                lines.append(f"{_INDENT}… {skipped:,} more steps")
                continue
            (node, i), value = s
            formula = partial_formula(node, i, self._names)
            line = f"∂{self._names(node)}/∂{self._names(node.parents[i])} = {formula}"
            lines.append(_INDENT + (line if same_number(formula, f(value))
                                    else f"{line} = {f(value)}"))
        return "\n".join(lines)

    def _fmt(self, x: float) -> str:
        return fmt(x, self._p)

    def _tex(self, v: Value) -> str:
        return _tex(self._names(v))

    def _frac(self, top: Value, bottom: Value) -> str:
        return rf"\frac{{\partial {self._tex(top)}}}{{\partial {self._tex(bottom)}}}"

    def _grad_note(self, text=str) -> str:
        # ``text`` escapes the names for where the note lands (Markdown in a notebook).
        w = text(self._names(self.wrt))
        if self.matches_grad:
            return (f"This equals {w}.grad = {fmt(self.wrt.grad, self._p)}, "
                    "what backward() computed.")
        return (f"{w}.grad holds {fmt(self.wrt.grad, self._p)}, not this total: backward() from "
                f"{text(self._names(self.root))} has not run once on fresh gradients.")

    def _repr_markdown_(self) -> str:
        f = self._fmt
        d = self._frac
        head = d(self.root, self.wrt)
        if self.n_paths == 0:
            return f"$${head} = 0$$ ({markdown_text(self._names(self.root))} does not depend " \
                   f"on {markdown_text(self._names(self.wrt))})"
        if self.mode == "forward":
            return self._forward_markdown()
        out = [f"**{self.n_paths} path{'s' if self.n_paths > 1 else ''}** from "
               f"${_tex(self._names(self.root))}$ to ${_tex(self._names(self.wrt))}$:", ""]
        for k, p in enumerate(self.paths, 1):
            out.append(f"path {k}: $$" + r" \cdot ".join(d(x.top, x.bottom) for x in p.factors)
                       + " = " + r" \times ".join(f(x.value) for x in p.factors)
                       + f" = {f(p.product)}$$")
            out.append(self._factor_list(p))
        if len(self.paths) < self.n_paths:
            out.append(f"… and {self.n_paths - len(self.paths)} more paths not listed.")
        out.append(f"Sum over all paths: $${head} = {f(self.total)}$$")
        out.append(self._grad_note(markdown_text))
        return "\n\n".join(out)

    def _factor_list(self, p: Path) -> str:
        """Where each factor of a path comes from, as a Markdown list (the text's lines)."""
        rows = []
        for x in p.factors:
            first, *steps = self._how(x).split("\n")
            rows.append(f"- ${self._frac(x.top, x.bottom)}$ = "
                        + markdown_text(first, 4 * MAX_SHOWN))
            rows += ["    - " + markdown_text(s.strip(), 4 * MAX_SHOWN) for s in steps]
        return "\n".join(rows)

    # -------------------------------------------------------------------- forward mode

    def _forward_text(self) -> str:
        """The same paths read from wrt up: a tangent of 1 multiplied by each factor in turn."""
        f = self._fmt
        w, r = self._names(self.wrt), self._names(self.root)
        s = "path" if self.n_paths == 1 else "paths"
        lines = [f"{self._d(self.root, self.wrt)} in forward mode: a tangent of 1 on {w}, "
                 f"carried up {self.n_paths} {s} to {r},",
                 "multiplied by one local derivative at each step."]
        for k, p in enumerate(self.paths, 1):
            up = p.factors[::-1]
            via = ", ".join(self._names(v) for v in p.through[::-1])
            lines += ["", f"path {k}" + (f" (through {via})" if via else "") + f", from {w} up:",
                      "  " + " · ".join(self._d(x.top, x.bottom) for x in up),
                      "    = " + " × ".join(f(x.value) for x in up) + f" = {f(p.carried[-1])}",
                      f"  tangent of {w}: 1"]
            for x, t in zip(up, p.carried):
                lines.append(f"    × {self._d(x.top, x.bottom)} = {self._how(x)}")
                lines.append(f"      → carries {f(t)} into {self._names(x.top)}")
        lines.append("")
        lines += self._total_lines([p.carried[-1] for p in self.paths])
        lines.append(self._forward_note())
        return "\n".join(lines)

    def _forward_note(self, text=str) -> str:
        # The sum against the forward-mode walk (what jvp does) and against backward.
        w, r = text(self._names(self.wrt)), text(self._names(self.root))
        fwd, back = fmt(self.forward_total, self._p), fmt(self.total, self._p)
        verdict = "the two agree" if _close(self.forward_total, self.total) else "they DIFFER"
        return (f"Forward walk with tangent 1 on {w} (what jvp computes): the tangent of {r} is "
                f"{fwd}.\nBackward: ∂{r}/∂{w} = {back}; {verdict}.")

    def _forward_markdown(self) -> str:
        f = self._fmt
        n = self._tex
        d = self._frac
        if self.root is self.wrt:
            return f"$${d(self.root, self.wrt)} = 1$$ (the root itself)"
        s = "path" if self.n_paths == 1 else "paths"
        out = [f"**Forward mode, {self.n_paths} {s}** from ${n(self.wrt)}$ up to "
               f"${n(self.root)}$: a tangent of 1 on ${n(self.wrt)}$, multiplied by each local "
               "derivative on the way.", ""]
        for k, p in enumerate(self.paths, 1):
            up = p.factors[::-1]
            out.append(f"path {k}: $$" + r" \cdot ".join(d(x.top, x.bottom) for x in up)
                       + " = " + r" \times ".join(f(x.value) for x in up)
                       + f" = {f(p.carried[-1])}$$")
            out.append("carried forward: $$1" + "".join(
                rf" \xrightarrow{{\times {f(x.value)}}} {f(t)}" for x, t in zip(up, p.carried))
                + "$$")
        if len(self.paths) < self.n_paths:
            out.append(f"… and {self.n_paths - len(self.paths)} more paths not listed.")
        out.append(f"Sum over all paths: $${d(self.root, self.wrt)} = {f(self.total)}$$")
        out.append(self._forward_note(markdown_text))
        return "\n\n".join(out)


def _close(a: float | None, b: float) -> bool:
    if a is None:
        return False
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def _tex(name: str) -> str:
    m = re.fullmatch(r"([A-Za-z]+)_([A-Za-z0-9]+)", name)
    if m:
        return rf"\mathrm{{{m[1]}}}_{{\mathrm{{{m[2]}}}}}"
    m = re.fullmatch(r"([A-Za-z])(\d+)", name)
    if m:
        return f"{m[1]}_{{{m[2]}}}"
    if re.fullmatch(r"[A-Za-z]", name):
        return name
    return r"\mathrm{" + tex_text(name) + "}"


def explain(root: Value, wrt: Value, *, through: str = "labelled", max_paths: int = 16,
            precision: int = 9, merge_ones: bool | None = None,
            mode: str = "reverse") -> Explanation:
    """∂root/∂wrt as a sum over paths of products of named local derivatives.

    Values are named as every view names them (``autograd.graph.graph_names``: a label, else
    v1, v2, ...). ``through="labelled"`` keeps labelled values as the path's stops: the ops
    between two of them make one factor, written as their product with each local derivative
    named under it. ``"all"`` stops at every value, one local derivative per factor. With
    ``merge_ones`` (the default for ``"labelled"``, not for ``"all"``) a factor that is
    identically 1 (a plain sum such as E = E_o1 + E_o2) is folded into the next one, as textbooks
    write ∂E/∂out_o1 directly, wherever the merged factor's two ends are joined by that one route
    only (otherwise its name would claim the total over all routes). At most ``max_paths`` paths
    are listed; the count and the total are always exact.

    ``mode="forward"`` reads each path from ``wrt`` up instead, writing the tangent it carries
    past each factor, and checks the sum against a forward-mode walk (tangent 1 on ``wrt``, what
    ``jvp`` computes) as well as against backward.
    """
    if not isinstance(root, Value) or not isinstance(wrt, Value):
        raise TypeError("explain: root and wrt must be Values, got "
                        f"{type(root).__name__} and {type(wrt).__name__}")
    if through not in ("labelled", "all"):
        raise ValueError(f"explain: through must be 'labelled' or 'all', got {through!r}")
    if mode not in ("reverse", "forward"):
        raise ValueError(f"explain: mode must be 'reverse' or 'forward', got {shown(repr(mode))}")
    if merge_ones is None:
        merge_ones = through == "labelled"
    order, grads = backprop(root, 1.0, create_graph=False)
    index = {v: k for k, v in enumerate(order)}
    names = graph_names(root, precision, MAX_SHOWN)  # the names every view gives these values
    if wrt not in index:
        return Explanation(root, wrt, [], 0, 0.0, names, precision, mode, 0.0)
    rel = dependents(order, [wrt])
    keys = {v for v in rel if v is root or v is wrt or through == "all" or _named(v)}
    edges = {a: _segments(a, keys, rel, index, names) for a in keys if a is not wrt}
    counters: dict[Value, _Routes] = {}

    def one_route(top: Value, bottom: Value) -> bool:
        if top not in counters:
            counters[top] = _Routes(top, edges, index)
        return counters[top].to(bottom) == 1

    paths = [Path(_merge(p, one_route) if merge_ones else tuple(p))
             for p in _enumerate(root, wrt, edges, max_paths)]
    forward = forwardprop(root, {wrt: 1.0})[1][root] if mode == "forward" else None
    return Explanation(root, wrt, paths, _count_paths(keys, edges, index, wrt), grads[wrt],
                       names, precision, mode, forward)


def _named(v: Value) -> bool:
    return bool(v.label) and not isinstance(v, Constant)


def _segments(a: Value, keys: set[Value], rel: set[Value], index: dict[Value, int],
              name) -> list[Factor]:
    """Factors ∂a/∂b for every stop b reached from a through non-stops only.

    Local partials are multiplied along the way and summed where routes meet, visiting nodes
    in decreasing topological index so every contribution arrives before a node is expanded.
    """
    value = {a: 1.0}
    routes = {a: 1}
    # Where each node was first reached from: (node, input index, local partial). Only read
    # back for nodes with a single route, it gives that route without copying it per node.
    came: dict[Value, tuple[Value, int, float]] = {}
    heap = [(-index[a], id(a), a)]
    found = []
    while heap:
        _, _, n = heapq.heappop(heap)
        if n is not a and n in keys:
            found.append(n)
            continue
        local = local_partials(n)
        for i, p in enumerate(n.parents):
            if p not in rel:
                continue
            if p not in value:
                value[p], routes[p], came[p] = 0.0, 0, (n, i, local[i])
                heapq.heappush(heap, (-index[p], id(p), p))
            value[p] += send(n, i, value[n])
            routes[p] += routes[n]
    factors = []
    for b in sorted(found, key=index.get):
        chain = _route(a, b, came) if routes[b] == 1 else []
        formula = partial_formula(chain[0][0], chain[0][1], name) if len(chain) == 1 else None
        factors.append(Factor(a, b, value[b], formula, tuple(x[2] for x in chain),
                              tuple((x[0], x[1]) for x in chain)))
    return factors


def _route(a: Value, b: Value, came) -> list[tuple[Value, int, float]]:
    # The single route from a down to b, top first, read back through ``came``.
    steps = []
    while b is not a:
        steps.append(came[b])
        b = came[b][0]
    return steps[::-1]


class _Routes:
    """Routes from one stop down to each stop below it, counted up to 2.

    Counted lazily in decreasing topological index: asking about a stop only visits the stops
    above it, and later questions about lower stops carry on from there, so checking every
    factor along a long path stays linear.
    """

    def __init__(self, top: Value, edges, index) -> None:
        self.count = {top: 1}
        self.heap = [(-index[top], id(top), top)]
        self.edges, self.index = edges, index

    def to(self, bottom: Value) -> int:
        lowest = self.index[bottom]
        while self.heap and -self.heap[0][0] > lowest:
            _, _, a = heapq.heappop(self.heap)
            # Every route into ``a`` comes from a higher index, all counted by now.
            for f in self.edges.get(a, ()):
                b = f.bottom
                if b not in self.count:
                    self.count[b] = 0
                    heapq.heappush(self.heap, (-self.index[b], id(b), b))
                self.count[b] = min(2, self.count[b] + self.count[a])
        return self.count.get(bottom, 0)


def _count_paths(keys, edges, index, wrt, top=None) -> int:
    # Paths from ``top`` (the root by default) down to ``wrt``, counted over the stops.
    count = {wrt: 1}
    for a in sorted(keys, key=index.get):
        if a is not wrt:
            count[a] = sum(count.get(f.bottom, 0) for f in edges.get(a, ()))
    return count.get(max(keys, key=index.get) if top is None else top, 0)


def _enumerate(root, wrt, edges, cap: int) -> list[list[Factor]]:
    # Depth-first with an explicit stack; stops as soon as ``cap`` paths are found.
    out: list[list[Factor]] = []
    if root is wrt:
        return [[]]
    stack = [(root, iter(edges.get(root, ())))]
    path: list[Factor] = []
    while stack and len(out) < cap:
        it = stack[-1][1]
        f = next(it, None)
        if f is None:
            stack.pop()
            if path:
                path.pop()
            continue
        path.append(f)
        if f.bottom is wrt:
            out.append(list(path))
            path.pop()
        else:
            stack.append((f.bottom, iter(edges.get(f.bottom, ()))))
    return out


def _merge(factors: list[Factor], one_route) -> tuple[Factor, ...]:
    out: list[Factor] = []
    run: list[Factor] = []  # factors identically 1, waiting to be folded into the next one
    for k, f in enumerate(factors):
        if run and not one_route(run[0].top, f.bottom):
            # ∂top/∂bottom would name the total over several routes, not this path's factor.
            out.append(_joined(run))
            run = []
        run.append(f)
        if k < len(factors) - 1 and f.value == 1.0 and _identically_one(f):
            continue
        out.append(_joined(run))
        run = []
    return tuple(out)


def _joined(run: list[Factor]) -> Factor:
    # The ones before the last factor change its value by nothing, so its formula stands.
    if len(run) == 1:
        return run[0]
    last = run[-1]
    locals_ = tuple(x for f in run for x in f.locals) if all(f.locals for f in run) else ()
    route = tuple(x for f in run for x in f.route) if all(f.route for f in run) else ()
    return Factor(run[0].top, last.bottom, math.prod(f.value for f in run), last.formula,
                  locals_, route)


def _identically_one(f: Factor) -> bool:
    # A factor that is 1 by its formula (a sum's input), not merely 1 at this point.
    return f.formula == "1"
