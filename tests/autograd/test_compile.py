"""autograd.compile against the eager engine, PyTorch and calculus."""
from __future__ import annotations

import importlib.util
import math
import os
import random
import shutil
import signal
import struct
from contextlib import contextmanager
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import autograd
import nn
from autograd import Constant, Value
from nn import losses
from programs import BINARY, UNARY, close, eager, instruction, points, program
from support import ROOT, numpy_scalar
from oracle import torch






@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(instruction, min_size=1, max_size=25), points, points, st.sampled_from(["code",
                                                                                       "tape"]))
def test_random_graphs_replay_like_eager(instrs, first, second, mode):
    """Compiled at one point, replayed at another: value and gradients equal eager's there."""
    build = program(instrs)
    xs = [Value(d) for d in first]
    root = build(xs)
    graph = autograd.compile(root, mode=mode)
    for point in (first, second):
        for x, d in zip(xs, point):
            x.data, x.grad = d, 0.0
        value = graph.forward()
        graph.backward()
        want_value, want_grads = eager(build, point)
        assert close(value, want_value), (value, want_value)
        for x, want in zip(xs, want_grads):
            assert close(x.grad, want), (x.grad, want)


def test_relu_and_abs_branches_follow_the_data():
    """A branch inside an op is taken at replay: flipping the sign flips the derivative."""
    x = Value(2.0)
    y = x.relu() * 3.0 + abs(x) * 5.0
    graph = autograd.compile(y)
    for v, want_y, want_g in [(2.0, 16.0, 8.0), (-2.0, 10.0, -5.0), (0.0, 0.0, 0.0),
                              (1.5, 12.0, 8.0)]:
        x.data, x.grad = v, 0.0
        assert graph.forward() == want_y
        graph.backward()
        assert x.grad == want_g


@pytest.mark.parametrize("base,exponent", [(0.0, 2.0), (0.0, 0.0), (0.0, 0.5), (2.0, 0.5),
                                           (-2.0, 3.0), (3.0, -1.0)])
def test_pow_special_cases_match_eager(base, exponent):
    a, b = Value(1.5), Value(1.5)
    graph = autograd.compile(a ** b)
    a.data, b.data = base, exponent
    value = graph.forward()
    graph.backward()
    want_value, (ga, gb) = eager(lambda v: v[0] ** v[1], [base, exponent])
    assert close(value, want_value)
    assert close(a.grad, ga) and close(b.grad, gb)


def test_against_pytorch():
    """Independent oracle: a small network's gradients against torch float64."""
    rng = random.Random(0)
    w = [rng.uniform(-1, 1) for _ in range(12)]
    x = [0.3, -1.2, 0.7]
    ws = [Value(v) for v in w]
    h = [autograd.dot(ws[3 * j:3 * j + 3], x, 0.1).tanh() for j in range(3)]
    out = autograd.dot(ws[9:12], [hj.relu() for hj in h]).sigmoid().log()
    graph = autograd.compile(out)
    ws[0].data += 0.25  # replay somewhere new
    value = graph.forward()
    graph.backward()

    tw = torch.tensor([v + (0.25 if i == 0 else 0.0) for i, v in enumerate(w)],
                      dtype=torch.float64, requires_grad=True)
    tx = torch.tensor(x, dtype=torch.float64)
    th = torch.stack([torch.tanh(tw[3 * j:3 * j + 3] @ tx + 0.1) for j in range(3)])
    tout = torch.log(torch.sigmoid(tw[9:12] @ torch.relu(th)))
    tout.backward()
    assert value == pytest.approx(tout.item(), rel=1e-12)
    for p, g in zip(ws, tw.grad.tolist()):
        assert p.grad == pytest.approx(g, rel=1e-10, abs=1e-15)


def moons_setup(seed: int = 1):
    X, y = nn.datasets.make_moons(100, noise=0.1, seed=seed)
    model = nn.MLP(2, [16, 16, 1], seed=seed)
    return X, y, model


def moons_loss(model, X, y):
    return losses.hinge([model(x) for x in X], y) + losses.l2(model.parameters(), 1e-4)


