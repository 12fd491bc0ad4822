"""The lab's Python side: the same answers as the engine and the command line, one-line errors."""
from __future__ import annotations

import json
import math

import pytest

from apps.site.lab import MAX_DEPTH, MAX_TEXT, answer, answer_json, variables
from autograd.graph import fmt


def test_tanh_neuron_matches_calculus():
    a = answer("tanh(x*w + b)", {"x": "2", "w": "-3", "b": "1"})
    assert a["ok"] and a["name"] == "f"
    t = math.tanh(2 * -3 + 1)
    d = 1 - t * t  # d tanh(u)/du
    assert a["value"] == fmt(t, 6)
    assert dict(a["grads"]) == {"x": fmt(d * -3, 6), "w": fmt(d * 2, 6), "b": fmt(d, 6)}
    assert a["values"] == [["x", "2"], ["w", "-3"], ["b", "1"]]
    labels = {n["n"] for n in a["payload"]["nodes"]}
    assert {"x", "w", "b", "f"} <= labels


def test_two_paths_add_and_finite_differences():
    a = answer("a*b + a", {"a": "3", "b": "-2"})
    assert dict(a["grads"]) == {"a": fmt(-2 + 1, 6), "b": fmt(3, 6)}
    # A variable with no value yet gets 1; the answer lists it.
    a = answer("exp(u) * v", {"u": "0.5"})
    assert a["values"] == [["u", "0.5"], ["v", "1"]]
    h = 1e-6
    fd = (math.exp(0.5 + h) - math.exp(0.5 - h)) / (2 * h)
    assert float(dict(a["grads"])["u"]) == pytest.approx(fd, rel=1e-6)


def test_variables_in_order_of_appearance_without_function_names():
    assert variables("tanh(x*w + b) + exp(x) * sigmoid(a)") == ["x", "w", "b", "a"]
    assert variables("x +") == []


@pytest.mark.parametrize("text", [
    "", "   ", "x +", "__import__('os').system('true')", "x.__class__", "[x for x in y]",
    "lambda: 1", "open('f')", "9**9**9", "log(0*x)", "x" * (MAX_TEXT + 1),
    "(" * 300 + "x" + ")" * 300, "(" * 61 + "x" + ")" * 61, "exp(" * 61 + "x" + ")" * 61,
    "x\ny", "<img src=x onerror=alert(1)>", "f'{x}'",
])
def test_hostile_or_broken_expressions_give_one_line(text):
    a = answer(text, {"x": "1", "y": "2"})
    assert a["ok"] is False
    assert a["error"] and "\n" not in a["error"]


@pytest.mark.parametrize("given", ['{"x": "abc"}', '{"x": "1e999999x"}', "[1]", "{", '{"x": 2}'])
def test_bad_values_give_one_line(given):
    a = json.loads(answer_json("x*2", given, layout=None))
    assert a["ok"] is False and "\n" not in a["error"]


def test_deep_unary_chain_is_answered():
    text = "-" * (MAX_TEXT - 2) + "x"  # an even number of minus signs
    a = answer(text, {"x": "2"})
    assert a["ok"] and a["value"] == "2" and dict(a["grads"]) == {"x": "1"}


def test_nesting_up_to_the_bound_is_answered():
    a = answer("(" * MAX_DEPTH + "x" + ")" * MAX_DEPTH, {"x": "2"})
    assert a["ok"] and a["value"] == "2"
    a = answer("(" * (MAX_DEPTH + 1) + "x" + ")" * (MAX_DEPTH + 1), {"x": "2"})
    assert not a["ok"] and "nested 61 deep" in a["error"]
