"""Every view names and walks the same nodes: the command line, explain, draw and the explorer.

The names come from one place, ``autograd.graph.graph_names``: a label, a constant's number, else
v1, v2, ... (never a name a label already has). Checked here on the command line's example
``tanh(w*x + b)`` and on the worked example's 2-2-2 network.
"""
from __future__ import annotations

import re

import pytest

import autograd
from autograd import Value
from autograd.__main__ import main
from autograd.graph import fmt, graph_names, topological_order
from autograd.views.explorer import explorer_data
from nn import worked_example
from rendering import parse

FACTOR = re.compile(r"^\s+∂(\S+)/∂(\S+) = (.*)$")


def cli_example() -> tuple[Value, dict[str, Value]]:
    w, x, b = Value(0.5, label="w"), Value(1.0, label="x"), Value(0.2, label="b")
    f = (w * x + b).tanh()
    f.label = "f"
    return f, {"w": w, "x": x, "b": b}


def network() -> tuple[Value, dict[str, Value]]:
    net = worked_example.build()
    return net.E, {"w1": net.w1, "w5": net.w5, "b1": net.b1, "i1": net.i1}


def factors(text: str) -> list[tuple[str, str, str]]:
    """Every local factor ∂top/∂bottom a text writes on a line of its own."""
    return [(m[1], m[2], m[3]) for m in map(FACTOR.match, text.splitlines()) if m]


def graph_edges(payload: dict) -> set[tuple[str, str]]:
    """(output name, input name) for every edge of the explorer's data."""
    n = payload["nodes"]
    return {(n[e[1]]["n"], n[e[0]]["n"]) for e in payload["edges"]}


def drawn(root: Value) -> tuple[dict[str, str], set[tuple[str, str]]]:
    """draw's DOT read back: {name: data shown} and (output name, input name) per edge."""
    ids, lines, edges = parse(autograd.draw(root).source)
    names = {i: name for name, i in ids.items()}
    data = {name: re.search(r"data ([^<]+)<", lines[i])[1] for name, i in ids.items()}
    pairs = {(names[head[2:]], names[tail]) for tail, head, _, _ in edges
             if head.startswith("op") and tail in names}
    return data, pairs


@pytest.mark.parametrize("build", [cli_example, network])
def test_every_view_names_the_same_nodes(build):
    root, leaves = build()
    names = graph_names(root)
    nodes = [v for v in topological_order(root) if not isinstance(v, autograd.Constant)]
    # The explorer's data: one name per value, each name once.
    payload = explorer_data(root)
    shown = {n["n"]: n["d"] for n in payload["nodes"] if n["k"] != "constant"}
    assert shown == {names(v): fmt(v.data) for v in nodes}
    assert len(shown) == len(nodes)
    # draw: the same names on the same values, the same edges.
    data, pairs = drawn(root)
    assert data == shown
    assert pairs == {p for p in graph_edges(payload) if p[1] in shown}
    # explain through every value: each factor is one edge of the graph, named as drawn.
    edges = graph_edges(payload)
    for leaf in leaves.values():
        text = str(autograd.explain(root, leaf, through="all"))
        steps = [(top, bottom) for top, bottom, _ in factors(text)]
        assert steps and set(steps) <= edges, text
        # A path names every value between root and leaf: the chain is unbroken.
        for (_, bottom), (top2, _) in zip(steps, steps[1:]):
            assert bottom == top2 or top2 == names(root), text


def test_the_command_line_walks_the_drawn_nodes(capsys):
    assert main(["tanh(w*x + b)", "w=0.5", "x=1", "b=0.2"]) == 0
    text = capsys.readouterr().out
    root, _ = cli_example()
    edges = graph_edges(explorer_data(root))
    steps = factors(text)
    assert {(t, b) for t, b, _ in steps} <= edges
    # v1 = w·x and v2 = v1 + b, as the page and the picture show: v1 is not skipped.
    assert ("v2", "v1", "1") in steps
    assert ("v1", "w", "x = 1") in steps and ("v1", "x", "w = 0.5") in steps
    assert "∂v2/∂w" not in text


def test_through_all_goes_through_every_node():
    f, v = cli_example()
    text = str(autograd.explain(f, v["w"], through="all"))
    assert "∂f/∂v2 · ∂v2/∂v1 · ∂v1/∂w" in text
    assert "∂v2/∂v1 = 1\n" in text and "∂v1/∂w = x = 1\n" in text


