"""autograd.views.shading: the marks and colours a drawing puts on nodes, as pure functions."""
from __future__ import annotations

import html
import math

import pytest

from autograd import Value
from autograd.engine import backprop
from autograd.graph import topological_order
from autograd.views.shading import (MARKS, SATURATION, ZERO_FILL, Scale, differing, is_dead,
                              is_saturated, magnitudes, shade)

# The published ends of matplotlib's viridis (van der Walt & Smith, 2015).
VIRIDIS_LOW, VIRIDIS_HIGH = "#440154", "#fde725"


def contrast(a: str, b: str) -> float:
    def lum(h):
        rgb = [int(h[i:i + 2], 16) / 255 for i in (1, 3, 5)]
        lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
    hi, lo = sorted((lum(a), lum(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_dead_relu_is_one_with_input_at_or_below_zero():
    assert is_dead(Value(-0.5).relu())
    assert is_dead(Value(0.0).relu())
    assert not is_dead(Value(1e-9).relu())
    assert not is_dead(Value(-1.0).tanh())          # not a ReLU
    assert not is_dead(Value(-1.0))                 # a leaf


def test_saturation_at_the_flat_ends_of_sigmoid_and_tanh():
    t = math.atanh(SATURATION)
    assert is_saturated(Value(t + 0.01).tanh()) and is_saturated(Value(-t - 0.01).tanh())
    assert not is_saturated(Value(t - 0.01).tanh())
    # σ(x) = (1 + tanh(x/2))/2, so the same threshold sits at x = 2·atanh(0.97).
    assert is_saturated(Value(2 * t + 0.01).sigmoid())
    assert is_saturated(Value(-2 * t - 0.01).sigmoid())
    assert not is_saturated(Value(2 * t - 0.01).sigmoid())
    assert not is_saturated(Value(50.0).relu())


def reused():
    a = Value(3.0, label="a")
    b = a + a
    b.label = "b"
    c = b + b
    c.label = "c"
    return a, b, c


def test_differing_marks_exactly_the_nodes_that_differ():
    a, b, c = reused()
    order, grads = backprop(c)
    assert (grads[a], grads[b], grads[c]) == (4.0, 2.0, 1.0)  # calculus: c = 4a
    naive = {c: 1.0, b: 1.0, a: 1.0}  # "=" instead of "+=" where paths meet
    assert differing(order, naive, grads) == {a, b}
    assert differing(order, dict(grads), grads) == set()
    # Rounding from another summation order is not a difference; a node left out is not compared.
    assert differing(order, {a: 4.0 * (1 + 1e-13), c: 1.0}, grads) == set()
    assert differing(order, {a: 4.0 + 1e-6}, grads) == {a}
    assert differing([a], {a: math.nan}, {a: math.nan}) == set()
    assert differing([a], {a: math.nan}, {a: 4.0}) == {a}


def test_shade_given_marks_only_differing_nodes_and_explains_the_mark():
    a, b, c = reused()
    order, grads = backprop(c)
    shades, legend = shade(order, grads=grads, given={c: 1.0, b: 1.0, a: 1.0})
    assert {v for v, s in shades.items() if "differs" in s.marks} == {a, b}
    assert all(s.fill is None for s in shades.values())  # no color_by, no fills
    assert legend.marks == (MARKS["differs"],)


def test_scale_runs_from_viridis_low_to_high_and_ink_stays_readable():
    s = Scale([1e-6, -1e-3, 1.0, 0.0, math.inf])
    assert (s.lo, s.hi) == (-6.0, 0.0)
    assert s.colors(1e-6)[0] == VIRIDIS_LOW
    assert s.colors(-1.0)[0] == VIRIDIS_HIGH      # the sign does not matter
    assert s.colors(0.0) is None and s.colors(math.nan) is None
    # Both ends and every other power of ten between them, six swatches at most.
    assert s.ticks() == pytest.approx([1e-6, 1e-4, 1e-2, 1.0])
    for fill, ink, _ in s.swatches():
        assert contrast(fill, ink) >= 4.5, (fill, ink)
    assert [t for _, _, t in s.swatches()] == ["1e-6", "0.0001", "0.01", "1"]
    # The scale spans whole decades: 0.8 and 64.8 lie in 0.1 … 100.
    wide = Scale([0.8, 64.8])
    assert (wide.lo, wide.hi) == (-1, 2)
    assert [t for _, _, t in wide.swatches()] == ["0.1", "1", "10", "1e2"]
    # So values close together look close together, not darkest and brightest.
    near = Scale([0.8, 1.0])
    assert (near.lo, near.hi) == (-1, 0) and near.position(0.8) > 0.9
    assert (Scale([1.0, 1.0]).lo, Scale([1.0, 1.0]).hi) == (-1, 0)


def is_viridis(fill: str, t: float) -> bool:
    """Whether ``fill`` is matplotlib's viridis at ``t`` (within 3 of 255 per channel)."""
    colormaps = pytest.importorskip("matplotlib", reason="the oracle is matplotlib's "
                                    "viridis").colormaps
    want = [255 * c for c in colormaps["viridis"](t)[:3]]
    got = [int(fill[i:i + 2], 16) for i in (1, 3, 5)]
    return max(abs(a - b) for a, b in zip(got, want)) <= 3


def test_the_palette_is_matplotlibs_viridis():
    s = Scale([1.0, 1e8])
    for k in range(0, 101, 5):
        fill = s.colors(10.0 ** (8 * k / 100))[0]
        assert is_viridis(fill, k / 100), (k, fill)


def dead_relu_graph() -> tuple[Value, Value, Value, Value]:
    """(x, w, h, y) for y = h + 3w, h = relu(x·w) with x·w < 0: the relu ``h`` is off."""
    x = Value(-2.0, label="x")
    w = Value(0.5, label="w")
    h = (x * w).relu()
    h.label = "h"
    y = h + w * 3.0
    y.label = "y"
    return x, w, h, y


def test_color_by_grad_shades_and_marks_a_dead_relu():
    x, w, h, y = dead_relu_graph()
    order, grads = backprop(y)
    shades, legend = shade(order, color_by="grad", grads=grads)
    assert shades[h].marks == ("dead",)
    assert [v for v in shades if shades[v].marks] == [h]
    # Behind the dead ReLU the gradient is exactly 0: drawn in the neutral grey, not on the scale.
    assert grads[x] == 0.0 and shades[x].fill == ZERO_FILL
    # w still gets 3 through the other path, y's gradient is 1: on the decade 1 … 10 the one
    # sits at the bottom, the other at log10(3) of the way up.
    assert shades[y].fill == VIRIDIS_LOW and is_viridis(shades[w].fill, math.log10(3))
    assert legend.title == "|grad|, log scale"
    assert legend.marks == (MARKS["dead"],)
    assert legend.swatches[-1] == (ZERO_FILL, "#000000", "exactly 0")


def test_color_by_data_shades_and_marks_a_saturated_sigmoid():
    x = Value(6.0, label="x")
    s = x.sigmoid()
    s.label = "s"
    u = (x * 0.01).tanh()
    u.label = "u"
    order = topological_order(s + u)
    shades, legend = shade(order, color_by="data")
    assert shades[s].marks == ("saturated",)
    assert shades[u].marks == ()
    # |data| from tanh(0.06) ≈ 0.06 to 6: the scale is 0.01 … 10, and 6 is near the top.
    assert is_viridis(shades[x].fill, (math.log10(6) + 2) / 3)
    assert legend.title == "|data|, log scale" and legend.marks == (MARKS["saturated"],)
    # Every mark is a tag in the box and a border style, not only a colour.
    assert all(m.tag and m.border for m in MARKS.values())


def test_nonfinite_values_are_marked_not_coloured():
    x = Value(math.inf, label="x")
    shades, _ = shade([x], color_by="data")
    assert shades[x].marks == ("nonfinite",) and shades[x].fill == ZERO_FILL


def test_constants_are_never_shaded_and_bad_color_by_is_refused():
    x = Value(2.0)
    y = x * 3.0
    order, grads = backprop(y)
    shades, _ = shade(order, color_by="grad", grads=grads)
    assert set(shades) == {x, y}
    with pytest.raises(ValueError, match="color_by must be one of"):
        magnitudes(order, "colour")
    with pytest.raises(ValueError, match="needs the gradients"):
        magnitudes(order, "grad")


# ------------------------------------------------------------------ draw(grads=, color_by=)

def box(source: str, label: str) -> str:
    """The DOT line of the value box labelled ``label``."""
    found = [line for line in source.splitlines()
             if "<table" in line and f"<b>{label}</b>" in line]
    assert len(found) == 1, (label, found)
    return found[0]


def legend(source: str) -> str:
    found = [line for line in source.splitlines() if line.strip().startswith("legend")]
    assert len(found) == 1, found
    return found[0]


def test_draw_grads_marks_exactly_the_differing_nodes():
    import autograd
    a, b, c = reused()
    src = autograd.draw(c, grads={c: 1.0, b: 1.0, a: 1.0}).source
    # The engine's gradient and the given one side by side, the differing ones marked.
    assert "grad 4<" in box(src, "a") and "given 1<" in box(src, "a")
    assert "grad 2<" in box(src, "b") and "given 1<" in box(src, "b")
    assert "grad 1<" in box(src, "c") and "given 1<" in box(src, "c")
    marked = {v for v in "abc" if MARKS["differs"].tag in box(src, v)}
    assert marked == {"a", "b"}
    assert html.escape(MARKS["differs"].meaning) in legend(src)
    # The same mapping as the engine's marks nothing, and draws no legend.
    order, grads = backprop(c)
    same = autograd.draw(c, grads=grads).source
    assert MARKS["differs"].tag not in same and "legend" not in same


def test_draw_grads_shows_given_only_where_given_and_renders():
    import autograd
    a, b, c = reused()
    g = autograd.draw(c, grads={a: 6.0})
    assert "given 6<" in box(g.source, "a") and "given" not in box(g.source, "c")
    svg = g.pipe(format="svg").decode()
    assert svg.count(MARKS["differs"].tag.replace("≠", "&#8800;")) + svg.count(
        MARKS["differs"].tag) == 2  # in a's box and in the legend


def test_draw_color_by_grad_fills_and_marks_a_dead_relu():
    import autograd
    x, w, h, y = dead_relu_graph()
    src = autograd.draw(y, color_by="grad").source
    assert MARKS["dead"].tag in box(src, "h")
    assert "dashed" in box(src, "h")                   # a shape as well as a word
    assert not any(MARKS["dead"].tag in box(src, v) for v in "xwy")
    order, grads = backprop(y)
    shades, _ = shade(order, color_by="grad", grads=grads)
    assert f"bgcolor='{shades[w].fill}'" in box(src, "w") and VIRIDIS_LOW in box(src, "y")
    assert ZERO_FILL in box(src, "x")
    leg = legend(src)
    assert "|grad|, log scale" in leg and "exactly 0" in leg
    assert html.escape(MARKS["dead"].meaning) in leg


def test_draw_color_by_data_marks_a_saturated_sigmoid():
    import autograd
    x = Value(6.0, label="x")
    s = x.sigmoid()
    s.label = "s"
    t = (x * 0.01).tanh()
    t.label = "t"
    z = s + t
    z.label = "z"
    src = autograd.draw(z, color_by="data").source
    assert MARKS["saturated"].tag in box(src, "s")
    assert MARKS["saturated"].tag not in box(src, "t")
    shades, _ = shade(topological_order(z), color_by="data")
    assert f"bgcolor='{shades[x].fill}'" in box(src, "x")
    assert "|data|, log scale" in legend(src)


def test_draw_refuses_a_bad_color_by_or_grads():
    import autograd
    a, b, c = reused()
    with pytest.raises(ValueError, match="color_by"):
        autograd.draw(c, color_by="colour")
    with pytest.raises(TypeError, match="grads"):
        autograd.draw(c, grads=[1.0, 2.0])
