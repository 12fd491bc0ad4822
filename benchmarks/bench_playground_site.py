"""Benchmark: the playground in the static site, Python in the page's Web Worker (Pyodide).

The goal the site issue names: moons with MLP(2, [8, 8, 1]) at ≥ 20 steps/s with the heat maps
refreshed at least twice a second. Measured in headless Chromium, in one run:

1. the site: ``playground.html`` served from a built site on 127.0.0.1, the time from
   navigation until Python answers with the first state, then rounds of training at full speed,
   each counting steps (``#steps``) and frames (every frame rewrites ``#steps``: a
   MutationObserver counts them) over a fixed time;
2. the peer, the same page served by ``python -m nn.playground`` (CPython, a WebSocket),
   measured the same way in the same run.

Both with the page's defaults (200 points, half of them for testing: a batch of 100) and with
all 200 points in the batch (test fraction 0). Then relu with the hinge loss, whose graph has an
exact JavaScript replay: in the site with it (the page's choice, "JS replay" beside steps/s) and
without it (``playground.html?replay=python``: the Python replay), and served.

Before the browser, the step alone in Pyodide under Node (the same wheel and js-replay.js as the
site's worker, through tests/apps/pyodide_replays.mjs): ms per training step (forward, backward,
optimizer) with the JavaScript replay and with the Python replay, relu + hinge, at batch sizes
1, 2, 4, 10, 100 and 200, rounds interleaved.

    python benchmarks/bench_playground_site.py [--site build/site] [--seconds 8] [--rounds 3]
"""
from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from browser import headless_chromium  # noqa: E402

COUNT_FRAMES = """
window.benchFrames = 0;
new MutationObserver(() => { window.benchFrames += 1; })
  .observe(document.getElementById('steps'), {childList: true, characterData: true,
                                              subtree: true});
"""


def text(driver, id_: str) -> str:
    return driver.execute_script(f"return document.getElementById('{id_}').textContent")


def wait(predicate, seconds: float, what: str):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.05)
    raise RuntimeError(f"waited {seconds} s for {what}")


def set_test_fraction(driver, value: float) -> None:
    driver.execute_script(
        "const s = document.getElementById('test-fraction');"
        f"s.value = '{value}'; s.dispatchEvent(new Event('change'));")
    wait(lambda: driver.execute_script("return document.getElementById('point-count')"
                                       ".textContent").count(f"({int(200 * (1 - value))} training"),
         60, "the test fraction")


def rounds(driver, seconds: float, n: int) -> list[tuple[float, float]]:
    """(steps/s, frames/s) of ``n`` rounds at full speed, each ``seconds`` long."""
    out = []
    driver.execute_script("document.getElementById('reset').click()")
    wait(lambda: text(driver, "steps") == "0", 60, "reset")
    driver.execute_script("document.getElementById('play').click()")
    wait(lambda: int(text(driver, "steps")) > 0, 60, "the first steps")
    time.sleep(1.0)  # warm-up
    for _ in range(n):
        driver.execute_script("window.benchFrames = 0")
        s0, t0 = int(text(driver, "steps")), time.monotonic()
        time.sleep(seconds)
        s1, t1 = int(text(driver, "steps")), time.monotonic()
        frames = driver.execute_script("return window.benchFrames")
        out.append(((s1 - s0) / (t1 - t0), frames / (t1 - t0)))
    driver.execute_script("document.getElementById('pause').click()")
    return out


def relu_hinge(driver) -> None:
    for id_, value in (("activation", "relu"), ("loss-fn", "hinge")):
        driver.execute_script(f"const s = document.getElementById('{id_}');"
                              f"s.value = '{value}'; s.dispatchEvent(new Event('change'));")
    wait(lambda: driver.execute_script(
        "return document.getElementById('activation').value === 'relu' &&"
        " document.getElementById('loss-fn').value === 'hinge'"), 60, "relu and hinge")
    time.sleep(1.0)  # the new graph compiled (and, in the site, its JavaScript)


def measure(driver, url: str, ready: str, seconds: float, n: int,
            configure=None) -> dict:
    start = time.monotonic()
    driver.get(url)
    wait(lambda: text(driver, "connection") == ready and text(driver, "steps").isdigit(), 180,
         "the first state")
    loaded = time.monotonic() - start
    driver.execute_script(COUNT_FRAMES)
    if configure is not None:
        configure(driver)
    results = {"loaded": loaded}
    for fraction, name in ((0.5, "batch of 100 (page default)"), (0.0, "batch of 200")):
        set_test_fraction(driver, fraction)
        results[name] = rounds(driver, seconds, n)
    results["accuracy"] = text(driver, "accuracy")
    results["replay"] = text(driver, "replay")
    return results


