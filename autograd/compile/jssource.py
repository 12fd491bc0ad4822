"""jssource: the traced templates as JavaScript, for a replay in a browser or under Node.

The third target of the compile wing, beside Python (``codegen``) and C (``csource``), from the
same traced templates: one JavaScript function per (op, number of inputs), and the graph as data,
records ``[kind, out, a_0 .. a_{n-1}]`` in two ``Int32Array``s walked by a small loop (as in C).
The text is the body of a function: ``new Function(source)()`` returns ``{forward, backward}``,
which work on ``Float64Array``s. Nothing else is needed: no module, no import, no Python.

Exactness. ``+ - * /``, comparisons, ``Math.abs`` and ``Math.sqrt`` are the same IEEE double
operations in JavaScript as in C and Python, so a replay made of them (add, sub, mul, div, neg,
abs, relu, leaky_relu, sqrt, sum, dot) equals eager bit for bit. ``Math.exp``, ``log``,
``tanh``, ``sin``, ``cos``, ``log1p``, ``expm1`` and ``**`` are not the C library's functions:
measured against glibc on 45,000 random inputs they differ in the last bit on 0.1% (tanh) to
9% (exp, pow) of them, and glibc's own ``pow(x, 2)`` is not always ``x * x``. No rewriting of
the formulas fixes that short of carrying the C library's own algorithms over, so ops whose
templates need those functions (exp, log, tanh, sigmoid, softplus, sin, cos, pow) are refused
with ``exact=True`` (the default) and replayed with ``Math.*`` under ``exact=False``: then the
values agree with eager to within 1e-12 (what the tests assert), not to the bit. A ``**`` that a
template reaches only with a zero base (sqrt's slope at 0 is 0 ** -1) is exact.

pow's forward is the one piece not traced: C calls it back in Python, which JavaScript cannot, so
it is the ``**`` of its partials plus a flag wherever Python's forward raises.

Where Python would raise (a division by zero, a domain check, a math function overflowing), the
replay sets a flag and ``forward``/``backward`` return 1: the caller redoes that step in Python,
which raises the op's own error or computes what eager computes (as the native replay does).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from ..engine import Value, topological_order
from ..ops import OPS, Op
from .replay import needs_grad
from .text import TemplateText
from .trace import MATH_PREDICATES, Template, template

__all__ = ["javascript", "JavaScript", "JavaScriptUnsupported"]


class JavaScriptUnsupported(ValueError):
    """The graph uses an op that has no JavaScript replay (or no exact one, with exact=True)."""


@dataclass(frozen=True)
class JavaScript:
    """A graph as JavaScript: ``source`` is a function body whose call returns
    ``{forward(V), backward(V, G, seed), map(V, X, rows, Y), batch(V, G, X, rows, Y, seed, GW)}``.

    ``V`` and ``G`` are ``Float64Array``s of ``size`` numbers. Before ``forward(V)`` put the
    leaves' values in ``V[0 .. len(leaves) - 1]`` (in the order of ``leaves``; constants too);
    it fills the rest, the root last (``V[size - 1]``). ``backward(V, G, seed)`` clears ``G``
    and leaves in ``G[k]`` the gradient of the root (times ``seed``) with respect to
    ``leaves[k]`` (0 for constants).

    Many rows (with ``inputs``): ``X`` holds ``rows`` rows of one number per input, row after
    row; ``map`` writes each row's root value into ``Y[r]``; ``batch`` also runs backward per
    row and adds each row's ``G[k]`` into ``GW[k]`` (``len(leaves)`` numbers: start it at the
    leaves' ``.grad`` and it ends as a ``backward()`` per row would leave them; the inputs'
    entries mean nothing). ``inputs`` are the inputs' places in ``leaves``.

    Each returns 0, or 1 where Python would have raised or could differ: redo that step (or
    those rows) in Python.
    """

    source: str
    leaves: list[Value]
    size: int
    exact: bool
    inputs: list[int]


# Correctly rounded in JavaScript as in C (IEEE 754 requires it of sqrt).
_EXACT_MATH = {"sqrt": "Math.sqrt", "fabs": "Math.abs"}
_JS_MATH = ("exp", "expm1", "log", "log1p", "log2", "log10", "sin", "cos", "tan", "asin", "acos",
            "atan", "sinh", "cosh", "tanh", "asinh", "acosh", "atanh")
_CMP = {"<": "<", "<=": "<=", ">": ">", ">=": ">=", "==": "===", "!=": "!=="}


def _number(x) -> str:
    x = float(x)
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "(-Infinity)"
    return f"({x!r})" if math.copysign(1.0, x) < 0 else repr(x)


class _Text(TemplateText):
    """Renders template expressions as JavaScript; records what is not exact there."""

    LET = "const"
    FAIL = "E = 1;"
    INDENT = "  "

    def __init__(self, inp, out: str, fcalls: dict, math_used: set, exact: bool) -> None:
        super().__init__(inp, out, fcalls)
        self.math_used, self.exact = math_used, exact
        self.zero: list[tuple] = []  # expressions known to be ±0 in the branch being written

    def number(self, x) -> str:
        return _number(x)

    def operator(self, e: tuple) -> str:
        kind = e[0]
        if kind == "cmp":
            return f"({self.expr(e[2])} {_CMP[e[1]]} {self.expr(e[3])})"
        if kind == "truth":
            return f"({self.expr(e[1])} !== 0)"
        if kind == "bin":
            a, b = self.expr(e[2]), self.expr(e[3])
            if e[1] == "/":
                return f"dv({a}, {b})"
            if e[1] == "**":
                if e[2] not in self.zero:
                    self.inexact("**")
                return f"pw({a}, {b})"
            return f"({a} {e[1]} {b})"
        raise ValueError(f"javascript: unknown expression {e!r}")

    def enter(self, cond: tuple) -> None:
        is_zero = cond[0] == "cmp" and cond[1] == "==" and cond[3] == ("num", 0)
        self.zero.append(cond[2] if is_zero else None)

    def leave(self) -> None:
        self.zero.pop()

    def inexact(self, what: str) -> None:
        if self.exact:
            raise _Inexact(what)

    def call(self, name: str, args: list[str]) -> str:
        if name == "abs":
            return f"Math.abs({args[0]})"
        if name.startswith("m_"):
            f = name[2:]
            if f in MATH_PREDICATES:
                return f"{f}({args[0]})"
            if f not in _EXACT_MATH:
                if f not in _JS_MATH:
                    raise _NoJS(f"math.{f}")
                self.inexact(f"Math.{f}")
            self.math_used.add(f)
            return f"m_{f}({args[0]})"
        key = (name[2:], len(args))  # F_<op>: that op's forward, itself translated
        if key not in self.fcalls:
            raise _NoJS(f"the forward of {key[0]}")
        return f"{self.fcalls[key]}({', '.join(args)})"


class _NoJS(Exception):
    """A template refers to something without a JavaScript translation."""


class _Inexact(Exception):
    """A template needs a function whose JavaScript result may differ from the C library's."""


