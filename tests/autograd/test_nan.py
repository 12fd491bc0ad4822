"""NaN propagates through every op, forward and backward, as in PyTorch float64.

A NaN that some op turns back into a number hides a broken model: the loss reads fine, training
guards and detect_anomaly stay silent.
"""
from __future__ import annotations
import math

import pytest
from hypothesis import given, settings, strategies as st

import autograd
import nn
from autograd import Value
from autograd.extend import OPS
from oracle import TORCH
from programs import arities
from oracle import torch

NAN = math.nan

# The oracle for leaky_relu takes the slope as a tensor through torch.where, whose backward
# multiplies the unused branch's zero gradient by the NaN slope. PyTorch's own leaky_relu takes
# the slope as a plain number; its value with a NaN slope and a positive input is the input.
TORCH_ARTEFACTS = {("leaky_relu", 1)}


def same(a, b) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


def nan_cases():
    for name, op in OPS.items():
        for n in arities(op):
            for i in range(n):
                for other in (0.7, -0.7, 1.3):
                    yield pytest.param(name, n, i, other, id=f"{name}/{n}/nan@{i}/{other}")


@pytest.mark.parametrize("name,n,i,other", list(nan_cases()))
def test_nan_in_any_input_matches_pytorch(name, n, i, other):
    xs = [other] * n
    xs[i] = NAN
    vs = [Value(x) for x in xs]
    try:
        out = autograd.extend.apply(OPS[name], vs)
    except ValueError:
        # A domain error raised for the other inputs (log(-0.7), (-0.7) ** nan) is tested
        # elsewhere; it is not the NaN that was swallowed.
        assert other < 0
        return
    ts = [torch.tensor(x, requires_grad=True) for x in xs]
    tout = TORCH[name](*ts)
    assert same(out.data, tout.item()), (name, xs, out.data, tout.item())
    if (name, i) not in TORCH_ARTEFACTS:
        assert math.isnan(out.data), (name, xs, out.data)
    grads = autograd.grad(out, vs)
    tgrads = torch.autograd.grad(tout, ts, allow_unused=True)
    for k, (g, t) in enumerate(zip(grads, tgrads)):
        expected = 0.0 if t is None else t.item()
        if (name, i) in TORCH_ARTEFACTS:
            continue
        assert same(g, expected), (name, xs, k, g, expected)


@st.composite
def nan_calls(draw):
    name = draw(st.sampled_from(sorted(OPS)))
    n = draw(st.sampled_from(arities(OPS[name])))
    xs = draw(st.lists(st.floats(-3, 3), min_size=n, max_size=n))
    xs[draw(st.integers(0, n - 1))] = NAN
    return name, xs


@settings(max_examples=300, deadline=None)
@given(nan_calls())
def test_nan_anywhere_gives_nan_as_in_pytorch(call):
    name, xs = call
    try:
        out = autograd.extend.apply(OPS[name], [Value(x) for x in xs])
    except (ValueError, ZeroDivisionError, OverflowError):
        return   # the other inputs are outside the domain: not a NaN question
    tout = TORCH[name](*[torch.tensor(x) for x in xs]).item()
    assert same(out.data, tout), (name, xs, out.data, tout)
    if not absorbed(name, xs):
        assert math.isnan(out.data), (name, xs, out.data)


def absorbed(name: str, xs) -> bool:
    """Where IEEE 754 (and PyTorch) answer a number even though an input is NaN."""
    if name == "pow":   # x**0 is 1 for every x, 1**y is 1 for every y
        return xs[1] == 0 or xs[0] == 1
    # leaky_relu's slope is unused for a positive input.
    return name == "leaky_relu" and xs[0] > 0


def test_relu_of_nan_is_nan_and_anomaly_mode_sees_it():
    x = Value(NAN)
    assert math.isnan(x.relu().data)
    with autograd.detect_anomaly():
        with pytest.raises(FloatingPointError, match="relu produced nan"):
            x.relu()


def test_an_inactive_relu_sends_back_zero_even_for_a_nan_gradient():
    # relu is constant at a non-positive input, so its derivative there is exactly 0, whatever
    # arrives from above; PyTorch's threshold_backward says the same. (The NaN itself still
    # shows in the loss, which is where fit's guard looks.)
    x = Value(-1.0)
    y = x.relu() * Value(NAN)
    assert math.isnan(y.data)
    y.backward()
    tx = torch.tensor(-1.0, requires_grad=True)
    (torch.relu(tx) * torch.tensor(NAN)).backward()
    assert x.grad == tx.grad.item() == 0.0


def test_a_nan_weight_trips_the_fit_guard_with_hinge_loss():
    X, y = nn.datasets.make_moons(20, noise=0.1, seed=0)
    model = nn.MLP(2, [4, 1], seed=0)
    model.parameters()[0].data = NAN
    with pytest.raises(FloatingPointError, match="loss is nan at step 0: parameter L1.N1.w1"):
        nn.fit(model, X, y, loss="hinge", steps=2, progress=False)
