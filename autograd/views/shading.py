"""Shading: what a drawing marks on each node to show what is going wrong.

Pure functions from nodes to looks, for a renderer to apply. Two questions are answered:

- *where is the signal?* ``color_by="grad"`` or ``"data"`` shades every value by its magnitude on
  a log scale (viridis, readable under the common colour-vision deficiencies; every box also
  prints its number), and marks the units that block the gradient: dead ReLUs (input ≤ 0, local
  slope 0) and saturated sigmoid/tanh units (output on a flat end, local slope near 0);
- *which gradient is wrong?* ``differing`` compares a gradient mapping (computed any way, e.g. a
  mistaken backward) with the engine's and returns the nodes where they disagree.

Marks are text and border style, never colour alone. Nodes are read only through their public
attributes (``operation``, ``parents``, ``data``, ``label``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Mapping

from ..engine import Constant, Value
from ..graph import SATURATION, is_dead, is_saturated

__all__ = ["COLOR_BY", "SATURATION", "ZERO_FILL", "Mark", "MARKS", "Shade", "Legend", "Scale",
           "is_dead", "is_saturated", "unit_marks", "differing", "magnitudes", "shade"]

COLOR_BY = ("grad", "data")
ZERO_FILL = "#e8e8e8"  # exactly 0: off the log scale, a neutral light grey
# matplotlib's viridis sampled at 0, 1/16, ..., 1 (its published table): perceptually uniform,
# readable under the common colour-vision deficiencies and in grey; kept here so that drawing
# does not need matplotlib.
VIRIDIS = ("#440154", "#48186a", "#472d7b", "#424086", "#3b528b", "#33638d", "#2c728e",
           "#26828e", "#21918c", "#1fa088", "#28ae80", "#3fbc73", "#5ec962", "#84d44b",
           "#addc30", "#d8e219", "#fde725")


@dataclass(frozen=True)
class Mark:
    """A mark a renderer writes on a node: a short ``tag`` in the box and a legend line."""

    name: str
    tag: str
    meaning: str
    border: str  # graphviz style of the node's outline, so the mark is also a shape


MARKS = {
    "dead": Mark("dead", "✕ dead", "dead ReLU: input ≤ 0, no gradient passes", "dashed"),
    "saturated": Mark("saturated", "⊓ saturated",
                      f"saturated σ/tanh: |tanh| or |2σ − 1| above {SATURATION}, on a flat end "
                      "where the slope is nearly 0", "dotted"),
    "differs": Mark("differs", "≠ engine", "this gradient differs from the engine's", "bold"),
    "nonfinite": Mark("nonfinite", "‼ not finite", "value is inf or nan", "bold"),
}


@dataclass(frozen=True)
class Shade:
    """How to draw one node: ``fill`` (None: unshaded), ``ink`` (text colour readable on the
    fill) and the names of its marks (keys of ``MARKS``)."""

    fill: str | None = None
    ink: str = "#000000"
    marks: tuple[str, ...] = ()


@dataclass(frozen=True)
class Legend:
    """What the shading means: a title, (fill, ink, text) swatches along the scale, and the
    marks that occur in the drawing."""

    title: str = ""
    swatches: tuple[tuple[str, str, str], ...] = ()
    marks: tuple[Mark, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.swatches or self.marks)


# ------------------------------------------------------------------------------ unit marks

def unit_marks(node: Value) -> tuple[str, ...]:
    """The marks an activation node earns by its own values: "dead" or "saturated"."""
    if is_dead(node):
        return ("dead",)
    if is_saturated(node):
        return ("saturated",)
    return ()


# ---------------------------------------------------------------------- differing gradients

def differing(nodes: Iterable[Value], given: Mapping[Value, float],
              reference: Mapping[Value, float], *, rel_tol: float = 1e-9,
              abs_tol: float = 1e-12) -> set[Value]:
    """The nodes whose ``given`` gradient differs from the ``reference`` one.

    Only nodes present in ``given`` are compared (a mapping may cover part of the graph); a node
    missing from ``reference`` counts as gradient 0 there. The tolerance absorbs rounding from
    adding the same terms in another order; two nans agree.
    """
    out = set()
    for v in nodes:
        if v not in given:
            continue
        a, b = float(given[v]), float(reference.get(v, 0.0))
        if math.isnan(a) and math.isnan(b):
            continue
        if not math.isclose(a, b, rel_tol=rel_tol, abs_tol=abs_tol):
            out.add(v)
    return out


# ------------------------------------------------------------------------------ the scale

def _ink(rgb: tuple[float, float, float]) -> str:
    # WCAG relative luminance; dark text on light fills, white on dark ones (contrast ≥ 4.5).
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    lum = 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
    return "#000000" if (lum + 0.05) / 0.05 >= 1.05 / (lum + 0.05) else "#ffffff"


def _viridis(t: float) -> tuple[float, float, float]:
    # Linear between the two nearest samples of the table.
    t = min(max(t, 0.0), 1.0) * (len(VIRIDIS) - 1)
    i = min(int(t), len(VIRIDIS) - 2)
    a, b = _rgb(VIRIDIS[i]), _rgb(VIRIDIS[i + 1])
    return tuple(x + (y - x) * (t - i) for x, y in zip(a, b))


def _rgb(h: str) -> tuple[float, float, float]:
    return tuple(int(h[k:k + 2], 16) / 255 for k in (1, 3, 5))


def _hex(rgb: tuple[float, float, float]) -> str:
    return "#" + "".join(f"{round(255 * c):02x}" for c in rgb)


class Scale:
    """|x| on a log scale over the whole decades that hold every nonzero finite magnitude.

    Whole decades, so that magnitudes close together look close together (0.8 and 1 are both
    near the top of 0.1 … 1), rather than being stretched over the full range of colours.
    """

    def __init__(self, values: Iterable[float]) -> None:
        logs = [math.log10(abs(x)) for x in values if x != 0.0 and math.isfinite(x)]
        self.lo = math.floor(min(logs, default=0.0))
        self.hi = math.ceil(max(logs, default=0.0))
        if self.hi == self.lo:
            self.lo -= 1

    def position(self, x: float) -> float:
        """Where |x| lies between the bottom (0) and the top (1) of the scale."""
        return (math.log10(abs(x)) - self.lo) / (self.hi - self.lo)

    def colors(self, x: float) -> tuple[str, str] | None:
        """(fill, ink) for a value; None when it is 0 or not finite (off the scale)."""
        if x == 0.0 or not math.isfinite(x):
            return None
        rgb = _viridis(self.position(x))
        return _hex(rgb), _ink(rgb)

    def ticks(self, most: int = 6) -> list[float]:
        """Powers of ten from the bottom to the top, both ends included, at most ``most``."""
        stride = max(1, math.ceil((self.hi - self.lo) / max(1, most - 1)))
        exps = list(range(self.lo, self.hi + 1, stride))
        if exps[-1] != self.hi:
            exps.append(self.hi)
        return [10.0 ** e for e in exps]

    def swatches(self) -> tuple[tuple[str, str, str], ...]:
        """(fill, ink, text) for the legend, one per tick."""
        return tuple((*self.colors(t), _short(t)) for t in self.ticks())


def _short(x: float) -> str:
    # A power of ten as 0.01, 0.1, 1, 10, 100, and further out as 1e-6, 1e3.
    s = f"{x:.2g}"
    return s.replace("e-0", "e-").replace("e+0", "e").replace("e+", "e")


# ------------------------------------------------------------------------------ shading

def magnitudes(nodes: Iterable[Value], color_by: str,
               grads: Mapping[Value, float] | None = None) -> dict[Value, float]:
    """The number each node is shaded by: its data, or its gradient from ``grads``."""
    if color_by not in COLOR_BY:
        raise ValueError(f"shading: color_by must be one of {COLOR_BY}, got {color_by!r}")
    nodes = [v for v in nodes if not isinstance(v, Constant)]
    if color_by == "data":
        return {v: v.data for v in nodes}
    if grads is None:
        raise ValueError("shading: color_by='grad' needs the gradients")
    return {v: float(grads[v]) for v in nodes if v in grads}


def shade(nodes: Iterable[Value], *, color_by: str | None = None,
          grads: Mapping[Value, float] | None = None,
          given: Mapping[Value, float] | None = None) -> tuple[dict[Value, Shade], Legend]:
    """Per-node looks and their legend.

    ``color_by``: "grad" or "data" shades by |value| (log scale) and marks dead and saturated
    units. ``grads``: the engine's gradients (what "grad" shades by and ``given`` is compared
    with). ``given``: another gradient mapping; nodes where it differs are marked "differs".
    Constants are never shaded.
    """
    nodes = [v for v in nodes if not isinstance(v, Constant)]
    fills: dict[Value, tuple[str, str]] = {}
    title, swatches = "", ()
    if color_by is not None:
        mags = magnitudes(nodes, color_by, grads)
        scale = Scale(mags.values())
        for v, x in mags.items():
            fills[v] = scale.colors(x) or (ZERO_FILL, "#000000")
        title = f"|{color_by}|, log scale"
        swatches = scale.swatches() + ((ZERO_FILL, "#000000", "exactly 0"),)
    wrong = differing(nodes, given, grads or {}) if given is not None else set()
    shades, seen = {}, set()
    for v in nodes:
        marks = unit_marks(v) if color_by is not None else ()
        if color_by is not None and not math.isfinite(mags.get(v, 0.0)):
            marks += ("nonfinite",)
        if v in wrong:
            marks += ("differs",)
        seen.update(marks)
        fill, ink = fills.get(v, (None, "#000000"))
        shades[v] = Shade(fill, ink, marks)
    legend = Legend(title, swatches, tuple(m for k, m in MARKS.items() if k in seen))
    return shades, legend
