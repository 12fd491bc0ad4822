"""Train an MLP on scikit-learn's 8×8 handwritten digits, every weight a scalar Value.

    python -m nn.digits [--steps N] [--batch-size B] [--hidden H] [--seed S]

Needs the ``digits`` extra (scikit-learn, whose package ships the 1,797 images: nothing is
downloaded). Training is ``fit(compile=True)`` on mini-batches: one example's graph is compiled
once and replayed over each batch, in C where a compiler is available.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from typing import Sequence

from autograd import no_grad

from nn import datasets
from nn.losses import argmax_decision
from nn.module import MLP
from nn.optim import Adam
from nn.train import History, fit

LR = 0.01
L2 = 1e-4


def build(hidden: int = 32, seed: int = 0) -> MLP:
    """MLP(64, [hidden, 10]), its uniform weights scaled by 1/√(inputs of the neuron)."""
    model = MLP(64, [hidden, 10], seed=seed)
    # With 64 inputs, weights uniform in [−1, 1] start the net inputs at several units and the
    # logits far apart; scaling by fan-in starts them near 1, which reaches a better optimum
    # in the same number of steps.
    for layer in model.layers:
        for neuron in layer.neurons:
            for w in neuron.w:
                w.data /= math.sqrt(neuron.nin)
    return model


def evaluate(model: MLP, X: Sequence, y: Sequence[int]) -> float:
    """Fraction of examples whose largest output is their label."""
    with no_grad():  # evaluation only: no graph is kept
        hits = sum(argmax_decision([o.data for o in model(x)], t) for x, t in zip(X, y))
    return hits / len(y)


def train(steps: int = 500, batch_size: int = 32, hidden: int = 32, seed: int = 0,
          progress: bool | None = None) -> tuple[MLP, History, list, list]:
    """Split the digits 3:1, fit on the first part; returns (model, history, X_test, y_test).

    Adam with the lr falling linearly from 0.01 towards 0.001, softmax cross-entropy plus L2.
    """
    X, y = datasets.load_digits()
    X_train, y_train, X_test, y_test = datasets.split(X, y, 0.25, seed=seed)
    model = build(hidden, seed)
    history = fit(model, X_train, y_train, loss="cross_entropy", steps=steps,
                  optimizer=Adam(model.parameters(), lr=LR), batch_size=batch_size, l2=L2,
                  schedule=lambda k: LR * (1.0 - 0.9 * k / steps), seed=seed,
                  compile=True, progress=progress)
    return model, history, X_test, y_test


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(prog="python -m nn.digits", description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=500, help="training steps (default: 500)")
    ap.add_argument("--batch-size", type=int, default=32, help="examples per step (default: 32)")
    ap.add_argument("--hidden", type=int, default=32, help="hidden neurons (default: 32)")
    ap.add_argument("--seed", type=int, default=0, help="seed for split, weights and batches")
    ap.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = ap.parse_args(argv)
    for name in ("steps", "batch_size", "hidden"):
        if getattr(args, name) < 1:
            ap.error(f"--{name.replace('_', '-')} must be at least 1")
    start = time.perf_counter()
    model, history, X_test, y_test = train(args.steps, args.batch_size, args.hidden, args.seed,
                                           progress=False if args.no_progress else None)
    seconds = time.perf_counter() - start
    acc = evaluate(model, X_test, y_test)
    print(f"MLP(64, [{args.hidden}, 10]) on 8×8 digits, {args.steps} steps of "
          f"{args.batch_size} examples")
    print(f"final batch loss {history.loss[-1]:.4f}, test accuracy {100 * acc:.1f}% "
          f"({len(y_test)} held-out images)")
    print(f"trained in {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except ImportError as e:
        sys.exit(f"error: {e}")