def _function(head: str, t: Template, text: _Text, finish, start=()) -> list[str]:
    lines = [head + " {", *start]
    n_res = len(t.outs) if any(s[0] == "if" for s in t.stmts) else 0
    if n_res:
        lines.append(f"  let {', '.join(f'r{k} = NaN' for k in range(n_res))};")
    lines += text.block(t.stmts, "  ")
    return lines + finish([text.expr(o) for o in t.outs]) + ["}"]


_PRELUDE = r""""use strict";
let E = 0;  // set where Python would raise: the caller redoes the step in Python
function dv(a, b) { if (b === 0) E = 1; return a / b; }
// C's pow where JavaScript's ** differs: 1 ** y and (-1) ** ±Infinity are 1 there, NaN here.
function pw(a, b) {
  if (a === 1 || b === 0) return 1;
  if (a === -1 && (b === Infinity || b === -Infinity)) return 1;
  return a ** b;
}
function isinf(x) { return x === Infinity || x === -Infinity ? 1 : 0; }
function isnan(x) { return x !== x ? 1 : 0; }
function isfinite(x) { return Number.isFinite(x) ? 1 : 0; }
// Python's math functions raise where the result is NaN from a number, or infinite from a
// finite number: flag the same cases.
function mcheck(x, r) {
  if ((r !== r && x === x) || (!Number.isFinite(r) && r === r && Number.isFinite(x))) E = 1;
  return r;
}
function finite(V) {  // whether every value is finite: 0 * v is ±0 for those only
  let s = 0;
  for (let i = 0; i < V.length; i++) s += 0 * V[i];
  return s === 0;
}"""


def _inexact_message(name: str, what: str) -> str:
    return (f"javascript: {name} uses {what}, whose result may differ from the C library's in "
            f"the last bit; pass exact=False to replay it with JavaScript's own")


_POW_FORWARD = """  const x = V[P[a]], y = V[P[a + 1]], r = pw(x, y);
  if ((x === 0 && y < 0) || (x < 0 && !Number.isInteger(y))
      || (isinf(r) && Number.isFinite(x) && Number.isFinite(y))) E = 1;
  return r;"""


