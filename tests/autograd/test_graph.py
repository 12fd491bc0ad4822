"""The public graph layer: graph_data against PyTorch float64, strict and script-safe JSON."""
from __future__ import annotations

import json
import math

import pytest

import autograd
from autograd import Value
from autograd.graph import dependents, graph_data, to_json, topological_order
from nn import worked_example


def test_graph_data_of_the_worked_example_matches_the_published_numbers():
    net = worked_example.build()
    d = graph_data(net.E)
    by_name = {n["name"]: n for n in d["nodes"]}
    assert d["nodes"][d["root"]]["name"] == "E"
    assert by_name["net_h1"]["expression"] == "w1·i1 + w2·i2 + b1"
    assert by_name["net_h1"]["data"] == pytest.approx(0.3775)
    assert by_name["w5"]["grad"] == pytest.approx(0.08216704, abs=1e-8)
    assert by_name["w5"]["grad_attr"] == 0.0  # .grad is left alone
    w5_edge = [e for e in d["edges"] if e["source"] == by_name["w5"]["id"]]
    assert len(w5_edge) == 1
    assert w5_edge[0]["formula"] == "out_h1"
    assert w5_edge[0]["flow"] == pytest.approx(0.08216704, abs=1e-8)
    # Forward order lists every op once, parents first; backward is its reverse.
    assert [s["node"] for s in d["backward"]] == d["forward"][::-1]
    pos = {i: k for k, i in enumerate(d["forward"])}
    for i in d["forward"]:
        for p in d["nodes"][i]["parents"]:
            assert d["nodes"][p]["kind"] != "op" or pos[p] < pos[i]


def test_backward_steps_in_the_data_add_up_to_the_gradients():
    x = Value(0.7, label="x")
    y = x * x + x.sin() * x
    d = graph_data(y)
    got = {n["id"]: 0.0 for n in d["nodes"]}
    got[d["root"]] = 1.0
    completed = set()
    for s in d["backward"]:
        for send in s["sends"]:
            got[send["to"]] += send["amount"]
        completed.update(s["completes"])
    xs = [n for n in d["nodes"] if n["name"] == "x"][0]
    assert got[xs["id"]] == pytest.approx(2 * 0.7 + math.sin(0.7) + 0.7 * math.cos(0.7))
    assert xs["id"] in completed


def test_dependents_are_the_nodes_on_a_path_to_the_source():
    a, b = Value(1.0, label="a"), Value(2.0, label="b")
    c = a * b
    d = c + b
    assert dependents(topological_order(d), [a]) == {a, c, d}


def test_json_is_strict_and_cannot_end_a_script():
    x = Value(0.0, label="</script><img src=x onerror=alert(1)>\u2028\ud800")
    y = x.sqrt()  # ∂y/∂x is inf at 0: strict JSON has no Infinity
    text = to_json(graph_data(y))
    assert "<" not in text and ">" not in text and "&" not in text
    data = json.loads(text)
    assert data["edges"][0]["local"] == "inf"
    assert data["nodes"][0]["label"].startswith("</script>")
    assert autograd.graph.graph_data is graph_data
