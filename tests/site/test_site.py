"""The built site in headless Chromium, served under a sub-path, with every request to another
origin blocked and counted: the lab, the explorer page, the notebooks, the build's policy."""
from __future__ import annotations

import json
import math
import re

from urllib.parse import urlsplit

import pytest

from browser import headless_chromium, time_limit

pytestmark = pytest.mark.slow
WAIT = 180  # seconds for Python to load on a busy machine; a hang still fails


@pytest.fixture(scope="module")
def browser(tmp_path_factory, refusals):
    # Every request but loopback ones (which Chromium never sends to a proxy) goes to a proxy
    # that refuses it and counts it (conftest.Refusals).
    # Chromium's own services (autofill, translation, safe browsing) are switched off, so what
    # reaches the proxy comes from the pages.
    block = (f"--proxy-server=http://127.0.0.1:{refusals.server_address[1]}",
             "--disable-features=AutofillServerCommunication,Translate,OptimizationHints,"
             "MediaRouter,InterestFeedContentSuggestions,CertificateTransparencyComponentUpdater",
             "--disable-client-side-phishing-detection", "--disable-default-apps", "--no-pings",
             "--safebrowsing-disable-auto-update", "--disable-domain-reliability")
    with headless_chromium(tmp_path_factory.mktemp("profile"), window="1280,900",
                           logs=("browser",), extra=block) as driver:
        yield driver


# What Chromium itself connects to whatever the page (its account, search and autofill
# services, which no switch turns off entirely); no page of the site names these hosts.
CHROMIUM_OWN = {"accounts.google.com", "start.duckduckgo.com", "content-autofill.googleapis.com",
                "clients2.google.com", "update.googleapis.com", "safebrowsing.googleapis.com",
                "optimizationguide-pa.googleapis.com", "clientservices.googleapis.com"}


def host(line: str) -> str:
    """The host a proxy request line asks for: CONNECT host:443 or GET http://host/..."""
    target = line.split(" ")[1] if line.count(" ") >= 2 else line
    return (urlsplit(target).hostname if "://" in target else target.rsplit(":", 1)[0]) or ""


def elsewhere(asked: list[str]) -> list[str]:
    return [line for line in asked if host(line) not in CHROMIUM_OWN]


@pytest.fixture(autouse=True)
def nothing_from_elsewhere(refusals):
    """Each test fails if the page or a worker tried to reach another origin."""
    before = len(refusals.asked)
    yield
    assert elsewhere(refusals.asked[before:]) == [], refusals.asked[before:]


def errors(driver) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def visit(driver, url: str, ready: str) -> None:
    from selenium.webdriver.support.ui import WebDriverWait
    driver.get("about:blank")
    driver.get_log("browser")  # start with an empty log
    driver.get(url)
    WebDriverWait(driver, WAIT, poll_frequency=0.1).until(
        lambda d: d.execute_script(f"return {ready}"))


def answered(driver) -> int:
    return int(driver.find_element("tag name", "body").get_attribute("data-answered") or 0)


def wait_answer(driver, before: int) -> None:
    from selenium.webdriver.support.ui import WebDriverWait
    WebDriverWait(driver, WAIT, poll_frequency=0.1).until(lambda d: answered(d) > before)


def settle(driver) -> None:
    from selenium.webdriver.support.ui import WebDriverWait
    WebDriverWait(driver, 60, poll_frequency=0.05).until(
        lambda d: not d.find_element("id", "stage").get_attribute("data-moving"))


def inside(driver, element) -> bool:
    return driver.execute_script(
        "const a = arguments[0].getBoundingClientRect(), "
        "s = document.getElementById('stage').getBoundingClientRect();"
        "return a.left >= s.left - 1 && a.right <= s.right + 1 && a.top >= s.top - 1 "
        "&& a.bottom <= s.bottom + 1;", element)


def shown_equal(text: str, exact: float) -> bool:
    """Whether ``text`` is ``exact`` to the significant digits it shows."""
    digits = len(re.sub(r"[^0-9]", "", re.sub(r"e.*$", "", text)).lstrip("0")) or 1
    return float(text) == float(f"{exact:.{digits}g}")


