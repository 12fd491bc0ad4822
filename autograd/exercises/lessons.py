"""The checks of notebook 08, "Your turn": one function per exercise, each returning ``Marks``.

Every answer is compared with an independent source: the seed's numbers for ``W · x``, calculus
and central differences for the local partials, the published numbers of the worked example
(Mazur, "A Step by Step Backpropagation Example") for the 2-2-2 network. An answer still written
as ``...`` (or a function still returning None) is "not done yet", never an error, so that the
notebook runs top to bottom before anything is filled in.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from autograd import Value, grad

from .adapter import attempt, number, one_line
from .checker import check
from .report import PASS, fmt

DONE, WRONG, TODO = "✓", "✗", "…"


@dataclass(frozen=True)
class Mark:
    """One answer: what was asked, the right answer, the learner's, and the verdict."""

    what: str
    expected: str
    yours: str
    verdict: str


@dataclass(frozen=True)
class Marks:
    """An exercise's answers; printed as a table with a one-line verdict last."""

    title: str
    marks: tuple[Mark, ...]

    @property
    def ok(self) -> bool:
        return all(m.verdict == DONE for m in self.marks)

    def summary(self) -> str:
        right = sum(m.verdict == DONE for m in self.marks)
        todo = sum(m.verdict == TODO for m in self.marks)
        wrong = len(self.marks) - right - todo
        if right == len(self.marks):
            return f"{DONE} {self.title}: all {right} right"
        parts = [f"{right} of {len(self.marks)} right"]
        parts += [f"{wrong} wrong"] if wrong else []
        parts += [f"{todo} not done yet"] if todo else []
        return f"{WRONG if wrong else TODO} {self.title}: " + ", ".join(parts)

    def text(self) -> str:
        rows = [["", "", "expected", "yours"]] + [[m.verdict, m.what, m.expected, m.yours]
                                                  for m in self.marks]
        widths = [max(len(r[k]) for r in rows) for k in range(4)]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
        return "\n".join(lines + ["", self.summary()])

    def __repr__(self) -> str:
        return self.text()

    def _repr_pretty_(self, p, cycle) -> None:
        p.text(self.text())


def _answer(fn: Callable[..., Any], *args: Any,
            read: Callable[[Any], Any] = number) -> tuple[Any, str]:
    """(the learner's answer read by ``read``, "") or (None, why there is none): "..." or None
    mean not done yet. The learner's code, reading its answer included, runs under a limit."""
    if fn is ... or fn is None:
        return None, "not written yet"

    def call():
        value = fn(*args)
        return value if value is ... or value is None else read(value)
    value, error = attempt(10.0, call)
    if error is not None:
        return None, f"raised {one_line(error)}"
    if value is ... or value is None:
        return None, "not done yet"
    return value, ""


def _mark(what: str, expected: float, fn: Callable[..., Any], *args: Any,
          rel: float = 1e-6, abs_: float = 1e-9, shown: str = "", digits: int = 6) -> Mark:
    shown = shown or fmt(expected)
    x, why = _answer(fn, *args, read=lambda v: number(v) if number(v) is not None else
                     f"{type(v).__name__}, not a number")
    if why:
        return Mark(what, shown, why, WRONG if why.startswith("raised") else TODO)
    if isinstance(x, str):
        return Mark(what, shown, x, WRONG)
    ok = math.isclose(x, expected, rel_tol=rel, abs_tol=abs_)
    return Mark(what, shown, fmt(x, digits), DONE if ok else WRONG)


# ------------------------------------------------------------------------------- W · x

INPUTS, DESIRED = (0.0, 1.0, 2.0), (0.0, 2.0, 4.0)
# The seed's squared errors (W·input − desired)² for each guess of W.
SQUARED_ERRORS = {3.0: (0.0, 1.0, 4.0), 4.0: (0.0, 4.0, 16.0), 2.0: (0.0, 0.0, 0.0)}


def check_squared_errors(squared_errors: Callable[[float], Any]) -> Marks:
    """``squared_errors(W)`` should give the three squared errors of ``output = W · input``."""
    marks = []
    for W, expected in SQUARED_ERRORS.items():
        xs, why = _answer(squared_errors, W, read=_list_of_numbers)
        if why:
            marks.append(Mark(f"W = {W:g}", _numbers(expected), why,
                              WRONG if why.startswith("raised") else TODO))
            continue
        ok = not isinstance(xs, str) and len(xs) == 3 and all(
            math.isclose(x, e, abs_tol=1e-9) for x, e in zip(xs, expected))
        marks.append(Mark(f"W = {W:g}", _numbers(expected),
                          xs if isinstance(xs, str) else _numbers(xs), DONE if ok else WRONG))
    return Marks("squared errors of W · input", tuple(marks))


def _list_of_numbers(value: Any) -> list[float] | str:
    """The numbers of a list or tuple, or what it is instead."""
    if not isinstance(value, (list, tuple)):
        return f"{type(value).__name__}, not a list"
    xs = [number(x) for x in value]
    return "not all numbers" if None in xs else xs


def _numbers(xs) -> str:
    return ", ".join(fmt(x) for x in xs)


def total_error(W: float) -> float:
    """E(W) = Σ (W·input − desired)², the seed's error."""
    return sum((W * x - y) ** 2 for x, y in zip(INPUTS, DESIRED))


