"""nn.health: per-layer gradient norms, update ratios, dead and saturated units, checked against
the same network in PyTorch float64 and against hand-built graphs."""
from __future__ import annotations

import math

import pytest

import nn
from autograd import Value
from nn import losses
from nn.health import (Health, HealthRecorder, activations_by_layer, dead_fraction,
                       plot_health, saturated_fraction, update_ratio, weights_by_layer)
from oracle import torch, require_torch

X, Y = nn.datasets.make_moons(24, noise=0.1, seed=3)


def sgd_steps(model, lr: float, steps: int, loss=losses.mse) -> Health:
    """The training loop written out, with the recorder around each update."""
    rec = HealthRecorder(model)
    for _ in range(steps):
        total = loss([model(x) for x in X], Y)
        model.zero_grad()
        total.backward()
        before = rec.before()
        for p in model.parameters():
            p.data -= lr * p.grad
        rec.record(total, before)
    return rec.health


def torch_health(model, lr: float, steps: int) -> dict[str, dict[str, list[float]]]:
    """The same figures from PyTorch: weight matrices before and after each torch SGD step, and
    the pre-activations of each hidden layer seen through forward hooks."""
    net = model.to_torch()
    linears = [m for m in net if isinstance(m, torch.nn.Linear)]
    names = [f"L{k}" for k in range(1, len(linears) + 1)]
    pre: dict[str, torch.Tensor] = {}
    for name, lin in zip(names, linears):
        lin.register_forward_hook(lambda mod, inp, out, name=name: pre.__setitem__(name, out))
    opt = torch.optim.SGD(net.parameters(), lr=lr)
    x = torch.tensor(X, dtype=torch.float64)
    y = torch.tensor(Y, dtype=torch.float64)
    out = {"grad_norm": {}, "update_ratio": {}, "dead": {}, "saturated": {}}
    for _ in range(steps):
        opt.zero_grad()
        loss = ((net(x).squeeze(1) - y) ** 2).mean()
        loss.backward()
        before = [lin.weight.detach().clone() for lin in linears]
        opt.step()
        for name, lin, w0 in zip(names, linears, before):
            out["grad_norm"].setdefault(name, []).append(lin.weight.grad.norm().item())
            out["update_ratio"].setdefault(name, []).append(
                ((lin.weight.detach() - w0).norm() / w0.norm()).item())
        act = model.activation
        for name in names[:-1]:  # the last layer is linear
            z = pre[name].detach()
            if act == "relu":
                out["dead"].setdefault(name, []).append((z <= 0).all(0).double().mean().item())
            else:
                a = torch.tanh(z) if act == "tanh" else 2 * torch.sigmoid(z) - 1
                out["saturated"].setdefault(name, []).append((a.abs() > 0.97).double().mean()
                                                             .item())
    return out


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_recorded_figures_equal_pytorch_over_a_few_steps(activation):
    # A large learning rate so that units die or saturate and the fractions are not all 0.
    require_torch()
    model = nn.MLP(2, [6, 5, 1], activation, seed=4)
    for p in model.parameters():
        p.data *= 3.0
    expected = torch_health(model, 0.5, 4)  # a copy: to_torch copies the weights
    got = sgd_steps(model, 0.5, 4)
    for figure in ("grad_norm", "update_ratio", "dead", "saturated"):
        series = getattr(got, figure)
        assert list(series) == list(expected[figure]), figure
        for layer, values in expected[figure].items():
            assert series[layer] == pytest.approx(values, rel=1e-9, abs=1e-12), (figure, layer)
    fractions = got.dead if activation == "relu" else got.saturated
    assert any(0 < f < 1 for fs in fractions.values() for f in fs), fractions


@pytest.mark.parametrize("activation", ["relu", "sigmoid"])
def test_fit_health_equals_pytorch_over_a_few_steps(activation):
    require_torch()
    model = nn.MLP(2, [6, 5, 1], activation, seed=5)
    for p in model.parameters():
        p.data *= 3.0
    expected = torch_health(model, 0.5, 4)
    history = nn.fit(model, X, Y, loss="mse", optimizer=nn.optim.SGD(model.parameters(), 0.5),
                     steps=4, health=True, progress=False)
    assert len(history.health) == len(history) == 4
    fractions = history.health.dead if activation == "relu" else history.health.saturated
    assert any(0 < f < 1 for fs in fractions.values() for f in fs), fractions
    for figure, series in expected.items():
        got = getattr(history.health, figure)
        assert list(got) == list(series), figure
        for layer, values in series.items():
            assert got[layer] == pytest.approx(values, rel=1e-9, abs=1e-12), (figure, layer)


def test_fit_records_health_only_when_asked_and_not_with_compile():
    model = nn.MLP(2, [3, 1], seed=0)
    assert nn.fit(model, X, Y, steps=1, progress=False).health is None
    with pytest.raises(ValueError, match="health=True .* compile=True"):
        nn.fit(model, X, Y, steps=1, progress=False, compile=True, health=True)


