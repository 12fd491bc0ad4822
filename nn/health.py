"""Training health: per-layer numbers that show trouble before the loss does.

At every step, for each layer (the first part of a parameter's label, ``L1`` in ``L1.N3.w2``):

- ``grad_norm``: ‖∂loss/∂W‖ over the layer's weights (biases left out, as is usual);
- ``update_ratio``: ‖ΔW‖ / ‖W‖, how far the update moved the weights relative to their size
  (around 1e-3 is a common rule of thumb; far below, the layer barely learns; near 1, it thrashes);
- ``dead``: the fraction of the layer's ReLU units whose input is ≤ 0 on every example of the
  batch: no gradient reaches their weights from this batch;
- ``saturated``: the fraction of the layer's sigmoid/tanh outputs (units × examples) on a flat end.

The weights come from the model's named parameters; the activations from the step's graph,
found by their labels (``L1.N3.out``) and op names, through autograd's public API only.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

from autograd import Value
from autograd.graph import topological_order
from autograd.graph import is_dead, is_saturated

from .module import Module

FIGURES = ("grad_norm", "update_ratio", "dead", "saturated")
# The update-to-data ratio around which training usually goes well (the heuristic of Stanford's
# CS231n notes on babysitting the learning process).
RULE_OF_THUMB = 1e-3


@dataclass
class Health:
    """Per-layer figures, each ``{layer: [value at step 0, 1, ...]}``. A layer without ReLU
    units has no ``dead`` entry, one without sigmoid/tanh units no ``saturated`` entry."""

    grad_norm: dict[str, list[float]] = field(default_factory=dict)
    update_ratio: dict[str, list[float]] = field(default_factory=dict)
    dead: dict[str, list[float]] = field(default_factory=dict)
    saturated: dict[str, list[float]] = field(default_factory=dict)

    def __len__(self) -> int:
        return max((len(v) for v in self.grad_norm.values()), default=0)


def layer_of(label: str) -> str:
    """The layer a label belongs to: its first dotted part (``L1`` for ``L1.N3.w2``)."""
    return label.split(".", 1)[0]


def weights_by_layer(model: Module) -> dict[str, list[Value]]:
    """Each layer's weights (parameters whose label ends in ``.w<k>``), layers in model order."""
    layers: dict[str, list[Value]] = {}
    for name, p in model.named_parameters():
        if name.rsplit(".", 1)[-1].startswith("w"):
            layers.setdefault(layer_of(name), []).append(p)
    return layers


def norm(xs: Sequence[float]) -> float:
    """The Euclidean norm."""
    return math.sqrt(sum(x * x for x in xs))


def update_ratio(before: Sequence[float], after: Sequence[float]) -> float:
    """‖after − before‖ / ‖before‖ (inf if the weights were all 0 and moved, 0 if neither)."""
    step = norm([a - b for a, b in zip(after, before)])
    size = norm(before)
    if size == 0.0:
        return 0.0 if step == 0.0 else math.inf
    return step / size


def activations_by_layer(root: Value) -> dict[str, dict[str, list[Value]]]:
    """The activation nodes behind ``root``: ``{layer: {unit: [its node for each example]}}``.

    A unit's output is labelled ``<unit>.out`` (``L1.N3.out``) and made by relu, sigmoid or tanh.
    """
    found: dict[str, dict[str, list[Value]]] = {}
    for v in topological_order(root):
        op = v.operation
        label = v.label
        if op is None or op.name not in ("relu", "sigmoid", "tanh") or not label \
                or not label.endswith(".out"):
            continue
        unit = label[:-len(".out")]
        found.setdefault(layer_of(unit), {}).setdefault(unit, []).append(v)
    return found


def dead_fraction(units: dict[str, list[Value]]) -> float | None:
    """Fraction of ReLU units dead on every example given; None if there are no ReLU units."""
    relus = [nodes for nodes in units.values() if nodes[0].operation.name == "relu"]
    if not relus:
        return None
    return sum(all(is_dead(v) for v in nodes) for nodes in relus) / len(relus)


def saturated_fraction(units: dict[str, list[Value]]) -> float | None:
    """Fraction of sigmoid/tanh outputs that are saturated; None if there are none."""
    outs = [v for nodes in units.values() for v in nodes
            if v.operation.name in ("sigmoid", "tanh")]
    if not outs:
        return None
    return sum(is_saturated(v) for v in outs) / len(outs)


class HealthRecorder:
    """Records a ``Health`` step by step: call ``before()`` after backward and before the
    optimizer's step, then ``record(root, before)`` after it."""

    def __init__(self, model: Module) -> None:
        self.layers = weights_by_layer(model)
        self.health = Health()

    def before(self) -> dict[str, list[float]]:
        """The weights as they are now, to measure the update against."""
        return {name: [w.data for w in ws] for name, ws in self.layers.items()}

    def record(self, root: Value, before: dict[str, list[float]]) -> None:
        """Add one step: gradients and updates from the weights, units from ``root``'s graph."""
        h = self.health
        for name, ws in self.layers.items():
            h.grad_norm.setdefault(name, []).append(norm([w.grad for w in ws]))
            h.update_ratio.setdefault(name, []).append(
                update_ratio(before[name], [w.data for w in ws]))
        for name, units in activations_by_layer(root).items():
            for figure, value in (("dead", dead_fraction(units)),
                                  ("saturated", saturated_fraction(units))):
                if value is not None:
                    getattr(h, figure).setdefault(name, []).append(value)


