"""The explorer page: its data against the graph, its escaping, and the page in real Chromium."""
from __future__ import annotations

import json
import math
import re
import time

import pytest

import autograd
from autograd import Value
from autograd.views.explorer import clusters, explore
from nn import worked_example
from nn.module import MLP
from browser import headless_chromium

INJECTIONS = ["</script><script>window.__pwned=1</script>", "<!--<script>",
              '<img src=x onerror="window.__pwned=2">', "a\u2028b", "&lt;&amp;\"'"]


def page_data(page: str) -> dict:
    m = re.search(r'<script type="application/json" id="data">(.*?)</script>', page, re.S)
    return json.loads(m[1])


def by_name(data: dict) -> dict[str, int]:
    return {n["n"]: i for i, n in enumerate(data["nodes"])}


def injected_graph() -> Value:
    xs = [Value(0.5 + k, label=s) for k, s in enumerate(INJECTIONS)]
    out = autograd.sum([x * x for x in xs]).tanh()
    out.label = "<b>out</b>"
    return out


def small_mlp() -> Value:
    model = MLP(2, [3, 1], seed=0)
    return model([0.5, -1.0]) ** 2


# ------------------------------------------------------------------------- the page's data

def test_page_carries_the_worked_example(tmp_path):
    net = worked_example.build()
    page = explore(net.E, tmp_path / "page.html").html
    assert (tmp_path / "page.html").read_text(encoding="utf-8") == page
    assert len(page.encode("utf-8")) <= 250_000
    d = page_data(page)
    names = by_name(d)
    w5, h1 = d["nodes"][names["w5"]], d["nodes"][names["net_h1"]]
    assert w5["G"] == "0.0821670406"      # the textbook's ∂E/∂w5 = 0.082167041
    assert (h1["v"], h1["d"]) == ("0.15·0.05 + 0.2·0.1 + 0.35", "0.3775")
    # One step per op, both ways; every labelled value carries its derivation.
    n_ops = sum(n["k"] == "op" for n in d["nodes"])
    assert len(d["forward"]) == len(d["backward"]) == n_ops == 15
    assert "= 0.0821670406" in d["explained"][str(names["w5"])]
    assert "\\n" not in d["explained"][str(names["w5"])]
    # Every value is laid out once, in one view.
    (view,) = d["views"]
    drawn = {b[1] for b in view["boxes"]}
    assert drawn == {i for i, n in enumerate(d["nodes"]) if n["k"] != "constant"}


def test_running_sums_end_at_the_gradient():
    net = worked_example.build()
    d = page_data(explore(net.E).html)
    names = by_name(d)
    # out_h1 feeds net_o1 and net_o2: its last "so far" is its gradient, the first is not.
    into = [e for e in d["edges"] if e[0] == names["out_h1"]]
    first, last = sorted(into, key=lambda e: [s[0] for s in d["backward"]].index(e[1]))
    assert last[5] == d["nodes"][names["out_h1"]]["g"] != first[5]


def test_nothing_is_fetched_and_labels_are_escaped():
    page = explore(injected_graph()).html
    assert not re.search(r"<(script|link|img|iframe)[^>]*\s(src|href)=", page)
    assert "@import" not in page and "url(" not in page.replace("url(#arrow", "")
    for bad in INJECTIONS[:3]:
        assert bad not in page
    assert page.count("<script") == 2 and page.count("</script>") == 2
    d = page_data(page)
    assert {n["n"] for n in d["nodes"]} >= set(INJECTIONS[:3]) | {"<b>out</b>"}
    assert "<b>" not in page.split("<body>")[0]  # the title is escaped too


def test_inline_in_a_notebook_is_an_iframe():
    html = explore(injected_graph())._repr_html_()
    assert html.startswith("<iframe srcdoc=\"") and html.count("<script") == 0
    assert "&lt;script" in html


