"""trace: run an op's forward or partials once on stand-ins and keep what they did as a template.

Partials are traced in the table's scaled form, ``partials(*xs, out, g=<stand-in>)``: each
output is the product g·∂out/∂x_i formed exactly as the eager walk forms it (g / x, not
g·(1/x)), so a replay adds the same numbers eager adds.

A stand-in (``_Sym``) is a symbolic float. Arithmetic on it records an expression; a comparison
(relu's ``a > 0``, abs's sign, pow's special cases) asks the tracer which way to go, and the
function is run again for every way, so a template is a small tree of ``if``/``else`` over
straight-line steps. Templates are data (tuples), rendered to Python here (for ``codegen``) and
to C by ``csource``; no derivative is written anywhere but in the op table.

Expressions are tuples::

    ("in", k)  input k        ("out",)  the op's output     ("tmp", k)  temporary k
    ("g",)  the upstream gradient                           ("num", x)  a constant
    ("bin", "+", a, b)  (also - * / and **, which is IEEE pow: ±inf, not OverflowError)
    ("neg", a)
    ("call", name, (args...))  abs, F_<op> (an op's forward) or m_<name> (a math function)

Statements: ("let", k, expr), ("res", k, expr) (output k), ("if", cond, then, else) with cond
("cmp", "<", a, b) or ("truth", a).

Only the op table's own entries are traced. A user primitive may read state that changes after
the trace (a closure over a dict, a global), so it is called at replay instead of being frozen.
"""
from __future__ import annotations

import builtins
import math
import random
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable

from ..ops import OPS, Op

MAX_NEST = 24  # temporaries folded into one expression before a new statement starts
MAX_PATHS = 8  # branches an op may have before it is called instead of inlined


class _Untraceable(Exception):
    """Raised inside a trace when the function does something the stand-ins cannot follow."""


class _Tracer:
    """Records the steps and the branch decisions of one run through a function."""

    def __init__(self, forced: tuple[bool, ...]) -> None:
        self.forced = forced
        self.decisions: list[tuple[tuple, bool, int]] = []  # (condition, taken, steps before)
        self.lets: list[tuple] = []  # temporary k is lets[k]

    def emit(self, expr: tuple) -> _Sym:
        self.lets.append(expr)
        return _Sym(("tmp", len(self.lets) - 1), self)

    def decide(self, cond: tuple) -> bool:
        k = len(self.decisions)
        taken = self.forced[k] if k < len(self.forced) else False
        self.decisions.append((cond, taken, len(self.lets)))
        return taken


def _expr(x) -> tuple:
    if isinstance(x, _Sym):
        return x.node
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise _Untraceable(f"a {type(x).__name__} in the computation")
    return ("num", x)


class _Sym:
    """A symbolic float: arithmetic on it records a step; a comparison asks which way to go."""

    __slots__ = ("node", "tracer")
    __hash__ = None

    def __init__(self, node: tuple, tracer: _Tracer) -> None:
        self.node = node
        self.tracer = tracer

    def _bin(self, a, sym: str, b) -> _Sym:
        return self.tracer.emit(("bin", sym, _expr(a), _expr(b)))

    def _cmp(self, sym: str, other) -> bool:
        return self.tracer.decide(("cmp", sym, self.node, _expr(other)))

    def __add__(self, o): return self._bin(self, "+", o)
    def __radd__(self, o): return self._bin(o, "+", self)
    def __sub__(self, o): return self._bin(self, "-", o)
    def __rsub__(self, o): return self._bin(o, "-", self)
    def __mul__(self, o): return self._bin(self, "*", o)
    def __rmul__(self, o): return self._bin(o, "*", self)
    def __truediv__(self, o): return self._bin(self, "/", o)
    def __rtruediv__(self, o): return self._bin(o, "/", self)
    def __pow__(self, o): return self._bin(self, "**", o)
    def __rpow__(self, o): return self._bin(o, "**", self)
    def __neg__(self): return self.tracer.emit(("neg", self.node))
    def __pos__(self): return self
    def __abs__(self): return self.tracer.emit(("call", "abs", (self.node,)))
    def __lt__(self, o): return self._cmp("<", o)
    def __le__(self, o): return self._cmp("<=", o)
    def __gt__(self, o): return self._cmp(">", o)
    def __ge__(self, o): return self._cmp(">=", o)
    def __eq__(self, o): return self._cmp("==", o)
    def __ne__(self, o): return self._cmp("!=", o)

    def __bool__(self):
        return self.tracer.decide(("truth", self.node))

    def __getattr__(self, name: str):
        # Partials written for Values call methods such as x.log(); on floats at replay those are
        # the op's own forward. ``.data`` of a float stand-in is the stand-in itself.
        if name == "data":
            return self
        if name in OPS:
            def method(*args):
                args = tuple(_expr(a) for a in (self, *args))
                return self.tracer.emit(("call", f"F_{name}", args))
            return method
        raise _Untraceable(f"attribute {name!r}")


