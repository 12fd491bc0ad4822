"""The JavaScript replay (autograd.compile.javascript) run under Node against eager.

Values and gradients are compared as IEEE bit patterns: equal to the last bit (and in the sign
of zero) for every op whose JavaScript is exact, within 1e-12 for the ops replayed with
JavaScript's own Math functions (exact=False). Skips only where Node is not installed.
"""
from __future__ import annotations

import math
import random

import pytest

import autograd
import nn
from autograd import Value
from autograd.compile import JavaScriptUnsupported, javascript
from autograd.extend import OPS, primitive
from nn import losses
from node_replay import PRELUDE, bits, hexf, require_node, run, run_script, slots, unhex
from programs import BINARY, UNARY, cases, close, program, sample_points

pytestmark = require_node

UPSTREAM = [math.inf, -math.inf, math.nan, 0.0, -0.0, 2.5, 1.0]
EDGES = {  # gates closed, infinite slopes, signed zeros (as in the upstream sweep)
    "relu": [[-1.0], [0.0], [-0.0], [2.0]],
    "pow": [[2.0, 0.0], [-2.0, 0.0], [0.0, 0.0], [0.0, 0.5], [-0.0, 3.0], [3.0, 2.0]],
    "leaky_relu": [[1.5, 0.1], [-1.5, 0.1], [-1.5, 0.0], [0.0, 0.2]],
    "sqrt": [[0.0], [-0.0], [4.0], [2.0], [1e-300]],
    "abs": [[0.0], [-0.0], [-3.0]],
    "div": [[0.0, 2.0], [3.0, -0.5], [1e300, 1e-300], [-0.0, 3.0]],
    "log": [[1e-310], [2.0]],
    "mul": [[-0.0, 2.0], [math.inf, 0.5], [1e200, 1e200]],
    "add": [[-0.0, -0.0], [math.inf, -math.inf], [math.nan, 1.0]],
    "sum": [[-0.0, -0.0, -0.0], [1e308, 1e308, -1e308]],
    "exp": [[709.0], [-800.0]],
}
# The ops whose JavaScript calls Math.exp/log/tanh/sin/cos/log1p or a general **.
INEXACT = {"pow", "exp", "log", "tanh", "sigmoid", "softplus", "sin", "cos"}
EXACT_UNARY = ["relu", "abs", "neg", "leaky", "sqrt"]
EXACT_BINARY = ["add", "sub", "mul", "div", "sum", "dot"]


def same_bits(a: float, b: float) -> bool:
    return bits(a) == bits(b)


def points(name: str, n: int) -> list[list[float]]:
    return sample_points(OPS[name], n, count=3) + [p for p in EDGES.get(name, []) if len(p) == n]


def eager_case(root: Value, seed: float) -> tuple[list[float], list[float]]:
    """Every node's value in the replay's slot order, and each leaf's gradient times seed."""
    nodes = slots(root)
    leaves = [n for n in nodes if n.operation is None]
    for leaf in leaves:
        leaf.grad = 0.0
    root.backward(seed)
    return [n.data for n in nodes], [leaf.grad for leaf in leaves]


# ------------------------------------------------------------------------------ the op sweep

@pytest.fixture(scope="module")
def sweep():
    """Per (op, n): the cases (leaf values, upstream gradient, eager values and gradients)
    and what Node computed for them, all run in one Node process."""
    jobs, expected = [], []
    for param in cases():
        name, n = param.values
        for xs in points(name, n):
            vs = [Value(x) for x in xs]
            out = autograd.extend.apply(OPS[name], vs)
            exact = name not in INEXACT
            js = javascript(out, exact=exact)
            cs, want = [], []
            for g in UPSTREAM:
                values, grads = eager_case(out, g)
                cs.append({"leaves": [hexf(v.data) for v in js.leaves], "seed": hexf(g)})
                want.append((g, values, grads))
            jobs.append({"source": js.source, "cases": cs})
            expected.append((name, n, xs, exact, len(js.leaves), want))
    got = run(jobs)
    table: dict = {}
    for (name, n, xs, exact, nl, want), results in zip(expected, got):
        table.setdefault((name, n), []).append((xs, exact, nl, want, results))
    return table


@pytest.mark.parametrize("name,n", list(cases()))
def test_every_op_replays_in_javascript_as_eager(sweep, name, n):
    for xs, exact, nl, want, results in sweep[(name, n)]:
        for (g, values, grads), r in zip(want, results):
            where = (name, xs, g)
            assert r["ef"] == 0 and r["eb"] == 0, where  # nothing Python would raise here
            if exact:
                assert [bits(v) for v in r["V"]] == [bits(v) for v in values], where
                assert [bits(d) for d in r["G"][:nl]] == [bits(d) for d in grads], where
            else:
                assert all(close(a, b) for a, b in zip(r["V"], values)), where
                assert all(close(a, b) for a, b in zip(r["G"][:nl], grads)), where