def test_too_big_says_so_and_names_the_way_out():
    x = Value(0.3, label="x")
    y = x
    for _ in range(60):
        y = (y * 0.9).tanh()
    d = page_data(explore(y, max_values=25).html)
    assert "depth=" in d["note"] and "group=True" in d["note"]
    assert len(d["views"][0]["boxes"]) <= 25
    d = page_data(explore(y, depth=4).html)
    assert len(d["views"][0]["boxes"]) == 5 and d["note"] == ""


def test_clusters_follow_dotted_labels():
    loss = small_mlp()
    d = autograd.graph.graph_data(loss)
    key = clusters(d)
    name = {n["id"]: n["name"] for n in d["nodes"]}
    got = {name[i]: k for i, k in key.items() if name[i].startswith("L")}
    assert got["L1.N2.w1"] == "L1.N2" and got["L2.N1.b"] == "L2.N1"
    assert got["L1.N2.out"] == "L1.N2"
    # The square of the output joins its input's cluster; x1 has no dotted prefix.
    assert key[d["root"]] == "L2.N1" and got.get("x1", "") == ""
    page = page_data(explore(loss, group=True).html)
    assert [v["key"] for v in page["views"]] == ["", "L1", "L1.N1", "L1.N2", "L1.N3", "L2",
                                                 "L2.N1"]
    top = page["views"][0]
    assert {b[1] for b in top["boxes"] if b[0] == "c"} == {"L1", "L2"}


def test_explore_checks_its_arguments():
    with pytest.raises(TypeError, match="root must be a Value"):
        explore(1.0)
    with pytest.raises(ValueError, match="depth"):
        explore(Value(1.0), depth=-1)


# ------------------------------------------------------------------------ in real Chromium

@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    profile = tmp_path_factory.mktemp("profile")
    with headless_chromium(profile, window="1280,800", logs=("browser", "performance")) as driver:
        yield driver


def load(driver, path):
    from selenium.webdriver.support.ui import WebDriverWait
    driver.get_log("browser"), driver.get_log("performance")  # start with empty logs
    driver.get(path.as_uri())
    WebDriverWait(driver, 60).until(lambda d: d.find_element("tag name", "body")
                                    .get_attribute("data-ready"))
    settle(driver)


def settle(driver):
    # The view glides for a moment after a step; wait until it rests.
    from selenium.webdriver.support.ui import WebDriverWait
    WebDriverWait(driver, 60, poll_frequency=0.05).until(
        lambda d: not d.find_element("id", "stage").get_attribute("data-moving"))


def rect(driver, element) -> dict:
    return driver.execute_script("const r = arguments[0].getBoundingClientRect();"
                                 "return {l: r.left, t: r.top, r: r.right, b: r.bottom};",
                                 element)


def inside(driver, element) -> bool:
    a, s = rect(driver, element), rect(driver, driver.find_element("id", "stage"))
    return a["l"] >= s["l"] - 1 and a["t"] >= s["t"] - 1 and a["r"] <= s["r"] + 1 \
        and a["b"] <= s["b"] + 1


def scale(driver) -> float:
    t = driver.find_element("id", "world").get_attribute("transform")
    return float(re.search(r"scale\(([-0-9.e]+)\)", t)[1])


def no_errors_no_network(driver, url: str) -> None:
    errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []
    sent = [json.loads(e["message"])["message"] for e in driver.get_log("performance")]
    sent = [m["params"] for m in sent if m["method"] == "Network.requestWillBeSent"]
    # The page asks for nothing but itself; nothing at all goes to the network.
    # (Chromium's own chrome:// pages may load their resources meanwhile.)
    assert {p["request"]["url"] for p in sent if p.get("documentURL") == url} <= {url}
    assert not [p for p in sent if re.match(r"(https?|wss?|ftp):", p["request"]["url"])]


def press(driver, key):
    from selenium.webdriver.common.action_chains import ActionChains
    ActionChains(driver).send_keys(key).perform()