def check_slope(slope: Callable[[Callable[[float], float], float], Any]) -> Marks:
    """``slope(f, W)`` should estimate dE/dW by a central difference; calculus says
    dE/dW = Σ 2·(W·input − desired)·input: 10 at W = 3, 20 at W = 4, 0 at W = 2."""
    marks = []
    for W in SQUARED_ERRORS:
        exact = sum(2 * (W * x - y) * x for x, y in zip(INPUTS, DESIRED))
        marks.append(_mark(f"dE/dW at W = {W:g}", exact, slope, total_error, W, rel=1e-4,
                           abs_=1e-4))
    return Marks("dE/dW by finite differences", tuple(marks))


# ------------------------------------------------------------------------- local partials

def _engine(f: Callable[..., Value], *xs: float) -> list[float]:
    """The engine's partials of f at xs: the oracle beside central differences."""
    vs = [Value(x) for x in xs]
    return grad(f(*vs), vs)


def check_partials(d_mul: Callable, d_tanh: Callable, d_pow: Callable,
                   d_exp: Callable) -> Marks:
    """The local partials, each checked at two points against the engine's (the tests confirm
    those by central differences): d_mul(a, b) gives both partials, d_pow(x, n) the one in x."""
    cases = [   # (what, the op on Values, the learner's function, which partial, its arguments)
        ("∂(a·b)/∂a", lambda a, b: a * b, _picker(d_mul, 0), 0, (3.0, -2.0)),
        ("∂(a·b)/∂b", lambda a, b: a * b, _picker(d_mul, 1), 1, (3.0, -2.0)),
        ("d tanh(x)/dx", lambda x: x.tanh(), d_tanh, 0, (0.5,)),
        ("d tanh(x)/dx", lambda x: x.tanh(), d_tanh, 0, (-1.5,)),
        ("d x³/dx", lambda x: x ** 3, d_pow, 0, (1.5, 3)),
        ("d x⁻²/dx", lambda x: x ** -2, d_pow, 0, (0.5, -2)),
        ("d exp(x)/dx", lambda x: x.exp(), d_exp, 0, (0.5,)),
        ("d exp(x)/dx", lambda x: x.exp(), d_exp, 0, (-2.0,)),
    ]
    marks = []
    for what, on_values, learner_fn, index, args in cases:
        xs = args[:1] if what.startswith("d x") else args   # the exponent is not an input
        exact = _engine(on_values, *xs)[index]
        at = ", ".join(fmt(x) for x in args)
        marks.append(_mark(f"{what} at ({at})", exact, learner_fn, *args))
    return Marks("local partials", tuple(marks))


def _picker(fn: Callable, index: int) -> Callable | Any:
    """A function giving item ``index`` of what ``fn`` returns (d_mul returns a pair)."""
    if fn is ... or fn is None:
        return fn

    def pick(*args):
        pair = fn(*args)
        if pair is None or pair is ...:
            return pair
        return pair[index]
    return pick


# ------------------------------------------------------------------- the 2-2-2 network

# The worked example's published numbers, as printed there (a string keeps its digits: an answer
# is right when it matches them to within one unit of the last digit shown).
PUBLISHED = {
    "net_h1": "0.3775", "out_h1": "0.593269992", "out_h2": "0.596884378",
    "net_o1": "1.105905967", "out_o1": "0.75136507", "out_o2": "0.772928465",
    "E_o1": "0.274811083", "E_o2": "0.023560026", "E_total": "0.298371109",
    "dE_dout_o1": "0.74136507", "dout_o1_dnet_o1": "0.186815602",
    "dnet_o1_dw5": "0.593269992", "dE_dw5": "0.082167041",
    "dE_o1_dnet_o1": "0.138498562", "dE_o1_dout_h1": "0.055399425",
    "dE_o2_dout_h1": "-0.019049119", "dE_dout_h1": "0.036350306",
    "dout_h1_dnet_h1": "0.241300709", "dE_dw1": "0.000438568",
}


def check_network(answers: Mapping[str, Any]) -> Marks:
    """The 2-2-2 network by hand: each name of ``PUBLISHED`` looked up in ``answers`` (pass
    ``globals()`` in a notebook) and compared with the published number."""
    if not isinstance(answers, Mapping):
        raise TypeError(f"check_network: answers must be a mapping such as globals(), got "
                        f"{type(answers).__name__}")
    marks = []
    for name, text in PUBLISHED.items():
        unit = 10.0 ** -len(text.split(".")[1])
        marks.append(_mark(name, float(text), functools.partial(answers.get, name), rel=0,
                           abs_=unit, shown=text, digits=10))
    return Marks("the 2-2-2 network by hand", tuple(marks))


# ------------------------------------------------------------------------------ fix the bug

def check_fixes(*classes: Any) -> Marks:
    """Each fixed class against every graded graph: passes, or the graph it still fails."""
    marks = []
    for cls in classes:
        name = getattr(cls, "__name__", "(not written yet)")
        report = check(cls)
        if report.passed and report.count(PASS) == len(report.results):
            marks.append(Mark(name, "passes every graph", "passes every graph", DONE))
            continue
        first = report.first_failure
        if first is None:
            marks.append(Mark(name, "passes every graph", report.summary(), TODO))
            continue
        where = f" at `{first.entry.code}`" if first.entry is not None else ""
        marks.append(Mark(name, "passes every graph", f"fails {first.graph}{where}", WRONG))
    return Marks("fix the bug", tuple(marks))
