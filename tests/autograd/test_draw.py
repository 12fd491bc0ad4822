"""draw(): DOT source and rendered SVG of the worked example, checked against PyTorch float64."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

import autograd
from autograd import Value
from autograd.graph import fmt
from rendering import edge, parse, svg_texts

HL = "#d62728"


def test_every_value_shows_label_data_and_grad(worked, oracle):
    E, v = worked
    E.backward()
    t = oracle
    t["E"].backward()
    ids, lines, _ = parse(autograd.draw(E).source)
    for name in ["i1", "i2", "b1", "b2", *[f"w{k}" for k in range(1, 9)]]:
        line = lines[ids[name]]
        assert f"data {fmt(t[name].item())}<" in line
        assert f"grad {fmt(t[name].grad.item())}<" in line
    assert f"data {fmt(0.593269992)}<" in lines[ids["out_h1"]]
    assert "grad 1<" in lines[ids["E"]]


def test_edge_from_w5_carries_its_local_partial_and_what_flows_back(worked, oracle):
    E, v = worked
    E.backward()
    t = oracle
    t["net_o1"].retain_grad()
    t["E"].backward()
    _, _, label, _ = edge(parse(autograd.draw(E).source), "w5", "net_o1")
    # ∂net_o1/∂w5 = out_h1 = 0.593269992 (published), then net_o1's gradient times it.
    assert "∂net_o1/∂w5 = out_h1 = 0.5933" in label
    g = t["net_o1"].grad.item()
    assert f"{fmt(g * 0.593269992)} ← {fmt(g)} × 0.5933" in label
    assert fmt(g) == "0.1385" and fmt(g * 0.593269992) == "0.08217"


def test_a_nodes_grad_is_the_sum_of_what_its_edges_bring(worked, oracle):
    E, v = worked
    E.backward()
    t = oracle
    t["out_h1"].retain_grad()
    t["E"].backward()
    ids, lines, edges = parse(autograd.draw(E, precision=15).source)
    for name in ["w1", "w5", "b1", "b2", "i1", "out_h1"]:
        brought = [float(re.search(r"([-+0-9.e]+) ←", e[2])[1])
                   for e in edges if e[0] == ids[name]]
        shown = float(re.search(r"grad (\S+?)<", lines[ids[name]])[1])
        assert sum(brought) == pytest.approx(shown, rel=1e-12)
        if name in t:  # leaves: PyTorch agrees
            assert shown == pytest.approx(t[name].grad.item(), rel=1e-12)
    assert len([e for e in edges if e[0] == ids["out_h1"]]) == 2


def test_flows_come_from_the_graph_not_from_grad(worked):
    # Before backward() every .grad is 0, yet ∂E/∂node is well defined: it is drawn the same.
    E, v = worked
    before = autograd.draw(E).source
    assert "∂net_o1/∂w5 = out_h1" in before and "0.08217 ← 0.1385 × 0.5933" in before
    E.backward()
    assert autograd.draw(E).source == before
    assert "←" not in autograd.draw(E, flows=False).source


def test_rendered_svg_shows_the_numbers(worked):
    E, v = worked
    E.backward()
    texts = svg_texts(autograd.draw(E).pipe(format="svg"))
    assert "∂net_o1/∂w5 = out_h1 = 0.5933" in texts
    assert "0.08217 ← 0.1385 × 0.5933" in texts
    assert "∂out_h1/∂net_h1 = out_h1·(1 − out_h1) = 0.2413" in texts
    assert {"w5", "net_o1", "out_h1", "E"} <= set(texts)


def test_highlight_marks_every_path_to_the_value_and_nothing_else(worked):
    E, v = worked
    ids, lines, edges = parse(autograd.draw(E, highlight=v["w1"]).source)
    # Values that depend on w1 (by the network's wiring) lie on a path from E to w1.
    on = {"w1", "net_h1", "out_h1", "net_o1", "net_o2", "out_o1", "out_o2", "E_o1", "E_o2", "E"}
    for name, nid in ids.items():
        if name in on:
            assert f'color="{HL}"' in lines[nid], name
        elif not name.startswith("v"):
            assert HL not in lines[nid], name
    assert HL in edge((ids, lines, edges), "w1", "net_h1")[3]
    assert HL in edge((ids, lines, edges), "out_h1", "net_o2")[3]
    assert HL not in edge((ids, lines, edges), "w2", "net_h1")[3]
    assert HL not in edge((ids, lines, edges), "out_h2", "net_o1")[3]


def test_constants_inline_node_or_hidden():
    x = Value(0.3, "x")
    y = 0.01 - x * 2.5
    y.label = "y"
    inline = autograd.draw(y).source
    assert "0.01 − ∘" in inline and "∘·2.5" in inline
    assert not re.search(r"label=<(2\.5|0\.01)> ", inline)
    node = autograd.draw(y, constants="node").source
    assert re.search(r'label=<2\.5> .*shape=plaintext', node)
    assert re.search(r'label=<0\.01> .*shape=plaintext', node)
    hidden = autograd.draw(y, constants="hide").source
    assert "∘" not in hidden and 'label=<·>' in hidden and 'label=<−>' in hidden
    assert not re.search(r"label=<(2\.5|0\.01)> ", hidden)
    # The edge into the mul from x still carries ∂/∂x = the constant.
    assert "= 2.5" in inline


def test_options_rankdir_precision_and_formats(worked):
    E, v = worked
    E.backward()
    assert "rankdir=TB" in autograd.draw(E, rankdir="TB").source
    assert "∂net_o1/∂w5 = out_h1 = 0.59<" in autograd.draw(E, precision=2).source
    assert autograd.draw(E).pipe(format="png")[:8] == b"\x89PNG\r\n\x1a\n"
    assert autograd.draw(E).pipe(format="pdf")[:4] == b"%PDF"
    assert "image/svg+xml" in autograd.draw(E)._repr_mimebundle_()
    with pytest.raises(ValueError, match="rankdir"):
        autograd.draw(E, rankdir="XY")
    with pytest.raises(ValueError, match="constants"):
        autograd.draw(E, constants="some")


def small_model(widths=(3, 1)):
    """Layers in nn's labelling (L1.N1.w1, L1.N1.b, L1.N1.net, L1.N1.out, ...)."""
    xs = [Value(0.5, "x1"), Value(-1.0, "x2")]
    layer = xs
    for li, width in enumerate(widths, 1):
        outs = []
        for ni in range(1, width + 1):
            p = f"L{li}.N{ni}"
            ws = [Value(0.1 * (k + ni), f"{p}.w{k}") for k in range(1, len(layer) + 1)]
            net = autograd.dot(ws, layer, Value(0.0, f"{p}.b"))
            net.label = f"{p}.net"
            out = net.tanh()
            out.label = f"{p}.out"
            outs.append(out)
        layer = outs
    loss = (layer[0] - 1.0) ** 2
    loss.label = "loss"
    return loss