@pytest.mark.parametrize("name", sorted(INEXACT))
def test_ops_that_need_javascripts_math_are_refused_unless_asked_for(name):
    op = OPS[name]
    vs = [Value(x) for x in sample_points(op, op.arity or 3, count=1)[0]]
    with pytest.raises(JavaScriptUnsupported, match=rf"{name} uses .*exact=False"):
        javascript(autograd.extend.apply(op, vs))


def test_the_exact_ops_are_the_table_but_the_inexact_ones():
    for name, op in OPS.items():
        vs = [Value(x) for x in sample_points(op, op.arity or 3, count=1)[0]]
        out = autograd.extend.apply(op, vs)
        if name in INEXACT:
            continue
        assert javascript(out).exact


# ------------------------------------------------------------------------------ random graphs

def random_programs(count: int, unary: list[str], binary: list[str], seed: int):
    rng = random.Random(seed)
    for _ in range(count):
        instrs = []
        for _ in range(rng.randint(1, 12)):
            if rng.random() < 0.5:
                instrs.append((rng.choice(unary), rng.randrange(10 ** 6)))
            else:
                instrs.append((rng.choice(binary), rng.randrange(10 ** 6), rng.randrange(10 ** 6)))
        datas = [[rng.uniform(-3, 3) for _ in range(3)] for _ in range(3)]
        yield program(instrs), datas


def replay_random(exact: bool, unary: list[str], binary: list[str], count: int, seed: int):
    """Each program compiled at its first data point and replayed at all three (relus and abs
    change branch between them), against eager built at each point."""
    jobs, want = [], []
    for build, datas in random_programs(count, unary, binary, seed):
        roots = [build([Value(x) for x in d]) for d in datas]
        js = javascript(roots[0], exact=exact)
        cs, expect = [], []
        for root in roots:
            values, grads = eager_case(root, 1.0)
            nl = len(grads)
            cs.append({"leaves": [hexf(v) for v in values[:nl]], "seed": hexf(1.0)})
            expect.append((values, grads))
        jobs.append({"source": js.source, "cases": cs})
        want.append(expect)
    return want, run(jobs)


def test_random_graphs_of_exact_ops_equal_eager_to_the_bit():
    want, got = replay_random(True, EXACT_UNARY, EXACT_BINARY, count=120, seed=1)
    for k, (expect, results) in enumerate(zip(want, got)):
        for (values, grads), r in zip(expect, results):
            assert r["ef"] == 0 and r["eb"] == 0, k
            assert [bits(v) for v in r["V"]] == [bits(v) for v in values], k
            assert [bits(d) for d in r["G"][:len(grads)]] == [bits(d) for d in grads], k


def test_random_graphs_of_every_op_are_close_with_javascripts_math():
    unary = sorted(set(UNARY) - {"cube"})  # a user primitive: no JavaScript replay
    want, got = replay_random(False, unary, sorted(BINARY), count=120, seed=2)
    for k, (expect, results) in enumerate(zip(want, got)):
        for (values, grads), r in zip(expect, results):
            if r["ef"] or r["eb"]:
                continue  # a step Python redoes (a math function out of range)
            assert all(close(a, b, rel=1e-12) for a, b in zip(r["V"], values)), k
            assert all(close(a, b, rel=1e-12) for a, b in zip(r["G"][:len(grads)], grads)), k


# ------------------------------------------------------------------------------ the demo step

def test_demo_mlp_trains_in_javascript_exactly_as_eager():
    """micrograd's demo step (moons, MLP(2, [16, 16, 1]), hinge + L2), 8 SGD steps: every
    parameter after them equal to eager's to the bit (relu gates and hinge margins flip)."""
    X, y = nn.datasets.make_moons(100, noise=0.1, seed=1)
    model = nn.MLP(2, [16, 16, 1], seed=1)
    loss = losses.hinge([model(x) for x in X], y) + losses.l2(model.parameters(), 1e-4)
    js = javascript(loss)
    params = model.parameters()
    pslot = {id(p): k for k, p in enumerate(js.leaves)}
    lr, steps = 0.5, 8
    job = {"source": js.source, "steps": steps, "lr": lr,
           "params": [pslot[id(p)] for p in params],
           "cases": [{"leaves": [hexf(v.data) for v in js.leaves]}]}
    for _ in range(steps):
        loss = losses.hinge([model(x) for x in X], y) + losses.l2(params, 1e-4)
        model.zero_grad()
        loss.backward()
        for p in params:
            p.data -= lr * p.grad
    (result,), = run([job])
    assert result["flags"] == 0
    assert [bits(result["V"][pslot[id(p)]]) for p in params] == [bits(p.data) for p in params]


# ------------------------------------------------------------------------------ many rows

BATCH_RUNNER = r"""
const r = new Function(job.source)();
const V = new Float64Array(r.size), G = new Float64Array(r.size);
job.leaves.forEach((h, k) => { V[k] = fromHex(h); });
const X = Float64Array.from(job.X.map(fromHex)), Y = new Float64Array(job.rows);
const GW = Float64Array.from(job.GW.map(fromHex)), Z = new Float64Array(job.rows);
const eb = r.batch(V, G, X, job.rows, Y, fromHex(job.seed), GW);
const em = r.map(V, X, job.rows, Z);
"""