# ------------------------------------------------------------------------------ exploring

_DOMAIN_ERRORS = (ValueError, ArithmeticError)  # what an op raises for inputs outside its domain


def _explore(fn: Callable, n: int, partials: bool, allow_fail: bool = False,
             outputs: int = 0):
    """Run ``fn`` on stand-ins along every branch; returns the paths or None if untraceable.

    Partials get the output and the upstream gradient as stand-ins too, and return a tuple;
    so does a function of ``outputs`` results (an optimizer's rule).

    With ``allow_fail`` a path on which ``fn`` raises a domain error (log of a non-positive
    number) is kept, with None for its outputs: the replay reports an error there.
    """
    paths = []
    pending: list[tuple[bool, ...]] = [()]
    while pending:
        forced = pending.pop()
        tracer = _Tracer(forced)
        args = [_Sym(("in", i), tracer) for i in range(n)]
        try:
            if partials:
                result = fn(*args, _Sym(("out",), tracer), g=_Sym(("g",), tracer))
            else:
                result = fn(*args)
            outs = list(result) if partials or outputs else [result]
            if len(outs) != (n if partials else outputs or 1):
                return None
            exprs = [_expr(r) for r in outs]
        except _DOMAIN_ERRORS:
            if not allow_fail:
                return None
            exprs = None
        except Exception:  # noqa: BLE001 - whatever the stand-ins cannot follow is called as is
            return None
        for k in range(len(forced), len(tracer.decisions)):
            pending.append(tuple(d[1] for d in tracer.decisions[:k]) + (True,))
        paths.append((tracer, exprs))
        if len(paths) > MAX_PATHS:
            return None
    if all(exprs is None for _, exprs in paths):
        return None  # it always raises: nothing to replay but the call itself
    return paths


def _temps_in(expr: tuple, found: list) -> None:
    """Append every ("tmp", k) of ``expr`` to ``found`` (iteratively: no recursion)."""
    stack = [expr]
    while stack:
        e = stack.pop()
        kind = e[0]
        if kind == "tmp":
            found.append(e[1])
        elif kind == "bin":
            stack += (e[2], e[3])
        elif kind == "neg":
            stack.append(e[1])
        elif kind == "call":
            stack += e[2]
        elif kind in ("cmp",):
            stack += (e[2], e[3])
        elif kind == "truth":
            stack.append(e[1])


def _substitute(expr: tuple, folded: dict) -> tuple[tuple, int]:
    """``expr`` with folded temporaries put in place, and its nesting depth of folds."""
    kind = expr[0]
    if kind == "tmp":
        return folded.pop(expr[1], (expr, 0))
    if kind == "bin":
        (a, da), (b, db) = _substitute(expr[2], folded), _substitute(expr[3], folded)
        return ("bin", expr[1], a, b), max(da, db)
    if kind == "neg":
        a, d = _substitute(expr[1], folded)
        return ("neg", a), d
    if kind == "call":
        subs = [_substitute(a, folded) for a in expr[2]]
        return ("call", expr[1], tuple(s[0] for s in subs)), max((s[1] for s in subs), default=0)
    return expr, 0


def _inline(lets: list[tuple], outs: list[tuple]) -> tuple[list[tuple], list[tuple]]:
    """Fold temporaries used once into the expression that uses them, to a bounded depth.

    The recursion in ``_substitute`` is bounded by ``MAX_NEST``, not by the graph, and Python's
    own compiler also recurses on nesting, which is why long folds are cut into statements.
    """
    found: list[int] = []
    for e in lets + outs:
        _temps_in(e, found)
    uses: dict[int, int] = {}
    for k in found:
        uses[k] = uses.get(k, 0) + 1
    folded: dict[int, tuple[tuple, int]] = {}
    kept: list[tuple] = []
    for k, e in enumerate(lets):
        e, depth = _substitute(e, folded)
        if uses.get(k) == 1 and depth < MAX_NEST:
            folded[k] = (e, depth + 1)
        else:
            kept.append(("let", k, e))
    return kept, [_substitute(o, folded)[0] for o in outs]


