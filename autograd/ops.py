"""The op table: every primitive defined once, as data.

An entry names the forward on floats (with its domain checks), the function giving the partial
derivative with respect to each input, a display symbol and the human formula of each partial.
Backward, the renderer, the explainer and the compiler all read these entries; this module knows
nothing of them (it imports no other part of the package).

Partials have the signature ``partials(*xs, out, g=ONE)`` and return g·∂out/∂x_i for each input.
The walk passes the upstream gradient g so that each product is formed the precise way (g / x
rather than g · (1/x), which overflows first). Called without g they return the bare local
partials. They are written with operators and the dispatching helpers below, so the same
function runs on floats (plain backward, the fast path) and on Values (higher orders).
"""
from __future__ import annotations

import builtins
import math
import operator
from dataclasses import dataclass
from typing import Callable, Sequence


@dataclass(frozen=True, eq=False)
class Op:
    """One primitive: ``forward(*xs) -> float`` and ``partials(*xs, out, g=ONE) -> tuple``.

    ``arity`` is the number of inputs, or ``None`` for an n-ary op. ``formulas`` gives the partial
    with respect to each input as text, with ``{i}`` standing for input i and ``{out}`` for the
    output; for n-ary ops it is a function ``(i, n) -> str``. ``expr`` writes the output in terms
    of its inputs the same way (a function ``(n) -> str`` for n-ary ops). ``ieee``, for a forward
    that raises on part of its domain, gives IEEE 754's answer there (±inf, nan): derivatives use
    it, as PyTorch does, where the derivative is infinite but the value itself was finite.
    ``finite_slopes`` says that every partial is g times a number that is finite wherever the
    inputs and the output are finite, whatever the output (no division, no infinite slope, no
    out², which overflows for an output set by hand): then a zero upstream gradient yields
    exact zeros, and the float walk skips the node (inactive ReLUs, examples a hinge loss
    ignores).
    """

    name: str
    symbol: str
    forward: Callable[..., float]
    partials: Callable[..., tuple]
    formulas: Sequence[str] | Callable[[int, int], str]
    expr: str | Callable[[int], str]
    arity: int | None = None
    ieee: Callable[..., float] | None = None
    finite_slopes: bool = False

    def formula(self, i: int, n: int) -> str:
        """The template of the partial with respect to input ``i`` of ``n``."""
        f = self.formulas
        return f(i, n) if callable(f) else f[i]

    def expression(self, n: int) -> str:
        """The template of the output in terms of ``n`` inputs."""
        return self.expr(n) if callable(self.expr) else self.expr

    def __repr__(self) -> str:
        return f"Op({self.name!r})"


class _One:
    """The upstream gradient when none is given: the number 1, gone at the first operation.

    ``ONE * d`` is ``d`` itself, so a plain ``partials(*xs, out)`` returns the bare partials: no
    ``1.0·d`` node on Values, no multiplication in code traced from it. It supports what the
    partials do with g: multiply, divide, negate.
    """

    __slots__ = ()

    def __mul__(self, d):
        return d

    __rmul__ = __mul__

    def __truediv__(self, d):
        return _quotient(1.0, d)

    def __neg__(self) -> float:
        return -1.0

    def __pos__(self) -> float:
        return 1.0

    def __repr__(self) -> str:
        return "ONE"


ONE = _One()


def _float(x) -> float:
    return x if isinstance(x, (float, int)) else x.data


# Partials run on floats and on Values; these helpers pick math's function or the Value method.
def _dispatch(method: str, fn: Callable[[float], float]) -> Callable:
    def call(x):
        return fn(x) if isinstance(x, (float, int)) else getattr(x, method)()
    call.__name__ = method
    return call


def _is_node(x) -> bool:
    """Whether x is a recorded node (a Value), whose derivative must stay in its graph.

    At an infinite slope a number, or a stand-in the compiler traces, takes the constant inf;
    the traced code then needs no 1/0 or 0 ** negative, which Python raises on. A node takes the
    arithmetic form instead (IEEE's inf during the walk), so that higher derivatives follow it.
    """
    return hasattr(type(x), "parents")


def _quotient(a, b):
    """a / b, with IEEE 754's ±inf or nan where b is 0 (a Python float raises). During a walk
    a Value quotient gets IEEE's answer from the engine; a Value elsewhere gets a plain number."""
    try:
        return a / b
    except ZeroDivisionError:
        return _ieee_div(_float(a), _float(b))


