"""Train MLP(2, [16, 16, 1]) on two moons and write pictures of what it learned.

    python -m nn.demo [--out DIR] [--dataset moons|circles|spiral] [--steps N] [--seed S]

Writes to DIR (default out/): decision_boundary.png, training.png, neuron.svg (one neuron's
forward and backward graph) and model.json.
"""
from __future__ import annotations

import argparse
import importlib.util
import math
import os
import shutil
import sys
import time
from typing import Sequence

import autograd
from autograd import Value, no_grad

from nn import datasets
from nn.losses import accuracy
from nn.module import MLP, Neuron
from nn.optim import SGD
from nn.train import History, fit

DATASETS = {"moons": datasets.make_moons, "circles": datasets.make_circles,
            "spiral": datasets.make_spiral}
# micrograd's demo recipe: SVM max-margin loss plus a little L2, SGD with lr falling from 1.0
# to 0.1 over the run.
L2 = 1e-4


def schedule(steps: int):
    """lr for each step, falling linearly from 1.0 towards 0.1."""
    return lambda k: 1.0 - 0.9 * k / max(steps, 1)


def train(dataset: str = "moons", steps: int = 100, seed: int = 1, n_samples: int = 100,
          progress: bool | None = None) -> tuple[MLP, list, list, History]:
    """Generate the data, build the model and fit it; returns (model, X, y, history)."""
    X, y = DATASETS[dataset](n_samples=n_samples, noise=0.1, seed=seed)
    model = MLP(2, [16, 16, 1], seed=seed)
    opt = SGD(model.parameters(), lr=1.0)
    history = fit(model, X, y, loss="hinge", optimizer=opt, steps=steps, l2=L2,
                  schedule=schedule(steps), progress=progress, compile=True)
    return model, X, y, history


def check_dependencies() -> None:
    """Fail before training, not after it, when a picture library or ``dot`` is missing."""
    missing = [name for name in ("matplotlib", "graphviz")
               if importlib.util.find_spec(name) is None]
    if missing:
        raise ImportError(f"python -m nn.demo needs {' and '.join(missing)}; install it with "
                          f"pip install 'autograd-scalar[demo]'")
    if shutil.which("dot") is None:
        raise FileNotFoundError("python -m nn.demo needs Graphviz's 'dot' program to draw a "
                                "neuron; install graphviz with your system's package manager")


def _figure(**kwargs):
    """A matplotlib Figure, drawn off-screen; matplotlib is an optional extra."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError("plotting needs matplotlib; install it with "
                          "pip install 'autograd-scalar[plot]'") from None
    return Figure(**kwargs)


def _scores(model: MLP, points: Sequence[Sequence[float]]) -> list[float]:
    """The model's score at each point: one point's graph, compiled once and mapped over all."""
    points = [list(p) for p in points]
    if not points:
        return []
    xs = [Value(float(v), label=f"x{i}") for i, v in enumerate(points[0], 1)]
    return autograd.compile(model(xs), inputs=xs).map(points)


def plot_decision_boundary(model: MLP, X, y, path: str, title: str = "", n: int = 70) -> None:
    """Data points over the model's score field, with the decision boundary (score 0) drawn."""
    fig = _figure(figsize=(7.4, 4.8), dpi=110)
    from matplotlib.colors import TwoSlopeNorm

    xs0, xs1 = [p[0] for p in X], [p[1] for p in X]
    pad = 0.5
    lo0, hi0, lo1, hi1 = min(xs0) - pad, max(xs0) + pad, min(xs1) - pad, max(xs1) + pad
    g0 = [lo0 + (hi0 - lo0) * i / (n - 1) for i in range(n)]
    g1 = [lo1 + (hi1 - lo1) * j / (n - 1) for j in range(n)]
    flat = _scores(model, [(a, b) for b in g1 for a in g0])
    Z = [flat[j * n:(j + 1) * n] for j in range(n)]
    # Clip the colour scale so a few large scores far from the data do not wash out the rest.
    lim = math.ceil(max(1.0, sorted(abs(z) for z in flat)[int(0.95 * len(flat))]))

    ax = fig.add_subplot()
    levels = [lim * (k / 8 - 1) for k in range(17)]
    field = ax.contourf(g0, g1, Z, levels=levels, cmap="RdBu_r",
                        norm=TwoSlopeNorm(vcenter=0.0, vmin=-lim, vmax=lim), alpha=0.55,
                        extend="both")
    ax.contour(g0, g1, Z, levels=[0.0], colors="black", linewidths=1.6)
    for cls, colour, marker in ((0, "#1f4e9c", "o"), (1, "#b2182b", "s")):
        pts = [p for p, t in zip(X, y) if t == cls]
        ax.scatter([p[0] for p in pts], [p[1] for p in pts], c=colour, marker=marker, s=28,
                   edgecolors="white", linewidths=0.7, label=f"class {cls}", zorder=3)
    fig.colorbar(field, ax=ax, shrink=0.9, label="model score (boundary at 0)")
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    ax.set_title(title or "Decision boundary")
    ax.legend(loc="upper left", framealpha=0.9)
    ax.set_aspect("equal", adjustable="box")
    fig.tight_layout()
    fig.savefig(path)