def _assemble(paths) -> tuple[list[tuple], list[tuple]]:
    """Statements (with ifs for branches) and the output expressions, from the explored paths."""
    if len(paths) == 1 and not paths[0][0].decisions and paths[0][1] is not None:
        return _inline(paths[0][0].lets, paths[0][1])
    n_out = max(len(p[1]) for p in paths if p[1] is not None)
    top: list[tuple] = []
    # Work list instead of recursion: (paths sharing the first `depth` decisions, depth, the
    # statement list to fill, first step not yet written).
    work = [(paths, 0, top, 0)]
    while work:
        group, depth, into, start = work.pop()
        tracer, exprs = group[0]
        lets = tracer.lets
        if depth == len(tracer.decisions):
            into += [("let", k, lets[k]) for k in range(start, len(lets))]
            if exprs is None:
                into.append(("fail",))
            else:
                into += [("res", k, e) for k, e in enumerate(exprs)]
            continue
        cond, _, at = tracer.decisions[depth]
        into += [("let", k, lets[k]) for k in range(start, at)]
        yes = [p for p in group if p[0].decisions[depth][1]]
        no = [p for p in group if not p[0].decisions[depth][1]]
        then, other = [], []
        into.append(("if", cond, then, other))
        work.append((yes, depth + 1, then, at))
        work.append((no, depth + 1, other, at))
    return top, [("res", k) for k in range(n_out)]


def _zero_when_g_is(paths, n_out: int) -> tuple | None:
    """Per output, the stand-ins (inputs, the output) that make it exactly ±0 when g is ±0,
    provided they are all finite; None where that cannot be shown on every path.

    Eager adds every product g·∂ even when g is 0, and adding ±0 leaves an accumulator as it is
    (each starts at +0.0, and a sum of +0.0 and anything is never -0.0). So a replay may skip a
    node exactly when every product it would add is ±0. Shown by these rules, on every step of
    every path (nothing else may be computed there): g is 0; -e, e + e' and e - e' are 0 when
    their parts are; e·c is 0 when e is and c is a finite constant or a finite stand-in. A
    quotient is never shown to be 0: 0/x is NaN at x = 0 or NaN, and 0·x is NaN at x = ±inf.
    """
    picked: list[list[tuple]] = [[] for _ in range(n_out)]
    for tracer, exprs in paths:
        if exprs is None:
            return None
        temps: list = []  # per temporary: the stand-ins it needs finite
        for e in tracer.lets:
            need = _zero_needs(e, temps)
            if need is None:
                return None
            temps.append(need)
        for k, e in enumerate(exprs):
            need = _zero_needs(e, temps)
            if need is None:
                return None
            picked[k] += [a for a in need if a not in picked[k]]
    return tuple(tuple(p) for p in picked)


def _zero_needs(e: tuple, temps: list) -> list | None:
    """The stand-ins that must be finite for ``e`` to be ±0 when g is ±0, or None."""
    kind = e[0]
    if kind == "g":
        return []
    if kind == "num":
        return [] if e[1] == 0 else None   # a constant zero: a closed gate
    if kind == "tmp":
        return temps[e[1]]
    if kind == "neg":
        return _zero_needs(e[1], temps)
    if kind != "bin" or e[1] not in ("+", "-", "*"):
        return None
    a, b = _zero_needs(e[2], temps), _zero_needs(e[3], temps)
    if e[1] != "*":
        return None if a is None or b is None else a + b
    if a is not None and _finite_needs(e[3]) is not None:
        return a + _finite_needs(e[3])
    if b is not None and _finite_needs(e[2]) is not None:
        return b + _finite_needs(e[2])
    return None


def _finite_needs(e: tuple) -> list | None:
    """The stand-ins that must be finite for ``e`` to be finite (when g is 0), or None."""
    if e[0] == "num":
        return [] if math.isfinite(e[1]) else None
    if e[0] in ("in", "out"):
        return [e]
    return [] if e[0] == "g" else None