def _power(x, y):
    """x ** y, with IEEE 754's ±inf where a float result overflows or x is 0 and y < 0."""
    if isinstance(x, (float, int)) and isinstance(y, (float, int)):
        return _ieee_pow(x, y)
    return x ** y


def _ieee_div(a: float, b: float) -> float:
    if b != 0:
        return a / b
    if a == 0 or a != a:
        return math.nan
    return math.copysign(math.inf, a) * math.copysign(1.0, b)


def _ieee_pow(x: float, y: float) -> float:
    odd = y % 2 == 1   # an odd integer exponent keeps the sign of the base
    try:
        return math.pow(x, y)
    except OverflowError:
        return -math.inf if x < 0 and odd else math.inf
    except ValueError:  # 0 to a negative power, or a negative base to a fractional one
        if x == 0:
            return -math.inf if odd and math.copysign(1.0, x) < 0 else math.inf
        return math.nan


# ---------------------------------------------------------------------------------- forwards
# Each is named after its op, so tracebacks and the compiler's generated code show the op.

# Addition, subtraction, multiplication and negation have no domain to check: their forwards
# are the operator module's functions, named after their ops like the rest, and called in C
# rather than as Python functions (every node of a network runs one).
add, sub, mul, neg = operator.add, operator.sub, operator.mul, operator.neg


def div(a: float, b: float) -> float:
    if b == 0:
        raise ZeroDivisionError(f"div: division of {a!r} by zero")
    return a / b


def pow(x: float, y: float) -> float:  # noqa: A001 - named after its op
    if x == 0 and y < 0:
        raise ZeroDivisionError(f"pow: 0.0 raised to the negative power {y!r}")
    if x < 0 and not float(y).is_integer():
        raise ValueError(f"pow: negative base {x!r} raised to the non-integer power {y!r}")
    try:
        return x ** y
    except OverflowError:
        raise OverflowError(f"pow: {x!r} ** {y!r} overflows a float") from None


def abs(a: float) -> float:  # noqa: A001 - named after its op
    return builtins.abs(a)


def exp(a: float) -> float:
    try:
        return math.exp(a)
    except OverflowError:
        raise OverflowError(f"exp: exp({a!r}) overflows a float") from None


def log(a: float) -> float:
    if a <= 0:
        raise ValueError(f"log: log of a non-positive number {a!r}")
    return math.log(a)


def sqrt(a: float) -> float:
    if a < 0:
        raise ValueError(f"sqrt: square root of a negative number {a!r}")
    return math.sqrt(a)


def tanh(a: float) -> float:
    return math.tanh(a)


def sigmoid(a: float) -> float:
    # Two branches so that exp never overflows: sigmoid(-1000) is exactly 0, sigmoid(1000) 1.
    if a >= 0:
        return 1.0 / (1.0 + math.exp(-a))
    e = math.exp(a)
    return e / (1.0 + e)


def relu(a: float) -> float:
    # Written so that NaN passes through (NaN <= 0 is false), as in PyTorch.
    return 0.0 if a <= 0 else a


def leaky_relu(a: float, s: float) -> float:
    return a if a > 0 else s * a


def softplus(a: float) -> float:
    return builtins.max(a, 0.0) + math.log1p(math.exp(-builtins.abs(a)))


def sin(a: float) -> float:
    if math.isinf(a):
        raise ValueError(f"sin: sin of an infinite number {a!r}")
    return math.sin(a)


def cos(a: float) -> float:
    if math.isinf(a):
        raise ValueError(f"cos: cos of an infinite number {a!r}")
    return math.cos(a)


def _plain_sum(terms, start):
    for t in terms:
        start = start + t
    return start


# The additions of sum and dot, left to right: what every replay (Python, C, JavaScript) runs.
# Python 3.12+ sums floats with a compensation term (Neumaier), which no replay does, so there
# the fold is written out; before 3.12, builtins.sum is that fold and about 25% faster on a dot.
_fold = builtins.sum if builtins.sum([1.0, 1e100, 1.0, -1e100]) == 0.0 else _plain_sum


def sum(*xs: float) -> float:  # noqa: A001 - named after its op
    return _fold(xs, 0.0)


def dot(*args: float) -> float:
    n = len(args) // 2
    if len(args) % 2 == 0:
        raise TypeError(f"dot: takes n weights, n inputs and a bias (an odd number of inputs), "
                        f"got {len(args)}")
    # operator.mul is about twice as fast as float.__mul__ here, and compile can trace it.
    return _fold(map(operator.mul, args[:n], args[n:2 * n]), args[2 * n])


