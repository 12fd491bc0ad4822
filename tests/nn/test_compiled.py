"""fit(compile=True) and the demo's decision boundary: one example's graph, compiled once and
replayed over many rows, gives what eager training and eager evaluation give."""
import json
import math
import os
import subprocess
import sys

import pytest

import autograd
import nn
from apps import demo
from nn import losses
from support import ROOT

TOL = 1e-12


def moons(n=60):
    return nn.datasets.make_moons(n_samples=n, noise=0.1, seed=3)


def three_classes(X):
    """A third class out of moons, so that cross-entropy has more than two outputs."""
    return [0 if x[0] < 0 else 1 if x[0] < 1 else 2 for x in X]


def run(X, y, outputs, compiled, **kwargs):
    model = nn.MLP(2, [6, 6, outputs], seed=5)
    opt = nn.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    history = nn.fit(model, X, y, optimizer=opt, progress=False, compile=compiled, seed=11,
                     **kwargs)
    return history, [p.data for p in model.parameters()]


def assert_same_training(X, y, outputs, exact=False, **kwargs):
    (h_eager, w_eager), (h_comp, w_comp) = (run(X, y, outputs, c, **kwargs)
                                            for c in (False, True))
    if exact:
        assert h_comp.loss == h_eager.loss and w_comp == w_eager
    assert h_comp.loss == pytest.approx(h_eager.loss, rel=0, abs=TOL)
    assert h_comp.accuracy == h_eager.accuracy
    assert h_comp.lr == h_eager.lr
    assert w_comp == pytest.approx(w_eager, rel=0, abs=TOL)
    # The run did train: the weights moved and the loss fell.
    assert h_eager.loss[-1] < h_eager.loss[0]


@pytest.mark.parametrize("batch_size", [None, 16])
@pytest.mark.parametrize("loss", ["hinge", "bce", "mse", "cross_entropy"])
def test_compiled_fit_equals_eager_fit(loss, batch_size):
    X, y = moons()
    outputs = 2 if loss == "cross_entropy" else 1
    # hinge and mse use only +, −, ×, relu, dot and pow, which C computes as Python does, and
    # their per-example terms are eager's: the same bits. bce's softplus calls libm from C (the
    # same bits on glibc, not promised elsewhere); cross-entropy's term is another formula.
    assert_same_training(X, y, outputs, exact=loss in ("hinge", "mse"), loss=loss, steps=12,
                         batch_size=batch_size, l2=1e-3)


@pytest.mark.parametrize("batch_size", [None, 7])
def test_compiled_cross_entropy_with_three_classes_equals_eager(batch_size):
    X, _ = moons()
    assert_same_training(X, three_classes(X), 3, loss=losses.softmax_cross_entropy, steps=10,
                         batch_size=batch_size)


def test_compiled_fit_equals_eager_with_adam_and_a_schedule():
    X, y = moons()
    runs = []
    for compiled in (False, True):
        model = nn.MLP(2, [5, 1], seed=2)
        opt = nn.optim.Adam(model.parameters(), lr=0.02)
        h = nn.fit(model, X, y, loss="hinge", optimizer=opt, steps=8, batch_size=10, seed=4,
                   schedule=lambda k: 0.02 / (1 + k), compile=compiled, progress=False)
        runs.append((h.loss, h.lr, [p.data for p in model.parameters()]))
    assert runs[1] == runs[0]


def test_compile_cost_does_not_grow_with_the_data_set(monkeypatch):
    compiled = []
    real_compile = autograd.compile

    def spy(root, **kwargs):
        graph = real_compile(root, **kwargs)
        compiled.append(len(graph))
        return graph
    monkeypatch.setattr(autograd, "compile", spy)
    sizes = []
    for n in (20, 200):
        compiled.clear()
        X, y = moons(n)
        nn.fit(nn.MLP(2, [4, 1], seed=0), X, y, steps=2, batch_size=8, compile=True,
               progress=False)
        sizes.append(list(compiled))
    # Two graphs (the example's loss term, its output), whatever the number of examples.
    assert len(sizes[0]) == 2 and sizes[0] == sizes[1]