# ------------------------------------------------------------------------------ Python text

def py_expr(e: tuple) -> str:
    """Python text of an expression, with ``{a0}``, ``{out}``, ``{t}`` placeholders."""
    kind = e[0]
    if kind == "in":
        return f"{{a{e[1]}}}"
    if kind == "out":
        return "{out}"
    if kind == "g":
        return "{g}"
    if kind == "tmp":
        return f"{{t}}{e[1]}"
    if kind == "res":
        return f"{{r}}{e[1]}"
    if kind == "num":
        x = e[1]
        if isinstance(x, float) and not math.isfinite(x):
            return "NAN" if math.isnan(x) else ("INF" if x > 0 else "(-INF)")
        s = repr(x)
        return f"({s})" if s.startswith("-") else s
    if kind == "bin" and e[1] == "**":
        # On floats the table forms powers with IEEE's ±inf where Python's ** raises.
        return f"POW({py_expr(e[2])}, {py_expr(e[3])})"
    if kind == "bin":
        return f"{_py_operand(e[2])} {e[1]} {_py_operand(e[3])}"
    if kind == "neg":
        return f"-{_py_operand(e[1])}"
    if kind == "call":
        return f"{e[1]}({', '.join(py_expr(a) for a in e[2])})"
    if kind == "cmp":
        return f"{_py_operand(e[2])} {e[1]} {_py_operand(e[3])}"
    if kind == "truth":
        return py_expr(e[1])
    raise ValueError(f"trace: unknown expression {e!r}")


def _py_operand(e: tuple) -> str:
    s = py_expr(e)
    return f"({s})" if e[0] in ("bin", "neg") else s


def py_lines(stmts: list[tuple]) -> list[str]:
    """Python lines of the statements, indented for their ifs (a work list, no recursion)."""
    lines: list[str] = []
    work: list = [(s, "") for s in reversed(stmts)]
    while work:
        item = work.pop()
        if isinstance(item, str):
            lines.append(item)
            continue
        s, ind = item
        if s[0] == "let":
            lines.append(f"{ind}{{t}}{s[1]} = {py_expr(s[2])}")
        elif s[0] == "res":
            lines.append(f"{ind}{{r}}{s[1]} = {py_expr(s[2])}")
        elif s[0] == "fail":
            lines.append(f"{ind}raise ArithmeticError('outside the domain')")
        else:
            inner = ind + "    "
            lines.append(f"{ind}if {py_expr(s[1])}:")
            work += [(x, inner) for x in reversed(s[3])]
            work.append(f"{ind}else:")
            work += [(x, inner) for x in reversed(s[2])]
    return lines


# POW is pow's own IEEE form, what the table's partials compute a float power with; a traced
# function whose ** means Python's (raising) power fails validation and is called instead.
NAMESPACE = {"INF": math.inf, "NAN": math.nan, "abs": abs, "POW": OPS["pow"].ieee,
             **{f"F_{name}": op.forward for name, op in OPS.items()}}

# For C, math functions are followed too (each maps to libm); predicates become branches.
MATH_FUNCTIONS = ("exp", "expm1", "log", "log1p", "log2", "log10", "sqrt", "sin", "cos", "tan",
                  "asin", "acos", "atan", "sinh", "cosh", "tanh", "asinh", "acosh", "atanh",
                  "fabs", "erf", "erfc")
MATH_PREDICATES = ("isinf", "isnan", "isfinite")
_PROBE_NAMESPACE = {**NAMESPACE, **{f"m_{f}": getattr(math, f) for f in MATH_FUNCTIONS
                                    + MATH_PREDICATES}}
_MATH_LOCK = threading.Lock()


def _symbolic_math(name: str, original: Callable, predicate: bool) -> Callable:
    def call(*args):
        sym = next((a for a in args if isinstance(a, _Sym)), None)
        if sym is None:
            return original(*args)
        if len(args) != 1:
            raise _Untraceable(f"math.{name} with {len(args)} arguments")
        expr = ("call", f"m_{name}", (sym.node,))
        return sym.tracer.decide(("truth", expr)) if predicate else sym.tracer.emit(expr)
    return call