def test_lab_from_a_link_matches_the_engine(browser, served, server):
    from selenium.webdriver.common.by import By
    with time_limit(600):
        visit(browser, served + "index.html#expr=tanh(x*w+b)&x=2&w=-3&b=1",
              "document.body.getAttribute('data-answered')")
        # Python and the wheel came from the site's own folder, asked for by the worker.
        assert "/autograd/pyodide/pyodide.asm.wasm" in server.served
        assert any(p.startswith("/autograd/wheels/") for p in server.served)

        # The value and the three gradients, against calculus, to the digits shown.
        t = math.tanh(2 * -3 + 1)
        want = {"f": t, "x": (1 - t * t) * -3, "w": (1 - t * t) * 2, "b": 1 - t * t}
        result = browser.find_element(By.ID, "result").text
        got = dict(re.findall(r"(?:∂f/∂)?(\w+) = (\S+)", result))
        assert set(got) == set(want), result
        for name, exact in want.items():
            assert shown_equal(got[name], exact), (name, got[name], exact)

        # Each value carries its label; a click on w shows its derivation.
        labels = {e.get_attribute("data-label") for e in
                  browser.find_elements(By.CSS_SELECTOR, "#graph g.value")}
        assert {"x", "w", "b", "f"} <= labels
        settle(browser)
        browser.find_element(By.CSS_SELECTOR, '#graph g.value[data-label="w"]').click()
        details = browser.find_element(By.ID, "details")
        assert details.is_displayed()
        assert "∂f/∂w" in details.text and got["w"][:6] in details.text.replace("−", "-")

        # Stepping backward keeps the current value in view.
        browser.find_element(By.CSS_SELECTOR, "#details .close").click()
        for k in range(1, 4):
            browser.find_element(By.ID, "next").click()
            settle(browser)
            (cur,) = browser.find_elements(By.CSS_SELECTOR, "#boxes .current")
            assert inside(browser, cur), (k, cur.get_attribute("data-label"))
        assert browser.find_element(By.ID, "mode").get_attribute("value") == "backward"
        assert not errors(browser)


def test_lab_errors_are_one_line_and_python_keeps_answering(browser, served):
    from selenium.webdriver.common.by import By
    with time_limit(600):
        visit(browser, served + "index.html#expr=%ZZ&x=1",
              "document.body.getAttribute('data-answered')")
        error = browser.find_element(By.ID, "error")
        assert error.is_displayed() and "%-escape" in error.text and "\n" not in error.text
        # A hostile expression is refused by the parser, and the text stays text.
        from selenium.webdriver.support.ui import WebDriverWait
        for text, says in [("__import__('os').system('true')", "only the op table's functions"),
                           ("<img src=x onerror=alert(1)>x", "syntax error")]:
            browser.execute_script("location.hash = arguments[0]", "expr=" + text + "&x=1")
            WebDriverWait(browser, WAIT).until(
                lambda d, says=says: says in d.find_element(By.ID, "error").text)
            assert "\n" not in browser.find_element(By.ID, "error").text
            assert not browser.find_elements(By.CSS_SELECTOR, "#lab img")
        # Then an ordinary expression still gets its answer.
        n = answered(browser)
        expr = browser.find_element(By.ID, "expr")
        expr.clear()
        expr.send_keys("a*b + a\n")
        wait_answer(browser, n)  # new variables start at 1
        assert "∂f/∂a = 2" in browser.find_element(By.ID, "result").text
        assert not browser.find_element(By.ID, "error").is_displayed()
        assert "expr=a*b%20+%20a" in browser.current_url

        # A reload restores the lab from the URL.
        n = answered(browser)
        browser.refresh()
        wait_answer(browser, 0)
        assert browser.find_element(By.ID, "expr").get_attribute("value") == "a*b + a"
        assert "∂f/∂b = 1" in browser.find_element(By.ID, "result").text
        assert not errors(browser)


