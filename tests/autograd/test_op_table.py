"""The op table as data: its displayed formulas are the derivatives its code computes.

The renderer and the explainer show ``op.formula(i, n)``; backward runs ``op.partials``. Each
formula is translated from its display notation into Python here and evaluated at sample points,
so the text and the code cannot drift apart.
"""
import ast
import itertools
import math
import random
import re
from pathlib import Path

import pytest

import autograd
from autograd.extend import OPS
from programs import arities, sample_points


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def sign(x: float) -> float:
    return (x > 0) - (x < 0)


NAMES = {"log": math.log, "exp": math.exp, "sin": math.sin, "cos": math.cos, "tanh": math.tanh,
         "sqrt": math.sqrt, "sigmoid": sigmoid, "sign": sign, "min": min, "max": max,
         "abs": abs, "softplus": lambda x: math.log1p(math.exp(x)),
         "ReLU": lambda x: max(x, 0.0),
         "LReLU": lambda x, s: x if x > 0 else s * x}

# Display notation → Python, applied in order.
NOTATION = [
    (r"\[([^\[\]]+)\]", r"(1.0 if \1 else 0.0)"),   # Iverson bracket [cond]
    (r"\|([^|]+)\|", r"abs(\1)"),
    (r"√\(([^)]*)\)", r"sqrt(\1)"),
    (r"√(\([^)]*\)|[\w.]+)", r"sqrt(\1)"),
    ("·", "*"), ("−", "-"), ("²", "**2"), (r"\^", "**"), ("≤", "<="), ("≥", ">="),
    ("σ", "sigmoid"), ("Σ", "sum"),
]


def python(template: str, xs, out) -> str:
    """The formula with inputs and output written in, in Python syntax."""
    text = template.format(*[f"({x!r})" for x in xs], out=f"({out!r})")
    for pattern, repl in NOTATION:
        text = re.sub(pattern, repl, text)
    return text


def table_cases():
    for name, op in OPS.items():
        for n in arities(op):
            yield pytest.param(name, n, id=f"{name}/{n}")


@pytest.mark.parametrize("name,n", list(table_cases()))
def test_displayed_formulas_equal_the_computed_partials(name, n):
    op = OPS[name]
    for xs in sample_points(op, n):
        out = op.forward(*xs)
        local = op.partials(*xs, out)
        assert len(local) == n
        for i in range(n):
            code = python(op.formula(i, n), xs, out)
            shown = eval(code, dict(NAMES))  # noqa: S307 - our own table's text
            assert shown == pytest.approx(local[i], rel=1e-12, abs=1e-15), (name, i, code)


@pytest.mark.parametrize("name,n", list(table_cases()))
def test_displayed_expression_equals_the_forward(name, n):
    op = OPS[name]
    for xs in sample_points(op, n):
        code = python(op.expression(n), xs, None)
        shown = eval(code, dict(NAMES))  # noqa: S307 - our own table's text
        assert shown == pytest.approx(op.forward(*xs), rel=1e-12), code


@pytest.mark.parametrize("name,n", list(table_cases()))
def test_partials_scaled_by_the_upstream_gradient(name, n):
    """partials(..., g=g) is g times the local partials (formed as g / x where that is
    more precise), and the plain call gives the local partials."""
    op = OPS[name]
    for xs in sample_points(op, n, count=3):
        out = op.forward(*xs)
        local = op.partials(*xs, out)
        assert all(type(d) is float for d in local), (name, local)
        for g in (1.0, -0.37, 2.5e3):
            scaled = op.partials(*xs, out, g=g)
            assert scaled == pytest.approx([g * d for d in local], rel=1e-14)


def test_forwards_are_named_after_their_op():
    for name, op in OPS.items():
        assert op.forward.__name__ == name, (name, op.forward)


def test_the_table_does_not_import_the_engine():
    source = Path(autograd.ops.__file__).read_text()
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            imported.add((node.level, node.module))
        elif isinstance(node, ast.Import):
            imported.update((0, a.name) for a in node.names)
    assert not any(level > 0 or (mod or "").startswith("autograd") for level, mod in imported)


EDGE_POINTS = (0.0, -0.0, 5e-324, -1.5, 0.7, 1e300, -1e300)


def edge_inputs(op, n):
    """Every combination of a few edge values for small arities, a sample for larger ones."""
    if n <= 2:
        return itertools.product(EDGE_POINTS, repeat=n)
    rng = random.Random(f"{op.name}/{n}")
    return [[rng.choice(EDGE_POINTS) for _ in range(n)] for _ in range(200)]


@pytest.mark.parametrize("name,n", list(table_cases()))
def test_finite_slopes_send_exact_zeros_for_a_zero_gradient(name, n):
    # The float walk skips a node whose upstream gradient is 0 when its op has finite slopes
    # and its inputs and output are finite; that is exact only if every term is then ±0.
    op = OPS[name]
    if not op.finite_slopes:
        return
    for xs in edge_inputs(op, n):
        try:
            out = op.forward(*xs)
        except (ArithmeticError, ValueError):
            continue
        for o in {out, 0.0, -2.0, 1e300}:
            if not math.isfinite(o):
                continue
            for g in (0.0, -0.0):
                terms = op.partials(*xs, o, g=g)
                assert all(d == 0 for d in terms), (name, xs, o, g, terms)
