"""Speed of the static site in headless Chromium, served from 127.0.0.1 (a script, not a test).

    python benchmarks/bench_site.py [--site build/site] [--rounds 5]

Measures, with every request to another origin refused:
- navigation → the lab's first answer (Python loaded, the expression answered, the explorer
  drawn), in a fresh browser profile (cold cache) and then on reloads (warm cache);
- a new expression of the worked example's size (the 2-2-2 network's error written out, about
  40 values), asked to drawn, once Python is loaded;
- the playground in the site: steps per second on its default moons task while it plays, if the
  page is there and runs (otherwise it says why it was not measured).
Medians and ranges over the rounds. The site is built first unless --site names a built one.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from apps.site.build import build  # noqa: E402
from apps.site.serve import serve_in_thread  # noqa: E402
from browser import headless_chromium  # noqa: E402

WORKED = ("0.5*(0.01 - sigmoid(w5*sigmoid(w1*i1 + w2*i2 + b1) + w6*sigmoid(w3*i1 + w4*i2 + b1)"
          " + b2))**2 + 0.5*(0.99 - sigmoid(w7*sigmoid(w1*i1 + w2*i2 + b1) + w8*sigmoid(w3*i1"
          " + w4*i2 + b1) + b2))**2")
VALUES = {"i1": 0.05, "i2": 0.1, "w1": 0.15, "w2": 0.2, "w3": 0.25, "w4": 0.3, "b1": 0.35,
          "w5": 0.4, "w6": 0.45, "w7": 0.5, "w8": 0.55, "b2": 0.6}
BLOCK = ("--proxy-server=http://127.0.0.1:9",)  # nothing leaves loopback
WAIT = 180


def until(driver, script: str, seconds: float = WAIT):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        value = driver.execute_script(script)
        if value:
            return value
        time.sleep(0.05)
    raise TimeoutError(script)


def first_answer(driver, url: str) -> float:
    """Seconds from the navigation's start to the first answer drawn."""
    driver.get("about:blank")
    driver.get(url + "index.html#expr=tanh(x*w+b)&x=2&w=-3&b=1")
    ms = until(driver, "return document.body.getAttribute('data-first-answer-ms')")
    return int(ms) / 1000


def worked_example(driver, k: int) -> float:
    """Seconds from asking for the worked example (new values each time) to its drawing."""
    values = {**VALUES, "w1": VALUES["w1"] + 0.001 * k}
    n = int(driver.execute_script("return document.body.getAttribute('data-answered') || 0"))
    hash_ = "expr=" + quote(WORKED) + "".join(f"&{k}={v}" for k, v in values.items())
    driver.execute_script("location.hash = arguments[0]", hash_)
    until(driver, f"return Number(document.body.getAttribute('data-answered')) > {n}")
    error = driver.execute_script("return document.getElementById('error').textContent")
    if error:
        raise RuntimeError(f"the lab answered with an error: {error}")
    return int(driver.execute_script("return document.body.getAttribute('data-answer-ms')")) / 1000


def playground(driver, url: str, seconds: float) -> str:
    """Steps per second while the site's playground plays, or why it was not measured."""
    driver.get(url + "playground.html")
    try:
        until(driver, "return document.getElementById('play') && !document.getElementById("
              "'play').disabled && /\\d/.test(document.getElementById('steps').textContent)", 120)
    except TimeoutError:
        return "not measured: the playground page did not come up in the site within 120 s"
    steps = "return Number(document.getElementById('steps').textContent.replace(/\\D/g, ''))"
    driver.find_element("id", "play").click()
    time.sleep(3)  # past the first steps
    s0, t0 = driver.execute_script(steps), time.monotonic()
    time.sleep(seconds)
    s1, t1 = driver.execute_script(steps), time.monotonic()
    driver.find_element("id", "pause").click()
    if s1 <= s0:
        return (f"not measured: #steps stayed at {s1} while playing (is the playground's worker "
                f"transport in apps/playground/static yet?)")
    return f"{(s1 - s0) / (t1 - t0):.1f} steps/s over {t1 - t0:.0f} s"


def spread(xs: list[float], unit: str = "s", scale: float = 1.0) -> str:
    xs = [x * scale for x in xs]
    return (f"median {statistics.median(xs):.2f} {unit} (range {min(xs):.2f}–{max(xs):.2f}, "
            f"{len(xs)} runs)")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--site", type=Path, help="a built site (default: build one now)")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--play-seconds", type=float, default=10.0)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        site = args.site or build(Path(tmp) / "site", notebooks=False)
        server = serve_in_thread(site, prefix="/autograd/")
        cold, warm, worked = [], [], []
        for r in range(args.rounds):
            # A fresh profile: nothing cached.
            with headless_chromium(Path(tmp) / f"profile{r}", window="1280,900",
                                   extra=BLOCK) as driver:
                cold.append(first_answer(driver, server.url))
                warm.append(first_answer(driver, server.url))
                worked.append(worked_example(driver, r))
                if r == args.rounds - 1:
                    play = playground(driver, server.url, args.play_seconds)
        server.shutdown()
    print("Static site in headless Chromium, served from 127.0.0.1 under /autograd/:")
    print(f"  navigation -> first answer, cold cache:  {spread(cold)}")
    print(f"  navigation -> first answer, warm cache:  {spread(warm)}")
    print(f"  worked example (new values) -> drawn:    {spread(worked, 'ms', 1000)}")
    print(f"  playground, default moons task:          {play}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