def test_group_clusters_by_label_prefix():
    loss = small_model()
    dot = autograd.draw(loss, group=True)
    src = dot.source
    # Clusters are numbered; their labels are the (escaped) prefixes.
    titles = dict(re.findall(r'subgraph (cluster_\d+) \{\n\t*graph \[[^\n]*label=<([^>]*)>', src))
    assert sorted(titles.values()) == sorted(["L1", "L2", "L1.N1", "L1.N2", "L1.N3", "L2.N1"])
    ids = {label: cid for cid, label in titles.items()}
    # L1.N2's weights sit inside cluster L1.N2, which sits inside cluster L1.
    block = src[src.index(f"subgraph {ids['L1']} {{"):]
    inner = block[block.index(f"subgraph {ids['L1.N2']} {{"):]
    inner = inner[:inner.index("}")]
    assert "<b>L1.N2.w1</b>" in inner and "<b>L1.N2.out</b>" in inner
    assert "<b>L1.N3.w1</b>" not in inner
    svg = dot.pipe(format="svg").decode()
    assert svg.count('class="cluster"') == 6
    assert "cluster_" not in autograd.draw(loss).source


def test_group_collapses_clusters_of_a_graph_too_big_to_lay_out():
    loss = small_model((12, 12, 1))
    with pytest.raises(ValueError, match="depth=3"):
        autograd.draw(loss)
    src = autograd.draw(loss, group=True).source
    boxes = dict(re.findall(r"(u\d+) \[label=<<b>(L\d\.N\d+)</b>", src))
    assert sorted(boxes.values()) == sorted(
        [f"L1.N{k}" for k in range(1, 13)] + [f"L2.N{k}" for k in range(1, 13)] + ["L3.N1"])
    unit_edges = {(boxes[a], boxes[b]) for a, b in re.findall(r"(u\d+) -> (u\d+)", src)}
    # Every neuron of a layer feeds every neuron of the next: 12·12 + 12·1 edges between boxes.
    assert len(unit_edges) == 12 * 12 + 12
    assert ("L1.N3", "L2.N7") in unit_edges and ("L2.N5", "L3.N1") in unit_edges
    assert all(a[:2] != b[:2] for a, b in unit_edges)
    # A neuron's box counts its values: 2 weights, bias, net, out in layer 1.
    l1n1 = re.search(r"<b>L1\.N1</b><br/>(\d+) values, (\d+) leaves", src)
    assert (int(l1n1[1]), int(l1n1[2])) == (5, 3)
    with pytest.raises(ValueError, match="even with each cluster collapsed"):
        autograd.draw(loss, group=True, max_nodes=20)


