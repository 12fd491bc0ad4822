"""Random expression graphs that reuse nodes, checked against PyTorch float64."""
from __future__ import annotations
import math

import pytest
from hypothesis import assume, given, settings, strategies as st

import autograd
from autograd import Value
from oracle import torch


UNARY = {
    "tanh": (lambda v: v.tanh(), torch.tanh),
    "sigmoid": (lambda v: v.sigmoid(), torch.sigmoid),
    "sin": (lambda v: v.sin(), torch.sin),
    "exp": (lambda v: (v * 0.1).exp(), lambda t: torch.exp(t * 0.1)),
    "softplus": (lambda v: v.softplus(), torch.nn.functional.softplus),
    "square": (lambda v: v ** 2, lambda t: t ** 2),
    "neg": (lambda v: -v, lambda t: -t),
}
BINARY = {
    "add": (lambda a, b: a + b, lambda a, b: a + b),
    "sub": (lambda a, b: a - b, lambda a, b: a - b),
    "mul": (lambda a, b: a * b, lambda a, b: a * b),
    "div": (lambda a, b: a / (b * b + 1), lambda a, b: a / (b * b + 1)),
}

leaf_values = st.floats(-2, 2, allow_nan=False).filter(lambda x: abs(x) > 1e-3)


@st.composite
def programs(draw):
    """A straight-line program over a growing pool of nodes; operands are drawn from the whole
    pool, so nodes are reused and gradients must add up over several paths."""
    leaves = draw(st.lists(leaf_values, min_size=1, max_size=4))
    steps = []
    size = len(leaves)
    for _ in range(draw(st.integers(1, 14))):
        kind = draw(st.sampled_from(["unary", "binary", "sum", "dot"]))
        pick = st.integers(0, size - 1)
        if kind == "unary":
            steps.append((kind, draw(st.sampled_from(sorted(UNARY))), [draw(pick)]))
        elif kind == "binary":
            steps.append((kind, draw(st.sampled_from(sorted(BINARY))), [draw(pick), draw(pick)]))
        elif kind == "sum":
            steps.append((kind, "", draw(st.lists(pick, min_size=1, max_size=5))))
        else:
            k = draw(st.integers(1, 3))
            steps.append((kind, "", draw(st.lists(pick, min_size=2 * k + 1, max_size=2 * k + 1))))
        size += 1
    return leaves, steps


def run(leaves, steps, value_side: bool):
    pool = list(leaves)
    for kind, name, args in steps:
        xs = [pool[i] for i in args]
        if kind == "unary":
            f = UNARY[name][0 if value_side else 1]
            pool.append(f(xs[0]))
        elif kind == "binary":
            f = BINARY[name][0 if value_side else 1]
            pool.append(f(xs[0], xs[1]))
        elif kind == "sum":
            pool.append(autograd.sum(xs) if value_side else torch.stack(xs).sum())
        else:
            k = (len(xs) - 1) // 2
            if value_side:
                pool.append(autograd.dot(xs[:k], xs[k:2 * k], xs[-1]))
            else:
                pool.append(torch.dot(torch.stack(xs[:k]), torch.stack(xs[k:2 * k])) + xs[-1])
    # The root mixes the last node with an earlier one, so both are reached along many paths.
    return pool[-1] * pool[len(pool) // 2] + pool[-1]


def both(program, bound):
    """The program run on Values and on float64 tensors: (leaves, root) for each side."""
    leaves, steps = program
    ours = [Value(x) for x in leaves]
    try:
        root = run(ours, steps, value_side=True)
    except OverflowError:   # exp of a value the program grew too far: not a graph to compare
        assume(False)
    assume(math.isfinite(root.data) and abs(root.data) < bound)
    theirs = [torch.tensor(x, requires_grad=True) for x in leaves]
    return ours, root, theirs, run(theirs, steps, value_side=False)


@settings(max_examples=150, deadline=None)
@given(programs())
def test_random_graphs_match_pytorch(program):
    ours, root, theirs, troot = both(program, 1e8)
    root.backward()
    troot.backward()
    assert root.data == pytest.approx(troot.item(), rel=1e-9, abs=1e-12)
    for v, t in zip(ours, theirs):
        expected = t.grad.item() if t.grad is not None else 0.0
        assert v.grad == pytest.approx(expected, rel=1e-8, abs=1e-10)
    # grad() gives the same numbers without touching .grad.
    assert autograd.grad(root, ours) == pytest.approx([v.grad for v in ours], rel=1e-12)


@settings(max_examples=40, deadline=None)
@given(programs())
def test_random_graphs_second_order_match_pytorch(program):
    ours, root, theirs, troot = both(program, 1e6)
    first = autograd.grad(root, ours, create_graph=True)
    direction = [1.0 + 0.5 * i for i in range(len(ours))]
    hvp = autograd.grad(autograd.sum(g * c for g, c in zip(first, direction)), ours)
    tfirst = torch.autograd.grad(troot, theirs, create_graph=True, allow_unused=True)
    tdot = sum((g * c for g, c in zip(tfirst, direction) if g is not None), torch.tensor(0.0))
    if tdot.requires_grad:
        thvp = torch.autograd.grad(tdot, theirs, allow_unused=True)
        expected = [h.item() if h is not None else 0.0 for h in thvp]
    else:
        expected = [0.0] * len(theirs)
    assert hvp == pytest.approx(expected, rel=1e-7, abs=1e-9)
