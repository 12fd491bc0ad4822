"""explain() on the worked example against PyTorch float64 and the published numbers."""
from __future__ import annotations

import math

import pytest

import autograd
from autograd import Value
from oracle import d
from support import PUBLISHED, WEIGHTS
from oracle import torch

def names(path):
    return [(f.top.label, f.bottom.label) for f in path.factors]


def test_w5_reads_as_the_worked_example(worked, oracle):
    E, v = worked
    E.backward()
    t = oracle
    ex = autograd.explain(E, v["w5"])
    assert ex.n_paths == 1 and len(ex.paths) == 1
    (path,) = ex.paths
    assert names(path) == [("E", "out_o1"), ("out_o1", "net_o1"), ("net_o1", "w5")]
    # Each factor is a partial derivative: PyTorch's local derivative between the two values.
    oracle = [d(t, "E", "out_o1"), d(t, "out_o1", "net_o1"), d(t, "net_o1", "w5")]
    for f, want in zip(path.factors, oracle):
        assert f.value == pytest.approx(want, rel=1e-12)
    published = [PUBLISHED["dE/dout_o1"], PUBLISHED["dout_o1/dnet_o1"], PUBLISHED["dnet_o1/dw5"]]
    for f, want in zip(path.factors, published):
        assert f.value == pytest.approx(want, abs=5e-9)
    assert path.product == pytest.approx(PUBLISHED["dE/dw5"], abs=5e-10)
    assert ex.total == pytest.approx(d(t, "E", "w5"), rel=1e-12)
    text = str(ex)
    # The published line, digit for digit, and the op table's formula for the last factor.
    assert "0.74136507 × 0.186815602 × 0.593269992" in text
    assert "∂E/∂out_o1 · ∂out_o1/∂net_o1 · ∂net_o1/∂w5" in text
    assert "∂net_o1/∂w5 = out_h1 = 0.593269992" in text
    assert "∂out_o1/∂net_o1 = out_o1·(1 − out_o1) = 0.186815602" in text
    assert "equals w5.grad" in text and ex.matches_grad


def test_w1_has_two_paths_whose_sum_is_the_gradient(worked, oracle):
    E, v = worked
    E.backward()
    t = oracle
    ex = autograd.explain(E, v["w1"])
    assert ex.n_paths == 2 and len(ex.paths) == 2
    vias = sorted(tuple(x.label for x in p.through) for p in ex.paths)
    assert vias == [("out_o1", "net_o1", "out_h1", "net_h1"),
                    ("out_o2", "net_o2", "out_h1", "net_h1")]
    for p in ex.paths:
        o = p.through[0].label[-2:]
        want = (d(t, "E", f"out_{o}") * d(t, f"out_{o}", f"net_{o}")
                * d(t, f"net_{o}", "out_h1") * d(t, "out_h1", "net_h1") * d(t, "net_h1", "w1"))
        assert p.product == pytest.approx(want, rel=1e-12)
    assert ex.listed_sum == pytest.approx(d(t, "E", "w1"), rel=1e-12)
    assert ex.total == pytest.approx(PUBLISHED["dE/dw1"], abs=5e-10)
    assert v["w1"].grad == pytest.approx(ex.total, rel=1e-12)
    text = str(ex)
    assert "2 paths" in text and "Sum over the 2 paths: ∂E/∂w1" in text
    assert f"= {autograd.graph.fmt(ex.total, 9)}\nThis equals w1.grad" in text


def test_through_all_stops_at_every_op(worked, oracle):
    E, v = worked
    t = oracle
    ex = autograd.explain(E, v["w5"], through="all", merge_ones=False)
    (path,) = ex.paths
    # E = E_o1 + E_o2; E_o1 = 0.5·s; s = u²; u = 0.01 − out_o1; out_o1 = σ(net_o1); dot.
    assert len(path.factors) == 6
    assert [f.value for f in path.factors][:1] == [1.0]
    assert path.product == pytest.approx(d(t, "E", "w5"), rel=1e-12)


def test_explain_before_backward_says_grad_does_not_hold_it(worked):
    E, v = worked
    ex = autograd.explain(E, v["w5"])
    assert not ex.matches_grad
    assert "has not run" in str(ex)
    assert ex.total == pytest.approx(PUBLISHED["dE/dw5"], abs=5e-10)


def test_unrelated_value_has_no_paths(worked):
    E, _ = worked
    stranger = Value(3.0, "z")
    ex = autograd.explain(E, stranger)
    assert ex.n_paths == 0 and ex.total == 0.0 and "does not depend" in str(ex)


