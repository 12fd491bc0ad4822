"""The op table: every primitive defined once.

An entry gives the forward on floats (with its domain checks), the local partial derivative with
respect to each input, a display symbol and the human formula of each partial. The partials are
written with operators and the dispatching helpers below, so the same function runs on floats
(plain backward, the fast path) and on Values (``grad(create_graph=True)``, higher orders).
Backward, the renderer, the explainer and the compiler all read these entries.
"""
from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from typing import Callable, Sequence


@dataclass(frozen=True, eq=False)
class Op:
    """One primitive: ``forward(*xs) -> float`` and ``partials(*xs, out) -> tuple``.

    ``arity`` is the number of inputs, or ``None`` for an n-ary op. ``formulas`` gives the partial
    with respect to each input as text, with ``{i}`` standing for input i and ``{out}`` for the
    output; for n-ary ops it is a function ``(i, n) -> str``. ``expr`` writes the output in terms
    of its inputs the same way (a function ``(n) -> str`` for n-ary ops).
    """

    name: str
    symbol: str
    forward: Callable[..., float]
    partials: Callable[..., tuple]
    formulas: Sequence[str] | Callable[[int, int], str]
    expr: str | Callable[[int], str]
    arity: int | None = None

    def formula(self, i: int, n: int) -> str:
        """The template of the partial with respect to input ``i`` of ``n``."""
        f = self.formulas
        return f(i, n) if callable(f) else f[i]

    def expression(self, n: int) -> str:
        """The template of the output in terms of ``n`` inputs."""
        return self.expr(n) if callable(self.expr) else self.expr

    def __call__(self, *args):
        """Apply the op to Values or numbers, recording a node."""
        from .engine import apply
        return apply(self, args)

    def __repr__(self) -> str:
        return f"Op({self.name!r})"


def _fail(kind: type[Exception], op: str, message: str) -> None:
    raise kind(f"{op}: {message}")


# Partials run on floats and on Values; these helpers pick math's function or the Value method.
def _dispatch(method: str, fn: Callable[[float], float]) -> Callable:
    def call(x):
        return fn(x) if isinstance(x, (float, int)) else getattr(x, method)()
    call.__name__ = method
    return call


_log = _dispatch("log", math.log)
_sig = _dispatch("sigmoid", lambda x: _sigmoid(x))
_sin = _dispatch("sin", math.sin)
_cos = _dispatch("cos", math.cos)


def _float(x) -> float:
    return x if isinstance(x, (float, int)) else x.data


# ---------------------------------------------------------------------------------- forwards

def _div(a: float, b: float) -> float:
    if b == 0:
        _fail(ZeroDivisionError, "div", f"division of {a!r} by zero")
    return a / b


def _pow(x: float, y: float) -> float:
    if x == 0 and y < 0:
        _fail(ZeroDivisionError, "pow", f"0.0 raised to the negative power {y!r}")
    if x < 0 and not float(y).is_integer():
        _fail(ValueError, "pow", f"negative base {x!r} raised to the non-integer power {y!r}")
    try:
        return x ** y
    except OverflowError:
        _fail(OverflowError, "pow", f"{x!r} ** {y!r} overflows a float")


def _pow_partials(x, y, out):
    xv, yv = _float(x), _float(y)
    if xv == 0 and yv < 1:
        # x**y has slope 0 at x = 0 when y == 0 (a constant) and an infinite one for 0 < y < 1.
        dx = 0.0 if yv == 0 else math.inf
    else:
        dx = y * x ** (y - 1)
    # As a function of the exponent, x**y is only differentiable for a positive base.
    dy = out * _log(x) if xv > 0 else 0.0
    return dx, dy


def _exp(x: float) -> float:
    try:
        return math.exp(x)
    except OverflowError:
        _fail(OverflowError, "exp", f"exp({x!r}) overflows a float")


def _log_fwd(x: float) -> float:
    if x <= 0:
        _fail(ValueError, "log", f"log of a non-positive number {x!r}")
    return math.log(x)


def _sqrt(x: float) -> float:
    if x < 0:
        _fail(ValueError, "sqrt", f"square root of a negative number {x!r}")
    return math.sqrt(x)


def _sigmoid(x: float) -> float:
    # Two branches so that exp never overflows: sigmoid(-1000) is exactly 0, sigmoid(1000) 1.
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _softplus(x: float) -> float:
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


