"""The graded graphs, from easy to hard, each written once as a builder.

A builder takes a ``Tape`` and builds its graph with plain Python operators and methods, so the
same code runs on a learner's class and on ``autograd.Value``. Every value it makes goes through
the tape under a name (``t("c", a * b)``): the names pair each node of the learner's graph with
the engine's, whatever the learner keeps as children (a set, a tuple) or adds in between (micrograd
writes ``a - b`` as ``a + (b * -1)``). Numbers stay plain numbers, so ``2 * a`` tests ``__rmul__``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable


class Tape:
    """Makes leaves of one class and records every named node a builder makes, in order."""

    def __init__(self, value_class: type, label: bool = False) -> None:
        self.value_class = value_class
        self.label = label   # the engine's nodes get their names as labels, for drawings
        self.nodes: dict[str, Any] = {}

    def leaf(self, name: str, x: float) -> Any:
        return self(name, self.value_class(x))

    def __call__(self, name: str, node: Any) -> Any:
        self.nodes[name] = node
        if self.label:
            node.label = name
        return node


@dataclass(frozen=True)
class Graph:
    """One graded graph: its name, its builder, the methods it needs and how many times
    ``backward()`` is called on its output. A class without one of ``needs`` skips the graph."""

    name: str
    build: Callable[[Tape], Any]
    needs: tuple[str, ...]
    backwards: int = 1
    about: str = ""


# Leaves away from every special point: a ≠ 0, 1 (pow), a > 0 (log), b ≠ 0 (division), and
# tanh(a) far enough from 0 and 1 that 1 − t and 1 − t² differ clearly.
A, B = 1.5, -2.5


def _op(expr: Callable[..., Any], leaves: str = "a", out: str = "b",
        at: float = A) -> Callable[[Tape], Any]:
    """A builder of one op on the leaves named in ``leaves`` (a = ``at``, b = B), its output
    named ``out``: c for a binary op, as in "c = a * b", b for a method or ``**``."""
    def build(t: Tape) -> Any:
        xs = [t.leaf("a", at)] + ([t.leaf("b", B)] if leaves == "ab" else [])
        return t(out, expr(*xs))
    return build


# (name, the method it needs, builder). A number on the left calls the reflected method. The
# ops come in the order micrograd builds them from each other: + and * first, then ** and unary
# −, then − (a + (−b)) and / (a · b**−1), so that a wrong ** is caught at ** itself.
_SINGLE: list[tuple[str, str, Callable[[Tape], Any]]] = [
    ("a + b", "__add__", _op(lambda a, b: a + b, "ab", "c")),
    ("a + 2", "__add__", _op(lambda a: a + 2, out="c")),
    ("2 + a", "__add__", _op(lambda a: 2 + a, out="c")),
    ("a * b", "__mul__", _op(lambda a, b: a * b, "ab", "c")),
    ("a * 2", "__mul__", _op(lambda a: a * 2, out="c")),
    ("2 * a", "__mul__", _op(lambda a: 2 * a, out="c")),
    ("a ** 3", "__pow__", _op(lambda a: a ** 3)),
    ("-a", "__neg__", _op(lambda a: -a)),
    ("a - b", "__sub__", _op(lambda a, b: a - b, "ab", "c")),
    ("a - 2", "__sub__", _op(lambda a: a - 2, out="c")),
    ("2 - a", "__sub__", _op(lambda a: 2 - a, out="c")),
    ("a / b", "__truediv__", _op(lambda a, b: a / b, "ab", "c")),
    ("a / 2", "__truediv__", _op(lambda a: a / 2, out="c")),
    ("2 / a", "__truediv__", _op(lambda a: 2 / a, out="c")),
    ("a.exp()", "exp", _op(lambda a: a.exp())),
    ("a.tanh()", "tanh", _op(lambda a: a.tanh())),
    ("a.relu() at a > 0", "relu", _op(lambda a: a.relu())),
    ("a.relu() at a < 0", "relu", _op(lambda a: a.relu(), at=B)),
    ("a.sigmoid()", "sigmoid", _op(lambda a: a.sigmoid())),
    ("a.log()", "log", _op(lambda a: a.log())),
]


def _twice_add(t: Tape):
    a = t.leaf("a", A)
    return t("c", a + a)


def _twice_mul(t: Tape):
    a = t.leaf("a", A)
    return t("c", a * a)


def _diamond(t: Tape):
    # a reaches d along two paths, through b and through c.
    a, w = t.leaf("a", A), t.leaf("w", B)
    b = t("b", a * w)
    c = t("c", a + w)
    return t("d", b * c)


def _doubled_twice(t: Tape):
    a = t.leaf("a", 3.0)
    b = t("b", a + a)
    return t("c", b + b)


def _neuron(t: Tape):
    # The neuron of Karpathy's micrograd lecture: o = tanh(x1·w1 + x2·w2 + b) = 0.7071.
    x1, x2 = t.leaf("x1", 2.0), t.leaf("x2", 0.0)
    w1, w2 = t.leaf("w1", -3.0), t.leaf("w2", 1.0)
    b = t.leaf("b", 6.8813735870195432)
    x1w1 = t("x1w1", x1 * w1)
    x2w2 = t("x2w2", x2 * w2)
    s = t("x1w1 + x2w2", x1w1 + x2w2)
    n = t("n", s + b)
    return t("o", n.tanh())


# The seed's worked example (Mazur): two inputs, two hidden and two output sigmoid neurons, one
# bias shared per layer, E = ½ Σ (target − out)².
NETWORK = {"i1": 0.05, "i2": 0.10, "w1": 0.15, "w2": 0.20, "w3": 0.25, "w4": 0.30,
           "w5": 0.40, "w6": 0.45, "w7": 0.50, "w8": 0.55, "b1": 0.35, "b2": 0.60}
TARGETS = {"o1": 0.01, "o2": 0.99}


def _network(t: Tape):
    v = {name: t.leaf(name, x) for name, x in NETWORK.items()}

    def neuron(name: str, w: tuple[str, str], x: tuple[str, str], b: str) -> Any:
        p = t(f"{w[0]}·{x[0]}", v[w[0]] * v[x[0]])
        q = t(f"{w[1]}·{x[1]}", v[w[1]] * v[x[1]])
        s = t(f"{w[0]}·{x[0]} + {w[1]}·{x[1]}", p + q)
        net = t(f"net_{name}", s + v[b])
        v[f"out_{name}"] = t(f"out_{name}", net.sigmoid())
        return v[f"out_{name}"]

    neuron("h1", ("w1", "w2"), ("i1", "i2"), "b1")
    neuron("h2", ("w3", "w4"), ("i1", "i2"), "b1")

    def error(name: str) -> Any:
        out = neuron(name, ("w5", "w6") if name == "o1" else ("w7", "w8"),
                     ("out_h1", "out_h2"), "b2")
        diff = t(f"target_{name} − out_{name}", TARGETS[name] - out)
        square = t(f"(target_{name} − out_{name})²", diff ** 2)
        return t(f"E_{name}", 0.5 * square)

    return t("E", error("o1") + error("o2"))


CHAIN_DEPTH = 5000
CHAIN_FACTOR = 0.9999


def _chain(t: Tape):
    # Deeper than Python's default recursion limit (1000): a recursive walk dies here.
    y = t.leaf("x", 1.0)
    for k in range(1, CHAIN_DEPTH + 1):
        y = t(f"y{k}", y * CHAIN_FACTOR)
    return y


def _two_backwards(t: Tape):
    # The graph of Karpathy's micrograd lecture: L = (a·b + c)·f.
    a, b, c, f = t.leaf("a", 2.0), t.leaf("b", -3.0), t.leaf("c", 10.0), t.leaf("f", -2.0)
    e = t("e", a * b)
    d = t("d", e + c)
    return t("L", d * f)


GRAPHS: tuple[Graph, ...] = (
    *[Graph(name, build, (need,), about="a single op" + (
        ", with a number on the left (Python calls the right operand's reflected method)"
        if name[0].isdigit() else "")) for name, need, build in _SINGLE],
    Graph("a + a", _twice_add, ("__add__",),
          about="a value used twice by one op: both edges' shares add up"),
    Graph("a * a", _twice_mul, ("__mul__",),
          about="a value used twice by one op: both edges' shares add up"),
    Graph("diamond", _diamond, ("__add__", "__mul__"),
          about="b = a·w, c = a + w, d = b·c: a reaches d along two paths"),
    Graph("b = a + a; c = b + b", _doubled_twice, ("__add__",),
          about="a reaches c along four paths; ∂c/∂a = 4"),
    Graph("neuron", _neuron, ("__add__", "__mul__", "tanh"),
          about="o = tanh(x1·w1 + x2·w2 + b), the neuron of the micrograd lecture"),
    Graph("2-2-2 network", _network, ("__add__", "__mul__", "__sub__", "__pow__", "sigmoid"),
          about="the seed's worked example: sigmoid neurons, shared biases, "
                "E = ½ Σ (target − out)²"),
    Graph(f"chain {CHAIN_DEPTH:,} deep", _chain, ("__mul__",),
          about=f"y = x · {CHAIN_FACTOR} ** {CHAIN_DEPTH}, one op after another: "
                "deeper than Python's recursion limit"),
    Graph("two backward() calls", _two_backwards, ("__add__", "__mul__"), backwards=2,
          about="L = (a·b + c)·f, backward() twice: as in PyTorch, each leaf's grad is "
                "exactly twice one call's"),
)