# Graphviz takes minutes over this graph (one value feeding a 150-long chain of products), in
# WebAssembly and as the dot program alike: a computation the learner will want to stop.
SLOW = "*".join(["x"] * 150)


@pytest.mark.parametrize("isolate", [False, True], ids=["restart", "cross-origin-isolated"])
def test_stop_ends_a_long_computation_and_python_answers_again(browser, site, isolate):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from apps.site.serve import serve_in_thread
    server = serve_in_thread(site, prefix="/autograd/", isolate=isolate)
    try:
        with time_limit(600):
            visit(browser, server.url + "index.html#expr=x*y&x=2&y=5",
                  "document.body.getAttribute('data-answered')")
            assert browser.execute_script("return crossOriginIsolated") is isolate
            n = answered(browser)
            browser.execute_script("location.hash = arguments[0]", "expr=" + SLOW + "&x=1")
            stop = browser.find_element(By.ID, "stop")
            WebDriverWait(browser, 30).until(lambda d: stop.is_displayed())
            stop.click()
            WebDriverWait(browser, 30).until(
                lambda d: "Stopped" in d.find_element(By.ID, "error").text)
            assert answered(browser) == n  # stopped, not answered
            expr = browser.find_element(By.ID, "expr")
            expr.clear()
            expr.send_keys("exp(x) + y\n")
            wait_answer(browser, n)
            assert "∂f/∂y = 1" in browser.find_element(By.ID, "result").text
            assert not errors(browser)
    finally:
        server.shutdown()
        server.server_close()


def test_explorer_page_shows_what_its_opener_sends(browser, served):
    from selenium.webdriver.support.ui import WebDriverWait

    from apps.site.lab import answer
    payload = answer("a*b + a", {"a": "3", "b": "-2"})["payload"]  # laid out by dot here
    with time_limit(300):
        visit(browser, served + "notebooks/index.html", "document.readyState === 'complete'")
        main = browser.current_window_handle
        browser.execute_script("""
            const payload = arguments[0];
            const w = window.open('../explorer.html');
            window.addEventListener('message', (ev) => {
              if (ev.source === w && ev.data.type === 'ready')
                w.postMessage({type: 'explorer', payload, title: 'a·b + a'}, location.origin);
            });""", payload)
        WebDriverWait(browser, 30).until(lambda d: len(d.window_handles) == 2)
        other = next(h for h in browser.window_handles if h != main)
        browser.switch_to.window(other)
        WebDriverWait(browser, 60).until(
            lambda d: d.find_element("tag name", "body").get_attribute("data-ready"))
        labels = {e.get_attribute("data-label") for e in
                  browser.find_elements("css selector", "#graph g.value")}
        assert {"a", "b", "f"} <= labels
        assert browser.title == "a·b + a"
        assert not errors(browser)
        browser.close()
        browser.switch_to.window(main)


