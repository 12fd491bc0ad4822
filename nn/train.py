"""fit: the training loop users would otherwise write by hand.

Four parts: resolve the loss together with the decision rule that scores accuracy for it; build
one step, either eager (a fresh graph each step) or replayed (one graph compiled once); then loop,
recording History and stopping before an update that would spread nan or inf into the weights.
"""
from __future__ import annotations

import math
import numbers
import operator
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
# decide(output, target) -> whether the output predicts the target; output is the number the
# model returns for one example, or a list of numbers for several outputs (floats, eager or
# replayed).
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
        seed: int | None = None, compile: bool | str = False,  # noqa: A002 - the name users expect
        decide: Decide | None = None, health: bool = False) -> History:
    """Train ``model`` on (X, y) for ``steps`` optimizer steps and return the History.

    ``loss`` is "hinge" (0/1 labels as ±1 margins), "bce" (logits), "mse" or "cross_entropy"
    (one output per class), one of those functions, or any ``loss(outputs, targets) -> Value``.
    ``decide(output, target) -> bool`` scores accuracy; it defaults to the loss's own rule, and
    for other losses to argmax over several outputs, or the sign of one. With ``batch_size`` each
    step uses a fresh random mini-batch, else the full data. ``l2`` adds α·Σ p² over all
    parameters. ``schedule(step)`` sets the optimizer's lr before each step. The progress bar
    (tqdm) shows on a terminal, or always with ``progress=True``. With ``compile=True`` the graph
    of one example is compiled once (``autograd.compile``, in C where a compiler is available)
    and replayed over each step's batch; the results are those of eager training.
    ``compile="native"`` insists on C (``NativeUnavailable`` otherwise), ``"python"`` replays in
    Python; with a native replay the optimizer's update runs in C too (``nn.optim``). With
    ``health=True`` the History also records, per layer and step, the weights' gradient norm,
    the update-to-data ratio and the fractions of dead ReLUs and saturated sigmoid/tanh units.
    For the losses fit knows, every label goes through the loss before training, so that a bad
    one is named by its index; with "mse" and its own accuracy rule, labels must be 0 or 1.
    """
    X, y = list(X), list(y)
    _check_arguments(X, y, steps, batch_size, l2)
    loss_fn, decide = resolve_loss(loss, decide)
    _check_labels(model, X, y, loss_fn, decide)
    if optimizer is None:
        optimizer = SGD(model.parameters(), lr=0.1)
    if compile and health:
        raise ValueError("fit: health=True reads the units of each step's graph, and "
                         "compile=True replays one graph without building it; use one")
    recorder = HealthRecorder(model) if health else None
    batches = _batches(len(X), batch_size, random.Random(seed))
    backend = _backend(compile)
    if backend:
        step = _replayed_step(model, X, y, batches, loss_fn, l2, decide, optimizer, backend)
    else:
        objective = _objective(loss_fn, model.parameters(), l2)
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


def _backend(compile) -> str | None:  # noqa: A002 - fit's argument
    """The replay backend ``fit(compile=...)`` asks for, or None for eager training."""
    if compile is False or compile is None:
        return None
    if compile is True:
        return "auto"
    if compile in ("auto", "native", "python"):
        return compile
    raise ValueError(f"fit: compile must be True, False, 'auto', 'native' or 'python', "
                     f"got {compile!r}")


def _check_count(what: str, n, low: int) -> None:
    if not isinstance(n, int) or isinstance(n, bool):
        raise TypeError(f"fit: {what} must be an int, got {type(n).__name__} {n!r}")
    if n < low:
        raise ValueError(f"fit: {what} must be ≥ {low}, got {n!r}")


def _check_labels(model: Module, X: list, y: list, loss_fn: Loss, decide: Decide) -> None:
    """Each label through its loss before training, a bad one named by its index in ``y``.

    Only for the losses fit knows: a loss of the user's own is not called beyond training."""
    if not any(fn is loss_fn for fn in LOSSES.values()):
        return
    out = model(X[0])
    loss_fn([out], [0])  # 0 suits every known loss: an error here is about the outputs
    _check_targets("fit", loss_fn, out, y)
    if loss_fn is losses.mse and decide is losses.threshold_decision:
        # mse itself takes any finite target, but its accuracy reads the target as a class
        # (an output above 0.5 predicts 1), so 2 or −1 would be scored as class 1.
        for i, t in enumerate(y):
            if t != 0 and t != 1:
                raise ValueError(f"fit: y[{i}] is {t!r}; with loss 'mse' fit scores accuracy "
                                 f"by rounding the output at 0.5, so labels must be 0 or 1 "
                                 f"(pass decide= to regress onto other targets)")


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