@pytest.mark.parametrize("mode", ["code", "tape"])
def test_moons_sgd_steps_match_eager(mode):
    """The benchmark's step: several SGD updates, compiled against eager, to 1e-12."""
    X, y, m_eager = moons_setup()
    _, _, m_comp = moons_setup()
    p_eager, p_comp = m_eager.parameters(), m_comp.parameters()
    graph = autograd.compile(moons_loss(m_comp, X, y), mode=mode)
    lr = 0.5  # large enough that relus change sides between steps
    for _ in range(6):
        loss = moons_loss(m_eager, X, y)
        for p in p_eager:
            p.grad = 0.0
        loss.backward()
        value = graph.forward()
        for p in p_comp:
            p.grad = 0.0
        graph.backward()
        assert close(value, loss.data)
        for a, b in zip(p_comp, p_eager):
            assert close(a.grad, b.grad), (a.label, a.grad, b.grad)
            a.data -= lr * a.grad
            b.data -= lr * b.grad


def test_value_reads_interior_nodes_after_forward():
    X, y, model = moons_setup()
    scores = [model(x) for x in X]
    loss = losses.hinge(scores, y)
    graph = autograd.compile(loss)
    for p in model.parameters():
        p.data *= 0.9
    graph.forward()
    fresh = [model(x).data for x in X]
    assert graph.values(scores) == fresh
    with pytest.raises(KeyError, match="not a node"):
        graph.value(Value(1.0))


def test_backward_accumulates_into_leaves_like_value_backward():
    a, b = Value(3.0), Value(-2.0)
    out = a * b + a
    graph = autograd.compile(out)
    graph.backward()
    graph.backward(2.0)
    assert (a.grad, b.grad) == (3 * (b.data + 1.0), 3 * a.data)
    # Interior nodes and Constants are not written.
    c = Value(1.0)
    out2 = c * 4.0
    autograd.compile(out2).backward()
    assert c.grad == 4.0
    assert all(p.grad == 0.0 for p in out2.parents if isinstance(p, Constant))


def test_zero_upstream_gradient_skips_nothing_that_matters():
    """A relu that is off sends zero back through a dot; gradients stay exact."""
    w = [Value(0.5), Value(-0.25)]
    net = autograd.dot(w, [1.0, 2.0], 0.0)  # 0.0 here: relu at exactly 0 has derivative 0
    out = net.relu() + w[0] * 2.0
    graph = autograd.compile(out)
    graph.forward()
    graph.backward()
    assert (w[0].grad, w[1].grad) == (2.0, 0.0)
    w[1].data = 1.0
    for p in w:
        p.grad = 0.0
    graph.forward()
    graph.backward()
    assert (w[0].grad, w[1].grad) == (3.0, 2.0)


def test_custom_primitives_replay():
    """A traceable primitive is inlined; one that calls C code is called at replay."""
    cube = autograd.extend.primitive("cube", lambda a: a * a * a, lambda a, out: (3.0 * a * a,),
                              arity=1)
    atan = autograd.extend.primitive("atan", math.atan, lambda a, out: (1.0 / (1.0 + a * a),),
                              arity=1)
    x = Value(0.5)
    out = cube(x) + atan(x)
    graph = autograd.compile(out)
    x.data = -1.25
    value = graph.forward()
    graph.backward()
    assert close(value, (-1.25) ** 3 + math.atan(-1.25), 1e-15)
    assert close(x.grad, 3 * 1.25 ** 2 + 1 / (1 + 1.25 ** 2), 1e-15)


def test_domain_errors_at_replay_name_the_op():
    x = Value(2.0)
    graph = autograd.compile(x.log() + 1.0 / x)
    x.data = -1.0
    with pytest.raises(ValueError, match="log"):
        graph.forward()
    x.data = 0.0
    with pytest.raises((ValueError, ZeroDivisionError), match="log|div"):
        graph.forward()


def test_clear_errors():
    with pytest.raises(TypeError, match="compile: expected a Value"):
        autograd.compile(3.0)
    with pytest.raises(ValueError, match="leaf"):
        autograd.compile(Value(1.0))
    with autograd.no_grad():
        detached = Value(1.0) * 2.0
    with pytest.raises(ValueError, match="no_grad"):
        autograd.compile(detached)
    with pytest.raises(ValueError, match="mode"):
        autograd.compile(Value(1.0) * 2.0, mode="fast")
    with pytest.raises(TypeError, match="gradient"):
        autograd.compile(Value(1.0) * 2.0).backward("1")