@pytest.mark.slow
def test_worked_example_in_chromium(browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    net = worked_example.build()
    path = explore(net.E, tmp_path / "we.html").save(tmp_path / "we.html")
    load(browser, path)
    values = browser.find_elements(By.CSS_SELECTOR, "[data-label][data-id]")
    assert len(values) == 27 and all(inside(browser, v) for v in values)  # fits on load
    s0 = scale(browser)
    browser.find_element(By.ID, "zoomin").click()
    assert scale(browser) > s0
    press(browser, "-")
    press(browser, "-")
    assert scale(browser) < s0
    press(browser, "0")
    settle(browser)
    assert scale(browser) == pytest.approx(s0)

    # Backward: every step's current node is inside the window once the view has moved.
    for k in range(1, 16):
        browser.find_element(By.ID, "next").click() if k % 2 else press(browser, Keys.ARROW_RIGHT)
        settle(browser)
        (cur,) = browser.find_elements(By.CSS_SELECTOR, "#boxes .current")
        assert inside(browser, cur), (k, cur.get_attribute("data-label"))
        assert browser.find_element(By.ID, "counter").text == f"step {k} of 15"
    assert "∂E/∂E" not in browser.find_element(By.ID, "caption").text
    settle(browser)
    browser.find_element(By.CSS_SELECTOR, '[data-label="w5"]').click()
    details = browser.find_element(By.ID, "details")
    assert "0.08216704" in details.text and "0.4" in details.text

    # Forward: net_h1 is computed with its numbers, and the view follows every step.
    Select(browser.find_element(By.ID, "mode")).select_by_value("forward")
    for k in range(1, 16):
        press(browser, Keys.ARROW_RIGHT)
        settle(browser)
        (cur,) = browser.find_elements(By.CSS_SELECTOR, "#boxes .current")
        assert inside(browser, cur), (k, cur.get_attribute("data-label"))
        if cur.get_attribute("data-label") == "net_h1":
            caption = browser.find_element(By.ID, "caption").text
            assert "net_h1 = 0.15·0.05 + 0.2·0.1 + 0.35 = 0.3775" in caption
    press(browser, Keys.HOME)
    assert browser.find_element(By.ID, "counter").text == "step 0 of 15"
    assert "pending" in browser.find_element(By.CSS_SELECTOR, '[data-label="net_h1"]') \
        .get_attribute("class")

    # Find jumps to a value and shows it.
    find = browser.find_element(By.ID, "find")
    find.send_keys("out_o2" + Keys.ENTER)
    settle(browser)
    found = browser.find_element(By.CSS_SELECTOR, "#boxes .selected")
    assert found.get_attribute("data-label") == "out_o2" and inside(browser, found)
    assert browser.find_element(By.ID, "details").text.startswith("✕ close\nout_o2")
    no_errors_no_network(browser, path.as_uri())


def test_clusters_open_on_click(browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    path = explore(small_mlp(), tmp_path / "mlp.html", group=True).save(tmp_path / "mlp.html")
    load(browser, path)
    assert not browser.find_elements(By.CSS_SELECTOR, '[data-label="L1.N2.w1"]')
    browser.find_element(By.CSS_SELECTOR, '[data-cluster="L1"]').click()
    settle(browser)
    browser.find_element(By.CSS_SELECTOR, '[data-cluster="L1.N2"]').click()
    w = browser.find_element(By.CSS_SELECTOR, '[data-label="L1.N2.w1"]')
    assert inside(browser, w)
    # Find opens the cluster that holds a value.
    browser.find_element(By.ID, "find").send_keys("L2.N1.b" + Keys.ENTER)
    settle(browser)
    assert browser.find_element(By.CSS_SELECTOR, "#boxes .selected").get_attribute(
        "data-label") == "L2.N1.b"
    # Stepping while a cluster is collapsed marks the cluster's box as current.
    settle(browser)
    browser.find_element(By.CSS_SELECTOR, "#crumbs button").click()
    press(browser, Keys.END)
    settle(browser)
    cur = browser.find_element(By.CSS_SELECTOR, "#boxes .current")
    assert cur.get_attribute("data-cluster") == "L1" and inside(browser, cur)
    no_errors_no_network(browser, path.as_uri())


def test_injected_labels_run_nothing(browser, tmp_path):
    from selenium.webdriver.common.by import By

    path = explore(injected_graph(), tmp_path / "bad.html").save(tmp_path / "bad.html")
    load(browser, path)
    for s in INJECTIONS[:3] + ["<b>out</b>"]:
        settle(browser)  # the view glides after the panel opens; click where the box rests
        (el,) = [e for e in browser.find_elements(By.CSS_SELECTOR, "[data-label]")
                 if e.get_attribute("data-label") == s]
        el.click()
        assert browser.find_element(By.CSS_SELECTOR, "#details h2").text == s
    press(browser, "\ue010")  # End: every caption line written
    assert browser.execute_script("return window.__pwned") is None
    assert not browser.find_elements(By.CSS_SELECTOR, "#details img, #details b, #caption img")
    no_errors_no_network(browser, path.as_uri())


def test_dark_theme_follows_the_system(browser, tmp_path):
    path = explore(injected_graph(), tmp_path / "t.html").save(tmp_path / "t.html")
    try:
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {
            "features": [{"name": "prefers-color-scheme", "value": "dark"}]})
        load(browser, path)
        bg = browser.execute_script("return getComputedStyle(document.body).backgroundColor")
        r, g, b = map(int, re.findall(r"\d+", bg)[:3])
        assert max(r, g, b) < 60
    finally:
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})
    load(browser, path)
    bg = browser.execute_script("return getComputedStyle(document.body).backgroundColor")
    assert min(map(int, re.findall(r"\d+", bg)[:3])) > 200


