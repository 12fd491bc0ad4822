"""Benchmark: micrograd's demo training step, five ways, plus memory and a million-deep chain.

The workload is micrograd's demo: two moons (100 points), MLP(2, [16, 16, 1]), SVM max-margin
loss + 1e-4·L2, full batch, forward + backward + SGD update. Every row starts from the same
weights and the script checks that all of them compute the same first loss before timing.

    python benchmarks/bench.py            # prints the table, writes benchmarks/results.json
    python benchmarks/bench.py --quick    # fewer repeats, a shorter chain (a smoke run)
"""
from __future__ import annotations

import argparse
import gc
import json
import operator
import os
import platform
import statistics
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import autograd  # noqa: E402
import nn  # noqa: E402
from nn import losses  # noqa: E402

SIZES = [2, 16, 16, 1]
ALPHA = 1e-4
LR = 0.05
SEED = 1


def median_step(step: Callable[[], float], warmup: int, runs: int) -> tuple[float, list[float]]:
    """Median wall time of ``step`` in seconds after ``warmup`` untimed calls, and all times."""
    for _ in range(warmup):
        step()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    return statistics.median(times), times


# ------------------------------------------------------------------------------------ the rows

def eager_row(X, y, model: nn.MLP) -> Callable[[], float]:
    """This project's nn.MLP: dot + relu nodes, hinge and L2 losses from nn.losses."""
    params = model.parameters()

    def step() -> float:
        loss = losses.hinge([model(x) for x in X], y) + losses.l2(params, ALPHA)
        for p in params:
            p.grad = 0.0
        loss.backward()
        for p in params:
            p.data -= LR * p.grad
        return loss.data
    return step


def compiled_row(X, y, model: nn.MLP) -> tuple[Callable[[], float], float]:
    """The same graph built once, compiled, and replayed every step."""
    params = model.parameters()
    loss = losses.hinge([model(x) for x in X], y) + losses.l2(params, ALPHA)
    t = time.perf_counter()
    graph = autograd.compile(loss)
    compile_time = time.perf_counter() - t

    def step() -> float:
        value = graph.forward()
        for p in params:
            p.grad = 0.0
        graph.backward()
        for p in params:
            p.data -= LR * p.grad
        return value
    return step, compile_time


def micrograd_row(X, y, weights, value_cls) -> Callable[[], float]:
    """micrograd's own MLP and demo loss, with ``value_cls`` as the Value class."""
    import micrograd.nn as mnn
    saved = mnn.Value
    mnn.Value = value_cls  # micrograd's classes look Value up in their module at call time
    try:
        model = mnn.MLP(2, SIZES[1:])
    finally:
        mnn.Value = saved
    params = model.parameters()
    for p, w in zip(params, weights):
        p.data = w
    inputs = [[value_cls(float(v)) for v in row] for row in X]
    signs = [1.0 if t else -1.0 for t in y]

    def step() -> float:
        # The loss as micrograd's demo writes it.
        mnn.Value = value_cls
        try:
            scores = list(map(model, inputs))
        finally:
            mnn.Value = saved
        margins = [(1 + -yi * si).relu() for yi, si in zip(signs, scores)]
        data_loss = sum(margins) * (1.0 / len(margins))
        reg_loss = ALPHA * sum(p * p for p in params)
        total = data_loss + reg_loss
        model.zero_grad()
        total.backward()
        for p in params:
            p.data -= LR * p.grad
        return total.data
    return step


