"""draw(tangents=...) and explain(mode="forward") on the worked example.

Oracles: torch.func.jvp in float64 (the tangent of every intermediate value), PyTorch's backward,
and the published numbers of the worked example.
"""
from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings

import autograd
from autograd import Value
from autograd.graph import fmt
from nn import worked_example
from oracle import d, torch_network
from rendering import PIECES, check_svg, edge, labelled_graph, parse, render, svg_texts
from support import PUBLISHED, ROOT, START
from rendering import labels
from oracle import torch

LEAVES = ["i1", "i2", "b1", "b2", *[f"w{k}" for k in range(1, 9)]]
NAMED = ["net_h1", "out_h1", "net_h2", "out_h2", "net_o1", "out_o1", "net_o2", "out_o2",
         "E_o1", "E_o2", "E"]


def torch_values(leaves: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """The worked example's named intermediate values as a function of its twelve leaves."""
    i1, i2, b1, b2, w1, w2, w3, w4, w5, w6, w7, w8 = leaves
    out_h1 = torch.sigmoid(net_h1 := w1 * i1 + w2 * i2 + b1)
    out_h2 = torch.sigmoid(net_h2 := w3 * i1 + w4 * i2 + b1)
    out_o1 = torch.sigmoid(net_o1 := w5 * out_h1 + w6 * out_h2 + b2)
    out_o2 = torch.sigmoid(net_o2 := w7 * out_h1 + w8 * out_h2 + b2)
    E_o1, E_o2 = 0.5 * (0.01 - out_o1) ** 2, 0.5 * (0.99 - out_o2) ** 2
    return net_h1, out_h1, net_h2, out_h2, net_o1, out_o1, net_o2, out_o2, E_o1, E_o2, E_o1 + E_o2


def torch_tangents(seed: str) -> dict[str, float]:
    """Tangent of every named value for a tangent of 1 on ``seed``, by torch.func.jvp."""
    x = torch.tensor([START[k] for k in LEAVES], dtype=torch.float64)
    v = torch.zeros_like(x)
    v[LEAVES.index(seed)] = 1.0
    _, tangents = torch.func.jvp(torch_values, (x,), (v,))
    return {name: t.item() for name, t in zip(NAMED, tangents)}


def shown_tangent(line: str) -> float:
    return float(re.search(r"tangent (\S+?)[< ]", line)[1])


# ---------------------------------------------------------------------- draw(tangents=...)

def test_edge_from_w5_carries_its_local_partial_times_the_tangent():
    net = worked_example.build()
    parsed = parse(autograd.draw(net.E, tangents={net.w5: 1.0}).source)
    _, _, label, line = edge(parsed, "w5", "net_o1")
    # ∂net_o1/∂w5 = out_h1 = 0.593269992 (published), times w5's tangent 1.
    assert "∂net_o1/∂w5 = out_h1 = 0.5933" in label
    assert "0.5933 × 1 → 0.5933" in label
    # Edges whose input does not move carry nothing forward.
    assert "→" not in edge(parsed, "w6", "net_o1")[2]
    assert "→" not in edge(parsed, "out_h1", "net_o1")[2]


def test_backward_flows_and_grads_are_not_drawn_in_forward_mode():
    net = worked_example.build()
    net.E.backward()
    source = autograd.draw(net.E, tangents={net.w5: 1.0}).source
    assert "0.1385 ×" not in source  # net_o1's gradient flowing back to w5 (see test_draw)
    assert "<td>grad" not in source
    ids, lines, _ = parse(source)
    assert all("tangent " in lines[ids[name]] for name in LEAVES + NAMED)
    assert "tangent 1 <i>seed</i>" in lines[ids["w5"]]


def test_E_shows_the_tangent_dE_dw5():
    net = worked_example.build()
    t = torch_network()
    t["E"].backward()
    ids, lines, _ = parse(autograd.draw(net.E, tangents={net.w5: 1.0}).source)
    assert "tangent 0.08217<" in lines[ids["E"]]
    ids, lines, _ = parse(autograd.draw(net.E, tangents={net.w5: 1.0}, precision=15).source)
    shown = shown_tangent(lines[ids["E"]])
    assert shown == pytest.approx(t["w5"].grad.item(), rel=1e-12)
    assert shown == pytest.approx(autograd.graph.backprop(net.E)[1][net.w5], rel=1e-12)
    assert shown == pytest.approx(PUBLISHED["dE/dw5"], abs=5e-10)


@pytest.mark.parametrize("seed", ["w5", "w1", "i2", "b1"])
def test_every_value_shows_its_torch_func_jvp_tangent(seed):
    net = worked_example.build()
    want = torch_tangents(seed)
    ids, lines, _ = parse(autograd.draw(net.E, tangents={net[seed]: 1.0}, precision=15).source)
    for name in NAMED:
        assert shown_tangent(lines[ids[name]]) == pytest.approx(want[name], rel=1e-12,
                                                                 abs=1e-300), name
    for name in LEAVES:
        assert shown_tangent(lines[ids[name]]) == (1.0 if name == seed else 0.0)


@pytest.mark.parametrize("seed", ["w1", "b1"])
def test_a_values_tangent_is_the_sum_of_what_its_edges_carry_in(seed):
    net = worked_example.build()
    ids, lines, edges = parse(
        autograd.draw(net.E, tangents={net[seed]: 2.5}, precision=15).source)
    checked = 0
    for nid, line in lines.items():
        carried = [float(re.search(r"→ ([-+0-9.e]+)", e[2])[1])
                   for e in edges if e[1] == "op" + nid and "→" in e[2]]
        if carried:
            assert sum(carried) == pytest.approx(shown_tangent(line), rel=1e-12)
            checked += 1
    assert checked >= 8  # out_h1 (b1: and out_h2) onwards, up to E


def test_rendered_svg_shows_the_forward_numbers(tmp_path):
    net = worked_example.build()
    g = autograd.draw(net.E, tangents={net.w5: 1.0}, rankdir="TB")
    texts = svg_texts(g.pipe(format="svg"))
    assert "0.5933 × 1 → 0.5933" in texts
    assert "0.1868 × 0.5933 → 0.1108" in texts  # ∂out_o1/∂net_o1 × net_o1's tangent
    assert "tangent 0.08217" in texts
    png = g.pipe(format="png")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_seeded_op_node_keeps_its_seed():
    # forwardprop's rule: a seeded node made by an op is treated as a leaf.
    net = worked_example.build()
    ids, lines, edges = parse(autograd.draw(net.E, tangents={net.out_h1: 1.0}).source)
    assert "tangent 1 <i>seed</i>" in lines[ids["out_h1"]]
    assert "→" not in edge((ids, lines, edges), "net_h1", "out_h1")[2]
    assert "0.4 × 1 → 0.4" in edge((ids, lines, edges), "out_h1", "net_o1")[2]


def test_flows_false_hides_the_carried_tangents_too():
    net = worked_example.build()
    source = autograd.draw(net.E, tangents={net.w5: 1.0}, flows=False).source
    assert "→" not in source and "tangent 0.08217" in source


@pytest.mark.parametrize("tangents, kind, words", [
    ([1.0], TypeError, "tangents must map Values"),
    ({"w5": 1.0}, TypeError, "got key str"),
    ({0: 1.0}, TypeError, "got key int"),
    ("w5", TypeError, "tangents must map Values"),
])
def test_bad_tangents_are_named(tangents, kind, words):
    net = worked_example.build()
    with pytest.raises(kind, match=r"^draw: .*" + re.escape(words)):
        autograd.draw(net.E, tangents=tangents)


@pytest.mark.parametrize("value", ["1", None, True, 1j, [1.0]])
def test_a_tangent_that_is_not_a_real_number_is_refused(value):
    net = worked_example.build()
    with pytest.raises(TypeError, match=r"^draw: tangents\[.*w5.*\] must be a real number"):
        autograd.draw(net.E, tangents={net.w5: value})


def test_a_key_outside_the_graph_or_with_step_is_refused():
    net = worked_example.build()
    stranger = Value(1.0, label="stranger")
    with pytest.raises(ValueError, match=r"^draw: tangents has a key .*does not depend on.*"
                                         r"stranger"):
        autograd.draw(net.E, tangents={net.w5: 1.0, stranger: 1.0})
    with pytest.raises(ValueError, match=r"^draw: .*tangents or step/state"):
        autograd.draw(net.E, tangents={net.w5: 1.0}, step=2)
    # w1 is in the graph of E but not of out_h2.
    with pytest.raises(ValueError, match="^draw: tangents has a key"):
        autograd.draw(net.out_h2, tangents={net.w1: 1.0})


def test_forward_mode_leaves_grad_and_the_backward_drawing_alone():
    net = worked_example.build()
    before = autograd.draw(net.E).source
    autograd.draw(net.E, tangents={net.w5: 1.0})
    assert net.w5.grad == 0.0 and autograd.draw(net.E).source == before


# --------------------------------------------------------------- explain(mode="forward")

def test_explain_forward_reads_w5_from_the_input_up():
    net = worked_example.build()
    t = torch_network()
    ex = autograd.explain(net.E, net.w5, mode="forward")
    (path,) = ex.paths
    # The path's factors are the reverse ones; forward mode meets them from w5 upward.
    oracle = [d(t, "net_o1", "w5"), d(t, "out_o1", "net_o1"), d(t, "E", "out_o1")]
    running = [oracle[0], oracle[0] * oracle[1], oracle[0] * oracle[1] * oracle[2]]
    assert path.carried == pytest.approx(running, rel=1e-12)
    text = str(ex)
    assert "∂net_o1/∂w5 · ∂out_o1/∂net_o1 · ∂E/∂out_o1" in text
    assert "0.593269992 × 0.186815602 × 0.74136507" in text
    steps = [text.index(s) for s in ("tangent of w5: 1", "× ∂net_o1/∂w5 = out_h1 = 0.593269992",
                                     "→ carries 0.593269992 into net_o1",
                                     "× ∂out_o1/∂net_o1 = out_o1·(1 − out_o1) = 0.186815602",
                                     f"→ carries {fmt(running[1], 9)} into out_o1",
                                     "× ∂E/∂out_o1", "→ carries 0.0821670406 into E")]
    assert steps == sorted(steps)
    assert ex.total == pytest.approx(PUBLISHED["dE/dw5"], abs=5e-10)
    assert ex.forward_total == pytest.approx(torch_tangents("w5")["E"], rel=1e-12)
    assert ex.forward_total == pytest.approx(ex.total, rel=1e-12)
    assert "∂E/∂w5 = 0.0821670406" in text and text.endswith("the two agree.")


def test_explain_forward_w1_has_two_paths_summing_to_the_published_number():
    net = worked_example.build()
    ex = autograd.explain(net.E, net.w1, mode="forward")
    assert ex.n_paths == 2 and len(ex.paths) == 2
    contributions = [p.carried[-1] for p in ex.paths]
    assert sum(contributions) == pytest.approx(PUBLISHED["dE/dw1"], abs=5e-10)
    assert ex.forward_total == pytest.approx(torch_tangents("w1")["E"], rel=1e-12)
    text = str(ex)
    for block in text.split("\n\npath ")[1:]:
        first = block.splitlines()[1].strip()
        assert first.startswith("∂net_h1/∂w1 · ∂out_h1/∂net_h1 · ∂net_o")
    total = fmt(ex.total, 9)
    assert f"Sum over the 2 paths: ∂E/∂w1 = {fmt(contributions[0], 9)} − " in text
    assert (f"= {total}\nForward walk with tangent 1 on w1 (what jvp computes): the tangent of E "
            f"is {fmt(ex.forward_total, 9)}.\nBackward: ∂E/∂w1 = {total}; the two agree.") in text


def test_explain_forward_markdown_and_modes():
    net = worked_example.build()
    md = autograd.explain(net.E, net.w5, mode="forward")._repr_markdown_()
    first_two = (r"$$\frac{\partial \mathrm{net}_{\mathrm{o1}}}{\partial w_{5}} \cdot "
                 r"\frac{\partial \mathrm{out}_{\mathrm{o1}}}{\partial \mathrm{net}_{\mathrm{o1}}}")
    assert first_two in md
    assert r"1 \xrightarrow{\times 0.593269992} 0.593269992" in md
    assert "the two agree" in md
    assert str(autograd.explain(net.E, net.w5)) == str(
        autograd.explain(net.E, net.w5, mode="reverse"))
    with pytest.raises(ValueError, match="^explain: mode must be 'reverse' or 'forward'"):
        autograd.explain(net.E, net.w5, mode="sideways")
    apart = autograd.explain(net.out_h2, net.w1, mode="forward")
    assert "does not depend on w1" in str(apart) and apart.forward_total == 0.0
    assert "= 1" in str(autograd.explain(net.w1, net.w1, mode="forward"))
    assert "= 1$$" in autograd.explain(net.w1, net.w1, mode="forward")._repr_markdown_()


# ------------------------------------------------------------------------------ escaping

def test_docs_show_what_explain_forward_prints():
    page = (ROOT / "docs" / "forward.md").read_text(encoding="utf-8")
    section = page.split("<!-- section: forward -->")[1].split("<!-- /section: forward -->")[0]
    prompt = '>>> print(autograd.explain(net.E, net.w5, mode="forward"))\n'
    shown = section.split(prompt)[1].split("```")[0]
    net = worked_example.build()
    assert shown == str(autograd.explain(net.E, net.w5, mode="forward")) + "\n"


def check_forward(text: str) -> None:
    y, x = labelled_graph(text)
    source = autograd.draw(y, tangents={x: 1.0}).source
    assert "\x00" not in source and "\x1b" not in source
    assert "javascript:alert" not in source or "&lt;" in source
    svg = render(source)
    check_svg(svg)
    ex = autograd.explain(y, x, mode="forward")
    plain = str(ex)
    assert "\x1b" not in plain and "\x00" not in plain
    plain.encode("utf-8")
    md = ex._repr_markdown_()
    assert not re.search(r"(?<!\\)<", md) and "\x1b" not in md


@pytest.mark.parametrize("text", [PIECES[0], "<b>x</b>", "</td></tr></table>", "{0}{out}{{",
                                  "<script>alert(1)</script>", "\ud800]]>", "\x1b[31m{}"])
def test_labels_are_escaped_in_the_forward_drawing_and_explanation(text):
    check_forward(text)
    y, x = labelled_graph(text)
    texts = svg_texts(render(autograd.draw(y, tangents={x: 1.0}).source))
    assert "seed" in texts and "tangent 1 " in texts
    if text.isprintable() and len(text) < 40:
        assert text in texts  # shown as the characters themselves, not read as markup


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(labels)
def test_any_label_is_escaped_in_forward_mode(text):
    check_forward(text)
