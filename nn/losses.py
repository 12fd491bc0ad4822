"""Losses on Values: each returns one Value, the mean over the examples given."""
from __future__ import annotations

import math
import numbers
import operator
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


def _number(name: str, what: str, t, expected: str):
    """``t`` if it is a real number, else a TypeError. A bool is not a number here, as
    everywhere in the engine (and NumPy's bools are not Real)."""
    if isinstance(t, bool) or not isinstance(t, numbers.Real):
        raise TypeError(f"{name}: {what} {t!r} ({type(t).__name__}) is not {expected}")
    return t


def _label01(name: str, t) -> float:
    if _number(name, "label", t, "a number; labels must be 0 or 1") not in (0, 1):
        raise ValueError(f"{name}: labels must be 0 or 1, got {t!r}")
    return float(t)


def _finite(t: numbers.Real) -> bool:
    try:
        return math.isfinite(t)
    except OverflowError:  # an int too large for a float
        return False


def _mean(terms: list) -> Value:
    total = autograd.sum(terms)
    return total if len(terms) == 1 else total * (1.0 / len(terms))


def mse(outputs: Sequence, targets: Sequence[float]) -> Value:
    """Mean squared error, mean over examples of (output − target)²; a target is any finite
    number (or a Value)."""
    outputs, targets = _pairs("mse", outputs, targets)
    for t in targets:
        # Regression, not only 0/1 labels: the playground regresses onto ±1, and fit's replay
        # hands the target over as a leaf.
        if isinstance(t, Value):
            continue
        if not _finite(_number("mse", "target", t, "a number or a Value")):
            raise ValueError(f"mse: target {t!r} is not a finite number")
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
        if not 0.0 <= _number("bce_with_logits", "target", y, "a number in [0, 1]") <= 1.0:
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
    for i, (zs, k) in enumerate(zip(logits, labels), 1):
        zs = _class_scores(i, zs)
        k = _class_index(k, len(zs))
        # Shifting by the largest logit (a constant) keeps every exp ≤ 1 and leaves the loss
        # and its gradient unchanged.
        m = max(map(_number_of, zs))
        lse = autograd.sum([(z - m).exp() if isinstance(z, Value) else Value(z - m).exp()
                            for z in zs]).log() + m
        terms.append(lse - zs[k])
    return _mean(terms)


def _class_scores(i: int, zs) -> list:
    """Example ``i``'s scores, one per class; a lone score means a binary model."""
    zs = [zs] if isinstance(zs, (Value, numbers.Real)) else list(zs)
    if len(zs) < 2:
        plural = "" if len(zs) == 1 else "s"
        raise ValueError(f"softmax_cross_entropy: example {i} has {len(zs)} score{plural}; it "
                         f"needs one per class (at least 2). For one output per example use "
                         f"hinge or bce_with_logits")
    return zs


def _class_index(k, n: int) -> int:
    # Any integral number is an index (NumPy's integers too); bools and floats are not.
    if isinstance(k, bool) or not isinstance(k, numbers.Integral):
        raise TypeError(f"softmax_cross_entropy: label {k!r} ({type(k).__name__}) is not an "
                        f"integer class index")
    k = operator.index(k)
    if not 0 <= k < n:
        raise ValueError(f"softmax_cross_entropy: label {k} is not a class index in 0..{n - 1}")
    return k


def l2(params: Sequence[Value], alpha: float) -> Value:
    """L2 penalty α·Σ p², to add to a loss."""
    params = list(params)
    if not params:
        raise ValueError("l2: no parameters")
    return alpha * autograd.sum([p * p for p in params])


def accuracy(scores: Sequence, labels: Sequence[int]) -> float:
    """Fraction of examples whose score is on the side of 0 that its 0/1 label says.

    A nan score is on neither side, so it counts as wrong whatever the label.
    """
    scores, labels = _pairs("accuracy", scores, labels)
    hits = 0
    for s, y in zip(scores, labels):
        hits += sign_decision(s, _label01("accuracy", y))
    return hits / len(labels)


# Decision rules: whether one output predicts its target. fit() reports accuracy with the rule
# that belongs to its loss. Each counts a nan output as wrong.

def sign_decision(score, label) -> bool:
    """Score above 0 predicts label 1, below or at 0 predicts 0 (hinge, bce, accuracy)."""
    s = _number_of(score)
    return not math.isnan(s) and (s > 0) == bool(label)


def threshold_decision(output, target) -> bool:
    """Regression onto 0/1 targets (mse): the nearer of 0 and 1 is the prediction."""
    o = _number_of(output)
    return not math.isnan(o) and (o > 0.5) == bool(target)


def argmax_decision(scores, label) -> bool:
    """The class with the highest score is the prediction (cross-entropy)."""
    s = [_number_of(z) for z in scores]
    return not any(map(math.isnan, s)) and max(range(len(s)), key=s.__getitem__) == label


def _number_of(x) -> float:
    """A Value's number or a plain number as a float (``float(v)`` refuses a Value)."""
    return x.data if isinstance(x, Value) else float(x)
