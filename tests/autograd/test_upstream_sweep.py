"""Every op of the table with an infinite, NaN or zero upstream gradient, in every mode.

Reverse (``backward(g)``), ``grad(create_graph=True)``, forward (``jvp`` with tangent g), and
the compiled replays (Python code, Python tape, native C) must all give PyTorch float64's
answer, where a closed gate (relu at a non-positive input, ``x ** 0``, the slope input of
leaky_relu on its identity side) sends back an exact 0 whatever g is: the function is constant
there, so g·0 (NaN for an infinite g) is not the derivative.
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


UPSTREAM = [math.inf, -math.inf, math.nan, 0.0, -0.0, 2.5]

# Points where a gate is closed, a slope is infinite, or an input is a signed zero.
EDGES = {
    "relu": [[-1.0], [0.0], [-0.0], [2.0]],
    "pow": [[2.0, 0.0], [-2.0, 0.0], [0.0, 0.0], [0.0, 0.5], [-0.0, 3.0], [3.0, 2.0]],
    "leaky_relu": [[1.5, 0.1], [-1.5, 0.1], [-1.5, 0.0], [0.0, 0.2]],
    "sqrt": [[0.0], [-0.0], [4.0]],
    "abs": [[0.0], [-3.0]],
    "div": [[0.0, 2.0], [3.0, -0.5]],
    "log": [[1e-310], [2.0]],
}


def points(name: str, n: int) -> list[list[float]]:
    return sample_points(OPS[name], n, count=2) + [p for p in EDGES.get(name, []) if len(p) == n]


def same(ours: float, theirs: float) -> bool:
    if math.isnan(theirs) or math.isnan(ours):
        return math.isnan(theirs) and math.isnan(ours)
    if math.isinf(theirs) or theirs == 0:
        return ours == theirs
    return ours == pytest.approx(theirs, rel=1e-9)


def torch_vjp(name: str, xs: list[float], g: float) -> list[float]:
    ts = [torch.tensor(x, requires_grad=True) for x in xs]
    grads = torch.autograd.grad(TORCH[name](*ts), ts, grad_outputs=torch.tensor(g),
                                allow_unused=True)
    return [0.0 if d is None else d.item() for d in grads]


def torch_jvp(name: str, xs: list[float], ts: list[float]) -> float:
    _, tangent = torch.func.jvp(TORCH[name], tuple(map(torch.tensor, xs)),
                                tuple(map(torch.tensor, ts)))
    return tangent.item()


def convention(name: str, xs: list[float], i: int) -> bool:
    """Where this engine documents a choice PyTorch does not make: x ** y as a function of y is
    constant (derivative 0) for a base x <= 0, where PyTorch gives NaN or ±inf from log(x)."""
    return name == "pow" and i == 1 and xs[0] <= 0


def check(name: str, xs: list[float], g: float, ours: list[float], mode: str) -> None:
    theirs = torch_vjp(name, xs, g)
    for i, (a, b) in enumerate(zip(ours, theirs)):
        if convention(name, xs, i):
            assert a == 0.0, (mode, name, xs, g, i, a)
            continue
        assert same(a, b), (mode, name, xs, g, i, a, b)


@pytest.mark.parametrize("name,n", list(cases()))
def test_reverse_and_create_graph(name, n):
    for xs in points(name, n):
        for g in UPSTREAM:
            vs = [Value(x) for x in xs]
            autograd.extend.apply(OPS[name], vs).backward(g)
            check(name, xs, g, [v.grad for v in vs], "backward")
            vs = [Value(x) for x in xs]
            grads = autograd.grad(autograd.extend.apply(OPS[name], vs), vs, grad_output=g,
                                  create_graph=True)
            check(name, xs, g, [d.item() for d in grads], "create_graph")


@pytest.mark.parametrize("name,n", list(cases()))
def test_forward_mode(name, n):
    for xs in points(name, n):
        for g in UPSTREAM:
            for i in range(n):
                if convention(name, xs, i):
                    continue
                ts = [g if k == i else 0.0 for k in range(n)]
                _, ours = autograd.jvp(lambda *v: autograd.extend.apply(OPS[name], v), xs, ts)
                if g == 0:
                    # Nothing moves, so nothing changes, even through an infinite slope
                    # (torch.func forms 0 × inf = NaN there; this engine skips still inputs).
                    assert ours == 0, ("jvp", name, xs, ts, ours)
                    continue
                # torch.func multiplies 0 tangents too: compare only where no other partial
                # is infinite (0 × inf is NaN there, and a still input moves nothing here).
                others = [d for k, d in enumerate(torch_vjp(name, xs, 1.0)) if k != i]
                if any(math.isinf(d) or math.isnan(d) for d in others):
                    continue
                assert same(ours, torch_jvp(name, xs, ts)), ("jvp", name, xs, ts, ours)


@pytest.mark.parametrize("backend,mode", [("python", "code"), ("python", "tape"),
                                          ("native", "auto")])
@pytest.mark.parametrize("name,n", list(cases()))
def test_compiled(name, n, backend, mode):
    for xs in points(name, n):
        vs = [Value(x) for x in xs]
        out = autograd.extend.apply(OPS[name], vs)
        try:
            c = autograd.compile(out, backend=backend, mode=mode)
        except autograd.NativeUnavailable:
            pytest.skip("no C compiler")
        for g in UPSTREAM:
            for v in vs:
                v.grad = 0.0
            c.backward(g)
            check(name, xs, g, [v.grad for v in vs], f"compile {backend}/{mode}")


def test_the_issue_examples():
    x = Value(-1.0)
    x.relu().sqrt().backward()
    assert x.grad == 0.0
    assert autograd.jacrev(lambda x: (x ** 0.0 - 1.0).sqrt())(2.0) == [0.0]
    assert autograd.jvp(lambda x: (-x.sqrt()).relu(), (0.0,), (1.0,)) == (0.0, 0.0)
    assert autograd.jacfwd(lambda x: (-x.sqrt()).relu())(0.0) == [0.0]


def test_forward_mode_forms_the_product_as_reverse_does():
    _, t = autograd.jvp(lambda a, b: a / b, (1.0, 1e-200), (0.0, 1e-200))
    assert t == -1e200
    _, t = autograd.jvp(lambda x: x.log(), (1e-310,), (1e-10,))
    assert t == pytest.approx(1e300, rel=1e-12)
    # hvp inherits forward mode's products
    assert autograd.hvp(lambda x: x.log(), (1e-155,), (1e-10,))[0] == pytest.approx(
        -1e-10 / 1e-310, rel=1e-12)


def test_sqrt_at_negative_zero_is_minus_inf_in_both_modes():
    _, t = autograd.jvp(lambda x: x.sqrt(), (-0.0,), (1.0,))
    assert t == -math.inf
    x = Value(-0.0)
    x.sqrt().backward()
    assert x.grad == -math.inf


def test_hessian_of_pow_is_symmetric_at_a_negative_base():
    h = autograd.hessian(lambda x, y: x ** y)(-2.0, 3.0)
    assert h == [[-12.0, 0.0], [0.0, 0.0]]
    h = autograd.hessian(lambda x, y: x ** y)(2.0, 3.0)
    assert h[0][1] == pytest.approx(h[1][0], rel=1e-12)
    theirs = torch.func.hessian(lambda t: t[0] ** t[1])(torch.tensor([2.0, 3.0])).tolist()
    assert h == [pytest.approx(r, rel=1e-12) for r in theirs]


@pytest.mark.parametrize("args", [(), (1.0, 2.0), (1.0, 2.0, 3.0, 4.0)])
def test_dot_with_the_wrong_number_of_inputs_is_a_type_error(args):
    with pytest.raises(TypeError, match=r"dot: .*odd.*got %d" % len(args)):
        autograd.extend.apply(OPS["dot"], [Value(a) for a in args])
    assert autograd.extend.apply(OPS["dot"], [Value(2.0)]).data == 2.0   # no terms, a bias


@pytest.mark.parametrize("labelled", [True, False])
@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_the_explainer_closes_the_gate_too(labelled, mode):
    x = Value(-1.0, label="x")
    r = x.relu()
    r.label = "r" if labelled else ""
    y = r.sqrt()
    y.label = "y"
    y.backward()
    e = autograd.explain(y, x, mode=mode)
    products = [p.product for p in e.paths] if mode == "reverse" else [
        p.carried[-1] for p in e.paths]
    assert products == [0.0] and x.grad == 0.0
    assert "nan" not in str(e)