# ---------------------------------------------------------------------------------- partials
# g·∂out/∂x_i for each input. Every returned term involves g, so that ONE disappears, except
# ZERO: where the function is constant in an input (a closed ReLU, x ** 0), the derivative is
# exactly 0 whatever g is. g·0 would be NaN for an infinite g; PyTorch masks these too.

ZERO = 0.0

_log = _dispatch("log", math.log)
_sig = _dispatch("sigmoid", sigmoid)
_sin = _dispatch("sin", math.sin)
_cos = _dispatch("cos", math.cos)


def d_add(a, b, out, *, g=ONE):
    return +g, +g


def d_sub(a, b, out, *, g=ONE):
    return +g, -g


def d_mul(a, b, out, *, g=ONE):
    return g * b, g * a


def d_div(a, b, out, *, g=ONE):
    return _quotient(g, b), -_quotient(g * out, b)


def d_pow(x, y, out, *, g=ONE):
    xv, yv = _float(x), _float(y)
    # As a function of the exponent, x**y is differentiable only for a positive base. For a
    # base <= 0 it is taken as a function of x alone: ∂/∂y is 0, and y is a constant in ∂/∂x,
    # so that every derivative involving y is 0 and the Hessian stays symmetric.
    if xv <= 0:
        y, dy = yv, ZERO
    else:   # a NaN base too: its NaN goes on
        dy = g * (out * _log(x))
    if yv == 0:
        dx = ZERO   # constant in x, even at x = 0 where x**(y-1) is infinite (PyTorch too)
    elif xv == 0 and yv < 1 and not _is_node(x):
        dx = g * (y * math.inf)   # an infinite slope, signed as y (see _is_node)
    else:
        dx = g * (y * _power(x, y - 1))
    return dx, dy


def d_neg(a, out, *, g=ONE):
    return (-g,)


def d_abs(a, out, *, g=ONE):
    return (+g if a > 0 else -g if a < 0 else g * 0.0,)


def d_exp(a, out, *, g=ONE):
    return (g * out,)


def d_log(a, out, *, g=ONE):
    return (_quotient(g, a),)


def d_sqrt(a, out, *, g=ONE):
    if out == 0 and not _is_node(out):
        # An infinite slope at 0, as in PyTorch (see _is_node), signed as out: -inf at -0.0.
        # 1/out is written as IEEE's power, which a traced replay can form too.
        return (g * _power(out, -1.0),)
    return (_quotient(g, 2.0 * out),)


def d_tanh(a, out, *, g=ONE):
    return (g * (1.0 - out * out),)


def d_sigmoid(a, out, *, g=ONE):
    return (g * (out * (1.0 - out)),)


def d_relu(a, out, *, g=ONE):
    # Gated on the output as PyTorch does, so a NaN input passes the gradient on.
    return (ZERO if out <= 0 else +g,)


def d_leaky_relu(a, s, out, *, g=ONE):
    return (+g if a > 0 else g * s, ZERO if a > 0 else g * a)


def d_softplus(a, out, *, g=ONE):
    return (g * _sig(a),)


def d_sin(a, out, *, g=ONE):
    return (g * _cos(a),)


def d_cos(a, out, *, g=ONE):
    return (-g * _sin(a),)


def d_sum(*args, g=ONE):
    return (+g,) * (len(args) - 1)


def d_dot(*args, g=ONE):
    n = (len(args) - 2) // 2
    return (*[g * x for x in args[n:2 * n]], *[g * w for w in args[:n]], +g)


# ---------------------------------------------------------------------------------- formulas

def _dot_formula(i: int, n: int) -> str:
    k = (n - 1) // 2
    if i == n - 1:
        return "1"
    return f"{{{i + k}}}" if i < k else f"{{{i - k}}}"


def _dot_expr(n: int) -> str:
    k = (n - 1) // 2
    return " + ".join([f"{{{i}}}·{{{i + k}}}" for i in range(k)] + [f"{{{n - 1}}}"])


def _sum_expr(n: int) -> str:
    return " + ".join(f"{{{i}}}" for i in range(n))


def _ones(i: int, n: int) -> str:
    return "1"


def _ieee_exp(a: float) -> float:
    try:
        return math.exp(a)
    except OverflowError:
        return math.inf


def _ieee_log(a: float) -> float:
    return math.log(a) if a > 0 else -math.inf if a == 0 else math.nan