def test_unlabelled_names_never_clash_with_labels():
    # A user may call a value v1 (and the command line's variables are labels).
    a, b = Value(2.0, label="v1"), Value(3.0, label="v2")
    y = (a * b + a).tanh()
    y.label = "y"
    names = graph_names(y)
    inner = [v for v in topological_order(y) if not v.label]
    assert sorted(names(v) for v in inner) == ["v3", "v4"]
    assert names(a) == "v1" and names(b) == "v2"
    payload = explorer_data(y)
    assert sorted(n["n"] for n in payload["nodes"]) == ["v1", "v2", "v3", "v4", "y"]
    data, _ = drawn(y)
    assert sorted(data) == ["v1", "v2", "v3", "v4", "y"]
    text = str(autograd.explain(y, a, through="all"))
    assert "∂v4/∂v3 = 1" in text and "∂v3/∂v1 = v2 = 3" in text


def test_command_line_variables_named_like_ids(capsys):
    assert main(["v1*v2 + v1", "v1=2", "v2=3"]) == 0
    text = capsys.readouterr().out
    # v1 · v2 is the unlabelled v3, never a second "v1".
    assert ("v3", "v1", "v2 = 3") in factors(text)


# ------------------------------------------------------------- unlabelled values in full

def test_a_factor_through_unlabelled_ops_names_each_step():
    E, v = network()
    text = str(autograd.explain(E, v["w5"]))
    assert "unlabelled ops" not in text
    # E = E_o1 + E_o2, E_o1 = 0.5·v3, v3 = v1², v1 = target − out_o1: each local factor is
    # named, with its formula, and multiplied into ∂E/∂out_o1.
    lines = text.splitlines()
    at = next(k for k, s in enumerate(lines) if s.strip().startswith("∂E/∂out_o1 ="))
    assert "1 × 0.5 × -1.48273014 × -1 = 0.74136507" in lines[at]
    below = [s.strip() for s in lines[at + 1:at + 5]]
    assert below == ["∂E/∂E_o1 = 1", "∂E_o1/∂v3 = 0.5",
                     "∂v3/∂v1 = 2·v1^(2−1) = -1.48273014",
                     "∂v1/∂out_o1 = −1"]


def test_unlabelled_graph_is_explained_in_full():
    w = Value(0.5, label="w")
    y = (w * 2.0 + 1.0).tanh().exp()
    text = str(autograd.explain(y, w))
    assert "unlabelled" not in text
    assert "through" not in text.splitlines()[0]
    for line in ("∂v3/∂v2 = 1 − v3²", "∂v2/∂v1 = 1", "∂v1/∂w = 2"):
        assert line in text, text


# ------------------------------------------------------------------ readable drawings

def svg_scale(svg: str) -> float:
    return float(re.search(r'<g id="graph0" class="graph" transform="scale\(([0-9.]+)', svg)[1])


def png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


def test_small_graph_is_not_shrunk():
    f, _ = cli_example()
    dot = autograd.draw(f)
    svg = dot.pipe(format="svg").decode()
    # Text at its set size: 11 pt node text is 14.7 px on a 96 dpi screen, never scaled down.
    assert svg_scale(svg) == 1.0
    sizes = [float(s) for s in re.findall(r'font-size="([0-9.]+)"', svg)]
    assert min(sizes) >= 10
    w, h = png_size(dot.pipe(format="png"))
    assert h >= 150 and w / h <= 4, (w, h)


def test_wide_graph_grows_instead_of_shrinking():
    leaves = [Value(float(k), label=f"leaf_number_{k}") for k in range(12)]
    wide = sum(leaves[1:], leaves[0])
    svg = autograd.draw(wide).pipe(format="svg").decode()
    assert svg_scale(svg) == 1.0


def test_direction_follows_the_graph_shape():
    # A long chain reads top to bottom; a wide, shallow graph left to right.
    x = Value(0.3, label="x")
    y = x
    for _ in range(8):
        y = y.tanh()
    assert autograd.draw(y).graph_attr["rankdir"] == "TB"
    leaves = [Value(float(k), label=f"a{k}") for k in range(6)]
    assert autograd.draw(autograd.sum(leaves)).graph_attr["rankdir"] == "LR"
    assert autograd.draw(y, rankdir="LR").graph_attr["rankdir"] == "LR"  # asked for: kept


def test_backward_flow_reads_backward():
    f, v = cli_example()
    src = autograd.draw(f).source
    g = 1 - f.data ** 2
    # What arrives at the input, then where it came from: "0.6347 ← 0.6347 × 1".
    assert f"{fmt(g)} ← {fmt(g)} × 1" in src
    assert " → " not in src


def test_markdown_says_where_each_factor_comes_from():
    E, v = network()
    md = autograd.explain(E, v["w5"])._repr_markdown_()
    # Each factor of the product, under it: its formula and value, and for a run of ops each
    # op's own local derivative, named as in the pictures.
    frac = r"\frac{\partial \mathrm{net}_{\mathrm{o1}}}{\partial w_{5}}"
    assert f"- ${frac}$ = out\\_h1 = 0.593269992" in md, md
    assert r"∂E\_o1/∂v3 = 0.5" in md and "one op at a time" in md