def handwritten_row(X, y, weights) -> Callable[[], float]:
    """Plain floats and lists: the forward and backward of the network written out by hand."""
    it = iter(weights)
    layers = []  # per layer: list of (w list, b) in micrograd's parameter order
    for nin, nout in zip(SIZES, SIZES[1:]):
        layers.append([[next(it) for _ in range(nin)] + [next(it)] for _ in range(nout)])
    W = [[row[:-1] for row in layer] for layer in layers]
    B = [[row[-1] for row in layer] for layer in layers]
    signs = [1.0 if t else -1.0 for t in y]
    n = len(X)
    mul = operator.mul

    def step() -> float:
        W1, W2, W3 = W
        B1, B2, B3 = B
        gW = [[[0.0] * len(r) for r in Wl] for Wl in W]
        gB = [[0.0] * len(b) for b in B]
        gW1, gW2, gW3 = gW
        gB1, gB2, gB3 = gB
        data_loss = 0.0
        for x, s in zip(X, signs):
            z1 = [sum(map(mul, w, x), b) for w, b in zip(W1, B1)]
            h1 = [z if z > 0 else 0.0 for z in z1]
            z2 = [sum(map(mul, w, h1), b) for w, b in zip(W2, B2)]
            h2 = [z if z > 0 else 0.0 for z in z2]
            score = sum(map(mul, W3[0], h2), B3[0])
            margin = 1.0 - s * score
            if margin <= 0:
                continue
            data_loss += margin
            ds = -s / n
            g3 = gW3[0]
            for k, h in enumerate(h2):
                g3[k] += ds * h
            gB3[0] += ds
            dz2 = [ds * w if z > 0 else 0.0 for w, z in zip(W3[0], z2)]
            dh1 = [0.0] * len(h1)
            for j, d in enumerate(dz2):
                if d:
                    row, wrow = gW2[j], W2[j]
                    for k, h in enumerate(h1):
                        row[k] += d * h
                        dh1[k] += d * wrow[k]
                    gB2[j] += d
            for j, (d, z) in enumerate(zip(dh1, z1)):
                if z > 0:
                    row = gW1[j]
                    row[0] += d * x[0]
                    row[1] += d * x[1]
                    gB1[j] += d
        reg = 0.0
        for Wl, Bl, gWl, gBl in zip(W, B, gW, gB):
            for w, g in zip(Wl, gWl):
                for k, v in enumerate(w):
                    reg += v * v
                    g[k] += 2 * ALPHA * v
            for k, v in enumerate(Bl):
                reg += v * v
                gBl[k] += 2 * ALPHA * v
        for Wl, Bl, gWl, gBl in zip(W, B, gW, gB):
            for w, g in zip(Wl, gWl):
                for k in range(len(w)):
                    w[k] -= LR * g[k]
            for k in range(len(Bl)):
                Bl[k] -= LR * gBl[k]
        return data_loss / n + ALPHA * reg
    return step


# ------------------------------------------------------------------------- memory and depth

def bytes_per_node(value_cls, n: int) -> float:
    """tracemalloc bytes per node of a chain x ← x·w + c, built the same way in either engine."""
    gc.collect()
    w = value_cls(0.999)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    x = value_cls(1.0)
    for _ in range(n):
        x = x * w + 0.001
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del x
    gc.collect()
    # Each link makes the product, the sum and the number's leaf: three nodes.
    return (after - before) / (3 * n)


def deep_chain_backward(depth: int) -> dict:
    """Backward time of an ``depth``-deep chain in this engine, eagerly and from compile's tape."""
    w = autograd.Value(0.999999)
    x = autograd.Value(1.0)
    for _ in range(depth):
        x = x * w
    t = time.perf_counter()
    x.backward()
    eager = time.perf_counter() - t
    w_grad = w.grad
    graph = autograd.compile(x)
    w.grad = 0.0
    graph.forward()
    t = time.perf_counter()
    graph.backward()
    replay = time.perf_counter() - t
    if abs(w.grad - w_grad) > 1e-9 * abs(w_grad):
        raise AssertionError(f"deep chain: compiled ∂x/∂w {w.grad!r} != eager {w_grad!r}")
    return {"depth": depth, "backward_s": eager, "compiled_backward_s": replay,
            "compiled_mode": graph.mode}


def micrograd_deep_chain(depth: int) -> str:
    """What micrograd does with the same chain (its topological sort is recursive)."""
    from micrograd.engine import Value as MValue
    w, x = MValue(0.999999), MValue(1.0)
    for _ in range(depth):
        x = x * w
    try:
        x.backward()
    except RecursionError:
        return "RecursionError"
    return "ok"