# ------------------------------------------------------------------------------- plotting

# Okabe–Ito colours (without its yellow, faint on white), and a line style per layer as well,
# so layers are told apart without relying on colour.
COLORS = ("#000000", "#E69F00", "#56B4E9", "#009E73", "#0072B2", "#D55E00", "#CC79A7")
STYLES = ("-", "--", "-.", ":")
MARKERS = ("o", "s", "^", "D", "v", "P", "X")

_PANELS = (
    ("grad_norm", "gradient norm ‖∂loss/∂W‖", True),
    ("update_ratio", "update / data  ‖ΔW‖ / ‖W‖", True),
    ("dead", "dead ReLUs (fraction of units)", False),
    ("saturated", "saturated σ/tanh (fraction of outputs)", False),
)


def plot_health(history, *, title: str | None = None):
    """The health figures of a ``fit(..., health=True)`` run (or a ``Health``): one panel per
    figure the model has (no dead-ReLU panel without ReLUs), one line per layer, norms and
    ratios on a log scale. Returns the matplotlib Figure."""
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError("plot_health needs matplotlib; install it with "
                          "pip install 'autograd-scalar[plot]'") from None

    health = history if isinstance(history, Health) else getattr(history, "health", None)
    if not isinstance(health, Health):
        raise TypeError("plot_health: expected the History of fit(..., health=True) or a "
                        f"Health, got {type(history).__name__}")
    panels = [p for p in _PANELS if p[2] or getattr(health, p[0])]
    # At most two panels a row, so the figure fits a notebook's column (about 9 inches).
    cols = min(len(panels), 2)
    rows = -(-len(panels) // cols)
    size = (3.6 * cols + 0.6, 2.6 * rows + 0.4 * bool(title))
    fig, axes = plt.subplots(rows, cols, figsize=size, sharex=True, squeeze=False)
    for ax in axes.flat[len(panels):]:
        ax.remove()
    for ax, (figure, label, log) in zip(axes.flat, panels):
        _panel(ax, getattr(health, figure), label, log)
        if figure == "update_ratio":
            ax.axhline(RULE_OF_THUMB, color="#777777", lw=0.8, ls=(0, (1, 3)))
            ax.annotate("1e-3", (0, RULE_OF_THUMB), xytext=(2, 2), textcoords="offset points",
                        fontsize=7, color="#555555")
    for ax in axes.flat[max(0, len(panels) - cols):len(panels)]:
        ax.set_xlabel("step")
        ax.xaxis.set_tick_params(labelbottom=True)  # also above a removed empty panel
    if title:
        fig.suptitle(title, fontsize=10)
    # One legend for all panels: a layer has the same colour, line style and marker in each.
    fig.legend(*axes.flat[0].get_legend_handles_labels(), loc="center right", fontsize=8,
               title="layer", title_fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0, 0.93, 1))
    return fig


def _panel(ax, series: dict[str, list[float]], title: str, log: bool) -> None:
    from matplotlib.ticker import FuncFormatter, LogLocator
    from matplotlib.transforms import blended_transform_factory

    ax.set_title(title, fontsize=9)
    zeros = False
    for k, (layer, ys) in enumerate(series.items()):
        color = COLORS[k % len(COLORS)]
        ax.plot(range(len(ys)), [v if v > 0 or not log else math.nan for v in ys], label=layer,
                color=color, ls=STYLES[k % len(STYLES)], marker=MARKERS[k % len(MARKERS)],
                markevery=max(1, len(ys) // 6), markersize=3.5, lw=1.3)
        at_zero = [i for i, v in enumerate(ys) if v == 0.0]
        if log and at_zero:
            # A log axis has no 0: such steps get a mark on the bottom edge instead.
            zeros = True
            ax.plot(at_zero, [0.0] * len(at_zero), ls="none", marker="|", color=color,
                    markersize=6, clip_on=False,
                    transform=blended_transform_factory(ax.transData, ax.transAxes))
    if log:
        ax.set_yscale("log")
        lo, hi = ax.get_ylim()
        if hi < 100 * lo:
            # Two decades or less: label 1, 2 and 5 of each as plain numbers, or too few show.
            plain = FuncFormatter(lambda v, _: f"{v:g}")
            ax.yaxis.set_minor_locator(LogLocator(subs=(2.0, 5.0)))
            ax.yaxis.set_minor_formatter(plain)
            ax.yaxis.set_major_formatter(plain)
    else:
        ax.set_ylim(-0.03, 1.03)
    if zeros:
        ax.text(0.99, 0.06, "| on the axis: exactly 0", ha="right", va="bottom", fontsize=7,
                color="#555555", transform=ax.transAxes)
