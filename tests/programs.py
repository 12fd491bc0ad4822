"""Random programs for the replays and the op sweep's sample points (no oracle here)."""
from __future__ import annotations

import random

import pytest
from hypothesis import strategies as st

import autograd
from autograd import Value
from autograd.extend import OPS, primitive


def arities(op) -> list[int]:
    """The input counts an op is tested at (a few for the variadic ones)."""
    return [op.arity] if op.arity is not None else [3, 5, 7]


def cases():
    """One pytest param per (op, arity) of the op table."""
    for name, op in OPS.items():
        for n in arities(op):
            yield pytest.param(name, n, id=f"{name}/{n}")


def sample_points(op, n: int, count: int = 6, seed: int = 0) -> list[list[float]]:
    """Points inside the op's domain, kept away from kinks (|x| >= 0.2)."""
    rng = random.Random(f"{op.name}/{n}/{seed}")
    points = []
    while len(points) < count:
        xs = [rng.choice((-1, 1)) * rng.uniform(0.2, 2.0) for _ in range(n)]
        try:
            op.forward(*xs)
        except (ValueError, ZeroDivisionError):
            continue  # outside the domain: the domain checks themselves are tested elsewhere
        points.append(xs)
    return points


def close(a: float, b: float, rel: float = 1e-12) -> bool:
    """Equal to ``rel``, nan with nan, an infinity only with itself."""
    if a != a or b != b:
        return a != a and b != b
    if a in (float("inf"), float("-inf")) or b in (float("inf"), float("-inf")):
        return a == b
    return abs(a - b) <= rel * max(abs(a), abs(b)) + 1e-300


def eager(build, data):
    """Build the graph at ``data`` and return (root value, [∂root/∂leaf])."""
    xs = [Value(d) for d in data]
    out = build(xs)
    return out.data, autograd.grad(out, xs)


_cube = primitive("cube", lambda a: a * a * a, lambda a, out: (3.0 * a * a,), arity=1)


UNARY = {
    "tanh": lambda a: a.tanh(), "sigmoid": lambda a: a.sigmoid(), "relu": lambda a: a.relu(),
    "abs": abs, "neg": lambda a: -a, "leaky": lambda a: a.leaky_relu(0.1),
    "softplus": lambda a: a.softplus(), "sin": lambda a: a.sin(), "cos": lambda a: a.cos(),
    "exp": lambda a: a.tanh().exp(), "log": lambda a: (a * a + 1.0).log(),
    "sqrt": lambda a: (a * a + 1.0).sqrt(), "square": lambda a: a ** 2,
    "powpos": lambda a: (a * a + 0.5) ** 1.5, "cube": lambda a: _cube(a.tanh()),
}


BINARY = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
    "div": lambda a, b: a / (b * b + 1.0), "powvv": lambda a, b: (a * a + 1.0) ** b.tanh(),
    "sum": lambda a, b: autograd.sum([a, b, a * 0.5]),
    "dot": lambda a, b: autograd.dot([a, b], [b, 2.0], a),
    "leakyvv": lambda a, b: a.leaky_relu(b.sigmoid()),
}


instruction = st.one_of(
    st.tuples(st.sampled_from(sorted(UNARY)), st.integers(0, 10 ** 6)),
    st.tuples(st.sampled_from(sorted(BINARY)), st.integers(0, 10 ** 6), st.integers(0, 10 ** 6)),
)


points = st.lists(st.floats(-3, 3, allow_nan=False), min_size=3, max_size=3)


def program(instrs, mix: str = "sum"):
    """A function building the instructions' graph on given leaves. Every node is mixed into
    the root so no branch is dead: by one ``sum`` node, or (``mix="adds"``) by a chain of
    binary adds, which keeps the op sizes, and so a native library, the same for all graphs."""
    def build(xs):
        nodes = list(xs)
        for ins in instrs:
            if len(ins) == 2:
                nodes.append(UNARY[ins[0]](nodes[ins[1] % len(nodes)]))
            else:
                a, b = nodes[ins[1] % len(nodes)], nodes[ins[2] % len(nodes)]
                nodes.append(BINARY[ins[0]](a, b))
        made = nodes[len(xs):]
        if mix == "sum":
            return autograd.sum(made) if made else nodes[0] * 1.0
        total = nodes[0] * 1.0
        for node in made:
            total = total + node
        return total
    return build
