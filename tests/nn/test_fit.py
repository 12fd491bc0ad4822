"""fit: the loop trains, records history, handles mini-batches, and the progress bar."""
from __future__ import annotations
import sys

import pytest

import nn
from nn import losses
from oracle import torch, require_torch


def moons():
    return nn.datasets.make_moons(n_samples=100, noise=0.1, seed=1)


def test_issue_example_trains_moons():
    X, y = moons()
    model = nn.MLP(2, [16, 16, 1], seed=1)
    opt = nn.optim.SGD(model.parameters(), lr=1.0)
    history = nn.fit(model, X, y, loss="hinge", optimizer=opt, steps=100, l2=1e-4,
                     schedule=lambda k: 1.0 - 0.9 * k / 100, progress=False)
    assert len(history.loss) == len(history.accuracy) == len(history.lr) == 100
    assert history.loss[-1] < history.loss[0] / 10
    scores = [model(x) for x in X]
    assert losses.accuracy(scores, y) >= 0.97
    assert history.lr[0] == 1.0 and history.lr[-1] == pytest.approx(0.109)


def test_one_step_equals_a_hand_written_step_in_torch():
    # fit's step is loss → zero_grad → backward → update; PyTorch does the same independently.
    require_torch()
    X, y = moons()
    X, y = X[:20], y[:20]
    model = nn.MLP(2, [4, 1], seed=2)
    seq = model.to_torch()
    nn.fit(model, X, y, loss="hinge", optimizer=nn.optim.SGD(model.parameters(), lr=0.3),
           steps=1, l2=1e-3, progress=False)
    topt = torch.optim.SGD(seq.parameters(), lr=0.3)
    scores = seq(torch.tensor(X, dtype=torch.float64)).squeeze(1)
    signs = torch.tensor(y, dtype=torch.float64) * 2 - 1
    loss = torch.relu(1 - signs * scores).mean() + 1e-3 * sum((p ** 2).sum()
                                                             for p in seq.parameters())
    loss.backward()
    topt.step()
    assert [w.data for n in model.layers[0].neurons for w in n.w] == pytest.approx(
        seq[0].weight.flatten().tolist(), rel=1e-12)
    assert [n.b.data for n in model.layers[1].neurons] == pytest.approx(
        seq[2].bias.tolist(), rel=1e-12)


def test_history_loss_is_the_loss_before_each_update():
    X, y = moons()
    model = nn.MLP(2, [4, 1], seed=0)
    before = losses.mse([model(x) for x in X], y).data
    history = nn.fit(model, X, y, loss="mse", optimizer=nn.optim.SGD(model.parameters(), lr=0.05),
                     steps=3, progress=False)
    assert history.loss[0] == pytest.approx(before, rel=1e-15)
    assert history.loss[2] < history.loss[0]


@pytest.mark.parametrize("loss", ["hinge", "bce", "mse"])
def test_each_named_loss_learns(loss):
    X, y = nn.datasets.xor(n_samples=40, noise=0.05, seed=0)
    model = nn.MLP(2, [8, 1], activation="tanh", seed=0)
    history = nn.fit(model, X, y, loss=loss, optimizer=nn.optim.Adam(model.parameters(), lr=0.05),
                     steps=150, progress=False)
    assert history.accuracy[-1] == 1.0
    assert history.loss[-1] < history.loss[0]


def test_cross_entropy_with_one_output_per_class():
    X, y = nn.datasets.make_circles(n_samples=40, noise=0.0, seed=0)
    model = nn.MLP(2, [8, 2], activation="tanh", seed=0)
    history = nn.fit(model, X, y, loss="cross_entropy",
                     optimizer=nn.optim.Adam(model.parameters(), lr=0.05), steps=150,
                     progress=False)
    assert history.accuracy[-1] == 1.0


def test_mini_batches():
    X, y = moons()
    model = nn.MLP(2, [8, 1], seed=0)
    calls = []

    def counting_hinge(outputs, targets):
        calls.append(len(outputs))
        return losses.hinge(outputs, targets)

    nn.fit(model, X, y, loss=counting_hinge, optimizer=nn.optim.SGD(model.parameters(), lr=0.1),
           steps=5, batch_size=16, progress=False, seed=0)
    assert calls == [16] * 5