def test_batch_and_map_over_rows_equal_eager_per_row_to_the_bit():
    """One example's graph (MLP(2, [8, 8, 1]) and its hinge term, the playground's shape),
    run over 40 rows in JavaScript: each row's value, and the parameters' .grad after a
    backward per row (gradient 1/40, grads not starting at 0), equal to eager per row."""
    X, y = nn.datasets.make_moons(40, noise=0.1, seed=3)
    model = nn.MLP(2, [8, 8, 1], seed=2)
    x1, x2, label = Value(0.0), Value(0.0), Value(1.0)
    term = (1.0 - label * model([x1, x2])).relu()
    js = javascript(term, inputs=[x1, x2, label])
    rows = [[a, b, 2.0 * t - 1.0] for (a, b), t in zip(X, y)]
    params = model.parameters()
    for k, p in enumerate(params):
        p.grad = 0.001 * (k % 7) - 0.003
    start = [hexf(leaf.grad) for leaf in js.leaves]
    want = []
    for row in rows:
        x1.data, x2.data, label.data = row
        out = (1.0 - label * model([x1, x2])).relu()
        want.append(out.data)
        out.backward(1 / len(rows))
    job = {"source": js.source, "leaves": [hexf(v.data) for v in js.leaves],
           "X": [hexf(v) for row in rows for v in row], "rows": len(rows),
           "GW": start, "seed": hexf(1 / len(rows))}
    script = PRELUDE + BATCH_RUNNER + ("process.stdout.write(JSON.stringify({eb, em, "
                                       "Y: Array.from(Y, toHex), Z: Array.from(Z, toHex), "
                                       "GW: Array.from(GW, toHex)}));")
    got = run_script(script, job)
    assert (got["eb"], got["em"]) == (0, 0)
    assert [bits(unhex(h)) for h in got["Y"]] == [bits(v) for v in want]
    assert [bits(unhex(h)) for h in got["Z"]] == [bits(v) for v in want]
    place = {id(leaf): k for k, leaf in enumerate(js.leaves)}
    assert [bits(unhex(got["GW"][place[id(p)]])) for p in params] == [bits(p.grad)
                                                                          for p in params]
    assert js.inputs == [place[id(x1)], place[id(x2)], place[id(label)]]


def test_inputs_must_be_leaves_of_the_graph_once():
    a, b = Value(1.0), Value(2.0)
    with pytest.raises(ValueError, match="leaf of the graph"):
        javascript(a * b, inputs=[a * b])
    with pytest.raises(ValueError, match="leaf of the graph"):
        javascript(a * 2.0, inputs=[b])
    with pytest.raises(ValueError, match="twice"):
        javascript(a * b, inputs=[a, a])


# ------------------------------------------------------------------------------ flags, errors

def test_a_step_python_would_raise_on_is_flagged():
    a, b = Value(1.0), Value(2.0)
    js = javascript(a / b)
    ok, zero = run([{"source": js.source, "cases": [
        {"leaves": [hexf(1.0), hexf(2.0)], "seed": hexf(1.0)},
        {"leaves": [hexf(1.0), hexf(0.0)], "seed": hexf(1.0)}]}])[0]
    assert (ok["ef"], ok["V"][-1]) == (0, 0.5)
    assert zero["ef"] == 1   # eager raises ZeroDivisionError there: the caller redoes it
    for build, bad in [(lambda v: v.exp(), 800.0), (lambda v: (v + 2.0).log(), -3.0),
                       (lambda v: v ** 0.5, -4.0), (lambda v: v ** -1.0, 0.0),
                       (lambda v: v ** 400.0, 10.0)]:
        v = Value(1.5)
        js = javascript(build(v), exact=False)
        leaves = [hexf(bad if leaf is v else leaf.data) for leaf in js.leaves]
        (r,), = run([{"source": js.source, "cases": [{"leaves": leaves, "seed": hexf(1.0)}]}])
        assert r["ef"] == 1, bad
        v.data = bad
        with pytest.raises((ArithmeticError, ValueError)):
            build(v)


def test_unsupported_graphs_are_typed_errors():
    cube = primitive("js_cube", lambda a: a * a * a, lambda a, out: (3.0 * a * a,), arity=1)
    with pytest.raises(JavaScriptUnsupported, match="js_cube"):
        javascript(cube(Value(2.0)) + 1.0, exact=False)
    with pytest.raises(ValueError, match="leaf"):
        javascript(Value(1.0))
    with pytest.raises(TypeError, match="Value"):
        javascript(1.0)


def test_source_is_a_self_contained_function_body():
    x = Value(3.0)
    js = javascript((x * x).relu() + 1.0)
    assert js.source.startswith('"use strict";')
    assert "require(" not in js.source and "import" not in js.source
    assert js.source.rstrip().endswith("return {forward, backward, map, batch, size: %d};"
                                       % js.size)
    assert js.leaves[0] is x and js.size == 5