@pytest.mark.slow
@pytest.mark.deep
def test_million_deep_chain_compiles_and_differentiates():
    """Auto mode picks the tape past MAX_CODE_NODES; calculus: d(w^n x)/dw = n w^(n-1) x.
    The native replay walks the same graph (built once here, it is the slow part)."""
    n = 1_000_000
    w, x = Value(1.0 - 1e-7), Value(1.5)
    y = x
    for _ in range(n):
        y = y * w
    for backend in ("python", "native"):
        try:
            graph = autograd.compile(y, backend=backend)
        except autograd.NativeUnavailable:
            continue
        assert graph.mode == ("tape" if backend == "python" else "native")
        w.grad = x.grad = 0.0
        assert close(graph.forward(), 1.5 * w.data ** n, 1e-9)
        graph.backward()
        assert close(w.grad, n * w.data ** (n - 1) * 1.5, 1e-6)
        assert close(x.grad, w.data ** n, 1e-9)


@pytest.mark.deep
def test_generated_code_stays_flat():
    """Deep chains and very wide sums as straight-line code: no recursion in Python's compiler."""
    x = Value(0.5)
    y = x
    for _ in range(20_000):
        y = (y * 0.9999 + 0.01).tanh()
    wide = autograd.sum([x * float(i) for i in range(5000)])
    for root, want in [(y, None), (wide, sum(float(i) for i in range(5000)))]:
        graph = autograd.compile(root, mode="code")
        x.grad = 0.0
        assert graph.forward() == root.data
        graph.backward()
        if want is not None:
            assert x.grad == want
        else:
            assert close(x.grad, autograd.grad(root, [x])[0])


def test_fit_compile_matches_eager_fit():
    X, y, m1 = moons_setup(seed=3)
    _, _, m2 = moons_setup(seed=3)
    h1 = nn.fit(m1, X, y, steps=8, l2=1e-4, progress=False)
    h2 = nn.fit(m2, X, y, steps=8, l2=1e-4, progress=False, compile=True)
    assert h1.accuracy == h2.accuracy
    assert all(close(a, b) for a, b in zip(h1.loss, h2.loss))
    assert all(close(a.data, b.data) for a, b in zip(m1.parameters(), m2.parameters()))


def test_fit_compile_trains_on_mini_batches():
    # compile=True replays one example's graph over each batch (tests/test_nn_compiled.py
    # checks it against eager fit for every loss); only a loss fit does not know needs the
    # full batch.
    X, y, model = moons_setup()
    history = nn.fit(model, X, y, steps=3, batch_size=10, progress=False, compile=True)
    assert len(history) == 3
    with pytest.raises(ValueError, match="full batch only"):
        nn.fit(model, X, y, loss=lambda o, t: nn.losses.mse(o, t), steps=1, batch_size=10,
               progress=False, compile=True)


