"""Losses on Values: each returns one Value, the mean over the examples given."""
from __future__ import annotations

import numbers
from typing import Sequence

import autograd
from autograd import Value


def _pairs(name: str, outputs: Sequence, targets: Sequence) -> tuple[list, list]:
    outputs, targets = _list(name, outputs), list(targets)
    if len(outputs) != len(targets):
        raise ValueError(f"{name}: {len(outputs)} outputs but {len(targets)} targets")
    if not outputs:
        raise ValueError(f"{name}: no examples")
    return outputs, targets


def _list(name: str, xs) -> list:
    if isinstance(xs, (Value, numbers.Real)):
        return [xs]
    return list(xs)


def _label01(name: str, t) -> float:
    if t not in (0, 1) or isinstance(t, Value):
        raise ValueError(f"{name}: labels must be 0 or 1, got {t!r}")
    return float(t)


def _mean(terms: list) -> Value:
    total = autograd.sum(terms)
    return total if len(terms) == 1 else total * (1.0 / len(terms))


def mse(outputs: Sequence, targets: Sequence[float]) -> Value:
    """Mean squared error, mean over examples of (output − target)²."""
    outputs, targets = _pairs("mse", outputs, targets)
    return _mean([(o - t) ** 2 for o, t in zip(outputs, targets)])


def hinge(scores: Sequence, labels: Sequence[int]) -> Value:
    """SVM max-margin loss, mean of max(0, 1 − y·score) with labels 0/1 read as y = −1/+1."""
    scores, labels = _pairs("hinge", scores, labels)
    return _mean([(1.0 - (2.0 * _label01("hinge", y) - 1.0) * s).relu()
                  for s, y in zip(scores, labels)])


def bce_with_logits(logits: Sequence, labels: Sequence[float]) -> Value:
    """Binary cross-entropy of sigmoid(logit) against 0/1 labels, stable for large logits."""
    logits, labels = _pairs("bce_with_logits", logits, labels)
    terms = []
    for z, y in zip(logits, labels):
        if not 0.0 <= y <= 1.0:
            raise ValueError(f"bce_with_logits: targets must lie in [0, 1], got {y!r}")
        if not isinstance(z, Value):
            z = Value(z)
        # −[y log σ(z) + (1−y) log(1−σ(z))] = softplus(z) − y·z; softplus cannot overflow.
        terms.append(z.softplus() - float(y) * z)
    return _mean(terms)


def softmax_cross_entropy(logits: Sequence[Sequence], labels: Sequence[int]) -> Value:
    """Cross-entropy of softmax(logits) against class indices, via a shifted log-sum-exp.

    ``logits`` holds one list of class scores per example; ``labels`` one class index each.
    """
    logits, labels = _pairs("softmax_cross_entropy", logits, labels)
    terms = []
    for zs, k in zip(logits, labels):
        zs = list(zs)
        if not isinstance(k, int) or isinstance(k, bool) or not 0 <= k < len(zs):
            raise ValueError(f"softmax_cross_entropy: label {k!r} is not a class index "
                             f"in 0..{len(zs) - 1}")
        # Shifting by the largest logit (a constant) keeps every exp ≤ 1 and leaves the loss
        # and its gradient unchanged.
        m = max(z.data if isinstance(z, Value) else float(z) for z in zs)
        lse = autograd.sum([(z - m).exp() if isinstance(z, Value) else Value(z - m).exp()
                            for z in zs]).log() + m
        terms.append(lse - zs[k])
    return _mean(terms)


def l2(params: Sequence[Value], alpha: float) -> Value:
    """L2 penalty α·Σ p², to add to a loss."""
    params = list(params)
    if not params:
        raise ValueError("l2: no parameters")
    return alpha * autograd.sum([p * p for p in params])


def accuracy(scores: Sequence, labels: Sequence[int]) -> float:
    """Fraction of examples whose score is on the side of 0 that its 0/1 label says."""
    scores, labels = _pairs("accuracy", scores, labels)
    hits = 0
    for s, y in zip(scores, labels):
        positive = float(s) > 0
        hits += positive == bool(_label01("accuracy", y))
    return hits / len(labels)
