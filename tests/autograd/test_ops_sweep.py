"""Every primitive in the op table, swept against math, PyTorch float64 and finite differences.

A new entry in the table is picked up here automatically; it fails until TORCH below names its
PyTorch counterpart, so no op goes untested.
"""
from __future__ import annotations
import math

import pytest

import autograd
from autograd import Value
from autograd.extend import OPS
from oracle import TORCH
from programs import cases, sample_points
from oracle import torch


# math's own functions, a second forward oracle where one exists.
MATH = {
    "exp": math.exp, "log": math.log, "sqrt": math.sqrt, "tanh": math.tanh, "sin": math.sin,
    "cos": math.cos, "add": lambda a, b: a + b, "mul": lambda a, b: a * b,
    "pow": math.pow, "abs": abs, "sigmoid": lambda x: 1 / (1 + math.exp(-x)),
    "softplus": lambda x: math.log1p(math.exp(x)),
}


def torch_grads(name, xs, order=1):
    ts = [torch.tensor(x, requires_grad=True) for x in xs]
    out = TORCH[name](*ts)
    if order == 0:
        return out.item()
    g = torch.autograd.grad(out, ts, create_graph=order > 1)
    if order == 1:
        return [t.item() for t in g]
    rows = []
    for gi in g:
        if not gi.requires_grad:  # a constant first derivative: its derivatives are all 0
            rows.append([0.0] * len(ts))
            continue
        hs = torch.autograd.grad(gi, ts, allow_unused=True, retain_graph=True)
        rows.append([h.item() if h is not None else 0.0 for h in hs])
    return rows


def close(a, b, rel=1e-9, abs_=1e-12):
    return a == pytest.approx(b, rel=rel, abs=abs_)


def test_every_op_has_an_oracle():
    assert set(OPS) == set(TORCH), "add a PyTorch counterpart for each new op to TORCH"


@pytest.mark.parametrize("name,n", list(cases()))
def test_forward(name, n):
    op = OPS[name]
    for xs in sample_points(op, n):
        out = autograd.extend.apply(op, [Value(x) for x in xs])
        assert isinstance(out, Value) and out.op == name
        assert close(out.data, torch_grads(name, xs, order=0))
        if name in MATH:
            assert close(out.data, MATH[name](*xs))


@pytest.mark.parametrize("name,n", list(cases()))
def test_first_derivative(name, n):
    op = OPS[name]
    for xs in sample_points(op, n):
        vs = [Value(x) for x in xs]
        out = autograd.extend.apply(op, vs)
        out.backward()
        expected = torch_grads(name, xs, order=1)
        for v, e in zip(vs, expected):
            assert close(v.grad, e), (name, xs)
        # Central finite differences, an oracle independent of both engines.
        h = 1e-6
        for k, v in enumerate(vs):
            up, down = list(xs), list(xs)
            up[k] += h
            down[k] -= h
            numeric = (op.forward(*up) - op.forward(*down)) / (2 * h)
            assert v.grad == pytest.approx(numeric, rel=1e-5, abs=1e-7), (name, xs, k)


@pytest.mark.parametrize("name,n", list(cases()))
def test_second_derivative(name, n):
    op = OPS[name]
    for xs in sample_points(op, n, count=3):
        vs = [Value(x) for x in xs]
        out = autograd.extend.apply(op, vs)
        first = autograd.grad(out, vs, create_graph=True)
        hessian = [[h.data if isinstance(h, Value) else h for h in autograd.grad(g, vs)]
                   for g in first]
        expected = torch_grads(name, xs, order=2)
        for row, erow in zip(hessian, expected):
            for h, e in zip(row, erow):
                assert close(h, e, rel=1e-8, abs_=1e-10), (name, xs, hessian, expected)


@pytest.mark.parametrize("name", [n for n, op in OPS.items() if op.arity is not None])
def test_formulas_cover_every_input(name):
    op = OPS[name]
    for i in range(op.arity):
        text = op.formula(i, op.arity)
        assert isinstance(text, str) and text
        text.format(*[f"x{k}" for k in range(op.arity)], out="y")
    op.expression(op.arity).format(*[f"x{k}" for k in range(op.arity)], out="y")