# ---------------------------------------------------------------------------------- main

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, a shorter chain")
    parser.add_argument("--out", default=str(Path(__file__).with_name("results.json")))
    args = parser.parse_args(argv)
    try:
        from micrograd.engine import Value as MValue
    except ImportError:
        print("micrograd is not installed: pip install micrograd==0.1.0 (or `make bench`)",
              file=sys.stderr)
        return 2

    runs = 3 if args.quick else 7
    X, y = nn.datasets.make_moons(100, noise=0.1, seed=SEED)

    def fresh_model() -> nn.MLP:
        return nn.MLP(2, SIZES[1:], seed=SEED)

    # Same starting weights everywhere, in micrograd's parameter order (w..., b per neuron).
    weights = [p.data for p in fresh_model().parameters()]

    rows: dict[str, Callable[[], float]] = {}
    rows["micrograd"] = micrograd_row(X, y, weights, MValue)
    rows["eager"] = eager_row(X, y, fresh_model())
    rows["micrograd's graph"] = micrograd_row(X, y, weights, autograd.Value)
    compiled, compile_time = compiled_row(X, y, fresh_model())
    rows["compiled"] = compiled
    rows["hand-written"] = handwritten_row(X, y, weights)

    # Before timing: one step of each must give the same loss from the same weights.
    first = {name: step() for name, step in rows.items()}
    ref = first["eager"]
    for name, v in first.items():
        if abs(v - ref) > 1e-9 * abs(ref):
            raise AssertionError(f"{name} computes loss {v!r}, eager {ref!r}: not the same step")

    counts = {"micrograd": (1, runs), "micrograd's graph": (1, runs), "eager": (2, 3 * runs),
              "compiled": (3, 10 * runs), "hand-written": (3, 10 * runs)}
    results = {}
    for name, step in rows.items():
        gc.collect()
        warmup, n = counts[name]
        med, times = median_step(step, warmup, n)
        results[name] = {"median_ms": med * 1e3, "runs": n,
                         "min_ms": min(times) * 1e3, "max_ms": max(times) * 1e3}
    base = results["micrograd"]["median_ms"]
    for r in results.values():
        r["speedup_vs_micrograd"] = base / r["median_ms"]
    results["compiled"]["compile_s"] = compile_time

    chain = 20_000 if args.quick else 100_000
    ours = bytes_per_node(autograd.Value, chain)
    theirs = bytes_per_node(MValue, chain)
    depth = 100_000 if args.quick else 1_000_000
    deep = deep_chain_backward(depth)
    deep["micrograd"] = micrograd_deep_chain(2_000)

    hand = results["hand-written"]["median_ms"]
    targets = {
        "eager >= 30x micrograd": results["eager"]["speedup_vs_micrograd"] >= 30,
        "micrograd's graph >= 6x micrograd": results["micrograd's graph"][
            "speedup_vs_micrograd"] >= 6,
        "bytes per node <= 1/4 of micrograd": ours <= theirs / 4,
        "compiled <= 2x hand-written": results["compiled"]["median_ms"] <= 2 * hand,
    }
    report = {
        "workload": "two moons (100 points), MLP(2, [16, 16, 1]), SVM loss + 1e-4 L2, full "
                    "batch, forward + backward + SGD update; median per step",
        "machine": {"python": platform.python_version(),
                    "system": f"{platform.system()} {platform.machine()}",
                    "processor": platform.processor() or platform.machine(),
                    "cpus": os.cpu_count()},
        "quick": args.quick,
        "steps": results,
        "bytes_per_node": {"chain_links": chain, "autograd": ours, "micrograd": theirs,
                           "ratio": ours / theirs},
        "deep_chain": deep,
        "targets": targets,
    }

    print(f"{'row':<20}{'ms/step':>10}{'vs micrograd':>14}")
    for name, r in results.items():
        print(f"{name:<20}{r['median_ms']:>10.2f}{r['speedup_vs_micrograd']:>13.1f}x")
    print(f"compile time {compile_time:.2f} s (once)")
    print(f"bytes per node: autograd {ours:.0f}, micrograd {theirs:.0f} "
          f"(ratio {ours / theirs:.2f})")
    print(f"{depth:,}-deep chain backward: {deep['backward_s']:.2f} s eager, "
          f"{deep['compiled_backward_s']:.2f} s compiled ({deep['compiled_mode']}); "
          f"micrograd at 2,000 deep: {deep['micrograd']}")
    for name, ok in targets.items():
        print(f"  [{'x' if ok else ' '}] {name}")
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
