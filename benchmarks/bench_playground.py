"""Benchmark: is the playground live enough? Steps per second and heat-map refreshes per second.

The workload the issue names: two moons, 200 points, all of them in the full batch,
MLP(2, [8, 8, 1]), cross-entropy, SGD. Measured in one run:

1. one training step (forward + backward + update) as the playground runs it: one example's
   compiled graph replayed over the batch (``nn.train.example_graph``), against the eager
   ``nn.MLP`` step that builds the graph anew each time (the peer);
2. one frame of heat maps (every neuron over a 40×40 grid, the decision surface, encoded for the
   page): plain-float forward of the weights, against replaying a compiled one-example graph at
   each grid point (the alternative the playground did not take);
3. end to end: ``python -m nn.playground`` in its own process, a WebSocket client pressing play,
   then counting steps and frames received over a few seconds;
4. clicks and Ctrl-C while it trains: a WebSocket client presses play, adds points (none, or the
   2,000 the plane holds), times an add from click to the point coming back to every tab, then
   the process gets SIGINT and the time to its exit is measured. Each is run as a terminal
   starts the server and as a shell script's background job does (SIGINT ignored at start).

    python benchmarks/bench_playground.py           # a few minutes
    python benchmarks/bench_playground.py --quick   # a smoke run
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import autograd  # noqa: E402
from autograd import Value  # noqa: E402
from nn import MLP, losses, optim  # noqa: E402
from apps.playground.session import Session  # noqa: E402
from apps.playground.settings import Settings  # noqa: E402

SETTINGS = Settings(dataset="moons", points=200, test_fraction=0.0, hidden=(8, 8))


def timings(fn: Callable[[], object], warmup: int, runs: int) -> list[float]:
    """Wall times of ``runs`` calls of ``fn`` after ``warmup`` untimed ones, in seconds."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def summary(times: list[float]) -> str:
    ms = [t * 1e3 for t in times]
    return f"median {statistics.median(ms):7.2f} ms  (range {min(ms):.2f}–{max(ms):.2f})"