def _trig(name: str, fn: Callable[[float], float]) -> Callable[[float], float]:
    def forward(x: float) -> float:
        if math.isinf(x):
            _fail(ValueError, name, f"{name} of an infinite number {x!r}")
        return fn(x)
    return forward


def _sum(*xs: float) -> float:
    return sum(xs, 0.0)


def _dot(*args: float) -> float:
    n = len(args) // 2
    # operator.mul is about twice as fast as float.__mul__ here, and compile can trace it.
    return sum(map(operator.mul, args[:n], args[n:2 * n]), args[2 * n])


def _dot_partials(*args):
    n = (len(args) - 2) // 2
    return (*args[n:2 * n], *args[:n], 1.0)


def _dot_formula(i: int, n: int) -> str:
    k = (n - 1) // 2
    if i == n - 1:
        return "1"
    return f"{{{i + k}}}" if i < k else f"{{{i - k}}}"


def _dot_expr(n: int) -> str:
    k = (n - 1) // 2
    return " + ".join([f"{{{i}}}·{{{i + k}}}" for i in range(k)] + [f"{{{n - 1}}}"])


def _nary(op: str, n: int) -> str:
    return op.join(f"{{{i}}}" for i in range(n))


# ---------------------------------------------------------------------------------- the table

OPS: dict[str, Op] = {op.name: op for op in [
    Op("add", "+", float.__add__, lambda a, b, out: (1.0, 1.0), ("1", "1"), "{0} + {1}", 2),
    Op("sub", "−", float.__sub__, lambda a, b, out: (1.0, -1.0), ("1", "−1"), "{0} − {1}", 2),
    Op("mul", "·", float.__mul__, lambda a, b, out: (b, a), ("{1}", "{0}"), "{0}·{1}", 2),
    Op("div", "/", _div, lambda a, b, out: (1.0 / b, -out / b),
       ("1/{1}", "−{out}/{1}"), "{0}/{1}", 2),
    Op("pow", "^", _pow, _pow_partials,
       ("{1}·{0}^({1}−1)", "{out}·log({0})"), "{0}^{1}", 2),
    Op("neg", "−", float.__neg__, lambda a, out: (-1.0,), ("−1",), "−{0}", 1),
    Op("abs", "|·|", abs, lambda a, out: (1.0 if a > 0 else -1.0 if a < 0 else 0.0,),
       ("sign({0})",), "|{0}|", 1),
    Op("exp", "exp", _exp, lambda a, out: (out,), ("{out}",), "exp({0})", 1),
    Op("log", "log", _log_fwd, lambda a, out: (1.0 / a,), ("1/{0}",), "log({0})", 1),
    Op("sqrt", "√", _sqrt, lambda a, out: (0.5 / out if _float(out) else math.inf,),
       ("1/(2·{out})",), "√{0}", 1),
    Op("tanh", "tanh", math.tanh, lambda a, out: (1.0 - out * out,),
       ("1 − {out}²",), "tanh({0})", 1),
    Op("sigmoid", "σ", _sigmoid, lambda a, out: (out * (1.0 - out),),
       ("{out}·(1 − {out})",), "σ({0})", 1),
    Op("relu", "ReLU", lambda a: a if a > 0 else 0.0,
       lambda a, out: (1.0 if a > 0 else 0.0,), ("[{0} > 0]",), "ReLU({0})", 1),
    Op("leaky_relu", "LReLU", lambda a, s: a if a > 0 else s * a,
       lambda a, s, out: (1.0 if a > 0 else s, 0.0 if a > 0 else a),
       ("[{0} > 0] + {1}·[{0} ≤ 0]", "min({0}, 0)"), "LReLU({0}, {1})", 2),
    Op("softplus", "softplus", _softplus, lambda a, out: (_sig(a),), ("σ({0})",),
       "softplus({0})", 1),
    Op("sin", "sin", _trig("sin", math.sin), lambda a, out: (_cos(a),), ("cos({0})",),
       "sin({0})", 1),
    Op("cos", "cos", _trig("cos", math.cos), lambda a, out: (-_sin(a),), ("−sin({0})",),
       "cos({0})", 1),
    Op("sum", "Σ", _sum, lambda *a: (1.0,) * (len(a) - 1), lambda i, n: "1",
       lambda n: _nary(" + ", n)),
    Op("dot", "w·x+b", _dot, _dot_partials, _dot_formula, _dot_expr),
]}