def test_many_steps_play_and_stop(browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    x = Value(0.7, label="x")
    y = x
    for _ in range(12):
        y = y.sin() * 1.1
    path = explore(y, tmp_path / "chain.html").save(tmp_path / "chain.html")
    load(browser, path)
    Select(browser.find_element(By.ID, "speed")).select_by_value("120")
    browser.find_element(By.ID, "play").click()
    deadline = time.monotonic() + 60
    while browser.find_element(By.ID, "counter").text != "step 24 of 24":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    time.sleep(0.3)
    assert browser.find_element(By.ID, "play").text.endswith("play")  # stopped at the end
    assert math.isfinite(scale(browser))


def test_wheel_drag_and_hover(browser, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    net = worked_example.build()
    path = explore(net.E, tmp_path / "we.html").save(tmp_path / "we.html")
    load(browser, path)
    stage = browser.find_element(By.ID, "stage")
    s0 = scale(browser)
    browser.execute_script("arguments[0].dispatchEvent(new WheelEvent('wheel', {deltaY: -300, "
                           "clientX: 300, clientY: 300, bubbles: true, cancelable: true}))", stage)
    assert scale(browser) > s0
    before = rect(browser, browser.find_element(By.CSS_SELECTOR, '[data-label="E"]'))
    ActionChains(browser).move_to_element_with_offset(stage, 0, 150).click_and_hold() \
        .move_by_offset(-120, -40).release().perform()
    after = rect(browser, browser.find_element(By.CSS_SELECTOR, '[data-label="E"]'))
    assert (after["l"] - before["l"], after["t"] - before["t"]) == (
        pytest.approx(-120, abs=2), pytest.approx(-40, abs=2))
    # Hovering w1 marks every path from the root down to it, and nothing off those paths.
    press(browser, "0")
    settle(browser)
    ActionChains(browser).move_to_element(
        browser.find_element(By.CSS_SELECTOR, '[data-label="w1"]')).perform()
    marked = {e.get_attribute("data-label")
              for e in browser.find_elements(By.CSS_SELECTOR, "#boxes .onpath")}
    assert marked == {"w1", "net_h1", "out_h1", "net_o1", "net_o2", "out_o1", "out_o2", "v1",
                      "v2", "v3", "v4", "E_o1", "E_o2", "E"}
    assert len(browser.find_elements(By.CSS_SELECTOR, "#edges .onpath")) == 14  # 14 boxes, 1 leaf


def test_too_big_page_says_so_in_the_browser(browser, tmp_path):
    from selenium.webdriver.common.by import By

    x = Value(0.3, label="x")
    y = x
    for _ in range(40):
        y = (y * 0.9).tanh()
    path = explore(y, tmp_path / "big.html", max_values=20).save(tmp_path / "big.html")
    load(browser, path)
    note = browser.find_element(By.ID, "note")
    assert note.is_displayed() and "depth=" in note.text and "group=True" in note.text
    assert len(browser.find_elements(By.CSS_SELECTOR, "[data-label]")) <= 20
    no_errors_no_network(browser, path.as_uri())


# ------------------------------------------------------- issue 27: the sum, the legend, names

def two_paths() -> Value:
    """x reaches f along two paths: through a = x·w and directly."""
    x, w = Value(0.5, label="x"), Value(-1.5, label="w")
    a = x * w
    a.label = "a"
    f = a.tanh() + x * 0.25
    f.label = "f"
    return f


def signed(text: str) -> str:
    # A negative term of a sum is written in brackets with a true minus sign.
    return f"(−{text[1:]})" if text.startswith("-") else text


def contributions(d: dict, name: str) -> list[str]:
    """What value ``name`` receives, in the order the backward pass sends it."""
    i = by_name(d)[name]
    steps = [s[0] for s in d["backward"]]
    into = sorted((steps.index(e[1]), k) for k, e in enumerate(d["edges"]) if e[0] == i)
    return [d["edges"][k][4] for _, k in into]


def test_unlabelled_values_carry_their_derivation():
    d = page_data(explore(two_paths()).html)
    for i, n in enumerate(d["nodes"]):
        if n["k"] != "constant":
            assert str(i) in d["explained"], n["n"]
    v1 = d["explained"][str(by_name(d)["v1"])]
    assert "∂f/∂v1" in v1 and "unlabelled" not in v1


def test_where_two_paths_meet_the_sum_is_shown(browser, tmp_path):
    from selenium.webdriver.common.by import By

    root = two_paths()
    path = explore(root, tmp_path / "meet.html").save(tmp_path / "meet.html")
    d = page_data(path.read_text(encoding="utf-8"))
    first, second = contributions(d, "x")
    total = d["nodes"][by_name(d)["x"]]["g"]
    load(browser, path)
    seen_first = False
    for _ in range(len(d["backward"])):
        browser.find_element(By.ID, "next").click()
        settle(browser)
        caption = browser.find_element(By.ID, "caption").text
        if f"x.grad so far {first}" in caption:
            seen_first = True
            assert "x.grad = " not in caption  # one contribution: nothing to add yet
        if "x.grad = " in caption:
            break
    assert seen_first
    want = f"x.grad = {first} + {signed(second)} = {total} ✓ final"
    assert want in caption, caption
    # The value's panel shows the same sum, each term with the value that sent it.
    browser.find_element(By.CSS_SELECTOR, '[data-label="x"]').click()
    settle(browser)
    panel = browser.find_element(By.ID, "details").text
    assert want in panel, panel
    assert "from a" in panel and "from v2" in panel
    # One step back, the panel shows where the sum stands then.
    browser.find_element(By.ID, "prev").click()
    settle(browser)
    panel = browser.find_element(By.ID, "details").text
    assert want not in panel and f"x.grad so far = {first}" in panel, panel
    no_errors_no_network(browser, path.as_uri())


def mark_classes() -> tuple[set[str], set[str]]:
    """The classes the stylesheet draws as marks on value boxes and on edges."""
    from importlib import resources
    css = (resources.files("autograd.views.explorer") / "explorer.css").read_text("utf-8")
    boxes = set(re.findall(r"\) \.(\w+) \.box", css)) - {"cluster", "proxy"}
    edges = set(re.findall(r"\) \.edge\.(\w+)", css))
    return boxes, edges


STYLE = ["stroke", "stroke-width", "stroke-dasharray", "fill", "opacity", "marker-end"]


def computed(driver, selector_or_el, props=STYLE) -> dict:
    return driver.execute_script(
        "const el = typeof arguments[0] === 'string' ? document.querySelector(arguments[0])"
        " : arguments[0]; const s = getComputedStyle(el), o = {};"
        "let op = 1; for (let e = el; e && e.tagName !== 'svg'; e = e.parentElement)"
        "  op *= +getComputedStyle(e).opacity;"
        "for (const p of arguments[1]) o[p] = s.getPropertyValue(p);"
        "o.opacity = String(op); o['marker-end'] = o['marker-end'].replace(/^url\\(.*#/, '#')"
        ".replace(/[\")]/g, ''); return o;", selector_or_el, props)


def drawn_like(driver, kind: str, cls: str) -> dict:
    """The computed style of a real box or edge of the graph given ``cls``, then restored."""
    return driver.execute_script(
        "const kind = arguments[0], cls = arguments[1];"
        "const g = kind === 'box' ? document.querySelector('#boxes g.value')"
        " : document.querySelector('#edges path.edge');"
        "const before = g.getAttribute('class');"
        "g.setAttribute('class', (kind === 'box' ? 'value ' : 'edge ') + cls);"
        "const el = kind === 'box' ? g.querySelector('rect.box') : g;"
        "const s = getComputedStyle(el), o = {};"
        "let op = 1; for (let e = el; e && e.tagName !== 'svg'; e = e.parentElement)"
        "  op *= +getComputedStyle(e).opacity;"
        "for (const p of arguments[2]) o[p] = s.getPropertyValue(p);"
        "o.opacity = String(op); o['marker-end'] = o['marker-end'].replace(/^url\\(.*#/, '#')"
        ".replace(/[\")]/g, '');"
        "g.setAttribute('class', before); return o;", kind, cls, STYLE)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_the_legend_shows_every_mark_as_drawn(browser, tmp_path, theme):
    from selenium.webdriver.common.by import By

    boxes, edges = mark_classes()
    assert {"current", "partial", "complete", "visited", "feeds", "onpath", "pending",
            "selected"} <= boxes and {"send", "onpath", "done"} <= edges
    path = explore(two_paths(), tmp_path / "legend.html").save(tmp_path / "legend.html")
    try:
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {
            "features": [{"name": "prefers-color-scheme", "value": theme}]})
        load(browser, path)
        entries = browser.find_elements(By.CSS_SELECTOR, "#legend [data-mark]")
        marks = {e.get_attribute("data-mark") for e in entries}
        for cls in boxes:
            assert any(cls in m.split() for m in marks if not m.startswith("edge")), cls
        for cls in edges:
            assert f"edge {cls}" in marks, cls
        for e in entries:
            mark = e.get_attribute("data-mark")
            assert e.get_attribute("textContent").strip(), mark  # every swatch says what it is
            if mark.startswith("edge "):
                swatch = e.find_element(By.CSS_SELECTOR, "path.edge")
                assert computed(browser, swatch) == drawn_like(browser, "edge", mark[5:]), mark
            else:
                swatch = e.find_element(By.CSS_SELECTOR, "rect.box")
                assert computed(browser, swatch) == drawn_like(browser, "box", mark), mark
    finally:
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})
