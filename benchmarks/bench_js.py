"""Benchmark: the JavaScript replay under Node against the Python replay, on the playground's step.

The workload: two moons, 200 points, MLP(2, [8, 8, 1]), full batch, forward + backward + SGD
update, as the playground trains it. Two settings: the playground's defaults (tanh, cross-entropy,
lr 0.1), whose JavaScript uses Math.tanh, Math.exp and Math.log1p (``exact=False``: equal to
eager to about 1e-15, not to the bit), and relu with the hinge loss (exact: bit for bit). Both
replays run the same full-batch graph. The rows take turns (a Node process per round: load the
source, warm up, time the steps), and the table gives the median step and the range of the
rounds' medians. Before timing, one step of each is checked against eager. Each setting is
also run in the playground's own shape: one example's graph, its point and target as inputs,
``batch`` over the 200 rows (JavaScript's ``batch`` against the Python replay's).

    python benchmarks/bench_js.py            # about a minute
    python benchmarks/bench_js.py --quick    # a smoke run
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import autograd
import nn
from autograd.compile import javascript
from nn import losses

POINTS, HIDDEN, SEED = 200, [8, 8, 1], 1

# Runs `steps` SGD steps per round after `warmup` untimed ones; prints the per-step times (ms)
# of each round and the loss after the first step, as the hexadecimal bytes of the double.
NODE_SCRIPT = r"""
const fs = require('fs');
const job = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const r = new Function(job.source)();
const V = new Float64Array(r.size), G = new Float64Array(r.size);
job.leaves.forEach((x, k) => { V[k] = x; });
const P = job.params, lr = job.lr;
function step() {
  r.forward(V);
  r.backward(V, G, 1.0);
  for (let i = 0; i < P.length; i++) V[P[i]] -= lr * G[P[i]];
  return V[r.size - 1];
}
const first = step();
for (let i = 0; i < job.warmup; i++) step();
const times = [];
for (let i = 0; i < job.steps; i++) {
  const t = process.hrtime.bigint();
  step();
  times.push(Number(process.hrtime.bigint() - t) / 1e6);
}
const b = Buffer.alloc(8);
b.writeDoubleLE(first);
process.stdout.write(JSON.stringify({first: b.toString('hex'), times}));
"""


NODE_ROWS_SCRIPT = r"""
const fs = require('fs');
const job = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const r = new Function(job.source)();
const V = new Float64Array(r.size), G = new Float64Array(r.size);
job.leaves.forEach((x, k) => { V[k] = x; });
const X = Float64Array.from(job.X), Y = new Float64Array(job.rows);
const GW = new Float64Array(job.leaves.length);
const P = job.params, lr = job.lr;
function step() {
  GW.fill(0);
  r.batch(V, G, X, job.rows, Y, 1 / job.rows, GW);
  for (let i = 0; i < P.length; i++) V[P[i]] -= lr * GW[P[i]];
  let s = 0;
  for (let i = 0; i < job.rows; i++) s += Y[i];
  return s / job.rows;
}
const first = step();
for (let i = 0; i < job.warmup; i++) step();
const times = [];
for (let i = 0; i < job.steps; i++) {
  const t = process.hrtime.bigint();
  step();
  times.push(Number(process.hrtime.bigint() - t) / 1e6);
}
const b = Buffer.alloc(8);
b.writeDoubleLE(first);
process.stdout.write(JSON.stringify({first: b.toString('hex'), times}));
"""


def build(activation: str, loss_name: str):
    X, y = nn.datasets.make_moons(POINTS, noise=0.1, seed=SEED)
    model = nn.MLP(2, HIDDEN, activation=activation, seed=SEED)
    scores = [model(x) for x in X]
    loss = losses.bce_with_logits(scores, y) if loss_name == "cross-entropy" else \
        losses.hinge(scores, y)
    return model, loss


def python_rounds(model, loss, lr: float, warmup: int, steps: int) -> tuple[float, list]:
    params = model.parameters()
    graph = autograd.compile(loss, backend="python")

    def step() -> float:
        value = graph.forward()
        for p in params:
            p.grad = 0.0
        graph.backward()
        for p in params:
            p.data -= lr * p.grad
        return value
    first = step()
    for _ in range(warmup):
        step()
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        step()
        times.append((time.perf_counter() - t) * 1e3)
    return first, times


def node_round(node: str, job: dict, script: str = NODE_SCRIPT) -> tuple[float, list]:
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "step.js").write_text(script)
        (Path(tmp) / "job.json").write_text(json.dumps(job))
        out = subprocess.run([node, str(Path(tmp) / "step.js"), str(Path(tmp) / "job.json")],
                             capture_output=True, text=True, check=True, timeout=600).stdout
    result = json.loads(out)
    return struct.unpack("<d", bytes.fromhex(result["first"]))[0], result["times"]


def measure(node: str, activation: str, loss_name: str, lr: float, exact: bool,
            quick: bool) -> dict:
    rounds, warmup, steps = (2, 20, 20) if quick else (5, 200, 200)
    model, loss = build(activation, loss_name)
    t = time.perf_counter()
    js = javascript(loss, exact=exact)
    js_build = time.perf_counter() - t
    slot = {id(leaf): k for k, leaf in enumerate(js.leaves)}
    job = {"source": js.source, "leaves": [leaf.data for leaf in js.leaves], "lr": lr,
           "params": [slot[id(p)] for p in model.parameters()], "warmup": warmup,
           "steps": steps}
    eager_first = loss.data
    per = {"javascript (node)": [], "python replay": []}
    for _ in range(rounds):
        js_first, js_times = node_round(node, job)
        model, loss = build(activation, loss_name)
        py_first, py_times = python_rounds(model, loss, lr, warmup // 10, steps // 10)
        if (js_first != eager_first if exact else
                abs(js_first - eager_first) > 1e-12 * abs(eager_first)) or \
                py_first != eager_first:
            raise AssertionError(f"first loss: javascript {js_first!r}, python {py_first!r}, "
                                 f"eager {eager_first!r}")
        per["javascript (node)"].append(js_times)
        per["python replay"].append(py_times)
    out = {"setting": f"{activation}, {loss_name}, lr {lr}", "exact": exact,
           "nodes": js.size, "source_kb": len(js.source) / 1024, "javascript_s": js_build}
    for name, rs in per.items():
        medians = [statistics.median(r) for r in rs]
        every = [t for r in rs for t in r]
        out[name] = {"median_ms": statistics.median(every),
                     "round_medians_ms": [min(medians), max(medians)],
                     "steps_per_s": 1e3 / statistics.median(every)}
    out["python / javascript"] = (out["python replay"]["median_ms"]
                                  / out["javascript (node)"]["median_ms"])
    return out


def example_term(activation: str, loss_name: str):
    """One example's loss term with its point and target as inputs (the playground's shape:
    ``nn.train.example_graph``); the full-batch mean is the mean of the rows' terms."""
    X, y = nn.datasets.make_moons(POINTS, noise=0.1, seed=SEED)
    model = nn.MLP(2, HIDDEN, activation=activation, seed=SEED)
    x1, x2, t = autograd.Value(0.0), autograd.Value(0.0), autograd.Value(0.0)
    z = model([x1, x2])
    if loss_name == "cross-entropy":   # softplus(z) - y·z, as nn.losses.bce_with_logits
        term, rows = z.softplus() - t * z, [[a, b, float(c)] for (a, b), c in zip(X, y)]
    else:                              # relu(1 - s·z), s = ±1, as nn.losses.hinge
        term, rows = (1.0 - t * z).relu(), [[a, b, 2.0 * c - 1.0] for (a, b), c in zip(X, y)]
    return model, term, [x1, x2, t], rows


