"""Step-through of the backward pass: steps, frames, the slider and the HTML page in Chromium."""
from __future__ import annotations

import re

import pytest

import autograd
from autograd.views.steps import save_steps_html
from autograd import Value
from autograd.graph import fmt
from browser import headless_chromium, time_limit
from rendering import parse
from oracle import torch

NAMED = ["net_h1", "out_h1", "net_h2", "out_h2", "net_o1", "out_o1", "net_o2", "out_o2",
         "E_o1", "E_o2", "E"]


def test_steps_follow_backward_and_match_pytorch(worked, oracle):
    E, v = worked
    t = oracle
    for name in NAMED:
        t[name].retain_grad()
    t["E"].backward(retain_graph=True)
    steps = list(autograd.backward_steps(E))
    order = [n for n in reversed(autograd.graph.topological_order(E)) if not n.is_leaf]
    assert [s.node for s in steps] == order
    assert [s.index for s in steps] == list(range(1, len(order) + 1))
    by_label = {s.node.label: s for s in steps if s.node.label}
    assert set(by_label) == set(NAMED)
    for name in NAMED:
        assert by_label[name].grad == pytest.approx(t[name].grad.item(), rel=1e-12)
    # What a step sends to each input is its grad times the local partial PyTorch computes.
    s = by_label["net_o1"]
    for c, parent in zip(s.contributions, ["w5", "w6", "out_h1", "out_h2", "b2"]):
        assert c.parent is v[parent]
        (local,) = torch.autograd.grad(t["net_o1"], t[parent], retain_graph=True)
        assert c.local == pytest.approx(local.item(), rel=1e-12)
        assert c.amount == pytest.approx(s.grad * local.item(), rel=1e-12)
    assert s.contributions[0].formula == "out_h1"
    # Leaves receive exactly their gradient, summed over the steps that feed them.
    for leaf in ["w1", "b1", "i2"]:
        got = sum(c.amount for st in steps for c in st.contributions if c.parent is v[leaf])
        assert got == pytest.approx(t[leaf].grad.item(), rel=1e-12)
    assert all(x.grad == 0.0 for x in v.values())  # stepping leaves .grad alone
    assert "→ " in str(s) and "into w5" in str(s)


def grads_shown(source: str) -> dict[str, str]:
    ids, lines, _ = parse(source)
    out = {}
    for name, nid in ids.items():
        m = re.search(r"<td>grad (.*?)</td>", lines[nid])
        out[name] = m[1].replace("&nbsp;", "").strip()
    return out


def test_draw_step_shows_the_graph_as_it_stands(worked, oracle):
    E, v = worked
    t = oracle
    for name in NAMED:
        t[name].retain_grad()
    t["E"].backward()
    steps = list(autograd.backward_steps(E))
    n = len(steps)
    first = grads_shown(autograd.draw(E, step=0).source)
    assert first["E"] == "1"
    assert all(first[k] == "" for k in ["w5", "out_o1", "net_h1", "i1"])
    # After the first of net_o1/net_o2 steps, out_h1 holds one of its two contributions and
    # that net's weight from h1 already has its final gradient.
    first_net = min((s for s in steps if s.node in (v["net_o1"], v["net_o2"])),
                    key=lambda s: s.index)
    o = first_net.node.label[-2:]
    w = {"o1": "w5", "o2": "w7"}[o]
    src = autograd.draw(E, step=first_net.index).source
    shown = grads_shown(src)
    assert shown[w] == fmt(t[w].grad.item())
    (part,) = [c.amount for c in first_net.contributions if c.parent is v["out_h1"]]
    assert shown["out_h1"] == fmt(part) + " <i>so far</i>"
    assert shown["net_h1"] == ""
    ids, lines, edges = parse(src)
    assert "#ffd27f" in lines[ids[f"net_{o}"]]                  # the current node
    assert any(e[0] == ids[w] and "←" in e[2] for e in edges)    # its edges carry the flow
    assert not any(e[0] == ids["w1"] and "←" in e[2] for e in edges)
    last = grads_shown(autograd.draw(E, step=n).source)
    for name in ["w1", "w8", "b1", "i1", *NAMED]:
        want = t[name].grad.item()
        assert last[name] == fmt(want), name
    with pytest.raises(ValueError, match=f"0 to {n}"):
        autograd.draw(E, step=n + 1)


def test_slider_widget_is_built_and_moves():
    pytest.importorskip("ipywidgets", reason="the slider is an ipywidgets widget")
    x = Value(0.5, "x")
    y = (x * x).tanh()
    y.label = "y"
    box = autograd.views.steps.steps_widget(y)
    slider, caption, picture = box.children
    assert slider.min == 0 and slider.max == 2
    before = picture.value
    assert before.startswith("<svg")
    slider.value = 2
    assert picture.value != before and caption.value.startswith("step 2")




def test_html_page_is_self_contained(tmp_path, worked):
    E, _ = worked
    page = save_steps_html(E, tmp_path / "steps.html").read_text(encoding="utf-8")
    # The old name writes the explorer page: one picture whatever the number of steps.
    # (The legend's swatches are small SVGs of their own, drawn by the graph's style rules.)
    swatches = page.count('<svg class="sw"')
    assert page.count('<svg id="graph"') == 1 and page.count("<svg") == 1 + swatches
    assert 'id="mode"' in page
    with pytest.warns(DeprecationWarning, match="rankdir"):
        autograd.views.steps.save_steps_html(E, tmp_path / "tb.html", rankdir="TB")
    # Nothing is fetched: no external scripts, styles, images or fonts.
    assert not re.search(r"<(script|link|img|iframe)[^>]*\s(src|href)=", page)
    assert "@import" not in page and not re.search(r"url\((?!#)", page)  # only in-page refs


@pytest.mark.slow
def test_html_page_steps_in_headless_chromium(tmp_path, worked):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    E, _ = worked
    path = autograd.views.steps.save_steps_html(E, tmp_path / "steps.html")
    with time_limit(90), headless_chromium(tmp_path / "profile") as driver:
        driver.get(path.as_uri())
        counter = driver.find_element(By.ID, "counter")
        assert counter.text.startswith("step 0 of")

        def current() -> list[str]:
            found = driver.find_elements(By.CSS_SELECTOR, "[data-label].current")
            return [c.get_attribute("data-label") for c in found]
        assert current() == ["E"]  # seeded with 1, about to take the first step
        driver.find_element(By.ID, "next").click()
        assert counter.text.startswith("step 1 of")
        assert current() == ["E"]  # the first backward step is the root's
        assert driver.find_element(By.ID, "caption").text.startswith("Step 1 of")
        driver.find_element(By.TAG_NAME, "body").send_keys(Keys.ARROW_RIGHT)
        assert counter.text.startswith("step 2 of")
        driver.find_element(By.TAG_NAME, "body").send_keys(Keys.ARROW_LEFT)
        driver.find_element(By.ID, "prev").click()
        assert counter.text.startswith("step 0 of")