def test_mini_batches_are_reproducible_with_seed():
    X, y = moons()
    runs = []
    for _ in range(2):
        model = nn.MLP(2, [8, 1], seed=0)
        nn.fit(model, X, y, optimizer=nn.optim.SGD(model.parameters(), lr=0.1), steps=5,
               batch_size=10, progress=False, seed=4)
        runs.append([p.data for p in model.parameters()])
    assert runs[0] == runs[1]


def test_progress_bar_shows_only_when_asked(capsys):
    X, y = moons()
    model = nn.MLP(2, [4, 1], seed=0)
    nn.fit(model, X, y, steps=3, progress=False)
    assert capsys.readouterr().err == ""
    nn.fit(model, X, y, steps=3, progress=True)
    assert "3/3" in capsys.readouterr().err
    # Under pytest stderr is not a terminal, so the default is quiet.
    nn.fit(model, X, y, steps=3)
    assert capsys.readouterr().err == ""


def test_bad_arguments():
    X, y = moons()
    model = nn.MLP(2, [4, 1], seed=0)
    with pytest.raises(ValueError, match="unknown loss"):
        nn.fit(model, X, y, loss="huber", progress=False)
    with pytest.raises(ValueError, match="labels"):
        nn.fit(model, X, y[:-1], progress=False)
    with pytest.raises(ValueError, match="steps"):
        nn.fit(model, X, y, steps=-1, progress=False)


def test_divergence_is_reported():
    X, y = moons()
    model = nn.MLP(2, [4, 1], seed=0)
    with pytest.raises((FloatingPointError, OverflowError)):
        nn.fit(model, X, y, loss="mse", optimizer=nn.optim.SGD(model.parameters(), lr=1e6),
               steps=50, progress=False)


# Defects from an adversarial sweep and from review.

def test_batch_size_must_be_a_positive_int():
    X, y = moons()
    model = nn.MLP(2, [4, 1], seed=0)
    for bad in (2.5, True, "8"):
        with pytest.raises(TypeError, match=f"fit: batch_size must be an int, got .*{bad}"):
            nn.fit(model, X, y, batch_size=bad, progress=False)
    with pytest.raises(ValueError, match="fit: batch_size must be ≥ 1, got 0"):
        nn.fit(model, X, y, batch_size=0, progress=False)


def test_cross_entropy_on_a_one_output_model_says_so():
    X, y = moons()
    model = nn.MLP(2, [4, 1], seed=0)
    with pytest.raises(ValueError, match="softmax_cross_entropy: example 1 has 1 score"):
        nn.fit(model, X, y, loss="cross_entropy", progress=False)


def test_numpy_labels_with_cross_entropy():
    np = pytest.importorskip("numpy")

    X, y = nn.datasets.make_circles(n_samples=40, noise=0.0, seed=0)
    model = nn.MLP(2, [8, 2], activation="tanh", seed=0)
    history = nn.fit(model, np.array(X), np.array(y), loss="cross_entropy",
                     optimizer=nn.optim.Adam(model.parameters(), lr=0.05), steps=150,
                     progress=False)
    assert history.accuracy[-1] == 1.0


def run(loss, outputs=1, steps=5, **kw):
    X, y = nn.datasets.xor(n_samples=24, noise=0.05, seed=0)
    model = nn.MLP(2, [6, outputs], activation="tanh", seed=3)
    return nn.fit(model, X, y, loss=loss, steps=steps, progress=False,
                  optimizer=nn.optim.Adam(model.parameters(), lr=0.05), **kw)


@pytest.mark.parametrize("name, fn, outputs", [
    ("cross_entropy", losses.softmax_cross_entropy, 2),
    ("hinge", losses.hinge, 1),
    ("bce", losses.bce_with_logits, 1),
    ("mse", losses.mse, 1),
])
def test_a_loss_given_as_its_function_works_like_its_name(name, fn, outputs):
    by_name, by_function = run(name, outputs), run(fn, outputs)
    assert by_function.loss == by_name.loss
    assert by_function.accuracy == by_name.accuracy


def test_mse_decides_at_one_half():
    # The known functions keep their own rule even when passed as functions: mse's is 0.5.
    assert run(losses.mse).accuracy == run("mse").accuracy != run(
        lambda o, t: losses.mse(o, t)).accuracy