# compile=True: the graph of one example (the model, then that example's term of the loss, with
# the example's inputs and target as leaves) is compiled once and replayed over each batch, so
# that compiling costs the same whatever the size of the data set. The losses fit knows are
# means of per-example terms; each entry says how a target becomes leaf values and how the
# term is built from the loss itself, called on one example.

def _hinge_term(loss_fn: Loss, out, ts: list[Value]) -> Value:
    # The label enters as its sign ±1: hinge(s, y) = hinge(±1·s, 1), exactly (a product by ±1).
    return loss_fn([ts[0] * out], [1])


def _bce_term(loss_fn: Loss, out, ts: list[Value]) -> Value:
    # bce(z, y) = softplus(z) − y·z = bce(z, 0) − y·z, the target y a leaf.
    return loss_fn([out], [0]) - ts[0] * out


def _mse_term(loss_fn: Loss, out, ts: list[Value]) -> Value:
    return loss_fn([out], [ts[0]])


def _cross_entropy_term(loss_fn: Loss, zs, ts: list[Value]) -> Value:
    """lse(z) − z_label with the label one-hot in ``ts``, stable at every replay."""
    # The loss shifts the logits by their largest value as a number read while the graph is
    # built, which a replay would keep. Shifting first by a running maximum that is part of the
    # graph (max(m, z) = m + relu(z − m)) keeps every exp ≤ 1 whatever the weights become;
    # a shift changes neither the loss nor its gradient.
    m = zs[0]
    for z in zs[1:]:
        m = m + (z - m).relu()
    zs = [z - m for z in zs]
    # loss(z, 0) = lse(z) − z_0: add z_0 back and take off z_label = one-hot · z.
    return loss_fn([zs], [0]) + zs[0] - autograd.dot(ts, zs)


def _one_hot(t, classes: int) -> list[float]:
    row = [0.0] * classes
    row[operator.index(t)] = 1.0
    return row


# loss -> (target -> its leaf values given the number of outputs, the example's term)
TERMS: list[tuple[Loss, Callable[[Any, int], list[float]], Callable]] = [
    (losses.hinge, lambda t, c: [2.0 * float(t) - 1.0], _hinge_term),
    (losses.bce_with_logits, lambda t, c: [float(t)], _bce_term),
    (losses.mse, lambda t, c: [float(t)], _mse_term),
    (losses.softmax_cross_entropy, _one_hot, _cross_entropy_term),
]


@dataclass
class ExampleGraph:
    """One example's graph, compiled twice: its loss term (to train) and its output(s).

    Built by ``example_graph``; ``fit(compile=True)`` and the playground replay it over any
    rows of examples, so the compiled code does not grow with the data."""

    term: autograd.Compiled    # inputs: the example's values, then its target's leaves
    scores: autograd.Compiled  # inputs: the example's values (then a one-hot output picker)
    classes: int               # outputs per example
    encode: Callable[[Any, int], list[float]]  # a target -> its leaves' values
    outs: list[Value]          # the model's output(s), nodes of ``term`` as well as of ``scores``

    def rows(self, X: Sequence, y: Sequence) -> list[list[float]]:
        """Per example: its values, then its target's leaf values (the term's inputs)."""
        return [[*x, *self.encode(t, self.classes)] for x, t in zip(X, y)]

    def train(self, rows: Sequence[Sequence[float]], gradient: float) -> tuple[list, list]:
        """``term.batch`` over ``rows``: each row's loss term and the model's output(s) in it,
        taken from the same forward (no second pass), in ``outputs``' shape."""
        keep = self.outs[0] if self.classes == 1 else self.outs
        return self.term.batch(rows, gradient=gradient, keep=keep)

    def outputs(self, X: list, idx: Sequence[int]) -> list:
        """The model's output(s) for the examples ``idx``, at the leaves' current data."""
        c = self.classes
        if c == 1:
            return self.scores.map([X[i] for i in idx])
        # map gives one number per row: one row per (example, output), the output picked by a
        # one-hot dot product (exact: the other products are zeros).
        eye = [_one_hot(k, c) for k in range(c)]
        flat = self.scores.map([[*X[i], *e] for i in idx for e in eye])
        return [flat[j:j + c] for j in range(0, len(flat), c)]


