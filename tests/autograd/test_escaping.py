"""User text through every tool: labels, op names and symbols land escaped wherever they go.

A hypothesis strategy mixes every character class that has broken a renderer (markup, quotes,
backslashes, braces, control characters, NUL, ESC, lone surrogates, very long text) and sends
it through draw (DOT source and the SVG graphviz renders, parsed as XML), explain, the steps,
graph_data and the step-through page.
"""
from __future__ import annotations

import json
import re

import pytest
from hypothesis import HealthCheck, given, settings

import autograd
from autograd.views.steps import save_steps_html
from autograd.graph import to_json
from rendering import check_svg, labelled_graph, render
from rendering import labels


def drawings(y):
    return autograd.draw(y), autograd.draw(y, group=True), autograd.draw(y, step=1)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(labels)
def test_any_label_is_escaped_everywhere(text):
    y, x = labelled_graph(text)
    for g in drawings(y):
        src = g.source  # encodable: no lone surrogate or NUL reaches DOT
        assert "\x00" not in src and "\x1b" not in src
        assert "javascript:alert" not in src or "&lt;" in src
    for text_out in (str(autograd.explain(y, x)), str(autograd.explain(y, x, through="all")),
                     *map(str, autograd.backward_steps(y))):
        assert "\x1b" not in text_out and "\x00" not in text_out
        text_out.encode("utf-8")  # printable: no lone surrogate left
    md = autograd.explain(y, x)._repr_markdown_()
    assert not re.search(r"(?<!\\)<", md) and "\x1b" not in md
    data = to_json(autograd.graph.graph_data(y))
    assert "<" not in data and ">" not in data and "&" not in data
    # JSON carries a string as UTF-16 code units: a lone high surrogate followed by a lone low
    # one ("\ud800\udfff") is read back as the one character they spell together.
    assert json.loads(data)["nodes"][0]["label"] == utf16_reading(text)


def utf16_reading(text: str) -> str:
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")


def test_two_lone_surrogates_that_spell_a_pair_travel_as_json_reads_them():
    y, _ = labelled_graph("\ud800\udfff")
    data = to_json(autograd.graph.graph_data(y))
    assert json.loads(data)["nodes"][0]["label"] == "\U000103ff"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(labels)
def test_any_label_draws_plain_svg(text):
    # Graphviz's dot reads the escaped source back: only drawing elements come out.
    y, _ = labelled_graph(text)
    for g in drawings(y):
        check_svg(render(g.source))


@pytest.mark.parametrize("text", ["</script><script>alert(1)</script>", "\ud800{{DATA}}",
                                  "{{JS}}\x1b", "<!--<script>"])
def test_step_page_keeps_its_two_scripts(tmp_path, text):
    # The step page is the explorer's: one data block and one script, whatever the labels say.
    y, _ = labelled_graph(text)
    page = save_steps_html(y, tmp_path / "p.html", title=text).read_text("utf-8")
    assert page.count("<script") == 2 and page.count("</script>") == 2
    assert "<!--" not in page
    data = json.loads(re.search(r'<script type="application/json" id="data">(.*?)</script>',
                                page, re.S)[1])
    assert data  # the labels travelled as data, intact enough to parse
    title = re.search(r"<title>(.*?)</title>", page, re.S)[1]
    assert "<" not in title