class _Source:
    """The JavaScript for one graph: a function per template used, and the walks."""

    def __init__(self, exact: bool) -> None:
        self.exact = exact
        self.fcalls: dict[tuple[str, int], str] = {}
        self.math_used: set[str] = set()
        self.parts: list[list[str]] = []
        self.kinds: dict[tuple[int, int], int] = {}  # (id(op), n): ops need not be hashable
        self.sizes: list[int] = []

    def text(self, inp, out: str) -> _Text:
        return _Text(inp, out, self.fcalls, self.math_used, self.exact)

    def kind(self, op: Op, n: int) -> int:
        """The kind number of (op, n), writing its forward and partials functions once."""
        key = (id(op), n)
        if key not in self.kinds:
            k = self.kinds[key] = len(self.sizes)
            self.sizes.append(n)
            self._write(op, n, k)
        return self.kinds[key]

    def _write(self, op: Op, n: int, k: int) -> None:
        fwd, part = template(op, n, "forward", "c"), template(op, n, "partials", "c")
        if fwd is None and op is OPS["pow"] and part is not None:
            # C calls pow's forward back in Python; JavaScript cannot, so it raises the flag
            # wherever that forward raises (a negative power of 0, a fractional power of a
            # negative number, an overflow) and is otherwise the ** that its partials use.
            if self.exact:
                raise JavaScriptUnsupported(_inexact_message(op.name, "**"))
            self.parts.append([f"function f{k}(V, P, a) {{", _POW_FORWARD, "}"])
        elif fwd is None or part is None:
            raise JavaScriptUnsupported(
                f"javascript: {op.name} has no traced template (a user primitive, or a forward "
                f"that closes over a math function) and JavaScript cannot call it back")
        try:
            for t in (fwd, part):
                if t is not None:
                    self._needs(t)
            if fwd is not None:
                text = self.text(lambda i: f"V[P[a + {i}]]", "NaN")
                self.parts.append(_function(f"function f{k}(V, P, a)", fwd, text, _returns))
            text = self.text(lambda i: f"V[P[a + {i}]]", "V[o]")
            self.parts.append(_function(f"function b{k}(V, G, P, a, o, fin)", part, text,
                                        _accumulates, _skip(part, text)))
        except _NoJS as e:
            raise JavaScriptUnsupported(f"javascript: {op.name} uses {e}, which has no "
                                        f"JavaScript translation") from None
        except _Inexact as e:
            raise JavaScriptUnsupported(_inexact_message(op.name, str(e))) from None

    def _needs(self, t: Template) -> None:
        """The value forwards (F_<op>) that ``t`` calls, written first."""
        stack: list = [t.outs, t.stmts]
        while stack:
            e = stack.pop()
            if isinstance(e, list):
                stack += e
                continue
            if e and e[0] == "call" and e[1].startswith("F_"):
                self._value_forward(e[1][2:], len(e[2]))
            stack += [x for x in e if isinstance(x, (tuple, list))]

    def _value_forward(self, name: str, n: int) -> None:
        key = (name, n)
        if key in self.fcalls or name not in OPS:
            return
        t = template(OPS[name], n, "forward", "c")
        if t is None:
            raise _NoJS(f"the forward of {name}")
        self._needs(t)
        fname = f"fv_{name}_{n}"
        text = self.text(lambda i: f"x{i}", "NaN")
        params = ", ".join(f"x{i}" for i in range(n))
        self.parts.append(_function(f"function {fname}({params})", t, text, _returns))
        self.fcalls[key] = fname

    def code(self, fprog: list[int], bprog: list[int], size: int, root: int,
             inputs: list[int]) -> str:
        lines = [_PRELUDE]
        for f in sorted(self.math_used):
            js = _EXACT_MATH.get(f, f"Math.{f}")
            lines.append(f"function m_{f}(x) {{ return mcheck(x, {js}(x)); }}")
        for part in self.parts:
            lines += part
        lines += [f"const FP = new Int32Array([{','.join(map(str, fprog))}]);",
                  f"const BP = new Int32Array([{','.join(map(str, bprog))}]);",
                  f"const IN = new Int32Array([{','.join(map(str, inputs))}]);",
                  "function walkForward(V) {", "  const P = FP, end = P.length;",
                  "  for (let pc = 0; pc < end;) {", "    switch (P[pc]) {"]
        lines += [f"      case {k}: V[P[pc + 1]] = f{k}(V, P, pc + 2); pc += {2 + n}; break;"
                  for k, n in enumerate(self.sizes)]
        lines += ["      default: throw new Error('bad record');", "    }", "  }", "}",
                  "function walkBackward(V, G, seed) {", "  G.fill(0);",
                  f"  G[{root}] = seed;", "  const fin = finite(V);",
                  "  const P = BP, end = P.length;",
                  "  for (let pc = 0; pc < end;) {", "    switch (P[pc]) {"]
        lines += [f"      case {k}: b{k}(V, G, P, pc + 2, P[pc + 1], fin); pc += {2 + n}; break;"
                  for k, n in enumerate(self.sizes)]
        lines += ["      default: throw new Error('bad record');", "    }", "  }", "}",
                  _ROWS.replace("ROOT", str(root)),
                  f"return {{forward, backward, map, batch, size: {size}}};"]
        return "\n".join(lines) + "\n"