def _ieee_sqrt(a: float) -> float:
    return math.sqrt(a) if a >= 0 else math.nan


def _ieee_sin(a: float) -> float:
    return math.nan if math.isinf(a) else math.sin(a)


def _ieee_cos(a: float) -> float:
    return math.nan if math.isinf(a) else math.cos(a)


# ---------------------------------------------------------------------------------- the table

OPS: dict[str, Op] = {op.name: op for op in [
    Op(name="add",        symbol="+",        forward=add,        partials=d_add,        arity=2,
       formulas=("1", "1"),                                      expr="{0} + {1}",
       finite_slopes=True),
    Op(name="sub",        symbol="−",        forward=sub,        partials=d_sub,        arity=2,
       formulas=("1", "−1"),                                     expr="{0} − {1}",
       finite_slopes=True),
    Op(name="mul",        symbol="·",        forward=mul,        partials=d_mul,        arity=2,
       formulas=("{1}", "{0}"),                                  expr="{0}·{1}",
       finite_slopes=True),
    Op(name="div",        symbol="/",        forward=div,        partials=d_div,        arity=2,
       formulas=("1/{1}", "−{out}/{1}"),                         expr="{0}/{1}",
       ieee=_ieee_div),
    Op(name="pow",        symbol="^",        forward=pow,        partials=d_pow,        arity=2,
       formulas=("{1}·{0}^({1}−1)", "{out}·log({0})"),           expr="{0}^{1}",
       ieee=_ieee_pow),
    Op(name="neg",        symbol="−",        forward=neg,        partials=d_neg,        arity=1,
       formulas=("−1",),                                         expr="−{0}",
       finite_slopes=True),
    Op(name="abs",        symbol="|·|",      forward=abs,        partials=d_abs,        arity=1,
       formulas=("sign({0})",),                                  expr="|{0}|",
       finite_slopes=True),
    Op(name="exp",        symbol="exp",      forward=exp,        partials=d_exp,        arity=1,
       formulas=("{out}",),                                      expr="exp({0})",
       ieee=_ieee_exp, finite_slopes=True),
    Op(name="log",        symbol="log",      forward=log,        partials=d_log,        arity=1,
       formulas=("1/{0}",),                                      expr="log({0})",
       ieee=_ieee_log),
    Op(name="sqrt",       symbol="√",        forward=sqrt,       partials=d_sqrt,       arity=1,
       formulas=("1/(2·{out})",),                                expr="√{0}",
       ieee=_ieee_sqrt),
    Op(name="tanh",       symbol="tanh",     forward=tanh,       partials=d_tanh,       arity=1,
       formulas=("1 − {out}²",),                                 expr="tanh({0})"),
    Op(name="sigmoid",    symbol="σ",        forward=sigmoid,    partials=d_sigmoid,    arity=1,
       formulas=("{out}·(1 − {out})",),                          expr="σ({0})"),
    Op(name="relu",       symbol="ReLU",     forward=relu,       partials=d_relu,       arity=1,
       formulas=("[{0} > 0]",),                                  expr="ReLU({0})",
       finite_slopes=True),
    Op(name="leaky_relu", symbol="LReLU",    forward=leaky_relu, partials=d_leaky_relu, arity=2,
       formulas=("[{0} > 0] + {1}·[{0} ≤ 0]", "min({0}, 0)"),    expr="LReLU({0}, {1})",
       finite_slopes=True),
    Op(name="softplus",   symbol="softplus", forward=softplus,   partials=d_softplus,   arity=1,
       formulas=("σ({0})",),                                     expr="softplus({0})",
       finite_slopes=True),
    Op(name="sin",        symbol="sin",      forward=sin,        partials=d_sin,        arity=1,
       formulas=("cos({0})",),                                   expr="sin({0})",
       ieee=_ieee_sin, finite_slopes=True),
    Op(name="cos",        symbol="cos",      forward=cos,        partials=d_cos,        arity=1,
       formulas=("−sin({0})",),                                  expr="cos({0})",
       ieee=_ieee_cos, finite_slopes=True),
    Op(name="sum",        symbol="Σ",        forward=sum,        partials=d_sum,        arity=None,
       formulas=_ones,                                           expr=_sum_expr,
       finite_slopes=True),
    Op(name="dot",        symbol="w·x+b",    forward=dot,        partials=d_dot,        arity=None,
       formulas=_dot_formula,                                    expr=_dot_expr,
       finite_slopes=True),
]}
