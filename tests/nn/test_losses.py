"""Losses against PyTorch float64: values and gradients, including very large logits."""
from __future__ import annotations
import random

import pytest

from autograd import Value, grad
from nn import losses
from oracle import torch
from support import numpy_scalar


def leaves(xs):
    return [Value(x) for x in xs], torch.tensor(xs, dtype=torch.float64, requires_grad=True)


def check(loss, ours_inputs, t_loss, t_inputs, rel=1e-12):
    assert loss.data == pytest.approx(t_loss.item(), rel=rel, abs=1e-14)
    t_loss.backward()
    g = grad(loss, ours_inputs)
    assert g == pytest.approx(t_inputs.grad.flatten().tolist(), rel=1e-10, abs=1e-14)


def test_mse():
    rng = random.Random(0)
    preds = [rng.uniform(-3, 3) for _ in range(7)]
    targets = [rng.uniform(-3, 3) for _ in range(7)]
    ours, t = leaves(preds)
    check(losses.mse(ours, targets), ours,
          torch.nn.functional.mse_loss(t, torch.tensor(targets, dtype=torch.float64)), t)


def test_hinge_against_multi_margin_loss():
    # For two classes, PyTorch's multi-class margin loss on scores (−s/2, s/2) is half of
    # max(0, 1 − y·s) with y = ±1, an independent route to the SVM loss.
    # No margin is exactly 1 (a kink, where the subgradient picked is a convention).
    scores = [2.5, -0.3, 0.0, 0.9, -1.7, 1.2, -4.0]
    labels = [1, 1, 0, 0, 0, 1, 1]
    ours, t = leaves(scores)
    pair = torch.stack([-t / 2, t / 2], dim=1)
    t_loss = 2 * torch.nn.functional.multi_margin_loss(pair, torch.tensor(labels), margin=1.0)
    check(losses.hinge(ours, labels), ours, t_loss, t)


def test_hinge_rejects_labels_other_than_0_1():
    with pytest.raises(ValueError, match="0 or 1"):
        losses.hinge([Value(1.0)], [-1])


@pytest.mark.parametrize("logits", [[0.3, -2.0, 4.0, 0.0], [800.0, -800.0, 1000.0, -1000.0]])
def test_bce_with_logits_matches_torch_and_is_stable(logits):
    labels = [1.0, 0.0, 0.0, 1.0]
    ours, t = leaves(logits)
    loss = losses.bce_with_logits(ours, labels)
    t_loss = torch.nn.functional.binary_cross_entropy_with_logits(
        t, torch.tensor(labels, dtype=torch.float64))
    assert loss.data == loss.data and abs(loss.data) != float("inf")
    check(loss, ours, t_loss, t)


@pytest.mark.parametrize("scale", [1.0, 500.0])
def test_softmax_cross_entropy_matches_torch_and_is_stable(scale):
    rng = random.Random(1)
    rows = [[scale * rng.uniform(-2, 2) for _ in range(4)] for _ in range(5)]
    labels = [0, 3, 1, 2, 3]
    ours = [[Value(z) for z in row] for row in rows]
    t = torch.tensor(rows, dtype=torch.float64, requires_grad=True)
    loss = losses.softmax_cross_entropy(ours, labels)
    t_loss = torch.nn.functional.cross_entropy(t, torch.tensor(labels))
    flat = [v for row in ours for v in row]
    check(loss, flat, t_loss, t)


def test_softmax_cross_entropy_bad_label():
    with pytest.raises(ValueError, match="class index"):
        losses.softmax_cross_entropy([[Value(1.0), Value(2.0)]], [2])


def test_l2_penalty():
    ps = [0.5, -1.5, 2.0]
    ours, t = leaves(ps)
    check(losses.l2(ours, 1e-2), ours, 1e-2 * (t ** 2).sum(), t)