def test_update_ratio_by_hand():
    assert update_ratio([3.0, 4.0], [3.0, 4.5]) == pytest.approx(0.1)
    assert update_ratio([0.0], [0.0]) == 0.0
    assert update_ratio([0.0], [1.0]) == math.inf


def test_weights_exclude_biases_and_layers_keep_model_order():
    model = nn.MLP(2, [3, 1], seed=0)
    layers = weights_by_layer(model)
    assert list(layers) == ["L1", "L2"]
    assert [w.label for w in layers["L2"]] == ["L2.N1.w1", "L2.N1.w2", "L2.N1.w3"]
    assert len(layers["L1"]) == 6


def unit(label: str, pre: float, op: str) -> Value:
    v = getattr(Value(pre), op)()
    v.label = label
    return v


def test_dead_means_dead_on_every_example_and_saturated_counts_outputs():
    # L1.N1 is off on both examples (dead), L1.N2 on one of them (alive).
    nodes = [unit("L1.N1.out", -1.0, "relu"), unit("L1.N1.out", 0.0, "relu"),
             unit("L1.N2.out", -1.0, "relu"), unit("L1.N2.out", 0.5, "relu"),
             unit("L2.N1.out", 4.0, "tanh"), unit("L2.N1.out", 0.1, "tanh"),
             unit("L2.N2.out", -9.0, "sigmoid"), unit("L2.N2.out", 0.0, "sigmoid")]
    unlabelled = Value(-1.0).relu()          # not a unit of any layer
    root = sum(nodes, unlabelled)
    found = activations_by_layer(root)
    assert {k: sorted(u) for k, u in found.items()} == {"L1": ["L1.N1", "L1.N2"],
                                                        "L2": ["L2.N1", "L2.N2"]}
    assert dead_fraction(found["L1"]) == 0.5
    assert saturated_fraction(found["L2"]) == 0.5   # tanh(4) and σ(−9) of the four outputs
    assert saturated_fraction(found["L1"]) is None and dead_fraction(found["L2"]) is None


def test_six_sigmoid_layers_starve_the_first_layer_and_relu_does_not():
    # Moons, an 8-wide MLP with six hidden layers, one step from the same seeds. Through each
    # sigmoid (slope ≤ 1/4) the gradient shrinks; through ReLUs it does not.
    Xm, ym = nn.datasets.make_moons(100, noise=0.1, seed=1)
    for seed in (0, 1):
        ratios = {}
        for act in ("sigmoid", "relu"):
            model = nn.MLP(2, [8] * 6 + [1], act, seed=seed)
            g = nn.fit(model, Xm, ym, loss="mse", steps=1, health=True,
                       progress=False).health.grad_norm
            assert list(g) == [f"L{k}" for k in range(1, 8)]
            ratios[act] = g["L1"][0] / g["L7"][0]
        assert ratios["sigmoid"] < 1e-2, ratios
        assert ratios["relu"] > 0.1, ratios


@pytest.fixture
def agg():
    """matplotlib drawing off screen (the test skips where matplotlib is missing)."""
    pytest.importorskip("matplotlib", reason="plot_health draws with matplotlib").use("Agg")


def test_plot_health_draws_one_line_per_layer(agg):
    model = nn.MLP(2, [4, 4, 1], "relu", seed=0)
    health = sgd_steps(model, 0.1, 3)
    fig = plot_health(health, title="relu")
    # No sigmoid or tanh units: no saturation panel.
    grad_ax, ratio_ax, dead_ax = fig.axes
    assert [line.get_label() for line in grad_ax.get_lines()] == ["L1", "L2", "L3"]
    assert grad_ax.get_yscale() == "log" and ratio_ax.get_yscale() == "log"
    assert [line.get_label() for line in dead_ax.get_lines()] == ["L1", "L2"]
    assert dead_ax.get_title() == "dead ReLUs (fraction of units)"
    assert len({line.get_linestyle() for line in grad_ax.get_lines()}) == 3  # not colour alone
    tanh = sgd_steps(nn.MLP(2, [3, 1], "tanh", seed=0), 0.1, 2)
    assert [ax.get_title() for ax in plot_health(tanh).axes][2:] == [
        "saturated σ/tanh (fraction of outputs)"]


def test_plot_health_marks_a_zero_on_a_log_axis(agg):
    h = Health(grad_norm={"L1": [1.0, 0.0, 0.5]}, update_ratio={"L1": [1e-3, 0.0, 1e-3]})
    ax = plot_health(h).axes[0]
    line, ticks = ax.get_lines()
    assert math.isnan(line.get_ydata()[1])                 # not drawn at some fake height
    assert list(ticks.get_xdata()) == [1]                  # but marked on the axis
    assert any("exactly 0" in t.get_text() for t in ax.texts)
    with pytest.raises(TypeError, match="health=True"):
        plot_health(object())