def plot_training(history: History, path: str) -> None:
    """Loss (log scale) and accuracy per step, side by side."""
    steps = list(range(1, len(history) + 1))
    fig = _figure(figsize=(9.0, 3.6), dpi=110)
    ax_loss, ax_acc = fig.subplots(1, 2)
    ax_loss.plot(steps, history.loss, color="#b2182b")
    ax_loss.set_yscale("log")
    ax_loss.set_xlabel("step")
    ax_loss.set_ylabel("loss (hinge + L2)")
    ax_loss.set_title("Training loss")
    ax_loss.grid(True, which="both", alpha=0.3)
    ax_acc.plot(steps, [100 * a for a in history.accuracy], color="#1f4e9c")
    ax_acc.set_ylim(0, 102)
    ax_acc.set_xlabel("step")
    ax_acc.set_ylabel("training accuracy (%)")
    ax_acc.set_title(f"Accuracy (final {100 * history.accuracy[-1]:.0f}%)")
    ax_acc.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)


def neuron_graph(model: MLP, x: Sequence[float]) -> tuple[Neuron, Value]:
    """One first-layer neuron evaluated on ``x`` and backpropagated: the graph to draw.

    Picks the first neuron whose ReLU is active on ``x``, so gradient visibly flows back.
    """
    layer = model.layers[0]
    chosen = layer.neurons[0]
    for n in layer.neurons:
        with no_grad():
            if n(x).data > 0:
                chosen = n
                break
    # Fresh copies of the parameters, so drawing leaves the model's grads untouched.
    twin = Neuron(chosen.nin, chosen.activation, name=chosen.name)
    for p, q in zip(twin.parameters(), chosen.parameters()):
        p.data = q.data
    out = twin(x)
    out.backward()
    return twin, out


def render_neuron(model: MLP, x: Sequence[float], path: str) -> None:
    """Write one neuron's forward and backward graph as SVG."""
    _, out = neuron_graph(model, x)
    # Grouped by label prefix, so the neuron's own nodes sit in boxes L1 > L1.Nk.
    svg = autograd.draw(out, group=True).pipe(format="svg")
    with open(path, "wb") as f:
        f.write(svg)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(prog="python -m nn.demo", description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="out", help="output directory (default: out)")
    ap.add_argument("--dataset", choices=sorted(DATASETS), default="moons")
    ap.add_argument("--steps", type=int, default=100, help="training steps (default: 100)")
    ap.add_argument("--seed", type=int, default=1, help="seed for data and weights (default: 1)")
    ap.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = ap.parse_args(argv)
    if args.steps < 1:
        ap.error("--steps must be at least 1")
    check_dependencies()

    os.makedirs(args.out, exist_ok=True)
    start = time.perf_counter()
    model, X, y, history = train(args.dataset, args.steps, args.seed,
                                 progress=False if args.no_progress else None)
    # history.accuracy[-1] was measured before the last update; report the trained model's.
    acc = accuracy(_scores(model, X), y)
    print(f"{model} on {args.dataset} ({len(X)} points), {args.steps} steps")
    print(f"final loss {history.loss[-1]:.4f}, training accuracy {100 * acc:.1f}%")

    paths = {name: os.path.join(args.out, name) for name in
             ("decision_boundary.png", "training.png", "neuron.svg", "model.json")}
    plot_decision_boundary(model, X, y, paths["decision_boundary.png"],
                           title=f"MLP(2, [16, 16, 1]) on {args.dataset}: "
                                 f"{100 * acc:.0f}% training accuracy")
    plot_training(history, paths["training.png"])
    render_neuron(model, X[0], paths["neuron.svg"])
    model.save(paths["model.json"])
    for p in paths.values():
        print(f"wrote {p}")
    print(f"done in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (ImportError, FileNotFoundError) as e:
        sys.exit(f"error: {e}")