def test_custom_loss_decides_by_output_shape_unless_told():
    def my_ce(outputs, targets):
        return losses.softmax_cross_entropy(outputs, targets)

    def my_hinge(outputs, targets):
        return losses.hinge(outputs, targets)

    # Several outputs: the largest is the class; one output: its sign.
    assert run(my_ce, 2).accuracy == run("cross_entropy", 2).accuracy
    assert run(my_hinge).accuracy == run("hinge").accuracy
    always = run(my_hinge, decide=lambda out, target: True)
    assert always.accuracy == [1.0] * 5
    with pytest.raises(TypeError, match="fit: decide must be callable"):
        run(my_hinge, decide="sign")


def test_nan_weight_is_reported_naming_the_step_and_parameter():
    X, y = moons()
    model = nn.MLP(2, [4, 1], seed=0)
    model.layers[0].neurons[1].w[0].data = float("nan")
    with pytest.raises(FloatingPointError, match=r"fit: .*step 0.*L1\.N2\.w1 is nan"):
        nn.fit(model, X, y, steps=3, progress=False)


def test_nan_input_is_reported_naming_the_step():
    X, y = moons()
    X[5] = [float("nan"), 0.0]
    model = nn.MLP(2, [1], seed=0)  # linear, and mse has no relu: nothing can hide the nan
    with pytest.raises(FloatingPointError, match=r"fit: loss is nan at step 0.*data"):
        nn.fit(model, X, y, loss="mse", steps=3, progress=False)


@pytest.mark.parametrize("compiled", [False, True])
def test_divergence_names_the_step_and_keeps_the_last_finite_weights(compiled):
    X, y = moons()
    model = nn.MLP(2, [4, 1], seed=0)
    with pytest.raises(FloatingPointError, match=r"fit: loss is (inf|nan) at step \d+.*learning "
                                                 r"rate"):
        nn.fit(model, X, y, loss="mse", optimizer=nn.optim.SGD(model.parameters(), lr=1e6),
               steps=50, progress=False, compile=compiled)


def hide_tqdm(monkeypatch):
    # None in sys.modules makes `import tqdm` raise ImportError, as if it were not installed.
    for name in ("tqdm", "tqdm.auto"):
        monkeypatch.setitem(sys.modules, name, None)


def test_progress_without_tqdm_names_the_install_command(monkeypatch):
    hide_tqdm(monkeypatch)
    X, y = moons()
    model = nn.MLP(2, [4, 1], seed=0)
    with pytest.raises(ImportError, match=r"pip install 'autograd-scalar\[progress\]'"):
        nn.fit(model, X, y, steps=1, progress=True)


def test_default_progress_without_tqdm_trains_quietly(monkeypatch, capsys):
    hide_tqdm(monkeypatch)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    X, y = moons()
    model = nn.MLP(2, [4, 1], seed=0)
    assert len(nn.fit(model, X, y, steps=2)) == 2
    assert capsys.readouterr().err == ""


def test_steps_and_l2_are_checked():
    X, y = moons()
    model = nn.MLP(2, [4, 1], seed=0)
    with pytest.raises(TypeError, match="fit: steps must be an int, got float 2.0"):
        nn.fit(model, X, y, steps=2.0, progress=False)
    for bad in (float("inf"), float("nan"), -1e-4):
        with pytest.raises(ValueError, match=f"fit: l2 must be a finite number ≥ 0, got {bad}"):
            nn.fit(model, X, y, l2=bad, progress=False)
    with pytest.raises(TypeError, match="fit: l2 must be a number"):
        nn.fit(model, X, y, l2="1e-4", progress=False)


# Labels are checked up front against what the loss reads, each bad one named with its index.

def fit_labels(loss, labels, outputs=1, **kw):
    X = [[0.1 * k, -0.2 * k] for k in range(len(labels))]
    model = nn.MLP(2, [3, outputs], seed=0)
    before = [p.data for p in model.parameters()]
    try:
        return nn.fit(model, X, labels, loss=loss, steps=2, progress=False,
                      optimizer=nn.optim.SGD(model.parameters(), lr=0.1), **kw)
    finally:
        fit_labels.untouched = [p.data for p in model.parameters()] == before


@pytest.mark.parametrize("compiled", [False, True])
@pytest.mark.parametrize("loss, outputs, says", [
    ("hinge", 1, "hinge: label"),
    ("bce", 1, "bce_with_logits: target"),
    ("mse", 1, "mse: target"),
    ("cross_entropy", 2, "softmax_cross_entropy: label"),
])
@pytest.mark.parametrize("bad, shown", [("a", r"'a' \(str\)"), (None, r"None \(NoneType\)"),
                                        (True, r"True \(bool\)"), ([1], r"\[1\] \(list\)")])
