"""Step through the backward pass: one step per node, in the order backward visits them."""
from __future__ import annotations

import numbers
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from .drawing import draw
from ..engine import Constant, Value
from ..escape import MAX_SHOWN, html_text, shown
from ..graph import (Names, backprop, backward_state, fmt, graph_names, local_partials,
                    partial_formula, same_number, topological_order)


@dataclass(frozen=True)
class Contribution:
    """What one step sends into one input: ``grad × local → amount``."""

    parent: Value
    index: int
    formula: str
    local: float
    amount: float


@dataclass(frozen=True)
class Step:
    """One node of the backward pass: its (final) gradient and what it sends to each input."""

    index: int
    node: Value
    grad: float
    contributions: tuple[Contribution, ...]
    names: Names = field(repr=False, compare=False, default_factory=Names)

    def __str__(self) -> str:
        n = self.names
        sends = []
        for c in self.contributions:
            if isinstance(c.parent, Constant):
                continue  # constants take no gradient worth reading
            local = fmt(c.local)
            d = f"∂{n(self.node)}/∂{n(c.parent)} = {c.formula}"
            if not same_number(c.formula, local):
                d += f" = {local}"
            sends.append(f"{d}, so {fmt(self.grad)} × {local} → {fmt(c.amount)} into "
                         f"{n(c.parent)}")
        return f"step {self.index}: {n(self.node)} ({shown(self.node.operation.symbol)}) " \
               f"has grad {fmt(self.grad)}; " + "; ".join(sends)


def backward_steps(root: Value, seed: float = 1.0) -> Iterator[Step]:
    """The backward pass from ``root`` as steps, leaving every ``.grad`` untouched.

    Steps come in backward's own order (reverse topological); leaves send nothing, so they take
    no step. Each node's gradient is complete when its step comes.
    """
    if not isinstance(root, Value):
        raise TypeError(f"backward_steps: root must be a Value, got {type(root).__name__}")
    if not isinstance(seed, numbers.Real) or isinstance(seed, bool):
        raise TypeError(f"backward_steps: seed must be a real number, got "
                        f"{type(seed).__name__} {shown(repr(seed))}")
    # The engine's own walk gives each node's gradient; in backward's order it is complete by
    # the node's step, so each step only needs its local partials to say what it sends.
    order, grads = backprop(root, float(seed), create_graph=False)
    names = graph_names(root, limit=MAX_SHOWN)
    k = 0
    for node in reversed(order):
        if node.operation is None:
            continue
        k += 1
        g = grads[node]
        contributions = tuple(
            Contribution(p, i, partial_formula(node, i, names), d, g * d)
            for i, (p, d) in enumerate(zip(node.parents, local_partials(node))))
        yield Step(k, node, g, contributions, names)


def step_count(root: Value) -> int:
    """How many steps the backward pass from ``root`` takes (one per non-leaf node)."""
    return sum(1 for v in topological_order(root) if v.operation is not None)


def _frames(root: Value, **draw_options: Any) -> list[str]:
    # SVG of every frame, from "nothing propagated yet" to "every node visited".
    out = []
    for k in range(step_count(root) + 1):
        svg = draw(root, state=backward_state(root, k), **draw_options).pipe(
            format="svg").decode("utf-8")
        out.append(svg[svg.find("<svg"):])
    return out


def _captions(root: Value) -> list[str]:
    return ["step 0: the root's gradient is seeded with 1; nothing has flowed back yet"] + [
        str(s) for s in backward_steps(root)]


def steps_widget(root: Value, **draw_options: Any):
    """A slider over the backward pass for notebooks (needs ipywidgets)."""
    try:
        import ipywidgets as widgets
    except ImportError as e:  # optional dependency
        raise ImportError("steps_widget needs ipywidgets: pip install ipywidgets") from e
    frames = _frames(root, **draw_options)
    captions = _captions(root)
    slider = widgets.IntSlider(value=0, min=0, max=len(frames) - 1, step=1,
                               description="step", continuous_update=False)
    caption = widgets.HTML(value=html_text(captions[0], len(captions[0])))
    picture = widgets.HTML(value=frames[0])

    def show(change: dict) -> None:
        k = change["new"]
        caption.value = html_text(captions[k], len(captions[k]))
        picture.value = frames[k]

    slider.observe(show, names="value")
    return widgets.VBox([slider, caption, picture])


def save_steps_html(root: Value, path: str | Path, *, title: str = "Backward pass, step by step",
                    precision: int = 4, **draw_options: Any) -> Path:
    """Deprecated name: writes the explorer page (``autograd.explore``), which steps through
    the backward pass (and the forward one) on a single layout. Options of ``draw`` that the
    page has no use for are ignored with a warning."""
    from .explorer import explore  # the page is the explorer's; imported only when asked for
    if draw_options:
        warnings.warn(f"save_steps_html: {', '.join(sorted(draw_options))} no longer apply; the "
                      f"page is autograd.explore's", DeprecationWarning, stacklevel=2)
    return explore(root, title=title, precision=precision).save(path)