def test_benchmark_rows_compute_the_same_step():
    """The benchmark's hand-written floor trains exactly like eager (same loss, same steps)."""
    path = ROOT / "benchmarks" / "bench.py"
    spec = importlib.util.spec_from_file_location("bench", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    X, y, model = moons_setup()
    weights = [p.data for p in model.parameters()]
    eager_step = bench.eager_row(X, y, model)
    hand = bench.handwritten_row(X, y, weights)
    for _ in range(3):
        assert close(hand(), eager_step(), 1e-9)


def test_branching_partials_are_traced_not_called():
    """relu, abs and pow become if/else in the generated code (the fast path), not calls."""
    from autograd.compile.trace import template
    for name, n in [("relu", 1), ("abs", 1), ("pow", 2), ("dot", 7), ("mul", 2)]:
        tpl = template(autograd.extend.OPS[name], n, "partials")
        lines, outs = tpl.py, tpl.py_outs
        assert len(outs) == n
        if name in ("relu", "abs", "pow"):
            assert any(line.lstrip().startswith("if ") for line in lines), name


# ------------------------------------------------------------- defects from the adversarial sweep

def _both(build, data, mode="code"):
    """(compiled value, compiled grads, eager value, eager grads) of ``build`` at ``data``."""
    xs = [Value(d) for d in data]
    graph = autograd.compile(build(xs), mode=mode)
    value = graph.forward()
    graph.backward()
    want_value, want_grads = eager(build, data)
    return value, [x.grad for x in xs], want_value, want_grads


@pytest.mark.parametrize("mode", ["code", "tape"])
@pytest.mark.parametrize("name,build,data", [
    # y - y sends exactly 0 back into y; 0 × an infinite or NaN factor is NaN in eager.
    ("tanh", lambda v: (lambda y: y - y + v[0])(v[0].tanh()), [math.nan]),
    ("sigmoid", lambda v: (lambda y: y - y + v[0])(v[0].sigmoid()), [math.nan]),
    ("mul", lambda v: (lambda y: y - y + v[1])(v[0] * v[1]), [math.inf, 2.0]),
    ("dot", lambda v: (lambda y: y - y + v[1])(autograd.dot([v[0]], [v[1]])), [math.inf, 2.0]),
    ("leaky", lambda v: (lambda y: y - y + v[1])(v[0].leaky_relu(v[1])), [-math.inf, 0.1]),
])
def test_zero_upstream_gradient_times_a_non_finite_partial_is_nan_like_eager(name, build, data,
                                                                               mode):
    value, grads, want_value, want_grads = _both(build, data, mode)
    assert close(value, want_value)
    assert any(math.isnan(g) for g in want_grads), "the case must reach a NaN in eager"
    for got, want in zip(grads, want_grads):
        assert close(got, want), (name, got, want)


HAVE_CC = shutil.which(os.environ.get("CC") or "cc") is not None
NATIVE = pytest.param("native", marks=pytest.mark.skipif(not HAVE_CC, reason="no C compiler"))


@pytest.mark.skipif(not HAVE_CC, reason="no C compiler")
def test_benchmark_fit_step_trains_as_eager():
    """bench.py's row for fit's step (one example's graph over the rows, the outputs kept
    from the same pass, SGD in C) trains exactly like eager."""
    spec = importlib.util.spec_from_file_location("bench", ROOT / "benchmarks" / "bench.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    X, y, model = moons_setup()
    eager_step = bench.eager_row(X, y, model)
    fit_step = bench._fit_step(X, y, nn.MLP(2, [16, 16, 1], seed=bench.SEED))
    for _ in range(3):
        assert close(fit_step(), eager_step(), 1e-12)


def _replayed(build, data, mode, seed=1.0):
    """The leaves' gradients from a compiled replay (``mode`` "code", "tape" or "native")."""
    xs = [Value(d) for d in data]
    kw = {"backend": "native"} if mode == "native" else {"mode": mode}
    graph = autograd.compile(build(xs), **kw)
    graph.forward()
    graph.backward(seed)
    return [x.grad for x in xs]


def _eager_grads(build, data, seed=1.0):
    xs = [Value(d) for d in data]
    build(xs).backward(seed)
    return [x.grad for x in xs]


def _bits(xs) -> list:
    return [struct.pack("<d", x) if x == x else "nan" for x in xs]


@pytest.mark.parametrize("mode", ["code", "tape", NATIVE])
@pytest.mark.parametrize("name,build,data", [
    # y - y sends exactly 0 back into y; the op forms 0 / x, which is 0 (not 0 · (1/x)).
    ("div", lambda v: (lambda y: y - y + v[0])(1.0 / v[0]), [1e-200]),
    ("log", lambda v: (lambda y: y - y + v[0])(v[0].log()), [5e-324]),
])
def test_zero_upstream_gradient_into_a_quotient_is_zero_like_eager(name, build, data, mode):
    """Calculus: ∂(y - y + x)/∂x = 1 whatever y is. Eager and every replay give exactly 1.

    PyTorch float64 agrees for log (it forms grad / x) and gives NaN for div (it forms
    0 · x⁻², and x⁻² overflows at 1e-200); calculus is the oracle for both.
    """
    want = _eager_grads(build, data)
    assert want == [1.0]
    assert _bits(_replayed(build, data, mode)) == _bits(want)


def _div_by_calculus(a: float, b: float, g: float) -> list[float]:
    """g·∂(a/b)/∂a = g/b and g·∂(a/b)/∂b = -g·a/b², in exact rational arithmetic."""
    a, b, g = Fraction(a), Fraction(b), Fraction(g)
    return [float(g / b), float(-g * a / (b * b))]


def _by_torch(build, data, seed) -> list[float]:
    xs = [torch.tensor(d, dtype=torch.float64, requires_grad=True) for d in data]
    build(xs).backward(torch.tensor(seed, dtype=torch.float64))
    return [x.grad.item() for x in xs]


@pytest.mark.parametrize("mode", ["code", "tape", NATIVE])
@pytest.mark.parametrize("name,build,data,seed,oracle", [
    # g / x with g = 1e-300 at x = 1e-310 is 1e10; g · (1/x) would be 1e-300 · inf = inf.
    ("log", lambda v: v[0].log(), [1e-310], 1e-300, _by_torch),
    # The divisor's -(g·out)/b is finite (about -1e300) where g · (-out/b) is -inf, as in
    # PyTorch: calculus is the oracle.
    ("div", lambda v: v[0] / v[1], [1e-20, 1e-310], 1e-300,
     lambda build, data, seed: _div_by_calculus(*data, seed)),
    # x ** -1 at 1e-300: -x⁻² overflows to -inf (Python's ** would raise OverflowError).
    ("pow", lambda v: v[0] ** -1, [1e-300], 1.0, _by_torch),
    ("pow both", lambda v: v[0] ** v[1], [1e-300, -0.5], 1.0, _by_torch),
])
def test_issue_cases_replay_exactly_like_eager(name, build, data, seed, oracle, mode):
    """Every replay adds the products the op table forms, bit for bit what eager adds; eager is
    checked against PyTorch float64, or calculus where PyTorch forms the product differently.
    (Second derivatives are not compiled: a replay runs the first-order backward only.)"""
    want = _eager_grads(build, data, seed)
    assert _bits(_replayed(build, data, mode, seed)) == _bits(want)
    for got, right in zip(want, oracle(build, data, seed)):
        assert close(got, right), (name, got, right)
    if name == "log":
        assert close(want[0], 1e10, 1e-14)
    if name.startswith("pow"):
        assert want[0] == -math.inf


# Edge values, and ops that send exactly 0 back (a - a) or meet huge and tiny quotients and
# powers: where forming g·(1/x) instead of g / x, or skipping a zero gradient, would show.
EDGES = [0.0, -0.0, 1e-200, -1e-200, 1e-310, 5e-324, 1e200, -1e200, 1e300, 0.5, -2.0,
         math.inf, -math.inf, math.nan]
EDGE_UNARY = {**UNARY, "zero": lambda a: a - a, "inv": lambda a: 1.0 / (a * a + 1e-300),
              "logsq": lambda a: (a * a + 5e-324).log(), "recip": lambda a: (a * a + 1e-300) ** -1}
edge_instruction = st.one_of(
    st.tuples(st.sampled_from(sorted(EDGE_UNARY)), st.integers(0, 10 ** 6)),
    st.tuples(st.sampled_from(sorted(BINARY)), st.integers(0, 10 ** 6), st.integers(0, 10 ** 6)),
)
edge_points = st.lists(st.one_of(st.sampled_from(EDGES), st.floats(-3, 3)), min_size=3,
                       max_size=3)


def edge_program(instrs):
    def build(xs):
        nodes = list(xs)
        for ins in instrs:
            if len(ins) == 2:
                nodes.append(EDGE_UNARY[ins[0]](nodes[ins[1] % len(nodes)]))
            else:
                nodes.append(BINARY[ins[0]](nodes[ins[1] % len(nodes)],
                                            nodes[ins[2] % len(nodes)]))
        total = nodes[0] * 1.0  # binary adds: every graph shares the native library
        for node in nodes[len(xs):]:
            total = total + node
        return total
    return build


def _outcome(run, point):
    """``run(point)``'s numbers as bits (NaN as one word), or the type of error it raised."""
    try:
        value, grads = run(point)
    except (ArithmeticError, ValueError) as e:
        return type(e)
    return _bits([value, *grads])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(edge_instruction, min_size=1, max_size=15), edge_points, edge_points,
       st.sampled_from([1.0, 0.0, 1e-300, 1e300, -2.0]),
       st.sampled_from(["code", "tape"] + (["native"] if HAVE_CC else [])))
def test_random_graphs_at_edge_values_replay_bit_for_bit_like_eager(instrs, first, second,
                                                                    seed, mode):
    """Built at one point, replayed there and at another: the replay's value and gradients
    are eager's bit for bit (zero signs included), or both raise the same error."""
    build = edge_program(instrs)
    xs = [Value(d) for d in first]
    try:
        root = build(xs)
    except (ArithmeticError, ValueError):
        return  # no graph to compile
    graph = autograd.compile(root, **({"backend": "native"} if mode == "native" else
                                      {"mode": mode}))

    def replay(point):
        for x, d in zip(xs, point):
            x.data, x.grad = d, 0.0
        value = graph.forward()
        graph.backward(seed)
        return value, [x.grad for x in xs]

    def run_eager(point):
        ys = [Value(d) for d in point]
        out = build(ys)
        out.backward(seed)
        return out.data, [y.grad for y in ys]

    for point in (first, second):
        assert _outcome(replay, point) == _outcome(run_eager, point)


def test_zero_upstream_gradient_still_skips_relu_that_is_off():
    """The exact skip keeps the fast path: a dot behind an off relu is not differentiated."""
    from autograd.compile.codegen import python_source
    w = [Value(0.5), Value(-0.25)]
    out = autograd.dot(w, [1.0, 2.0], 0.0).relu() + w[0] * 2.0
    src = python_source(autograd.graph.topological_order(out))
    assert any(line.strip().startswith("if g") for line in src.splitlines())


def test_primitive_reading_mutable_state_follows_it_at_replay():
    """Partials that read state are not frozen into the code at their first trace."""
    state = {"k": 2.0}
    scale = autograd.extend.primitive("scale", lambda a: state["k"] * a,
                               lambda a, out: (state["k"],), arity=1)
    for mode in ("code", "tape"):
        state["k"] = 2.0
        x = Value(1.0)
        graph = autograd.compile(scale(x) * 1.0, mode=mode)
        state["k"] = 5.0
        assert graph.forward() == 5.0
        graph.backward()
        assert x.grad == 5.0, mode


def test_primitive_traced_by_an_earlier_compile_is_not_reused_stale():
    state = {"k": 2.0}
    scale = autograd.extend.primitive("scale2", lambda a: state["k"] * a,
                               lambda a, out: (state["k"],), arity=1)
    x = Value(1.0)
    autograd.compile(scale(x) + 0.0).backward()
    state["k"] = 3.0
    x.grad = 0.0
    autograd.compile(scale(x) + 0.0).backward()
    assert x.grad == 3.0


@pytest.mark.parametrize("mode", ["code", "tape"])
def test_backward_after_leaves_changed_uses_the_current_leaves(mode):
    """x**3 compiled at 1, then x = 2 and backward() without forward(): 3·2² = 12."""
    x = Value(1.0)
    graph = autograd.compile(x ** 3, mode=mode)
    x.data = 2.0
    graph.backward()
    assert x.grad == 12.0
    assert graph.value(graph.root) == 8.0
    # And after a forward, an unchanged leaf does not need another one.
    x.grad = 0.0
    graph.forward()
    graph.backward()
    assert x.grad == 12.0


def test_backward_right_after_compile_of_a_graph_built_on_older_data():
    """A graph built at x = 1 whose leaf changed before compile: backward sees x = 3."""
    x = Value(1.0)
    y = x ** 3
    x.data = 3.0
    graph = autograd.compile(y)
    graph.backward()
    assert x.grad == 27.0


@contextmanager
def _alarm(seconds: int):
    """Fail (rather than hang) if the body runs far longer than a linear algorithm needs.
    WebAssembly has no alarm: there a quadratic compile shows as a hang."""
    if not hasattr(signal, "alarm"):
        yield
        return

    def fail(*_):
        raise TimeoutError(f"took over {seconds} s: compile is not linear in the input count")
    old = signal.signal(signal.SIGALRM, fail)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def test_wide_nary_nodes_compile_in_linear_time():
    """A dot of 20,000 inputs: 24 s to compile when filling templates was quadratic, about a
    second now; the alarm is far above linear and far below quadratic."""
    n = 10_000
    w = [Value(0.001 * (i % 7)) for i in range(n)]
    xs = [Value(1.0 + 0.001 * (i % 5)) for i in range(n)]
    with _alarm(20):
        graph = autograd.compile(autograd.dot(w, xs, 0.5) * 2.0, mode="code")
        graph.backward()
    assert all(a.grad == 2.0 * b.data and b.grad == 2.0 * a.data for a, b in zip(w, xs))


@pytest.mark.parametrize("mode", ["code", "tape"])
@pytest.mark.parametrize("seed", [2, 2.5, "np.float32", "np.int64", "Fraction"])
def test_backward_accepts_the_numbers_eager_accepts(seed, mode):
    import fractions

    if isinstance(seed, str) and seed.startswith("np."):
        seed = numpy_scalar(seed[3:], 2)
    seed = {"Fraction": fractions.Fraction(5, 2)}.get(seed, seed)
    x = Value(3.0)
    y = x * x
    y.backward(seed)
    want = x.grad
    x.grad = 0.0
    autograd.compile(y, mode=mode).backward(seed)
    assert x.grad == want


@pytest.mark.parametrize("mode", ["code", "tape"])
@pytest.mark.parametrize("seed", [True, "1", None, "Value", 1j])
def test_backward_rejects_what_eager_rejects(seed, mode):
    seed = Value(1.0) if seed == "Value" else seed
    x = Value(3.0)
    y = x * x
    with pytest.raises(TypeError):
        y.backward(seed)
    with pytest.raises(TypeError, match="gradient"):
        autograd.compile(y, mode=mode).backward(seed)