def test_labels_of_the_wrong_type_are_named(loss, outputs, says, bad, shown, compiled):
    # Raw errors from deep inside the loss ('<=' not supported ...) before: now the loss's own
    # typed line, with where the label sits.
    with pytest.raises(TypeError, match=rf"^fit: y\[3\]: {says} {shown} is not a"):
        fit_labels(loss, [0, 1, 1, bad, 0], outputs, compile=compiled)


def test_numpy_bools_and_float_class_indices_are_wrong_types():
    np = pytest.importorskip("numpy")

    with pytest.raises(TypeError, match=r"^fit: y\[1\]: hinge: label .* \(bool_?\) is not a "
                                        r"number; labels must be 0 or 1"):
        fit_labels("hinge", [0, np.bool_(True)])
    for bad in (1.0, np.float64(1.0)):
        with pytest.raises(TypeError, match=r"^fit: y\[2\]: softmax_cross_entropy: label .* "
                                            r"\(float(64)?\) is not an integer class index"):
            fit_labels("cross_entropy", [0, 1, bad], outputs=2)


@pytest.mark.parametrize("loss, outputs, bad, says", [
    ("hinge", 1, -1, "hinge: labels must be 0 or 1, got -1"),
    ("hinge", 1, 0.5, "hinge: labels must be 0 or 1, got 0.5"),
    ("bce", 1, 1.5, r"bce_with_logits: targets must lie in \[0, 1\], got 1.5"),
    ("bce", 1, float("nan"), r"bce_with_logits: targets must lie in \[0, 1\], got nan"),
    ("mse", 1, float("inf"), "mse: target inf is not a finite number"),
    ("cross_entropy", 3, 3, r"softmax_cross_entropy: label 3 is not a class index in 0\.\.2"),
    ("cross_entropy", 3, -1, r"softmax_cross_entropy: label -1 is not a class index in 0\.\.2"),
])
def test_labels_outside_the_loss_domain_are_named(loss, outputs, bad, says):
    with pytest.raises(ValueError, match=rf"^fit: y\[2\]: {says}$"):
        fit_labels(loss, [0, 1, bad], outputs)


def test_a_bad_label_late_in_the_data_stops_fit_before_any_update():
    # With mini-batches the loss would meet it only in some later step, after updates.
    y = [0, 1] * 20 + ["b"]
    with pytest.raises(TypeError, match=r"^fit: y\[40\]: hinge: label 'b' \(str\)"):
        fit_labels("hinge", y, batch_size=2, seed=0)
    assert fit_labels.untouched


@pytest.mark.parametrize("bad", [2, -1, 0.5])
def test_mse_scoring_accuracy_at_one_half_takes_labels_0_or_1(bad):
    # Its accuracy reads the target as a class (above 0.5 predicts 1), so 2 or −1 would be
    # scored as class 1 without a word.
    for loss in ("mse", losses.mse):
        with pytest.raises(ValueError, match=rf"^fit: y\[1\] is {bad}; with loss 'mse' fit scores "
                                             r"accuracy by rounding the output at 0\.5, so labels "
                                             r"must be 0 or 1 \(pass decide= to regress onto "
                                             r"other targets\)$"):
            fit_labels(loss, [0, bad, 1])


def test_mse_with_its_own_decide_is_regression_onto_any_finite_target():
    targets = [0.3, -2.5, 7.0, 1.25]
    history = fit_labels("mse", targets, decide=lambda out, t: abs(float(out) - t) < 0.5)
    assert len(history) == 2 and not fit_labels.untouched
    for bad in (float("nan"), float("inf"), 10 ** 400):
        with pytest.raises(ValueError, match=r"^fit: y\[1\]: mse: target .* is not a finite "
                                             r"number$"):
            fit_labels("mse", [0.3, bad], decide=lambda out, t: True)


def test_the_model_output_is_blamed_not_the_first_label():
    with pytest.raises(ValueError, match=r"^softmax_cross_entropy: example 1 has 1 score"):
        fit_labels("cross_entropy", [0, 1], outputs=1)


def test_a_custom_loss_gets_its_targets_unchecked():
    # Only the loss itself knows what its targets are.
    def squared(outputs, targets):
        return losses.mse(outputs, [t["value"] for t in targets])

    history = fit_labels(squared, [{"value": 0.5}, {"value": -1.0}], decide=lambda o, t: True)
    assert history.accuracy == [1.0, 1.0]