def test_length_mismatch_and_empty():
    with pytest.raises(ValueError, match="2 outputs but 1 targets"):
        losses.mse([Value(1.0), Value(2.0)], [1.0])
    with pytest.raises(ValueError, match="no examples"):
        losses.mse([], [])


def test_accuracy():
    assert losses.accuracy([2.0, -1.0, 0.5, -0.1], [1, 0, 0, 1]) == 0.5
    assert losses.accuracy([Value(3.0)], [1]) == 1.0


# Defects from an adversarial sweep: labels of any integral type, clear errors, nan scores.

def test_softmax_cross_entropy_takes_any_integral_label():
    np = pytest.importorskip("numpy")

    rows = [[0.5, -1.0, 2.0], [1.5, 0.0, -0.5], [0.1, 0.2, 0.3]]
    expected = losses.softmax_cross_entropy([[Value(z) for z in r] for r in rows], [2, 0, 1]).data
    for labels in (np.array([2, 0, 1]), [np.int32(2), np.uint8(0), np.int64(1)]):
        got = losses.softmax_cross_entropy([[Value(z) for z in r] for r in rows], labels)
        assert got.data == expected


@pytest.mark.parametrize("label", [True, 1.0, "1", None, ("float64", 1.0), ("bool_", True)])
def test_softmax_cross_entropy_refuses_labels_that_are_not_integers(label):
    bad = numpy_scalar(*label) if isinstance(label, tuple) else label
    with pytest.raises(TypeError, match=r"softmax_cross_entropy: label .* not an integer"):
        losses.softmax_cross_entropy([[Value(1.0), Value(2.0)]], [bad])


@pytest.mark.parametrize("rows", [[Value(1.0)], [2.0], [[Value(1.0)]]])
def test_softmax_cross_entropy_needs_a_score_per_class(rows):
    # One output per example is a binary model: the message points at the right loss.
    with pytest.raises(ValueError, match=r"softmax_cross_entropy: example 1 has 1 score; "
                                         r"it needs one per class \(at least 2\)"):
        losses.softmax_cross_entropy(rows, [0])


def test_accuracy_counts_nan_scores_as_wrong():
    nan = float("nan")
    assert losses.accuracy([nan], [0]) == 0.0
    assert losses.accuracy([nan], [1]) == 0.0
    assert losses.accuracy([Value(nan), 1.0], [0, 1]) == 0.5


# Each loss says in one typed line when a label is not what it reads: the wrong type is a
# TypeError, a number outside its domain a ValueError.

@pytest.mark.parametrize("fn, what", [(losses.hinge, "label"), (losses.accuracy, "label"),
                                      (losses.bce_with_logits, "target"),
                                      (losses.mse, "target")])
@pytest.mark.parametrize("bad", ["a", None, True, [1], ("bool_", True)])
def test_a_label_that_is_not_a_number_is_a_type_error(fn, what, bad):
    b = numpy_scalar(*bad) if isinstance(bad, tuple) else bad
    with pytest.raises(TypeError, match=rf"^{fn.__name__}: {what} .* \({type(b).__name__}\) "
                                        rf"is not a"):
        fn([Value(0.5)], [b])


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf"), 10 ** 400])
def test_mse_refuses_targets_that_are_not_finite(bad):
    with pytest.raises(ValueError, match=r"^mse: target .* is not a finite number"):
        losses.mse([Value(0.5), Value(1.0)], [0.0, bad])


def test_mse_regresses_onto_any_finite_target_or_a_value():
    # mse is not only for 0/1 labels: the playground's squared error regresses onto ±1, and
    # fit's replay hands it the target as a leaf.
    outs = [Value(0.5), Value(-2.0), Value(3.0)]
    assert losses.mse(outs, [-1.0, 7, 2.5]).data == pytest.approx((1.5 ** 2 + 9 ** 2 + 0.25) / 3)
    assert losses.mse([Value(0.5)], [Value(2.0)]).data == 2.25
