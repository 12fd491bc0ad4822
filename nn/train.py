"""fit: the training loop users would otherwise write by hand."""
from __future__ import annotations

import math
import random
import sys
from dataclasses import dataclass, field
from typing import Callable, Sequence

import autograd
from autograd import Value

from . import losses
from .module import Module
from .optim import SGD, Optimizer

# The losses fit knows by name; each takes (outputs, targets) and returns the mean as a Value.
LOSSES: dict[str, Callable[[Sequence, Sequence], Value]] = {
    "hinge": losses.hinge,
    "bce": losses.bce_with_logits,
    "mse": losses.mse,
    "cross_entropy": losses.softmax_cross_entropy,
}


@dataclass
class History:
    """Per-step records of a ``fit`` run: loss (including any L2 term), accuracy and lr."""

    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.loss)


def _correct(loss: str, out, y) -> bool:
    """Whether one prediction is right; the decision rule follows from the loss."""
    if loss == "cross_entropy":
        scores = [float(o) for o in out]
        return max(range(len(scores)), key=scores.__getitem__) == y
    if loss == "mse":
        # Regression onto 0/1 targets: the nearer target is the prediction.
        return (float(out) > 0.5) == bool(y)
    return (float(out) > 0) == bool(y)


def fit(model: Module, X: Sequence[Sequence[float]], y: Sequence, *,
        loss: str | Callable[[Sequence, Sequence], Value] = "hinge",
        optimizer: Optimizer | None = None, steps: int = 100, batch_size: int | None = None,
        l2: float = 0.0, schedule: Callable[[int], float] | None = None,
        progress: bool | None = None, seed: int | None = None,
        compile: bool = False) -> History:  # noqa: A002 - the name users expect
    """Train ``model`` on (X, y) for ``steps`` optimizer steps and return the History.

    ``loss`` is "hinge" (0/1 labels as ±1 margins), "bce" (logits), "mse" or "cross_entropy"
    (one output per class), or a callable ``loss(outputs, targets) -> Value``. With
    ``batch_size`` each step uses a fresh random mini-batch, else the full data. ``l2`` adds
    α·Σ p² over all parameters. ``schedule(step)`` sets the optimizer's lr before each step.
    The progress bar shows on a terminal unless ``progress=False``. With ``compile=True`` the
    full-batch graph is built once and replayed by ``autograd.compile`` at every step.
    """
    X, y = list(X), list(y)
    if len(X) != len(y):
        raise ValueError(f"fit: {len(X)} examples but {len(y)} labels")
    if not X:
        raise ValueError("fit: no examples")
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 0:
        raise ValueError(f"fit: steps must be a non-negative int, got {steps!r}")
    if batch_size is not None and not 1 <= batch_size:
        raise ValueError(f"fit: batch_size must be ≥ 1, got {batch_size!r}")
    if callable(loss):
        loss_fn, loss_name = loss, getattr(loss, "__name__", "custom")
    elif loss in LOSSES:
        loss_fn, loss_name = LOSSES[loss], loss
    else:
        raise ValueError(f"fit: unknown loss {loss!r}; expected one of {', '.join(LOSSES)} "
                         f"or a callable")
    params = model.parameters()
    if optimizer is None:
        optimizer = SGD(params, lr=0.1)
    if progress is None:
        progress = sys.stderr.isatty()
    rng = random.Random(seed)
    history = History()
    n = len(X)
    full = batch_size is None or batch_size >= n
    replay = None
    if compile:
        if not full:
            raise ValueError(f"fit: compile=True replays one full-batch graph; batch_size "
                             f"{batch_size!r} < {n} examples would need a new graph each step")
        outs = [model(x) for x in X]
        total = loss_fn(outs, y)
        if l2:
            total = total + losses.l2(params, l2)
        replay = autograd.compile(total)

    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=steps, desc="fit", unit="step", leave=True)
    try:
        for step in range(steps):
            if schedule is not None:
                optimizer.lr = schedule(step)
            if replay is not None:
                value = replay.forward()
                model.zero_grad()
                optimizer.zero_grad()
                replay.backward()
                optimizer.step()
                yb = y
                preds = [replay.values(o) if isinstance(o, list) else replay.value(o)
                         for o in outs]
                acc = sum(_correct(loss_name, o, t) for o, t in zip(preds, yb)) / len(yb)
            else:
                idx = range(n) if full else rng.sample(range(n), batch_size)
                xb, yb = [X[i] for i in idx], [y[i] for i in idx]

                outs = [model(x) for x in xb]
                total = loss_fn(outs, yb)
                if l2:
                    total = total + losses.l2(params, l2)
                # Zero through the model as well, in case the optimizer holds only some
                # parameters.
                model.zero_grad()
                optimizer.zero_grad()
                total.backward()
                optimizer.step()

                value = total.data
                acc = sum(_correct(loss_name, o, t) for o, t in zip(outs, yb)) / len(yb)
            history.loss.append(value)
            history.accuracy.append(acc)
            history.lr.append(optimizer.lr)
            if not math.isfinite(value):
                raise FloatingPointError(f"fit: loss became {value!r} at step {step}; "
                                         f"try a smaller learning rate")
            if bar is not None:
                bar.set_postfix(loss=f"{value:.4f}", acc=f"{acc:.0%}", refresh=False)
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return history