@contextmanager
def _math_followed():
    """While tracing for C: ``math.exp(stand-in)`` records a call instead of failing."""
    with _MATH_LOCK:
        saved = {f: getattr(math, f) for f in MATH_FUNCTIONS + MATH_PREDICATES}
        try:
            for f, fn in saved.items():
                setattr(math, f, _symbolic_math(f, fn, f in MATH_PREDICATES))
            yield
        finally:
            for f, fn in saved.items():
                setattr(math, f, fn)


@dataclass(frozen=True)
class Template:
    """One op's forward or partials for a number of inputs, traced."""

    stmts: list
    outs: list
    selects: tuple | None  # see _zero_when_g_is
    py: list[str]  # Python lines with placeholders, filled by ``str.format_map``
    py_outs: list[str]


# ------------------------------------------------------------------------------ checking

def _same(a, b) -> bool:
    """Bit for bit, but any NaN equals any NaN (zeros must agree in sign)."""
    if a != a or b != b:
        return a != a and b != b
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


def _probe(t: Template, n: int, partials: bool) -> Callable | None:
    names = {f"a{i}": f"a{i}" for i in range(n)} | {"out": "aout", "g": "ag", "t": "t", "r": "r"}
    params = [f"a{i}" for i in range(n)] + (["aout", "ag"] if partials else [])
    body = [s.format_map(names) for s in t.py]
    body.append(f"return ({', '.join(o.format_map(names) for o in t.py_outs)},)")
    src = f"def probe({', '.join(params)}):\n" + "".join(f"    {s}\n" for s in body)
    ns = dict(_PROBE_NAMESPACE)
    try:
        exec(builtins.compile(src, "<autograd.compile probe>", "exec"), ns)
    except SyntaxError:
        return None
    return ns["probe"]


# Inputs: ordinary numbers, and the edges where a product or a power overflows, a quotient
# underflows, or a non-finite number passes through.
_POOL = [0.0, 1.0, -1.0, 0.5, -0.5, 2.0, -2.5, 3.7, 1e-3, 0.3, -0.0, 1e-300, 1e300, -1e-300,
         5e-324, 1e-310, math.inf, -math.inf, math.nan]
# Upstream gradients, 7 of them (prime to the 2 kinds of input draw): 0 and -0 where a skip is
# decided, tiny and huge where g·(1/x) and g/x part ways, infinite.
_GRADIENTS = [1.0, 0.0, 1e-300, 1e300, -2.5, -0.0, math.inf]


