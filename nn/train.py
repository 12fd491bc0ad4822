"""fit: the training loop users would otherwise write by hand.

Four parts: resolve the loss together with the decision rule that scores accuracy for it; build
one step, either eager (a fresh graph each step) or replayed (one graph compiled once); then loop,
recording History and stopping before an update that would spread nan or inf into the weights.
"""
from __future__ import annotations

import math
import numbers
import random
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import autograd
from autograd import Value

from . import losses
from .health import Health, HealthRecorder
from .module import Module
from .optim import SGD, Optimizer

Loss = Callable[[Sequence, Sequence], Value]
# decide(output, target) -> whether the output predicts the target; output is what the model
# returns for one example (a Value or a list of Values, or floats when replayed).
Decide = Callable[[Any, Any], bool]
# step(k) -> (loss before the update, accuracy on the step's batch)
Step = Callable[[int], tuple[float, float]]

# The losses fit knows by name; each takes (outputs, targets) and returns the mean as a Value.
LOSSES: dict[str, Loss] = {
    "hinge": losses.hinge,
    "bce": losses.bce_with_logits,
    "mse": losses.mse,
    "cross_entropy": losses.softmax_cross_entropy,
}

# How each known loss turns an output into a prediction, whether given by name or as a function.
DECISIONS: list[tuple[Loss, Decide]] = [
    (losses.hinge, losses.sign_decision),
    (losses.bce_with_logits, losses.sign_decision),
    (losses.mse, losses.threshold_decision),
    (losses.softmax_cross_entropy, losses.argmax_decision),
]


@dataclass
class History:
    """Per-step records of a ``fit`` run: loss (including any L2 term), accuracy and lr, and
    with ``fit(..., health=True)`` the per-layer ``health`` figures (see ``nn.health``)."""

    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    health: Health | None = None

    def __len__(self) -> int:
        return len(self.loss)


def fit(model: Module, X: Sequence[Sequence[float]], y: Sequence, *,
        loss: str | Loss = "hinge", optimizer: Optimizer | None = None, steps: int = 100,
        batch_size: int | None = None, l2: float = 0.0,
        schedule: Callable[[int], float] | None = None, progress: bool | None = None,
        seed: int | None = None, compile: bool = False,  # noqa: A002 - the name users expect
        decide: Decide | None = None, health: bool = False) -> History:
    """Train ``model`` on (X, y) for ``steps`` optimizer steps and return the History.

    ``loss`` is "hinge" (0/1 labels as ±1 margins), "bce" (logits), "mse" or "cross_entropy"
    (one output per class), one of those functions, or any ``loss(outputs, targets) -> Value``.
    ``decide(output, target) -> bool`` scores accuracy; it defaults to the loss's own rule, and
    for other losses to argmax over several outputs, or the sign of one. With ``batch_size`` each
    step uses a fresh random mini-batch, else the full data. ``l2`` adds α·Σ p² over all
    parameters. ``schedule(step)`` sets the optimizer's lr before each step. The progress bar
    (tqdm) shows on a terminal, or always with ``progress=True``. With ``compile=True`` the
    full-batch graph is built once and replayed by ``autograd.compile`` at every step. With
    ``health=True`` the History also records, per layer and step, the weights' gradient norm,
    the update-to-data ratio and the fractions of dead ReLUs and saturated sigmoid/tanh units.
    """
    X, y = list(X), list(y)
    _check_arguments(X, y, steps, batch_size, l2)
    loss_fn, decide = resolve_loss(loss, decide)
    objective = _objective(loss_fn, model.parameters(), l2)
    if optimizer is None:
        optimizer = SGD(model.parameters(), lr=0.1)
    recorder = HealthRecorder(model) if health else None
    if compile:
        if health:
            raise ValueError("fit: health=True reads the units of each step's graph, and "
                             "compile=True replays one graph without building it; use one")
        if batch_size is not None and batch_size < len(X):
            raise ValueError(f"fit: compile=True replays one full-batch graph; batch_size "
                             f"{batch_size!r} < {len(X)} examples would need a new graph each "
                             f"step")
        step = _replayed_step(model, X, y, objective, decide, optimizer)
    else:
        batches = _batches(len(X), batch_size, random.Random(seed))
        step = _eager_step(model, X, y, batches, objective, decide, optimizer, recorder)
    return _loop(step, optimizer, steps, schedule, progress,
                 recorder.health if recorder else None)


def _check_arguments(X: list, y: list, steps, batch_size, l2) -> None:
    if len(X) != len(y):
        raise ValueError(f"fit: {len(X)} examples but {len(y)} labels")
    if not X:
        raise ValueError("fit: no examples")
    _check_count("steps", steps, 0)
    if batch_size is not None:
        _check_count("batch_size", batch_size, 1)
    if isinstance(l2, bool) or not isinstance(l2, numbers.Real):
        raise TypeError(f"fit: l2 must be a number, got {type(l2).__name__} {l2!r}")
    if not 0 <= l2 < math.inf:
        raise ValueError(f"fit: l2 must be a finite number ≥ 0, got {l2!r}")


def _check_count(what: str, n, low: int) -> None:
    if not isinstance(n, int) or isinstance(n, bool):
        raise TypeError(f"fit: {what} must be an int, got {type(n).__name__} {n!r}")
    if n < low:
        raise ValueError(f"fit: {what} must be ≥ {low}, got {n!r}")