def example_graph(model: Module, loss_fn: Loss, x: Sequence[float],
                  y: Sequence = (), backend: str = "auto") -> ExampleGraph | None:
    """``model`` and one of ``nn.losses``' losses on one example shaped like ``x``, compiled
    once with the example's values and target as inputs; None for a loss it does not know.
    Each target in ``y`` is first put through the loss, so a bad one raises its own error.
    ``backend`` is ``autograd.compile``'s."""
    kind = next(((enc, term) for fn, enc, term in TERMS if fn is loss_fn), None)
    if kind is None:
        return None
    encode, term_of = kind
    xs = [Value(float(v), label=f"x{i}") for i, v in enumerate(x, 1)]
    out = model(xs)
    classes = len(out) if isinstance(out, list) else 1
    _check_targets("example_graph", loss_fn, out, y)
    blank = [0.0] * len(encode(0, classes))
    ts = [Value(v, label=f"t{i}") for i, v in enumerate(blank, 1)]
    term = autograd.compile(term_of(loss_fn, out, ts), inputs=xs + ts, backend=backend)
    if classes == 1:
        return ExampleGraph(term, autograd.compile(out, inputs=xs, backend=backend), 1, encode,
                            [out])
    pick = [Value(0.0, label=f"pick{k}") for k in range(1, classes + 1)]
    scores = autograd.compile(autograd.dot(pick, out), inputs=xs + pick, backend=backend)
    return ExampleGraph(term, scores, classes, encode, list(out))


def _check_targets(owner: str, loss_fn: Loss, out, y: list) -> None:
    """Each distinct target through the loss once, so that a bad one raises the loss's own
    error, named by its index, before training (a loss sees one batch at a time)."""
    seen = set()
    for i, t in enumerate(y):
        try:
            key = (type(t), t)
            if key in seen:
                continue
            seen.add(key)
        except TypeError:  # unhashable: check every one
            pass
        try:
            loss_fn([out], [t])
        except (TypeError, ValueError) as e:
            raise type(e)(f"{owner}: y[{i}]: {e}") from None


def _replayed_step(model: Module, X: list, y: list, batches: Callable[[], Sequence[int]],
                   loss_fn: Loss, l2: float, decide: Decide, optimizer: Optimizer,
                   backend: str = "auto") -> Step:
    """One step by replaying one example's compiled graph over the step's batch."""
    graph = example_graph(model, loss_fn, X[0], backend=backend)  # fit has checked y
    if graph is None:
        return _full_graph_step(model, X, y, batches, _objective(loss_fn, model.parameters(), l2),
                                decide, optimizer, backend)
    rows = graph.rows(X, y)
    params = model.parameters()
    # The L2 term compiled on its own: its forward is eager's α·Σ p², its backward adds α·p
    # twice into each grad, as eager's walk does (and moves no number through Python).
    penalty = autograd.compile(losses.l2(params, l2), backend=backend) if l2 else None
    # The model's own zeroing only where the optimizer leaves some parameters out.
    mine = set(map(id, optimizer.params))
    others = [p for p in params if id(p) not in mine]

    def step(k: int) -> tuple[float, float]:
        idx = batches()
        for p in others:
            p.grad = 0.0
        optimizer.zero_grad()
        # Gradients are added in the order eager's reverse walk adds them, so that the sums
        # agree to the last bit: the L2 term's, then the examples last to first.
        reg = 0.0
        if penalty is not None:
            reg = penalty.forward()
            penalty.backward()
        # The loss is the mean of the terms: each row's gradient is added times 1/n.
        # The outputs come from the same forward, before the update, as eager measures them.
        terms, outs = graph.train([rows[i] for i in reversed(idx)], 1.0 / len(idx))
        terms.reverse()
        outs.reverse()
        value = _mean(terms) + reg
        _guard(k, value, model)
        optimizer.step()
        return value, _accuracy(decide, outs, [y[i] for i in idx])
    return step


def _mean(terms: list[float]) -> float:
    """As ``losses`` takes the mean: the sum, times 1/n unless there is one term."""
    total = 0.0
    for t in terms:   # left to right, as the sum op adds (Python 3.12+'s sum() compensates)
        total += t
    return total if len(terms) == 1 else total * (1.0 / len(terms))


def _full_graph_step(model: Module, X: list, y: list, batches: Callable[[], Sequence[int]],
                     objective: Loss, decide: Decide, optimizer: Optimizer,
                     backend: str = "auto") -> Step:
    """For a loss fit cannot split into per-example terms: replay the full-batch graph."""
    if len(batches()) < len(X):
        raise ValueError("fit: compile=True with mini-batches needs a loss fit knows (hinge, "
                         "bce, mse, cross_entropy), whose per-example terms it can replay; "
                         "another loss is replayed on the full batch only")
    outs = [model(x) for x in X]
    replay = autograd.compile(objective(outs, y), backend=backend)

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
    return sum(bool(decide(_numbers(o), t)) for o, t in zip(outputs, targets)) / len(targets)


def _numbers(output):
    """One example's output as numbers, eager or replayed: a rule needs no graph, and a user's
    rule can then use float() and math on it (a Value refuses both)."""
    if isinstance(output, (list, tuple)):
        return [o.data if isinstance(o, Value) else o for o in output]
    return output.data if isinstance(output, Value) else output


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