def _validate(fn: Callable, t: Template, n: int, out_of: Callable | None,
              single: bool = True) -> bool:
    """Check the traced code against the function itself on sample inputs (and upstream
    gradients, for partials), bit for bit."""
    partials = out_of is not None
    probe = _probe(t, n, partials)
    if probe is None:
        return False
    rng = random.Random(n)
    checked = 0
    # 40 samples for the usual few inputs; fewer for a very wide sum or dot, whose template is
    # the same few steps repeated, so that checking stays linear in the width.
    for trial in range(max(4, min(40, 100_000 // max(n, 1)))):
        xs = rng.choices(_POOL, k=n) if trial % 2 else [8.0 * rng.random() - 4.0 for _ in range(n)]
        g = _GRADIENTS[trial % len(_GRADIENTS)]
        try:
            args = xs + ([out_of(*xs)] if partials else [])
        except Exception:  # noqa: BLE001 - a sample outside the op's domain is skipped
            continue
        want = _outcome(fn, args, {"g": g}) if partials else _outcome(fn, args, {}, single)
        got = _outcome(probe, args + [g] if partials else args, {})
        checked += 1
        if want is None or got is None:  # both must fail, or neither
            if (want is None) != (got is None):
                return False
            continue
        if len(got) != len(want) or not all(_same(a, b) for a, b in zip(got, want)):
            return False
    return checked > 0


def _outcome(fn: Callable, args: list, kwargs: dict, single: bool = False) -> tuple | None:
    """``fn``'s results as a tuple, or None if it raised."""
    try:
        result = fn(*args, **kwargs)
    except Exception:  # noqa: BLE001 - any failure counts; traced code must fail alike
        return None
    return (result,) if single else tuple(result)


# ------------------------------------------------------------------------------ templates

# Keyed by id: only the op table's own entries are traced, and each value keeps its op alive, so
# an id is never reused while it is a key. Ops need not be hashable or weakly referable.
_TEMPLATES: dict[tuple, tuple[Op, Template | None]] = {}


# The table as it was defined: a primitive registered later under its name is still a user's.
_TABLE = {id(op) for op in OPS.values()}


def traceable(op: Op) -> bool:
    """Whether ``op`` is the op table's own entry (user primitives are called at replay)."""
    return id(op) in _TABLE and OPS.get(op.name) is op


_ORIGINAL_MATH = {f: getattr(math, f) for f in MATH_FUNCTIONS + MATH_PREDICATES}


def _forward_fn(op: Op) -> Callable:
    fwd = op.forward
    name = getattr(fwd, "__name__", "")
    if _ORIGINAL_MATH.get(name) is fwd:
        # The forward is math.tanh itself: look it up at call time, where a trace for C
        # follows it.
        return lambda *a: getattr(math, name)(*a)
    if getattr(fwd, "__objclass__", None) is float:
        # float.__add__ and friends: the same-named operator on the stand-in.
        return lambda *a: getattr(a[0], name)(*a[1:])
    return fwd


def template(op: Op, n: int, kind: str, target: str = "python") -> Template | None:
    """Traced ``forward`` or ``partials`` of ``op`` for ``n`` inputs, or None to call it.

    ``target="c"`` also follows math functions and keeps domain-error paths (a replay in C
    reports those and the caller redoes the step in Python, which raises the op's own error).
    """
    if not traceable(op):
        return None
    key = (id(op), n, kind, target)
    if key not in _TEMPLATES:
        _TEMPLATES[key] = (op, _trace(op, n, kind, target))
    return _TEMPLATES[key][1]


def _trace(op: Op, n: int, kind: str, target: str) -> Template | None:
    partials = kind == "partials"
    fn = op.partials if partials else _forward_fn(op)
    if target == "c":
        with _math_followed():
            paths = _explore(fn, n, partials, allow_fail=True)
    else:
        paths = _explore(fn, n, partials)
    if paths is None:
        return None
    stmts, outs = _assemble(paths)
    t = Template(stmts, outs, _zero_when_g_is(paths, len(outs)) if partials else None,
                 py_lines(stmts), [_py_operand(o) for o in outs])
    ok = _validate(op.partials, t, n, op.forward) if partials else _validate(op.forward, t, n, None)
    return t if ok else None


_RULES: dict[Callable, Template | None] = {}


def rule_template(fn: Callable, n: int, outputs: int) -> Template | None:
    """A function of ``n`` floats returning a tuple of ``outputs`` floats (an optimizer's
    per-parameter rule), traced for C as an op's forward is, and checked bit for bit against
    ``fn`` itself; None where it cannot be traced."""
    if fn not in _RULES:
        with _math_followed():
            paths = _explore(fn, n, False, allow_fail=True, outputs=outputs)
        t = None
        if paths is not None:
            stmts, outs = _assemble(paths)
            t = Template(stmts, outs, None, py_lines(stmts), [_py_operand(o) for o in outs])
            t = t if _validate(fn, t, n, None, single=False) else None
        _RULES[fn] = t
    return _RULES[fn]


# ------------------------------------------------------------------------------ loop forms
#
# An n-ary op (sum, dot) traced per size gives one function per size: a sum over 4,417
# parameters is a 4,417-line C function, and every new width or batch size is a new library.
# A loop form is found from the traces themselves, not written by hand: the inputs are taken
# as ``groups`` runs of m inputs each (dot: m weights, m inputs) followed by ``tails`` single
# ones (dot's bias). The forward must be a fold: the same block of steps once per j < m, reading
# input j of each group, the block before's last step (the carry, which starts as an expression
# of the tails and numbers) and its own steps. Each partial must be one expression per group in
# the j-th inputs (and the tails, the output, g). The form is used only if, rebuilt for every
# m up to LOOP_CHECK, it is step for step the trace of that size (whose template is itself
# checked against the op's functions): the C loop then does the same operations in the same
# order as the function for that size would.

LOOP_CHECK = 7  # sizes (in units of m) at which a loop form must equal the traced steps


@dataclass(frozen=True)
class LoopForm:
    """An n-ary op's forward and partials for any number of inputs ``groups·m + tails``.

    Expressions use ("in", ("grp", g)) for input j of group g, ("in", ("tail", t)) for tail t,
    ("tmp", k) for step k of the block and ("tmp", "c") for the carry."""

    groups: int
    tails: int
    init: tuple          # the carry before the first block
    block: list          # the block's steps; the last is the new carry
    per_group: list      # the partial of input j of group g
    per_tail: list       # the partial of tail t
    selects: tuple | None  # the template's rule for skipping at g = 0, None: never skip


def _raw(op: Op, n: int, partials: bool):
    """The straight-line steps and outputs of ``op`` at ``n`` inputs, or None."""
    if template(op, n, "partials" if partials else "forward", "c") is None:
        return None
    fn = op.partials if partials else _forward_fn(op)
    with _math_followed():
        paths = _explore(fn, n, partials)
    if paths is None or len(paths) != 1 or paths[0][0].decisions or paths[0][1] is None:
        return None
    return paths[0][0].lets, paths[0][1]


def _generalise(e: tuple, m: int, j: int, groups: int, lets_at: Callable) -> tuple | None:
    """``e`` (from a trace at m units) in terms of j; None where it reads anything else."""
    kind = e[0]
    if kind == "in":
        i = e[1]
        if i < groups * m:
            return ("in", ("grp", i // m)) if i % m == j else None
        return ("in", ("tail", i - groups * m))
    if kind == "tmp":
        return lets_at(e[1])
    if kind in ("bin", "cmp"):
        a, b = (_generalise(x, m, j, groups, lets_at) for x in (e[2], e[3]))
        return None if a is None or b is None else (kind, e[1], a, b)
    if kind in ("neg", "truth"):
        a = _generalise(e[1], m, j, groups, lets_at)
        return None if a is None else (kind, a)
    if kind == "call":
        args = [_generalise(x, m, j, groups, lets_at) for x in e[2]]
        return None if None in args else ("call", e[1], tuple(args))
    return e  # a number, g, the output


def _specialise(e: tuple, m: int, j: int, groups: int, name: Callable) -> tuple:
    """The inverse: ``e`` at unit j of a trace with m units; ``name`` numbers the steps."""
    kind = e[0]
    if kind == "in":
        what, k = e[1]
        return ("in", k * m + j if what == "grp" else groups * m + k)
    if kind == "tmp":
        return name(e[1])
    if kind in ("bin", "cmp"):
        return (kind, e[1], *(_specialise(x, m, j, groups, name) for x in (e[2], e[3])))
    if kind in ("neg", "truth"):
        return (kind, _specialise(e[1], m, j, groups, name))
    if kind == "call":
        return ("call", e[1], tuple(_specialise(x, m, j, groups, name) for x in e[2]))
    return e


def _expand(e: tuple, lets: list) -> tuple:
    """``e`` with every temporary replaced by its steps (partials are a few steps each)."""
    return _specialise_tmp(e, lambda k: _expand(lets[k], lets))


def _specialise_tmp(e: tuple, sub: Callable) -> tuple:
    kind = e[0]
    if kind == "tmp":
        return sub(e[1])
    if kind in ("bin", "cmp"):
        return (kind, e[1], _specialise_tmp(e[2], sub), _specialise_tmp(e[3], sub))
    if kind in ("neg", "truth"):
        return (kind, _specialise_tmp(e[1], sub))
    if kind == "call":
        return ("call", e[1], tuple(_specialise_tmp(x, sub) for x in e[2]))
    return e


def _shape(op: Op) -> tuple[int, int] | None:
    """(groups, tails): the sizes the op takes are groups·m + tails for m = 1, 2, ..."""
    ok = [n for n in range(1, 8) if template(op, n, "forward", "c") is not None]
    for groups in (1, 2, 3):
        for tails in range(groups):
            sizes = [n for n in ok if n >= groups + tails]
            if sizes[:3] == [groups * m + tails for m in (1, 2, 3)]:
                return groups, tails
    return None


def _fold(op: Op, groups: int, tails: int):
    """The forward as (carry start, block), or None if it is no fold."""
    m = 3
    raws = [_raw(op, groups * k + tails, False) for k in (2, 3)]
    if None in raws:
        return None
    (lets2, _), (lets, outs) = raws
    size = len(lets) - len(lets2)
    if size < 1 or len(lets) != m * size or outs != [("tmp", len(lets) - 1)]:
        return None
    def local(k: int) -> tuple:
        if k == size - 1:
            return ("tmp", "c")
        return ("tmp", k - size) if size <= k < 2 * size else ("bad",)
    block = [_generalise(e, m, 1, groups, local) for e in lets[size:2 * size]]  # j = 1
    if any(e is None or "bad" in repr(e) for e in block):
        return None
    # The carry's start: what block 0 reads where block 1 reads the carry.
    init = _carry_start(lets[:size], block, m, groups)
    if init is None:
        return None
    init = _generalise(init, m, -1, groups, lambda k: ("bad",))
    return None if init is None or "bad" in repr(init) else (init, block)


def _carry_start(lets0: list, block: list, m: int, groups: int) -> tuple | None:
    """The expression block 0 reads in place of the carry (numbers and tails only)."""
    found: list = []

    def match(gen, raw) -> bool:
        if gen == ("tmp", "c"):
            if "tmp" in repr(raw):
                return False
            found.append(raw)
            return True
        if gen[0] == "tmp":
            return raw == ("tmp", gen[1])
        if gen[0] == "in":
            return raw == _specialise(gen, m, 0, groups, None)
        if gen[0] != raw[0] or len(gen) != len(raw):
            return False
        if gen[0] in ("bin", "cmp"):
            return gen[1] == raw[1] and match(gen[2], raw[2]) and match(gen[3], raw[3])
        if gen[0] in ("neg", "truth"):
            return match(gen[1], raw[1])
        if gen[0] == "call":
            return gen[1] == raw[1] and len(gen[2]) == len(raw[2]) and all(
                map(match, gen[2], raw[2]))
        return gen == raw
    if not all(map(match, block, lets0)) or len(set(found)) != 1:
        return None
    return found[0]


def _unrolled(init: tuple, block: list, m: int, groups: int) -> tuple[list, tuple]:
    """The steps the fold takes at m units, numbered as a trace numbers them."""
    lets: list = []
    carry = _specialise(init, m, 0, groups, None)
    for j in range(m):
        base = len(lets)

        def name(k, base=base, carry=carry):
            return carry if k == "c" else ("tmp", base + k)
        lets += [_specialise(e, m, j, groups, name) for e in block]
        carry = ("tmp", len(lets) - 1)
    return lets, carry


def _partial_forms(op: Op, groups: int, tails: int):
    """Per group and per tail, the partial's expression in j; None where there is none."""
    m = 3
    raw = _raw(op, groups * m + tails, True)
    if raw is None:
        return None
    lets, outs = raw
    outs = [_expand(o, lets) for o in outs]
    per_group = []
    for g in range(groups):
        e = _generalise(outs[g * m + 1], m, 1, groups, lambda k: ("bad",))
        if e is None or "bad" in repr(e):
            return None
        per_group.append(e)
    per_tail = [_generalise(outs[groups * m + t], m, -1, groups, lambda k: ("bad",))
                for t in range(tails)]
    if any(e is None or "bad" in repr(e) for e in per_tail):
        return None
    return per_group, per_tail


_LOOPS: dict[int, tuple[Op, LoopForm | None]] = {}


def loop_form(op: Op) -> LoopForm | None:
    """The loop form of an n-ary op of the table, or None (then one function per size)."""
    if not traceable(op) or op.arity is not None:
        return None
    if id(op) not in _LOOPS:
        _LOOPS[id(op)] = (op, _find_loop(op))
    return _LOOPS[id(op)][1]


def _find_loop(op: Op) -> LoopForm | None:
    shape = _shape(op)
    if shape is None:
        return None
    groups, tails = shape
    fold, parts = _fold(op, groups, tails), _partial_forms(op, groups, tails)
    if fold is None or parts is None:
        return None
    init, block = fold
    per_group, per_tail = parts
    for m in range(1, LOOP_CHECK + 1):
        n = groups * m + tails
        fwd, bwd = _raw(op, n, False), _raw(op, n, True)
        if fwd is None or bwd is None:
            return None
        lets, carry = _unrolled(init, block, m, groups)
        if (lets, [carry]) != (fwd[0], fwd[1]):
            return None
        want = [_expand(o, bwd[0]) for o in bwd[1]]
        got = [_specialise(per_group[g], m, j, groups, None) for g in range(groups)
               for j in range(m)]
        got += [_specialise(e, m, 0, groups, None) for e in per_tail]
        if got != want:
            return None
    t = template(op, groups * 3 + tails, "partials", "c")
    return LoopForm(groups, tails, init, block, per_group, per_tail,
                    None if t.selects is None else ())