def test_cross_entropy_replay_stays_finite_for_logits_far_apart():
    # Logits a thousand apart, differing from example to example: a shift fixed when the graph
    # was built would overflow exp for some example; eager shifts each by its own maximum.
    X, _ = moons()
    y = three_classes(X)
    results = []
    for compiled in (False, True):
        model = nn.MLP(2, [6, 3], seed=1)
        for n in model.layers[-1].neurons:
            for w in n.w:
                w.data *= 1500.0
        h = nn.fit(model, X, y, loss="cross_entropy", steps=3, compile=compiled, progress=False,
                   optimizer=nn.optim.SGD(model.parameters(), lr=1e-6))
        results.append(h.loss)
    assert all(math.isfinite(v) and v > 100 for v in results[1])
    assert results[1] == pytest.approx(results[0], rel=1e-12)


def test_a_bad_label_raises_the_losses_own_error_before_training():
    X, y = moons()
    y[17] = 2
    model = nn.MLP(2, [4, 1], seed=0)
    before = [p.data for p in model.parameters()]
    with pytest.raises(ValueError, match="hinge: labels must be 0 or 1, got 2"):
        nn.fit(model, X, y, steps=3, batch_size=4, compile=True, progress=False)
    assert [p.data for p in model.parameters()] == before
    with pytest.raises(ValueError, match="label 5 is not a class index in 0..1"):
        nn.fit(nn.MLP(2, [4, 2], seed=0), X, [5] * len(X), loss="cross_entropy", steps=1,
               compile=True, progress=False)


def test_another_loss_is_replayed_on_the_full_batch_only():
    X, y = moons()

    def my_mse(outs, ts):
        return losses.mse(outs, ts) * 2.0

    assert_same_training(X, y, 1, loss=my_mse, steps=5)
    with pytest.raises(ValueError, match="mini-batches needs a loss fit knows"):
        nn.fit(nn.MLP(2, [4, 1], seed=0), X, y, loss=my_mse, steps=2, batch_size=8,
               compile=True, progress=False)


def test_decision_boundary_scores_equal_eager_outputs():
    X, y = moons()
    model = nn.MLP(2, [16, 16, 1], seed=1)
    nn.fit(model, X, y, steps=5, compile=True, progress=False)
    grid = [(-1.5 + 0.3 * i, -1.0 + 0.25 * j) for i in range(15) for j in range(12)]
    expected = [model(list(p)).data for p in grid]
    assert demo._scores(model, grid) == pytest.approx(expected, rel=0, abs=TOL)
    assert demo._scores(model, []) == []
    # Mapping leaves the model as it was: its outputs afterwards are the same.
    assert [model(list(p)).data for p in grid] == expected


FALLBACK = """
import json, warnings
import autograd, nn, apps.demo
X, y = nn.datasets.make_moons(n_samples=40, noise=0.1, seed=3)
out = {}
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    for compiled in (False, True):
        model = nn.MLP(2, [6, 1], seed=5)
        h = nn.fit(model, X, y, steps=15, batch_size=10, seed=1, compile=compiled,
                   optimizer=nn.optim.SGD(model.parameters(), lr=0.1), progress=False)
        out[str(compiled)] = h.loss
    out["scores"] = apps.demo._scores(model, X[:5])
    out["eager_scores"] = [model(x).data for x in X[:5]]
out["warnings"] = [w.category.__name__ for w in caught]
print(json.dumps(out))
"""


def test_without_a_c_compiler_compiled_fit_trains_in_python(tmp_path):
    env = dict(os.environ, CC=str(tmp_path / "no-such-compiler"),
               AUTOGRAD_SCALAR_CACHE=str(tmp_path / "cache"), PYTHONPATH=str(ROOT))
    run = subprocess.run([sys.executable, "-c", FALLBACK], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert "NativeFallbackWarning" in out["warnings"]
    assert out["True"] == pytest.approx(out["False"], rel=0, abs=TOL)
    assert out["True"][-1] < out["True"][0]
    assert out["scores"] == pytest.approx(out["eager_scores"], rel=0, abs=TOL)
