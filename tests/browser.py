"""Headless Chromium for the page tests, and a time limit so that a hung browser fails."""
from __future__ import annotations

import shutil
import signal
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def headless_chromium(profile: Path, window: str | None = None, logs: tuple[str, ...] = (),
                      extra: tuple[str, ...] = ()):
    """A selenium driver on the system's Chromium; skips the test when it is not installed.

    ``logs`` names the logs to keep ("browser", "performance") for ``driver.get_log``;
    ``extra``: more command-line switches for Chromium.
    """
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not binary or not driver_path:
        pytest.skip("Chromium and chromedriver are not installed (apt-get install chromium "
                    "chromium-driver); .ci/run installs them")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = binary
    args = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run",
            f"--user-data-dir={profile}"]
    if window:
        args.append(f"--window-size={window}")
    args += extra
    for arg in args:
        opts.add_argument(arg)
    if logs:
        opts.set_capability("goog:loggingPrefs", {name: "ALL" for name in logs})
    # The driver's path is given, so selenium never tries to download one.
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=opts)
    try:
        driver.set_page_load_timeout(30)
        yield driver
    finally:
        driver.quit()


@contextmanager
def time_limit(seconds: int):
    """Fail a browser test that hangs, instead of hanging the suite (SIGALRM, main thread)."""
    def fail(*_):
        raise TimeoutError(f"the browser test took more than {seconds} s")
    old = signal.signal(signal.SIGALRM, fail)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