def python_rows_round(activation: str, loss_name: str, lr: float, warmup: int,
                      steps: int) -> tuple[float, list]:
    """The Python replay of one example's graph, ``batch`` over the rows, then SGD."""
    model, term, inputs, rows = example_term(activation, loss_name)
    graph = autograd.compile(term, backend="python", inputs=inputs)
    params = model.parameters()

    def step() -> float:
        for p in params:
            p.grad = 0.0
        values = graph.batch(rows, gradient=1 / len(rows))
        for p in params:
            p.data -= lr * p.grad
        return sum(values) / len(values)
    first = step()
    for _ in range(warmup):
        step()
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        step()
        times.append((time.perf_counter() - t) * 1e3)
    return first, times


def measure_rows(node: str, activation: str, loss_name: str, lr: float, exact: bool,
                 quick: bool) -> dict:
    """The playground's own shape: one example's graph run over the rows (``batch``)."""
    rounds, warmup, steps = (2, 20, 20) if quick else (5, 200, 200)
    model, term, inputs, rows = example_term(activation, loss_name)
    js = javascript(term, inputs=inputs, exact=exact)
    slot = {id(leaf): k for k, leaf in enumerate(js.leaves)}
    job = {"source": js.source, "leaves": [leaf.data for leaf in js.leaves], "lr": lr,
           "params": [slot[id(p)] for p in model.parameters()], "warmup": warmup,
           "steps": steps, "rows": len(rows), "X": [v for row in rows for v in row]}
    want = build(activation, loss_name)[1].data
    per = {"javascript rows (node)": [], "python replay rows": []}
    for _ in range(rounds):
        js_first, js_times = node_round(node, job, NODE_ROWS_SCRIPT)
        py_first, py_times = python_rows_round(activation, loss_name, lr, warmup // 10,
                                               steps // 10)
        for got in (js_first, py_first):
            if abs(got - want) > 1e-12 * abs(want):
                raise AssertionError(f"rows: first loss {got!r}, full-batch eager {want!r}")
        per["javascript rows (node)"].append(js_times)
        per["python replay rows"].append(py_times)
    out = {"nodes": js.size, "source_kb": len(js.source) / 1024}
    for name, rs in per.items():
        medians = [statistics.median(r) for r in rs]
        every = [t for r in rs for t in r]
        out[name] = {"median_ms": statistics.median(every),
                     "round_medians_ms": [min(medians), max(medians)],
                     "steps_per_s": 1e3 / statistics.median(every)}
    out["python / javascript"] = (out["python replay rows"]["median_ms"]
                                  / out["javascript rows (node)"]["median_ms"])
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds and steps")
    args = parser.parse_args(argv)
    node = shutil.which("node")
    if node is None:
        print("node is not installed", file=sys.stderr)
        return 2
    version = subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip()
    print(f"node {version}; moons {POINTS} points, MLP(2, {HIDDEN}), full batch")
    print(f"{'setting':<34}{'row':<20}{'ms/step':>9}{'rounds':>16}{'steps/s':>9}")
    for activation, loss_name, lr, exact in (("tanh", "cross-entropy", 0.1, False),
                                             ("relu", "hinge", 0.1, True)):
        r = measure(node, activation, loss_name, lr, exact, args.quick)
        for name in ("javascript (node)", "python replay"):
            lo, hi = r[name]["round_medians_ms"]
            print(f"{r['setting'] + (' (exact)' if exact else ''):<34}{name:<20}"
                  f"{r[name]['median_ms']:>9.3f}{f'{lo:.3f}-{hi:.3f}':>16}"
                  f"{r[name]['steps_per_s']:>9.0f}")
        print(f"{'':<34}python / javascript {r['python / javascript']:.1f}x; {r['nodes']} "
              f"nodes, source {r['source_kb']:.0f} KB written in {r['javascript_s']:.2f} s")
        r = measure_rows(node, activation, loss_name, lr, exact, args.quick)
        for name in ("javascript rows (node)", "python replay rows"):
            lo, hi = r[name]["round_medians_ms"]
            print(f"{'  one example, batch over rows':<34}{name:<20}"
                  f"{r[name]['median_ms']:>9.3f}{f'{lo:.3f}-{hi:.3f}':>16}"
                  f"{r[name]['steps_per_s']:>9.0f}")
        print(f"{'':<34}python / javascript {r['python / javascript']:.1f}x; {r['nodes']} "
              f"nodes, source {r['source_kb']:.0f} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
