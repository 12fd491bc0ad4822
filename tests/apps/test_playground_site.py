"""The playground in the static site: the site built once, served on 127.0.0.1 under a sub-path,
the page driven in headless Chromium with Python in its Web Worker, and every request to another
origin blocked and counted (the test fails on any).

The site, its server and the blocking come from the site's own fixtures (tests/site/conftest.py):
Chromium's proxy is a server that refuses whatever it is sent, and only requests for other
origins reach a proxy (loopback goes direct). Counted here from Chromium's own NetLog, which names
the initiator of each request: the page's and its workers' requests (the chromedriver log misses
a worker's) are told from the browser's own traffic (updates, sign-in) without a list of hosts.
"""
from __future__ import annotations

import contextlib
import importlib.util
import json
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from browser import headless_chromium, time_limit

pytestmark = pytest.mark.slow


def _site_fixtures():
    """The site's own fixtures (tests/site/conftest.py): the site built once per session and
    served under /autograd/ (``served``: its URL), and ``refusals``, the refusing proxy."""
    path = Path(__file__).resolve().parents[1] / "site" / "conftest.py"
    spec = importlib.util.spec_from_file_location("site_fixtures", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_fixtures = _site_fixtures()
site, server, served, refusals = (_fixtures.site, _fixtures.server, _fixtures.served,
                                  _fixtures.refusals)


def requests_elsewhere(netlog: Path, site: str) -> list[str]:
    """Every request that the site (a page or a worker of it) started for another origin."""
    parts = urlsplit(site)
    origin = f"{parts.scheme}://{parts.netloc}"
    data = json.loads(netlog.read_text(encoding="utf-8"))
    start = data["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    found = []
    for event in data["events"]:
        params = event.get("params", {})
        if event["type"] == start and params.get("initiator") == origin:
            if not params["url"].startswith(origin + "/"):
                found.append(params["url"])
    return found


@contextlib.contextmanager
def chromium_in_a_box(tmp_path: Path, refusals, site: str):
    """Headless Chromium with every other origin refused; yields (driver, elsewhere): after the
    block, ``elsewhere`` holds the requests the site made for other origins."""
    netlog = tmp_path / "netlog.json"
    switches = (f"--proxy-server=http://127.0.0.1:{refusals.server_address[1]}",
                f"--log-net-log={netlog}")
    found: list[str] = []
    with headless_chromium(tmp_path / "profile", window="1400,1000", logs=("browser",),
                           extra=switches) as driver:
        yield driver, found
    found += requests_elsewhere(netlog, site)  # the log is whole once Chromium has quit


def _wait(predicate, seconds: float, what: str):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"waited {seconds} s for {what}")


def test_the_site_serves_the_playground_under_a_sub_path(served):
    import urllib.request

    assert served.endswith("/autograd/")
    with urllib.request.urlopen(served + "playground.html", timeout=60) as r:
        page = r.read().decode("utf-8")
    assert '<body data-transport="worker">' in page
    assert "Content-Security-Policy" in page and 'src="playground.js"' in page
    for name in ("playground.js", "playground-worker.js", "playground.css", "boot.js",
                 "explorer.html"):
        with urllib.request.urlopen(served + name, timeout=60) as r:
            assert r.status == 200


def test_the_playground_trains_in_the_page_with_nothing_from_elsewhere(served, refusals,
                                                                       tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    with time_limit(300), chromium_in_a_box(tmp_path, refusals, served) as (driver, elsewhere):
        text = lambda id_: driver.find_element(By.ID, id_).text  # noqa: E731
        steps = lambda: int(text("steps"))  # noqa: E731
        driver.get(served + "playground.html")
        # While Python loads, a progress bar says what is loading; then the state comes.
        _wait(lambda: text("connection") == "Python in this page", 120, "Python in the worker")
        assert not driver.find_element(By.ID, "loading").is_displayed()
        assert text("steps") == "0" and text("point-count").startswith("200 points")

        # Moons reaches 95% while the steps grow.
        driver.find_element(By.ID, "play").click()
        _wait(lambda: text("accuracy") not in ("", "–") and float(text("accuracy")) >= 95
              and steps() > 0, 120, "95% accuracy on moons")
        first = steps()
        _wait(lambda: steps() > first, 60, "the step count to grow")

        # Pause holds.
        driver.find_element(By.ID, "pause").click()
        _wait(lambda: not driver.find_element(By.ID, "play").get_attribute("disabled"), 60,
              "pause")
        paused = text("steps")
        time.sleep(1.5)
        assert text("steps") == paused

        # A click on the plane adds a point; a click on it removes it again.
        plane = driver.find_element(By.ID, "plane")
        ActionChains(driver).move_to_element_with_offset(plane, 150, -150).click().perform()
        _wait(lambda: text("point-count").startswith("201 points") and
              "; 1 added by clicks" in text("point-count"), 60, "a new point")
        ActionChains(driver).move_to_element_with_offset(plane, 150, -150).click().perform()
        _wait(lambda: text("point-count").startswith("200 points"), 60, "the point removed")

        # A refused setting shows its message, and the worker goes on answering.
        lr = driver.find_element(By.ID, "lr")
        lr.clear()
        lr.send_keys("-1")
        driver.find_element(By.ID, "steps").click()
        _wait(lambda: "learning rate must be" in text("message"), 60, "the refusal")
        driver.find_element(By.ID, "step").click()
        _wait(lambda: steps() == int(paused) + 1, 60, "one more step")

        # The speed control paces the worker too.
        driver.find_element(By.ID, "speed").send_keys(Keys.HOME)
        _wait(lambda: text("speed-value") == "1 step/s", 60, "1 step/s")
        time.sleep(0.5)  # the setting reaches the worker
        driver.find_element(By.ID, "play").click()
        _wait(lambda: steps() > int(paused) + 1, 60, "a paced step")
        start, before = time.monotonic(), steps()
        time.sleep(3.5)
        grown, elapsed = steps() - before, time.monotonic() - start
        assert 1 <= grown <= elapsed + 1, (grown, elapsed)
        driver.find_element(By.ID, "pause").click()

        # An edge explains its weight; the example's graph opens in the explorer.
        driver.execute_script("document.querySelector('#network path.hit')"
                              ".dispatchEvent(new MouseEvent('click'))")
        _wait(lambda: "by the chain rule" in text("explain-text"), 60, "an explanation")
        assert "∂loss/∂L1.N1.w1" in text("explain-text")
        page = driver.current_window_handle
        driver.find_element(By.ID, "graph-link").click()
        _wait(lambda: len(driver.window_handles) == 2, 60, "the explorer's window")
        driver.switch_to.window([h for h in driver.window_handles if h != page][0])
        _wait(lambda: driver.execute_script(
            "return document.querySelectorAll('[data-label]').length"), 120, "the graph drawn")
        labels = driver.execute_script(
            "return [...document.querySelectorAll('[data-label]')].map(e => e.dataset.label)")
        assert "loss" in labels and "L1.N1.w1" in labels
        explorer_errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        driver.close()
        driver.switch_to.window(page)

        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert not errors + explorer_errors, errors + explorer_errors
    assert elsewhere == [], elsewhere


def test_a_request_for_another_origin_is_blocked_and_counted(served, refusals, tmp_path):
    """The counting above can fail: a page that goes elsewhere is caught."""
    with time_limit(120), chromium_in_a_box(tmp_path, refusals, served) as (driver, elsewhere):
        driver.get(served + "explorer.html")
        driver.execute_script("window.open('https://cdn.elsewhere.example/pyodide.js')")
        _wait(lambda: any("cdn.elsewhere.example" in r for r in refusals.asked), 60,
              "the proxy to refuse the request")
    assert elsewhere == ["https://cdn.elsewhere.example/pyodide.js"]


def _choose(driver, id_: str, value: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    Select(driver.find_element(By.ID, id_)).select_by_value(value)


def _relu_hinge_trains(driver, url: str, replay: str) -> None:
    """Open the playground at ``url``, choose relu with the hinge loss, check which replay the
    page names, and train moons to 95%."""
    from selenium.webdriver.common.by import By

    text = lambda id_: driver.find_element(By.ID, id_).text  # noqa: E731
    driver.get(url)
    _wait(lambda: text("connection") == "Python in this page", 120, "Python in the worker")
    assert text("replay") == "(Python replay)"  # tanh and cross-entropy: Math.tanh, log1p
    _choose(driver, "activation", "relu")  # each change goes to the worker as it is made
    _choose(driver, "loss-fn", "hinge")
    _wait(lambda: text("replay") == f"({replay} replay)", 60, f"the {replay} replay")
    driver.find_element(By.ID, "play").click()
    _wait(lambda: text("accuracy") not in ("", "–") and float(text("accuracy")) >= 95
          and int(text("steps")) > 0, 120, "95% accuracy on moons")
    driver.find_element(By.ID, "pause").click()
    assert text("replay") == f"({replay} replay)"


def test_relu_with_hinge_trains_through_the_javascript_replay(served, refusals, tmp_path):
    with time_limit(300), chromium_in_a_box(tmp_path, refusals, served) as (driver, elsewhere):
        _relu_hinge_trains(driver, served + "playground.html", "JS")
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert not errors, errors
        # The page keeps its policy: no eval on the page itself, only in its worker.
        policy = driver.execute_script(
            "return document.querySelector('meta[http-equiv=\"Content-Security-Policy\"]')"
            ".content")
        assert "'unsafe-eval'" not in policy and "script-src 'self'" in policy
        # Enforced: a script written into the page is refused and reported. (A script this
        # test runs through the driver is not held to the policy, so eval there proves nothing.)
        driver.execute_script(
            "window.refused = [];"
            "document.addEventListener('securitypolicyviolation',"
            "  (e) => window.refused.push(e.effectiveDirective));"
            "const s = document.createElement('script');"
            "s.textContent = 'window.inlineRan = true';"
            "document.body.append(s);")
        _wait(lambda: driver.execute_script("return window.refused.length"), 30, "a refusal")
        assert driver.execute_script("return [window.inlineRan === undefined, window.refused]") \
            == [True, ["script-src-elem"]]
        # ?replay=python keeps the Python replay for the same run.
        _relu_hinge_trains(driver, served + "playground.html?replay=python", "Python")
    assert elsewhere == [], elsewhere


@contextlib.contextmanager
def _served_with_policy(site: Path, policy: str):
    """The site served as a host that sends ``policy`` as a Content-Security-Policy header on
    every response (the worker script's included)."""
    import functools

    from apps.site.serve import make_server

    server = make_server(site, prefix=_fixtures.PREFIX)
    base = server.RequestHandlerClass

    class WithPolicy(base.func):
        def end_headers(self) -> None:
            self.send_header("Content-Security-Policy", policy)
            super().end_headers()

    server.RequestHandlerClass = functools.partial(WithPolicy, *base.args, **base.keywords)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.url
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("policy,replay", [
    ("script-src 'self' 'wasm-unsafe-eval'", "Python"),  # no eval in the worker: Python replay
    ("script-src 'self' 'unsafe-eval'", "JS"),           # what a host must allow for the JS one
])
def test_a_host_policy_decides_whether_the_worker_may_compile_javascript(site, refusals, tmp_path,
                                                                         policy, replay):
    with _served_with_policy(site, policy) as url, time_limit(300), \
            chromium_in_a_box(tmp_path, refusals, url) as (driver, elsewhere):
        _relu_hinge_trains(driver, url + "playground.html", replay)
    assert elsewhere == [], elsewhere
