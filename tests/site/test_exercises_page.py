"""The site's exercises page in headless Chromium, every request elsewhere refused and counted:
the learner's class checked in the worker, the node where the error enters named and the graph
drawn, a class that never finishes stopped and reported by name, the code kept in the browser."""
from __future__ import annotations

import inspect
import re

import pytest

from autograd.exercises import reference
from browser import time_limit
from test_site import WAIT, browser, errors, nothing_from_elsewhere, visit  # noqa: F401

pytestmark = pytest.mark.slow
DONE = re.compile(r"(PASSED|FAILED|NOT CHECKED|⚠)")


def reference_source() -> str:
    return inspect.getsource(reference)


def with_overwrite(src: str) -> str:
    """The reference with the classic mistake in ``__add__``: ``=`` where ``+=`` belongs."""
    start = src.index("def __add__")
    at = src.index("self.grad += out.grad", start)
    return src[:at] + "self.grad = out.grad" + src[at + len("self.grad += out.grad"):]


def open_page(driver, served: str) -> None:
    visit(driver, served + "exercises.html",
          "!document.getElementById('check').disabled")


def put_code(driver, code: str) -> None:
    driver.execute_script(
        "document.querySelector('.CodeMirror').CodeMirror.setValue(arguments[0])", code)


def check_and_wait(driver, seconds: float = WAIT) -> str:
    from selenium.webdriver.support.ui import WebDriverWait
    driver.find_element("id", "check").click()
    WebDriverWait(driver, seconds, poll_frequency=0.2).until(
        lambda d: DONE.match(d.find_element("id", "summary").text))
    return driver.find_element("id", "summary").text


def test_the_reference_passes_every_graph(browser, served):  # noqa: F811
    with time_limit(WAIT + 120):
        open_page(browser, served)
        put_code(browser, reference_source())
        summary = check_and_wait(browser)
        assert summary == "PASSED: all 28 graphs that ran pass"
        marks = [li.text for li in browser.find_elements("css selector", "#graphs li")]
        assert len(marks) == 28 and all(m.startswith("✓") for m in marks), marks
        assert not browser.find_element("id", "drawing").is_displayed()
        assert errors(browser) == []


def test_a_bug_is_named_where_it_enters_and_drawn(browser, served):  # noqa: F811
    with time_limit(WAIT + 120):
        open_page(browser, served)
        put_code(browser, with_overwrite(reference_source()))
        summary = check_and_wait(browser)
        assert summary.startswith("FAILED: 1 of 28 graphs fail (first: diamond)"), summary
        failure = browser.find_element("id", "failure").text
        assert "Where the error enters: c = a + w" in failure
        assert "use += in _backward" in failure
        rows = [tr.text for tr in browser.find_elements("css selector", "#failure table tr")]
        assert rows[1].startswith("a -1.25 -3.75 2.5 0.67 probably wrong"), rows
        svg = browser.find_element("css selector", "#drawing-svg svg")
        assert browser.find_element("id", "drawing").is_displayed()
        assert "≠ engine" in svg.get_attribute("textContent")
        assert svg.find_elements("tag name", "script") == []
        assert errors(browser) == []


def test_code_that_never_ends_is_stopped_by_name_and_the_page_keeps_working(browser, served):  # noqa: F811
    from selenium.webdriver.support.ui import WebDriverWait
    with time_limit(2 * WAIT + 120):
        open_page(browser, served)
        src = reference_source().replace("    def backward(self):",
                                         "    def backward(self):\n        while True:\n"
                                         "            pass\n", 1)
        put_code(browser, src)
        summary = check_and_wait(browser, seconds=60)
        assert summary == 'FAILED: a + b: stopped after 20 s on "a + b": your code did not finish'
        # A fresh worker takes over; the stored code survives a reload; a fix passes.
        WebDriverWait(browser, WAIT).until(
            lambda d: not d.find_element("id", "check").get_attribute("disabled"))
        browser.refresh()
        WebDriverWait(browser, WAIT).until(
            lambda d: not d.find_element("id", "check").get_attribute("disabled"))
        kept = browser.execute_script(
            "return document.querySelector('.CodeMirror').CodeMirror.getValue()")
        assert "while True" in kept
        put_code(browser, reference_source())
        assert check_and_wait(browser) == "PASSED: all 28 graphs that ran pass"
        assert errors(browser) == []


def test_a_file_that_does_not_load_is_one_line_with_the_learners_own_lines(browser, served):  # noqa: F811
    with time_limit(WAIT + 120):
        open_page(browser, served)
        put_code(browser, "import math\n\nclass Value:\n    x = 1 / 0\n")
        summary = check_and_wait(browser)
        assert summary == ("NOT CHECKED: cannot load my_value.py: ZeroDivisionError: "
                           "division by zero")
        trace = browser.find_element("css selector", "#failure pre").text
        assert trace == ("my_value.py, line 3, in <module>\n    class Value:\n"
                         "my_value.py, line 4, in Value\n    x = 1 / 0")
        assert errors(browser) == []