def test_many_paths_are_capped_but_count_and_total_are_exact():
    # Each layer y_k = 2·y_{k-1} + sin(y_{k-1}) doubles the labelled paths: 2**n in all.
    n = 20
    x = Value(0.3, "x")
    y = x
    tx = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
    ty = tx
    for k in range(1, n + 1):
        p = y * 2
        p.label = f"p{k}"
        q = y.sin()
        q.label = f"q{k}"
        y = p + q
        y.label = f"y{k}"
        ty = ty * 2 + torch.sin(ty)
    ex = autograd.explain(y, x, max_paths=5)
    assert ex.n_paths == 2 ** n
    assert len(ex.paths) == 5
    (g,) = torch.autograd.grad(ty, tx)
    assert ex.total == pytest.approx(g.item(), rel=1e-12)
    assert f"{2 ** n - 5} more paths not listed" in str(ex)
    # ∂y_k/∂p_k = 1 by formula, but folding it would name the factor ∂y_k/∂y_{k-1}, which is
    # 2 + cos(y_{k-1}) over both routes, not this path's 2: so nothing is folded here.
    assert all(len(p.factors) == 2 * n for p in ex.paths)
    unmerged = autograd.explain(y, x, max_paths=5, merge_ones=False)
    assert [p.product for p in unmerged.paths] == pytest.approx([p.product for p in ex.paths])


def test_markdown_has_latex_fractions(worked):
    E, v = worked
    E.backward()
    md = autograd.explain(E, v["w5"])._repr_markdown_()
    assert r"\frac{\partial E}{\partial w_{5}}" in md
    assert r"\frac{\partial \mathrm{out}_{\mathrm{o1}}}{\partial \mathrm{net}_{\mathrm{o1}}}" in md
    assert md.count("$$") % 2 == 0


def test_explain_is_iterative_on_a_deep_chain():
    x = Value(0.5, "x")
    y = x
    for k in range(5000):
        y = y * 1.0001
        y.label = f"y{k}"
    ex = autograd.explain(y, x, max_paths=1)
    assert ex.n_paths == 1 and math.isclose(ex.total, 1.0001 ** 5000, rel_tol=1e-9)


def hand_built_network():
    """The worked example written out here with Values, independently of nn.worked_example."""
    v = {"i1": Value(0.05, "i1"), "i2": Value(0.10, "i2"),
         "b1": Value(0.35, "b1"), "b2": Value(0.60, "b2")}
    v.update({f"w{k}": Value(x, f"w{k}") for k, x in enumerate(WEIGHTS, 1)})

    def neuron(ws, xs, b, name):
        net = autograd.dot([v[w] for w in ws], xs, v[b])
        net.label = f"net_{name}"
        out = net.sigmoid()
        out.label = f"out_{name}"
        v[net.label], v[out.label] = net, out
        return out

    h = [neuron(["w1", "w2"], [v["i1"], v["i2"]], "b1", "h1"),
         neuron(["w3", "w4"], [v["i1"], v["i2"]], "b1", "h2")]
    o1 = neuron(["w5", "w6"], h, "b2", "o1")
    o2 = neuron(["w7", "w8"], h, "b2", "o2")
    v["E_o1"] = 0.5 * (0.01 - o1) ** 2
    v["E_o2"] = 0.5 * (0.99 - o2) ** 2
    v["E_o1"].label, v["E_o2"].label = "E_o1", "E_o2"
    v["E"] = v["E_o1"] + v["E_o2"]
    v["E"].label = "E"
    return v["E"], v


def test_nn_worked_example_reads_the_same():
    # nn's own build of the network carries the same labels, so explain reads identically.
    from nn import worked_example

    net = worked_example.build()
    net.E.backward()
    E, v = hand_built_network()
    E.backward()
    for w in ["w1", "w5", "b2"]:
        assert str(autograd.explain(net.E, net[w])) == str(autograd.explain(E, v[w]))


def test_folded_factor_is_not_named_like_a_direct_partial():
    # out = x·y + x: folding out's "1" into ∂v/∂x would read ∂out/∂x = y, which is not ∂out/∂x.
    x, y = Value(2.0, label="x"), Value(3.0, label="y")
    v = x * y
    v.label = "v"
    out = v + x
    out.label = "out"
    out.backward()
    text = str(autograd.explain(out, x))
    assert "∂out/∂v · ∂v/∂x" in text and "∂out/∂x = y" not in text
    assert "= 1 + 3 = 4" in text