NODE_PROGRAM = r"""
import json, statistics, time, warnings
warnings.simplefilter("ignore")
from apps.playground.session import Session
from apps.playground.settings import Settings

def ms_per_step(javascript, batch, steps):
    s = Session(Settings(activation="relu", loss="hinge", test_fraction=0.0, batch=batch),
                javascript=javascript)
    for _ in range(20):
        s.step()
    t = time.perf_counter()
    for _ in range(steps):
        s.step()
    return (time.perf_counter() - t) / steps * 1e3, s.batches.replay_for(min(batch, 200))

out = {}
for batch in (1, 2, 4, 10, 100, 200):
    steps = max(20, 4000 // batch)
    for _ in range(ROUNDS):
        for load in (load_replay, None):
            ms, replay = ms_per_step(load, batch, steps)
            out.setdefault(f"{batch} {'offered' if load else 'python'}", []).append(ms)
            out[f"{batch} ran"] = replay if load else out.get(f"{batch} ran", "")
print("RESULT " + json.dumps(out))
"""


def node_steps(rounds: int) -> None:
    """ms per step in Pyodide under Node, JavaScript replay against Python replay."""
    import json

    node = shutil.which("node")
    if node is None:
        print("node is not installed: no step timings in Pyodide")
        return
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--quiet",
                        "-w", tmp], check=True)
        wheel = next(Path(tmp).glob("autograd_scalar-*.whl"))
        program = Path(tmp) / "program.py"
        program.write_text(f"ROUNDS = {rounds}\n" + NODE_PROGRAM, encoding="utf-8")
        done = subprocess.run([node, "--no-warnings", str(ROOT / "tests" / "apps" /
                                                           "pyodide_replays.mjs"),
                               str(wheel), str(program)],
                              capture_output=True, text=True, check=True)
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    times = json.loads(line[len("RESULT "):])
    print("\nPyodide under Node, relu + hinge, moons 200 points, MLP(2, [8, 8, 1]): ms per step")
    for batch in (1, 2, 4, 10, 100, 200):
        js, py = times[f"{batch} offered"], times[f"{batch} python"]
        mj, mp = statistics.median(js), statistics.median(py)
        print(f"  batch {batch:>3}: JS replay offered ({times[f'{batch} ran']} ran) {mj:.3f} "
              f"({min(js):.3f}–{max(js):.3f}), Python replay {mp:.3f} "
              f"({min(py):.3f}–{max(py):.3f}): {mp / mj:.1f}x")


@contextmanager
def site_server(folder: Path):
    from apps.site.serve import serve_in_thread

    server = serve_in_thread(folder, prefix="/autograd/")
    try:
        yield server.url + "playground.html"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def playground_server():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "nn.playground", "--no-browser"], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        yield re.search(r"http://\S+/", line)[0]
    finally:
        proc.terminate()
        proc.wait(30)


def report(name: str, results: dict) -> None:
    print(f"\n{name}: first state {results['loaded']:.1f} s after navigation; the page says "
          f"{results['replay'] or '(no replay named)'}")
    for key, value in results.items():
        if isinstance(value, list):
            sps = [r[0] for r in value]
            fps = [r[1] for r in value]
            print(f"  {key}: {statistics.median(sps):,.0f} steps/s "
                  f"(range {min(sps):,.0f}–{max(sps):,.0f}), "
                  f"{statistics.median(fps):.1f} frames/s (range {min(fps):.1f}–{max(fps):.1f})")
    print(f"  training accuracy at the end: {results['accuracy']} %")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, help="a built site (default: build one now)")
    parser.add_argument("--seconds", type=float, default=8.0, help="length of one round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    node_steps(args.rounds)
    tmp = None
    folder = args.site
    if folder is None:
        from apps.site.build import build

        tmp = Path(tempfile.mkdtemp())
        folder = build(tmp / "site", notebooks=False)
    try:
        with headless_chromium(Path(tempfile.mkdtemp()) / "profile", window="1400,1000") as d:
            site, served = "Python in this page", "connected"
            with site_server(folder) as url:
                report("site (Pyodide in a worker), tanh + cross-entropy",
                       measure(d, url, site, args.seconds, args.rounds))
                report("site, relu + hinge, JavaScript replay",
                       measure(d, url, site, args.seconds, args.rounds, relu_hinge))
                report("site, relu + hinge, ?replay=python",
                       measure(d, url + "?replay=python", site, args.seconds, args.rounds,
                               relu_hinge))
            with playground_server() as url:
                report("served (python -m nn.playground), tanh + cross-entropy",
                       measure(d, url, served, args.seconds, args.rounds))
                report("served, relu + hinge",
                       measure(d, url, served, args.seconds, args.rounds, relu_hinge))
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