def test_notebook_pages_show_their_pictures(browser, served, site):
    from selenium.webdriver.common.by import By
    pages = sorted(p.name for p in (site / "notebooks").glob("*.html") if p.stem != "index")
    assert len(pages) >= 7
    with time_limit(600):
        visit(browser, served + "notebooks/index.html", "document.readyState === 'complete'")
        links = browser.find_elements(By.CSS_SELECTOR, ".notebook-list a[href$='.html']")
        assert sorted(a.get_attribute("href").rsplit("/", 1)[1] for a in links) == pages
        framed = 0
        for page in pages:
            visit(browser, served + "notebooks/" + page, "document.readyState === 'complete'")
            pictures = browser.execute_script(
                "return [...document.querySelectorAll('main img, main svg')].map(e => "
                "e.tagName === 'IMG' ? (e.complete && e.naturalWidth > 0) : "
                "e.getBoundingClientRect().width > 0)")
            assert pictures and all(pictures), page
            # An explorer output is the site's explorer page on the graph the notebook saved.
            for frame in browser.find_elements(By.CSS_SELECTOR, "iframe.explorer"):
                framed += 1
                browser.switch_to.frame(frame)
                from selenium.webdriver.support.ui import WebDriverWait
                WebDriverWait(browser, 60).until(
                    lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready"))
                assert browser.find_elements(By.CSS_SELECTOR, "#graph g.value"), page
                browser.switch_to.default_content()
            download = browser.find_element(By.CSS_SELECTOR, ".download a[download]")
            assert download.get_attribute("href").endswith(page.replace(".html", ".ipynb"))
            nav = [a.get_attribute("href") for a in browser.find_elements(By.CSS_SELECTOR,
                                                                          ".site-nav a")]
            assert nav[0].endswith("/autograd/index.html"), nav
            assert not errors(browser), page


def test_a_request_elsewhere_is_counted(browser, served, refusals):
    # The counter itself: a worker's fetch of another origin reaches the refusing proxy (on a
    # file of the site with no page policy, which would refuse the worker).
    from selenium.webdriver.support.ui import WebDriverWait
    visit(browser, served + "LICENSES.txt", "document.readyState === 'complete'")
    before = len(refusals.asked)
    browser.execute_script(
        "const src = 'fetch(\"http://elsewhere.invalid/x\").catch(() => 0)';"
        "new Worker(URL.createObjectURL(new Blob([src])));")
    WebDriverWait(browser, 30).until(lambda d: elsewhere(refusals.asked[before:]))
    assert elsewhere(refusals.asked[before:]) == ["GET http://elsewhere.invalid/x HTTP/1.1"]
    del refusals.asked[before:]
    browser.get_log("browser")


def test_every_page_has_the_policy_and_no_inline_script(site):
    pages = sorted(site.rglob("*.html"))
    assert {"index.html", "explorer.html", "playground.html"} <= {p.name for p in pages}
    for page in pages:
        text = page.read_text(encoding="utf-8")
        policy = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)"', text)
        assert policy, page
        assert "script-src 'self' 'wasm-unsafe-eval'" in policy[1]
        assert "unsafe-inline" not in policy[1].split("script-src")[1].split(";")[0]
        for tag in re.findall(r"<script\b[^>]*>", text):
            src = re.search(r'\bsrc="([^"]+)"', tag)
            assert src and "//" not in src[1], (page, tag)
        assert not re.search(r'\b(?:src|href)="(?:https?:)?//', text), page
    manifest = json.loads((site / "site.json").read_text())
    assert (site / manifest["wheel"]).exists()


def test_the_deepest_expression_the_lab_takes_is_answered_in_the_page(browser, served):
    # Python's parser recurses: in WebAssembly too deep a nesting would kill the interpreter.
    from urllib.parse import quote

    from selenium.webdriver.common.by import By

    from apps.site.lab import MAX_DEPTH
    text = "exp(-" * MAX_DEPTH + "x" + ")" * MAX_DEPTH
    want = 0.5
    for _ in range(MAX_DEPTH):
        want = math.exp(-want)
    with time_limit(600):
        visit(browser, served + "index.html#expr=" + quote(text) + "&x=0.5",
              "document.body.getAttribute('data-answered')")
        assert not browser.find_element(By.ID, "error").is_displayed()
        value = re.search(r"f = (\S+)", browser.find_element(By.ID, "result").text)[1]
        assert shown_equal(value, want)
        assert not errors(browser)


def test_every_preset_answers_and_the_worked_example_gives_the_published_error(browser, served):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select
    with time_limit(600):
        visit(browser, served + "index.html", "document.body.getAttribute('data-answered')")
        presets = browser.find_elements(By.CSS_SELECTOR, "#preset option")[1:]
        assert len(presets) >= 4
        seen = False
        for k in range(len(presets)):
            n = answered(browser)
            Select(browser.find_element(By.ID, "preset")).select_by_index(k + 1)
            wait_answer(browser, n)
            assert not browser.find_element(By.ID, "error").is_displayed()
            result = browser.find_element(By.ID, "result").text
            if "w5" in result:  # Mazur's worked example: E = 0.298371109, ∂E/∂w5 = 0.082167041
                assert "f = 0.298371" in result and "∂f/∂w5 = 0.082167" in result
                seen = True
        assert seen
        assert not errors(browser)