def resolve_loss(loss: str | Loss, decide: Decide | None = None) -> tuple[Loss, Decide]:
    """The loss function and the decision rule that scores accuracy under it."""
    if isinstance(loss, str):
        if loss not in LOSSES:
            raise ValueError(f"fit: unknown loss {loss!r}; expected one of {', '.join(LOSSES)} "
                             f"or a callable")
        loss = LOSSES[loss]
    elif not callable(loss):
        raise TypeError(f"fit: loss must be a name or a callable, got {type(loss).__name__} "
                        f"{loss!r}")
    if decide is None:
        # By identity: a loss function need not be hashable.
        decide = next((d for fn, d in DECISIONS if fn is loss), _decide_by_shape)
    elif not callable(decide):
        raise TypeError(f"fit: decide must be callable, got {type(decide).__name__} {decide!r}")
    return loss, decide


def _decide_by_shape(output, target) -> bool:
    """A custom loss's default rule: the largest of several outputs, or the sign of one."""
    if isinstance(output, (list, tuple)):
        return losses.argmax_decision(output, target)
    return losses.sign_decision(output, target)


def _objective(loss_fn: Loss, params: list[Value], l2: float) -> Loss:
    """What each step minimises: the loss, plus α·Σ p² when ``l2`` is set."""
    def objective(outputs: Sequence, targets: Sequence) -> Value:
        total = loss_fn(outputs, targets)
        if not isinstance(total, Value):
            raise TypeError(f"fit: the loss returned {type(total).__name__} {total!r}; "
                            f"it must return a Value to backpropagate from")
        return total + losses.l2(params, l2) if l2 else total
    return objective


def _batches(n: int, batch_size: int | None, rng: random.Random) -> Callable[[], Sequence[int]]:
    """Indices of each step's examples: all of them, or a fresh random sample."""
    if batch_size is None or batch_size >= n:
        return lambda: range(n)
    return lambda: rng.sample(range(n), batch_size)


def _eager_step(model: Module, X: list, y: list, batches: Callable[[], Sequence[int]],
                objective: Loss, decide: Decide, optimizer: Optimizer,
                recorder: HealthRecorder | None = None) -> Step:
    """One step on a new graph: forward the batch, check the loss, backward, update."""
    def step(k: int) -> tuple[float, float]:
        idx = batches()
        xb, yb = [X[i] for i in idx], [y[i] for i in idx]
        outs = [model(x) for x in xb]
        total = objective(outs, yb)
        _guard(k, total.data, model)
        _update(model, optimizer, total.backward, recorder, total)
        return total.data, _accuracy(decide, outs, yb)
    return step


def _replayed_step(model: Module, X: list, y: list, objective: Loss, decide: Decide,
                   optimizer: Optimizer) -> Step:
    """One step by replaying the full-batch graph, built and compiled here once."""
    outs = [model(x) for x in X]
    replay = autograd.compile(objective(outs, y))

    def step(k: int) -> tuple[float, float]:
        value = replay.forward()
        _guard(k, value, model)
        _update(model, optimizer, replay.backward)
        # The replay still holds this step's forward values: the outputs before the update.
        preds = [replay.values(o) if isinstance(o, list) else replay.value(o) for o in outs]
        return value, _accuracy(decide, preds, y)
    return step


def _update(model: Module, optimizer: Optimizer, backward: Callable[[], None],
            recorder: HealthRecorder | None = None, root: Value | None = None) -> None:
    # Zero through the model as well, in case the optimizer holds only some parameters.
    model.zero_grad()
    optimizer.zero_grad()
    backward()
    # Health compares the weights before and after the update, with the gradients behind it.
    before = recorder.before() if recorder else None
    optimizer.step()
    if recorder:
        recorder.record(root, before)


def _accuracy(decide: Decide, outputs: Sequence, targets: Sequence) -> float:
    return sum(bool(decide(o, t)) for o, t in zip(outputs, targets)) / len(targets)


def _guard(k: int, value: float, model: Module) -> None:
    """Stop before an update that would spread nan or inf into every weight."""
    if math.isfinite(value):
        return
    # nan and inf propagate through every op, so a bad weight shows in the loss; name it.
    for name, p in model.named_parameters():
        if not math.isfinite(p.data):
            why = "before training" if k == 0 else "after the last update: try a smaller " \
                                                   "learning rate"
            raise FloatingPointError(f"fit: loss is {value!r} at step {k}: parameter {name} "
                                     f"is {p.data!r} {why}")
    raise FloatingPointError(f"fit: loss is {value!r} at step {k}, before its update; "
                             f"check the data for nan or inf, or try a smaller learning rate")


def _loop(step: Step, optimizer: Optimizer, steps: int,
          schedule: Callable[[int], float] | None, progress: bool | None,
          health: Health | None = None) -> History:
    """Run ``steps`` steps, setting the lr from ``schedule`` and recording each one."""
    history = History(health=health)
    bar = _progress_bar(steps, progress)
    try:
        for k in range(steps):
            if schedule is not None:
                optimizer.lr = schedule(k)
            value, acc = step(k)
            history.loss.append(value)
            history.accuracy.append(acc)
            history.lr.append(optimizer.lr)
            if bar is not None:
                bar.set_postfix(loss=f"{value:.4f}", acc=f"{acc:.0%}", refresh=False)
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return history


def _progress_bar(steps: int, progress: bool | None):
    """A tqdm bar if asked for (True) or on a terminal (None); tqdm is an optional extra."""
    asked = progress is not None and bool(progress)
    if not (asked or (progress is None and sys.stderr.isatty())):
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        if not asked:
            return None  # the default on a terminal: train without a bar rather than fail
        raise ImportError("fit(progress=True) needs tqdm; install it with "
                          "pip install 'autograd-scalar[progress]'") from None
    return tqdm(total=steps, desc="fit", unit="step", leave=True)