_ROWS = """function forward(V) { E = 0; walkForward(V); return E; }
function backward(V, G, seed) { E = 0; walkBackward(V, G, seed); return E; }
// One row after another, in the order a forward (and backward) per row would run them.
function rowsOf(V, G, X, rows, Y, seed, GW) {
  E = 0;
  const ni = IN.length;
  for (let r = 0; r < rows && !E; r++) {
    for (let j = 0; j < ni; j++) V[IN[j]] = X[r * ni + j];
    walkForward(V);
    Y[r] = V[ROOT];
    if (G === null) continue;
    walkBackward(V, G, seed);
    for (let k = 0; k < GW.length; k++) GW[k] += G[k];
  }
  return E;
}
function map(V, X, rows, Y) { return rowsOf(V, null, X, rows, Y, 0, null); }
function batch(V, G, X, rows, Y, seed, GW) { return rowsOf(V, G, X, rows, Y, seed, GW); }"""


def _returns(outs: list[str]) -> list[str]:
    return [f"  return {outs[0]};"]


def _accumulates(outs: list[str]) -> list[str]:
    # Eager adds each product g·∂, as the op forms it, into each input in input order.
    return [f"  G[P[a + {i}]] += {d};" for i, d in enumerate(outs)]


def _skip(t: Template, text: _Text) -> list[str]:
    """The upstream gradient, and a return when it is 0 and every product is then provably ±0
    (see ``trace._zero_when_g_is``; adding ±0 into an accumulator that started at +0 changes
    nothing, so the skip is exact)."""
    lines = ["  const g = G[o];"]
    if t.selects is None:
        return lines
    picked = list(dict.fromkeys(text.expr(e) for per_input in t.selects for e in per_input))
    if not picked:
        return lines + ["  if (g === 0) return;"]
    total = " + ".join(picked)
    return lines + [f"  if (g === 0 && (fin || 0 * ({total}) === 0)) return;"]


def javascript(root: Value, *, inputs: Sequence[Value] | None = None,
               exact: bool = True) -> JavaScript:
    """The forward and backward of the graph behind ``root`` as JavaScript (see ``JavaScript``).

    ``inputs``: leaves that take a new value per row, for ``map`` and ``batch``.

    ``exact=True`` refuses ops whose JavaScript may differ from eager in the last bit (those
    that need ``Math.exp``, ``log``, ``tanh``, ``sin``, ``cos``, ``log1p`` or a general
    ``**``), with ``JavaScriptUnsupported`` naming the op; ``exact=False`` replays them with
    JavaScript's own functions. User primitives have no JavaScript replay.
    """
    if not isinstance(root, Value):
        raise TypeError(f"javascript: expected a Value, got {type(root).__name__} {root!r}")
    if root.operation is None:
        raise ValueError(f"javascript: {root!r} is a leaf, there is no recorded op to replay")
    order = topological_order(root)
    leaves = [n for n in order if n.operation is None]
    ops = [n for n in order if n.operation is not None]
    slot = {node: k for k, node in enumerate(leaves + ops)}  # leaves first, the root last
    places = _input_places(inputs, leaves)
    needs = needs_grad(order)
    src = _Source(exact)
    fprog: list[int] = []
    for node in ops:
        k = src.kind(node.operation, len(node.parents))
        fprog += [k, slot[node], *(slot[p] for p in node.parents)]
    bprog: list[int] = []
    for i in range(len(order) - 1, -1, -1):
        node = order[i]
        if node.operation is not None and needs[i]:
            k = src.kind(node.operation, len(node.parents))
            bprog += [k, slot[node], *(slot[p] for p in node.parents)]
    size = len(order)
    return JavaScript(src.code(fprog, bprog, size, slot[root], places), leaves, size, exact,
                      places)


def _input_places(inputs, leaves: list[Value]) -> list[int]:
    """Each input's place among the leaves; a ValueError for anything that is not a leaf of the
    graph, or for a leaf listed twice."""
    place = {id(leaf): k for k, leaf in enumerate(leaves)}
    places = []
    for x in inputs or ():
        if not isinstance(x, Value) or id(x) not in place:
            raise ValueError(f"javascript: each input must be a leaf of the graph, got {x!r}")
        places.append(place[id(x)])
    if len(set(places)) != len(places):
        raise ValueError("javascript: an input is listed twice")
    return places