def eager_step(session: Session) -> Callable[[], float]:
    """The peer: nn.MLP building its graph for the whole batch each step, then backward."""
    model = MLP(**session.model.config())
    params = model.parameters()
    opt = optim.SGD(params, session.settings.lr)
    X = [[p.x, p.y] for p in session.train]
    y = [p.label for p in session.train]

    def step() -> float:
        loss = losses.bce_with_logits([model(x) for x in X], y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.data
    return step


def compiled_grid_frame(session: Session) -> Callable[[], list[float]]:
    """The alternative for heat maps: one compiled one-example graph replayed per grid point."""
    x1, x2 = Value(0.0, label="x1"), Value(0.0, label="x2")
    outs = [n_out for layer in _layer_nodes(session.model, [x1, x2]) for n_out in layer]
    root = autograd.sum(outs)
    compiled = autograd.compile(root)
    xs, ys = session.grid

    def frame() -> list[float]:
        values = []
        for a, b in zip(xs, ys):
            x1.data, x2.data = a, b
            compiled.forward()
            values.extend(compiled.values(outs))
        return values
    return frame


def _layer_nodes(model: MLP, inputs: list[Value]) -> list[list[Value]]:
    """Every neuron's output node for one example, layer by layer (public attributes only)."""
    layers, h = [], inputs
    for layer in model.layers:
        act = layer.activation
        outs = []
        for n in layer.neurons:
            net = autograd.dot(n.w, h, n.b)
            outs.append(net if act == "linear" else getattr(net, act)())
        layers.append(outs)
        h = outs
    return layers


@contextmanager
def served(ignore_sigint: bool = False):
    """``python -m nn.playground`` in its own process (started with SIGINT ignored, as a shell
    script's background job is, if asked); yields (process, url) and ends it if still running."""
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    prefix = ["sh", "-c", 'trap "" INT; exec "$@"', "sh"] if ignore_sigint else []
    proc = subprocess.Popen([*prefix, sys.executable, "-m", "nn.playground", "--no-browser"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    try:
        yield proc, re.search(r"http://\S+/", proc.stdout.readline())[0]
    finally:
        if proc.poll() is None:
            proc.terminate()
        proc.wait(60)
        proc.stdout.close()


def end_to_end(seconds: float) -> dict:
    """Serve in a separate process, press play over a WebSocket, count steps and frames."""
    with served() as (_, url):
        return asyncio.run(_watch(url, seconds))


async def _watch(url: str, seconds: float) -> dict:
    from tornado.websocket import websocket_connect
    ws = await websocket_connect(url.replace("http", "ws") + "ws",
                                 max_message_size=64 * 1024 * 1024)
    await ws.read_message()  # the state
    changes = {k: v for k, v in SETTINGS.as_json().items() if k in ("points", "test_fraction")}
    await ws.write_message(json.dumps({"cmd": "set", "settings": changes}))
    await ws.read_message()
    await ws.write_message(json.dumps({"cmd": "play"}))
    frames = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        msg = json.loads(await ws.read_message())
        if msg["type"] == "frame" and msg["running"] and msg["steps"] > 0:
            frames.append((time.perf_counter(), msg["steps"], msg["train_accuracy"]))
    ws.close()
    (t0, s0, _), (t1, s1, acc) = frames[0], frames[-1]
    return {"steps_per_s": (s1 - s0) / (t1 - t0), "frames_per_s": (len(frames) - 1) / (t1 - t0),
            "steps": s1, "accuracy": acc}


def add_cost(added: int) -> float:
    """Microseconds of one ``add`` command (median of 200) once ``added`` points are added."""
    session = Session(Settings())
    for k in range(added):
        session.command({"cmd": "add", "x": 0.0, "y": 0.0, "label": k % 2})
    times = []
    for k in range(200):
        t = time.perf_counter()
        session.command({"cmd": "add", "x": 0.5, "y": 0.5, "label": k % 2})
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e6


def interrupted(added: int, ignored: bool, rounds: int) -> dict:
    """Serve, press play over a WebSocket, add ``added`` points, time ``rounds`` more adds
    from sending to the echo, then SIGINT: the seconds from the signal to the exit."""
    with served(ignore_sigint=ignored) as (proc, url):
        result = asyncio.run(_click_while_playing(url, added, rounds))
        proc.send_signal(signal.SIGINT)
        start = time.perf_counter()
        proc.wait(60)
        result["exit_s"] = time.perf_counter() - start
        result["returncode"] = proc.returncode
        return result


async def _click_while_playing(url: str, added: int, rounds: int) -> dict:
    from tornado.websocket import websocket_connect
    ws = await websocket_connect(url.replace("http", "ws") + "ws",
                                 max_message_size=64 * 1024 * 1024)
    await ws.read_message()  # the state
    await ws.write_message(json.dumps({"cmd": "play"}))

    def add(k: int) -> str:
        return json.dumps({"cmd": "add", "x": -1.5 + 3.0 * (k % 50) / 50,
                           "y": -1.5 + 3.0 * (k // 50 % 50) / 50, "label": k % 2})

    async def until(kind: str, count: int = 1) -> dict:
        while True:
            msg = json.loads(await ws.read_message())
            if msg["type"] == "error":
                raise RuntimeError(msg["message"])
            if msg["type"] == kind and msg.get("running", True):
                count -= 1
                if not count:
                    return msg

    for k in range(added):
        await ws.write_message(add(k))
    if added:
        await until("points", added)
    clicks = []
    for k in range(added, added + rounds):
        t = time.perf_counter()
        await ws.write_message(add(k))
        echo = await until("points")
        clicks.append(time.perf_counter() - t)
        await ws.write_message(json.dumps({"cmd": "remove", "id": echo["added"][0]["id"]}))
        await until("points")
    frame = await until("frame")
    ws.close()
    return {"click_ms": statistics.median(clicks) * 1e3, "steps": frame["steps"],
            "sps": frame["sps"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, a shorter watch")
    args = parser.parse_args(argv)
    runs, watch = (5, 3.0) if args.quick else (30, 10.0)
    print(f"{platform.system()} {platform.machine()}, Python {platform.python_version()}, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} (other work inflates "
          "medians; the range shows the fastest)")
    print("workload: moons, 200 points in the full batch, MLP(2, [8, 8, 1]) tanh, "
          "cross-entropy, SGD\n")

    session = Session(SETTINGS)
    compiled = timings(session.step, 5, runs * 4)
    eager = timings(eager_step(session), 2, max(runs // 3, 3))
    print(f"training step, compiled replay:   {summary(compiled)}")
    print(f"training step, eager nn.MLP:      {summary(eager)}")
    print(f"  replay is {statistics.median(eager) / statistics.median(compiled):.1f}× faster; "
          f"at most {1 / statistics.median(compiled):.0f} steps/s before heat maps\n")

    plain = timings(session.frame, 2, runs)
    replay = timings(compiled_grid_frame(session), 1, max(runs // 3, 3))
    print(f"heat-map frame, plain floats:     {summary(plain)}  (all 17 neurons, 40×40, "
          "encoded)")
    print(f"grid by compiled one-example replay: {summary(replay)}  (values only)")
    print(f"  plain floats are {statistics.median(replay) / statistics.median(plain):.1f}× "
          "faster\n")

    e2e = end_to_end(watch)
    print(f"end to end over {watch:.0f} s (server process + WebSocket client): "
          f"{e2e['steps_per_s']:.0f} steps/s, {e2e['frames_per_s']:.1f} heat-map frames/s, "
          f"training accuracy {e2e['accuracy']}% after {e2e['steps']} steps")
    ok = e2e["steps_per_s"] >= 20 and e2e["frames_per_s"] >= 2
    print("target (≥ 20 steps/s, ≥ 2 frames/s):", "met" if ok else "NOT met")

    print("\nclicks and Ctrl-C while training (a WebSocket tab; SIGINT to exit):")
    print(f"  an add in the session: {add_cost(0):.1f} µs from 200 points on, "
          f"{add_cost(1_800):.1f} µs from 2,000 on (the median of 200 adds each)")
    repeats = 1 if args.quick else 3
    slowest = 0.0
    for added in (0, 1_999):
        for ignored in (False, True):
            runs_ = [interrupted(added, ignored, 5 if args.quick else 20) for _ in range(repeats)]
            exits = [r["exit_s"] for r in runs_]
            slowest = max(slowest, *exits)
            clean = all(r["returncode"] == 0 for r in runs_)
            how = "SIGINT ignored at start" if ignored else "from a terminal"
            print(f"  {200 + added:>5} points, {how:<23}: add echoed in "
                  f"{statistics.median(r['click_ms'] for r in runs_):5.1f} ms (median), "
                  f"{statistics.median(r['sps'] for r in runs_):5.0f} steps/s; exit after "
                  f"SIGINT {max(exits):.2f} s (slowest of {repeats}), "
                  f"{'exit code 0' if clean else 'NOT exit code 0'}")
            ok = ok and clean
    stopped = slowest <= 2.0
    print("target (exit 0 within 2 s of SIGINT while training):", "met" if stopped else "NOT met")
    return 0 if ok and stopped else 1


if __name__ == "__main__":
    sys.exit(main())