def chain(n: int) -> Value:
    x = Value(0.5, "x")
    y = x
    for _ in range(n):
        y = y * 1.0
    return y


@pytest.mark.deep
def test_big_graph_raises_at_once_and_says_how_to_draw_a_part():
    y = chain(200_000)
    with pytest.raises(ValueError, match=r"draw\(node, depth=3\)") as err:
        autograd.draw(y)
    # It stopped counting right past the limit instead of walking 200,000 nodes.
    seen = int(re.search(r"stopped counting at (\d+)", str(err.value))[1])
    assert 300 < seen <= 303
    part = autograd.draw(y, depth=3)
    ids, lines, edges = parse(part.source)
    assert len(lines) == 4 and "… →" in part.source
    assert "max_nodes" in str(err.value)


@pytest.mark.deep
def test_deep_graph_is_drawn_without_recursion():
    src = autograd.draw(chain(20_000), max_nodes=10 ** 6).source
    assert src.count("->") == 2 * 20_000


def svg_size_px(svg: bytes) -> tuple[float, float]:
    """The width and height a page shows an SVG at (graphviz writes points: 1 pt = 4/3 px)."""
    root = ET.fromstring(svg)
    return tuple(float(root.get(k).removesuffix("pt")) * 4 / 3 for k in ("width", "height"))


def test_wide_graph_grows_and_keeps_its_text_size():
    # Issue 27: a picture scaled to a notebook column made small graphs' text unreadable. Text
    # keeps its size; a wide graph makes a wide picture (a notebook scrolls it).
    leaves = [Value(float(k), label=f"leaf_number_{k}") for k in range(12)]
    wide = sum(leaves[1:], leaves[0])
    dot = autograd.draw(wide, rankdir="LR")
    assert "size" not in dot.graph_attr
    w, h = svg_size_px(dot.pipe(format="svg"))
    assert w > 1200  # eleven adds in a row, at full size
    small = Value(2.0, label="a") * Value(3.0, label="b")
    assert "size" not in autograd.draw(small).graph_attr
