"""The native replay (C) against the Python replay, the eager engine, PyTorch and calculus."""
from __future__ import annotations

import math
import os
import shlex
import shutil
import struct
import subprocess
import sys
import warnings
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import autograd
import nn
from autograd import Value
from autograd.compile import leafio
from autograd.graph import topological_order
from autograd.compile.csource import cache_dir
from nn import losses
from programs import close, eager, instruction, points, program
from support import ROOT
from oracle import torch

compile_module = sys.modules["autograd.compile"]  # the name autograd.compile is the function
native_module = sys.modules["autograd.compile.native"]

AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0   # Pyodide has no user ids

pytestmark = pytest.mark.skipif(
    shutil.which((shlex.split(os.environ.get("CC") or "cc") or ["cc"])[0]) is None,
    reason="no C compiler")


@pytest.fixture(scope="module", autouse=True)
def private_cache(tmp_path_factory):
    """One fresh cache for the module: every library is built here at least once."""
    old = os.environ.get("AUTOGRAD_SCALAR_CACHE")
    os.environ["AUTOGRAD_SCALAR_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if old is None:
        del os.environ["AUTOGRAD_SCALAR_CACHE"]
    else:
        os.environ["AUTOGRAD_SCALAR_CACHE"] = old




@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(instruction, min_size=1, max_size=20), points, points)
def test_random_graphs_native_python_and_eager_agree(instrs, first, second):
    """Compiled at one point, replayed at others (relus and abs flip between them)."""
    build = program(instrs, mix="adds")
    xs, ys = [Value(d) for d in first], [Value(d) for d in first]
    native = autograd.compile(build(xs), backend="native")
    python = autograd.compile(build(ys), backend="python")
    for point in (second, first, [-p for p in second]):
        for x, y, d in zip(xs, ys, point):
            x.data, x.grad, y.data, y.grad = d, 0.0, d, 0.0
        value, py_value = native.forward(), python.forward()
        native.backward()
        python.backward()
        want_value, want_grads = eager(build, point)
        # The same IEEE operations, and libm behind Python's math as behind C: 1e-12 allows
        # for a libm that differs from the one Python uses.
        assert close(value, py_value) and close(value, want_value), (value, py_value, want_value)
        for x, y, want in zip(xs, ys, want_grads):
            assert close(x.grad, y.grad) and close(x.grad, want), (x.grad, y.grad, want)


def moons(seed: int = 1):
    X, y = nn.datasets.make_moons(100, noise=0.1, seed=seed)
    return X, y, nn.MLP(2, [16, 16, 1], seed=seed)


def moons_loss(model, X, y):
    return losses.hinge([model(x) for x in X], y) + losses.l2(model.parameters(), 1e-4)


def test_moons_sgd_50_steps_native_equals_eager():
    """The benchmark's step: additions, products, relu and max-margin only, so the same IEEE
    operations in the same order; equal bit for bit (the issue asks 1e-12)."""
    X, y, m_eager = moons()
    _, _, m_native = moons()
    p_eager, p_native = m_eager.parameters(), m_native.parameters()
    graph = autograd.compile(moons_loss(m_native, X, y), backend="native")
    assert graph.mode == "native"
    for _ in range(50):
        loss = moons_loss(m_eager, X, y)
        for p in p_eager:
            p.grad = 0.0
        loss.backward()
        value = graph.forward()
        for p in p_native:
            p.grad = 0.0
        graph.backward()
        assert value == loss.data
        for a, b in zip(p_native, p_eager):
            assert a.grad == b.grad
            a.data -= 0.5 * a.grad
            b.data -= 0.5 * b.grad


def test_against_pytorch():
    ws = [Value(0.1 * k - 0.5) for k in range(6)]
    x = [0.3, -1.2]
    h = [autograd.dot(ws[2 * j:2 * j + 2], x, 0.1).tanh() for j in range(2)]
    out = (autograd.dot(ws[4:6], h).sigmoid() + 0.5).log() + (ws[0] ** 2 + 1.0).sqrt()
    graph = autograd.compile(out, backend="native")
    graph.forward()
    graph.backward()
    tw = torch.tensor([w.data for w in ws], dtype=torch.float64, requires_grad=True)
    tx = torch.tensor(x, dtype=torch.float64)
    th = torch.stack([torch.tanh(tw[2 * j:2 * j + 2] @ tx + 0.1) for j in range(2)])
    tout = torch.log(torch.sigmoid(tw[4:6] @ th) + 0.5) + torch.sqrt(tw[0] ** 2 + 1.0)
    tout.backward()
    assert graph.value(out) == pytest.approx(tout.item(), rel=1e-12)
    for w, g in zip(ws, tw.grad.tolist()):
        assert w.grad == pytest.approx(g, rel=1e-10, abs=1e-15)


@pytest.mark.parametrize("build,bad,error,match", [
    (lambda x: x.log() + 1.0, -1.0, ValueError, "log"),
    (lambda x: 1.0 / x, 0.0, ZeroDivisionError, "div"),
    (lambda x: x.exp() * 2.0, 1000.0, OverflowError, "exp"),
    (lambda x: x ** 0.5 + 1.0, -2.0, ValueError, "pow"),
    (lambda x: x.sqrt() + 1.0, -1.0, ValueError, "sqrt"),
])
def test_domain_errors_at_replay_are_the_ops_own(build, bad, error, match):
    """Where Python raises, C flags the step and Python redoes it: the eager error exactly."""
    x = Value(2.0)
    graph = autograd.compile(build(x), backend="native")
    x.data = bad
    with pytest.raises(error, match=match):
        graph.forward()
    x.data = 2.0
    assert graph.forward() == build(Value(2.0)).data


def test_backward_overflow_is_infinite_like_eager():
    """pow's partial x**(y-1) overflows: eager, PyTorch float64 and the native replay all give
    -inf for x (calculus: -0.5·x^-1.5 = -5e449) and the same finite number for y."""
    x, y = Value(1e-300), Value(-0.5)
    out = x ** y
    out.backward()
    want = [x.grad, y.grad]
    tx, ty = (torch.tensor(d, dtype=torch.float64, requires_grad=True) for d in (1e-300, -0.5))
    (tx ** ty).backward()
    assert want[0] == tx.grad.item() == -math.inf
    assert close(want[1], ty.grad.item())
    x.grad = y.grad = 0.0
    graph = autograd.compile(out, backend="native")
    graph.backward()
    assert [x.grad, y.grad] == want


@pytest.mark.parametrize("build,data", [
    # y - y sends exactly 0 back into y; 0 × an infinite or NaN factor is NaN in eager.
    (lambda v: (lambda y: y - y + v[1])(autograd.dot([v[0]], [v[1]])), [math.inf, 2.0]),
    (lambda v: (lambda y: y - y + v[1])(autograd.dot([v[0]], [v[1]])), [2.0, math.nan]),
    (lambda v: (lambda y: y - y + v[1])(v[0] * v[1]), [-math.inf, 2.0]),
    (lambda v: (lambda y: y - y + v[1])(v[0].leaky_relu(v[1])), [-math.inf, 0.1]),
])
def test_zero_upstream_gradient_times_a_non_finite_input_is_nan_in_c_too(build, data):
    """C skips a node whose upstream gradient is 0 without looking at its inputs only when
    every value of the replay is finite; here one is not, and eager's NaN must come out."""
    want = _eager_grads(build, data)
    assert any(math.isnan(g) for g in want), "the case must reach a NaN in eager"
    xs = [Value(d) for d in data]
    graph = autograd.compile(build(xs), backend="native")
    graph.backward()
    assert all(close(x.grad, g) for x, g in zip(xs, want)), ([x.grad for x in xs], want)


def test_zero_upstream_gradients_behind_off_relus_with_all_values_finite():
    """Dots behind relus that are off get a zero gradient and are skipped: the weights in front
    of them get exactly what eager gives them (0.0), the others theirs, bit for bit."""
    # Four neurons on two rows; the biases put the second and fourth off on both rows.
    w = [[Value(0.5), Value(-1.5)], [Value(2.0), Value(1.0)], [Value(-0.5), Value(0.25)],
         [Value(1.0), Value(3.0)]]
    b = [Value(0.1), Value(-20.0), Value(1.0), Value(-30.0)]
    out_w = [Value(0.7), Value(-1.1), Value(0.3), Value(2.0)]
    rows = [[Value(1.0), Value(2.0)], [Value(-3.0), Value(0.5)]]
    loss = autograd.sum([autograd.dot(out_w, [autograd.dot(wj, x, bj).relu()
                                              for wj, bj in zip(w, b)]) for x in rows])
    params = [p for wj in w for p in wj] + b + out_w
    graph = autograd.compile(loss, backend="native")
    graph.backward()
    got = [p.grad for p in params]
    for p in params:
        p.grad = 0.0
    loss.backward()
    want = [p.grad for p in params]
    assert 0.0 in want and any(w != 0.0 for w in want), "the case must have both kinds"
    assert [struct.pack("<d", g) for g in got] == [struct.pack("<d", w) for w in want]


def _eager_grads(build, data):
    xs = [Value(d) for d in data]
    build(xs).backward()
    return [x.grad for x in xs]


def test_the_op_table_has_c_code_except_where_documented():
    """Everything is translated from the templates but the forwards that close over a math
    function (docs/compile.md names them); the rest of the table runs in C."""
    from autograd.compile.csource import Source
    src = Source([(autograd.extend.OPS["sum"], 3), (autograd.extend.OPS["dot"], 5)])
    called_back = set()
    for name, op in autograd.extend.OPS.items():
        n = op.arity or (3 if name == "sum" else 5)
        if src.forward_kind(op, n) < 0:
            called_back.add(f"{name} forward")
        if src.backward_kind(op, n) < 0:
            called_back.add(f"{name} partials")
    assert called_back <= {"pow forward", "sin forward", "cos forward", "sin partials",
                           "cos partials"}, called_back
    assert "void b" in src.code() and "m_tanh" in src.code()


def test_user_primitive_is_called_back_and_follows_its_state():
    state = {"k": 2.0}
    scale = autograd.extend.primitive("scale_n", lambda a: state["k"] * a,
                               lambda a, out: (state["k"],), arity=1)
    x = Value(1.0)
    graph = autograd.compile(scale(x) * 3.0, backend="native")
    state["k"] = 5.0
    assert graph.forward() == 15.0
    graph.backward()
    assert x.grad == 15.0


def test_backward_after_leaves_changed_uses_the_current_leaves():
    x = Value(1.0)
    graph = autograd.compile(x ** 3 + x * 0.0, backend="native")
    x.data = 2.0
    graph.backward()
    assert x.grad == 12.0
    assert graph.value(graph.root) == 8.0


@pytest.mark.parametrize("seed", [2, 2.5, "np.float32", "np.int64", "Fraction"])
def test_backward_accepts_the_numbers_eager_accepts(seed):
    import fractions

    import numpy as np
    seed = {"np.float32": np.float32(2.0), "np.int64": np.int64(2),
            "Fraction": fractions.Fraction(5, 2)}.get(seed, seed)
    x = Value(3.0)
    y = x * x
    graph = autograd.compile(y, backend="native")
    graph.backward(seed)
    assert x.grad == float(seed) * 6.0
    with pytest.raises(TypeError, match="gradient"):
        graph.backward(Value(1.0))
    with pytest.raises(TypeError, match="gradient"):
        graph.backward(True)


def test_values_accumulation_and_constants():
    a, b = Value(3.0), Value(-2.0)
    mid = a * b
    out = mid + a * 4.0
    graph = autograd.compile(out, backend="native")
    graph.backward()
    graph.backward(2.0)
    assert (a.grad, b.grad) == (3 * (b.data + 4.0), 3 * a.data)
    assert all(p.grad == 0.0 for p in out.parents[1].parents if isinstance(p, autograd.Constant))
    a.data = 1.0
    graph.forward()
    assert graph.values([mid, out]) == [-2.0, 2.0]
    with pytest.raises(KeyError, match="not a node"):
        graph.value(Value(1.0))


# ------------------------------------------------------------------------- many rows at once

def neuron():
    """A per-example graph: inputs x1, x2, label y; parameters w1, w2, b."""
    x1, x2, y = Value(0.0), Value(0.0), Value(1.0)
    w = [Value(0.5), Value(-0.25), Value(0.1)]
    score = autograd.dot(w[:2], [x1, x2], w[2]).tanh()
    loss = (1.0 - y * score).relu()
    return loss, [x1, x2, y], w


ROWS = [[0.5, -1.0, 1.0], [2.0, 0.25, -1.0], [-1.5, 1.5, 1.0], [0.0, 0.0, -1.0],
        [3.0, -2.0, -1.0]]


def eager_rows(rows, gradient=1.0):
    """Per row, build the graph eagerly and add its gradients into the same parameters."""
    _, _, w = neuron()
    values = []
    for x1, x2, y in rows:
        score = autograd.dot(w[:2], [x1, x2], w[2]).tanh()
        loss = (1.0 - y * score).relu()
        loss.backward(gradient)
        values.append(loss.data)
    return values, [p.grad for p in w]


@pytest.mark.parametrize("backend", ["native", "python"])
def test_map_and_batch_equal_eager_per_row(backend):
    loss, inputs, w = neuron()
    graph = autograd.compile(loss, backend=backend, inputs=inputs)
    want_values, want_grads = eager_rows(ROWS, 0.2)
    assert graph.map(ROWS) == want_values
    assert graph.batch(ROWS, gradient=0.2) == want_values
    assert [p.grad for p in w] == want_grads
    # The inputs are left as they were; the next backward() is that of the current leaves.
    assert [x.data for x in inputs] == [0.0, 0.0, 1.0] and all(x.grad == 0 for x in inputs)
    for p in w:
        p.grad = 0.0
    graph.backward()
    assert [p.grad for p in w] == autograd.grad(loss, w)


def test_map_over_a_grid_in_one_call():
    """A decision-boundary heat map: 10,000 rows, one compile, equal to eager on samples."""
    x1, x2 = Value(0.0), Value(0.0)
    model = nn.MLP(2, [8, 1], seed=0)
    graph = autograd.compile(model([x1, x2]), backend="native", inputs=[x1, x2])
    grid = [[i / 25 - 2, j / 25 - 2] for i in range(100) for j in range(100)]
    out = graph.map(grid)
    assert len(out) == 10_000
    for k in (0, 4321, 9999):
        assert out[k] == model(grid[k]).data


def _moons_step_grads(monkeypatch, with_c_io: bool) -> list[float]:
    """The demo-style graph's parameter gradients after two native backward passes."""
    if not with_c_io:
        monkeypatch.setattr(native_module, "helpers", lambda: None)
    X, y = nn.datasets.make_moons(20, noise=0.1, seed=2)
    model = nn.MLP(2, [8, 8, 1], seed=2)
    params = model.parameters()
    graph = autograd.compile(losses.hinge([model(x) for x in X], y) + losses.l2(params, 1e-4),
                             backend="native")
    graph.backward()
    graph.backward(0.5)
    monkeypatch.undo()
    return [p.grad for p in params]


def test_leaf_numbers_moved_in_c_or_in_python_are_the_same(monkeypatch):
    """The leaves' data packed and their gradients added by C code (where Python's headers
    are installed) or by Python: the same floats, bit for bit."""
    if leafio.helpers() is None:
        pytest.skip("no Python headers: only the Python path exists here")
    in_c, in_python = (_moons_step_grads(monkeypatch, flag) for flag in (True, False))
    assert [struct.pack("<d", g) for g in in_c] == [struct.pack("<d", g) for g in in_python]


def test_numbers_held_elsewhere_keep_their_values_when_c_writes_the_slots():
    """leafio changes a float in place only where nothing else holds it: a grad or a data
    read before backward, zero_grad or the optimizer's step (and one shared by two leaves)
    keeps its value, and the leaves get theirs."""
    if leafio.helpers() is None:
        pytest.skip("no Python headers: only the Python path exists here")
    w = [Value(0.5), Value(-1.5)]
    graph = autograd.compile(autograd.dot(w, [2.0, 3.0], 1.0) * 1.0, backend="native")
    opt = nn.optim.SGD(w, lr=0.5)
    graph.backward()
    assert [p.grad for p in w] == [2.0, 3.0]
    grads, data = [p.grad for p in w], [p.data for p in w]
    graph.backward()  # adds in C: the floats held above are not the ones changed
    opt.step()
    assert grads == [2.0, 3.0] and data == [0.5, -1.5]
    assert [p.grad for p in w] == [4.0, 6.0] and [p.data for p in w] == [-1.5, -4.5]
    held = w[0].grad
    opt.zero_grad()
    assert held == 4.0 and [p.grad for p in w] == [0.0, 0.0]
    shared = 7.25 * 2.0
    w[0].grad = w[1].grad = shared
    graph.backward()
    assert shared == 14.5 and [p.grad for p in w] == [16.5, 17.5]


def test_without_python_headers_the_leaves_are_moved_in_python(monkeypatch, tmp_path):
    """No Python.h where the interpreter says its headers are: no helper library, and the
    native replay still trains, equal to eager."""
    monkeypatch.setattr(leafio.sysconfig, "get_paths", lambda: {"include": str(tmp_path)})
    monkeypatch.setenv("AUTOGRAD_SCALAR_CACHE", str(tmp_path / "cache"))
    leafio.helpers.cache_clear()
    try:
        assert leafio.helpers() is None
        w = [Value(0.5), Value(1.5)]
        graph = autograd.compile(autograd.dot(w, [1.0, 2.0], 0.5).relu(), backend="native")
        graph.backward()
        assert [p.grad for p in w] == [1.0, 2.0]
    finally:
        leafio.helpers.cache_clear()


def test_backward_adds_into_grads_that_are_not_floats_as_python_does():
    """An int or a Fraction in .grad gets ``grad += g`` from Python, whatever comes before it
    (the C loop stops there and hands the rest to Python)."""
    w = [Value(0.5), Value(-1.5), Value(2.0), Value(0.25)]
    graph = autograd.compile(autograd.dot(w, [1.0, 2.0, 3.0, 4.0], 0.5), backend="native")
    w[1].grad, w[2].grad = 3, Fraction(1, 3)
    graph.backward()
    assert [p.grad for p in w] == [1.0, 5.0, Fraction(1, 3) + 3.0, 4.0]
    assert type(w[1].grad) is float and type(w[2].grad) is float


_GRAD_SLOT = Value.grad


class _LoggedGrad(Value):
    """A leaf whose grad is a property over Value's own slot, logging every assignment: the
    replay must go through the property."""

    __slots__ = ("log",)

    @property
    def grad(self):
        return _GRAD_SLOT.__get__(self)

    @grad.setter
    def grad(self, value):
        self.log.append(value)
        _GRAD_SLOT.__set__(self, value)


def test_backward_sets_a_grad_property_through_the_property():
    x = _LoggedGrad.__new__(_LoggedGrad)
    x.log = []
    Value.__init__(x, 3.0)
    assert x.grad == 0.0
    y = Value(2.0)
    graph = autograd.compile(x * y, backend="native")
    x.log.clear()
    graph.backward()
    graph.backward()
    assert x.log == [2.0, 4.0] and y.grad == 6.0


def test_map_and_batch_errors():
    loss, inputs, _ = neuron()
    with pytest.raises(ValueError, match="inputs"):
        autograd.compile(loss, backend="native").map(ROWS)
    graph = autograd.compile(loss, backend="native", inputs=inputs)
    with pytest.raises(ValueError, match="row 1 has 2 values"):
        graph.map([[1.0, 2.0, 1.0], [1.0, 2.0]])
    with pytest.raises(TypeError, match="row 0"):
        graph.batch([["a", 1.0, 1.0]])
    with pytest.raises(ValueError, match="leaf of the graph"):
        autograd.compile(loss, inputs=[loss])
    with pytest.raises(ValueError, match="leaf of the graph"):
        autograd.compile(loss, inputs=[Value(1.0)])


def test_batch_redoes_in_python_where_c_flags_and_raises_the_eager_error():
    x, w = Value(1.0), Value(1.0)
    graph = autograd.compile((x * w).log(), backend="native", inputs=[x])
    assert graph.batch([[1.0], [2.0]]) == [0.0, math.log(2.0)]
    assert w.grad == 1.0 + 1.0
    with pytest.raises(ValueError, match="log"):
        graph.batch([[1.0], [-1.0]])


# ------------------------------------------------------------------------- compiler and cache

def test_no_compiler_warns_once_and_still_trains(monkeypatch, tmp_path):
    monkeypatch.setenv("CC", str(tmp_path / "no-such-cc"))
    monkeypatch.setattr(compile_module, "_warned", False)
    X, y, m1 = moons(seed=3)
    _, _, m2 = moons(seed=3)
    with pytest.raises(autograd.NativeUnavailable):
        autograd.compile(m1(X[0]), backend="native")
    with pytest.warns(compile_module.NativeFallbackWarning, match="no C compiler"):
        graph = autograd.compile(m1(X[0]))
    assert graph.mode == "code"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        autograd.compile(m1(X[1]))  # a second fallback is silent
    h1 = nn.fit(m1, X, y, steps=5, l2=1e-4, progress=False)
    h2 = nn.fit(m2, X, y, steps=5, l2=1e-4, progress=False, compile=True)
    assert h1.loss == h2.loss


def test_native_without_compiler_raises(monkeypatch, tmp_path):
    monkeypatch.setenv("CC", str(tmp_path / "no-such-cc"))
    with pytest.raises(autograd.NativeUnavailable, match="no C compiler"):
        autograd.compile(Value(1.0) * 2.0, backend="native")


def _entries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_corrupted_cache_entry_is_rebuilt_not_loaded(monkeypatch, tmp_path):
    monkeypatch.setenv("AUTOGRAD_SCALAR_CACHE", str(tmp_path))
    # Built in another process: a library this process has mapped must never be overwritten in
    # place (touching its pages afterwards would crash the process with SIGBUS).
    build = ("import autograd; from autograd import Value; x = Value(2.0); "
             "autograd.compile(x * x, backend='native')")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    subprocess.run([sys.executable, "-c", build], env=env, check=True)
    [so] = [p for p in tmp_path.iterdir() if p.suffix == ".so"]
    good = so.read_bytes()
    so.write_bytes(good[: len(good) // 2] + b"\0garbage" * 64)
    # A fresh process (so nothing is loaded already) must rebuild it and compute correctly.
    code = ("import autograd; from autograd import Value; x = Value(3.0); "
            "g = autograd.compile(x * x, backend='native'); g.backward(); print(x.grad)")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "6.0"
    assert so.read_bytes() == good or len(so.read_bytes()) == len(good)
    assert b"garbage" not in so.read_bytes()


def test_two_processes_compiling_at_once_do_not_corrupt_the_cache(tmp_path):
    code = ("import autograd; from autograd import Value; x = Value(3.0); "
            "y = autograd.sum([(x * float(k)).tanh() for k in range(7)]); "
            "g = autograd.compile(y, backend='native'); g.backward(); "
            "assert abs(x.grad - autograd.grad(y, [x])[0]) < 1e-12; print('ok')")
    env = dict(os.environ, PYTHONPATH=str(ROOT), AUTOGRAD_SCALAR_CACHE=str(tmp_path))
    procs = [subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0 and out.strip() == "ok", err
    names = _entries(tmp_path)
    assert all(not n.startswith(".") for n in names), names  # no temporary left behind
    assert len([n for n in names if n.endswith(".so")]) == 1
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0 and _entries(tmp_path) == names  # a cache hit, nothing rebuilt


def test_cache_location(monkeypatch, tmp_path):
    monkeypatch.delenv("AUTOGRAD_SCALAR_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_dir() == tmp_path / "autograd-scalar"
    monkeypatch.setenv("AUTOGRAD_SCALAR_CACHE", str(tmp_path / "mine"))
    assert cache_dir() == tmp_path / "mine"


def test_backend_and_mode_errors():
    y = Value(1.0) * 2.0
    with pytest.raises(ValueError, match="backend"):
        autograd.compile(y, backend="gpu")
    with pytest.raises(ValueError, match="mode"):
        autograd.compile(y, backend="native", mode="tape")
    assert autograd.compile(y, mode="tape").mode == "tape"
    assert autograd.compile(y, backend="python").mode == "code"


@pytest.mark.parametrize("backend", ["native", "python"])
def test_compiled_graph_is_freed_by_reference_counting(backend):
    """No reference cycles: the C callbacks hold the buffers, not the compiled object."""
    import gc
    import weakref
    prim = autograd.extend.primitive("twice", lambda a: 2.0 * a, lambda a, out: (2.0,), arity=1)
    x = Value(1.0)
    graph = autograd.compile(prim(x).tanh() * x, backend=backend, inputs=[x])
    graph.backward()
    graph.map([[1.0], [2.0]])
    ref = weakref.ref(graph)
    gc.disable()
    try:
        del graph
        assert ref() is None
    finally:
        gc.enable()


def test_unwritable_cache_falls_back(monkeypatch, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("AUTOGRAD_SCALAR_CACHE", str(blocker / "cache"))
    with pytest.raises(autograd.NativeUnavailable, match="cannot build"):
        autograd.compile(Value(1.0) * 3.0 + 1.5, backend="native")


# ------------------------------------------------------------------------- a cache others can write
#
# A library in the cache runs code in this process as it is loaded (a constructor needs no
# call), so the cache is trusted only where no other user can write. The tests plant libraries
# under the very name the graph's library would have, found by building it in a cache of their
# own first.

_NOBODY = 65534


def _square_graph():
    x = Value(3.0)
    return x, x * x + 1.0


def _key_of(build, folder: Path, monkeypatch, sub: str = "") -> str:
    """The key (file name) of the library that ``build()`` makes the replay load."""
    monkeypatch.setenv("AUTOGRAD_SCALAR_CACHE", str(folder))
    build()
    [so] = [p for p in (folder / sub).iterdir() if p.suffix == ".so"]
    return so.stem


def _plant(folder: Path, key: str, body: str, work: Path) -> None:
    """A library with ``ag_key`` returning ``key`` and ``body``, with its digest beside it: just
    what a good cache entry looks like."""
    import hashlib
    import shlex
    work.mkdir(exist_ok=True)
    (work / "planted.c").write_text(f'#include <fcntl.h>\n#include <unistd.h>\n{body}\n'
                                    f'const char *ag_key(void) {{ return "{key}"; }}\n')
    cc = shlex.split(os.environ.get("CC") or "cc")
    subprocess.run([*cc, "-shared", "-fPIC", "-o", str(work / "planted.so"),
                    str(work / "planted.c")], check=True)
    data = (work / "planted.so").read_bytes()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{key}.so").write_bytes(data)
    (folder / f"{key}.sha256").write_text(hashlib.sha256(data).hexdigest())


def _constructor(marker: Path) -> str:
    return ("__attribute__((constructor)) static void planted(void) {\n"
            f'    int fd = open("{marker}", O_WRONLY | O_CREAT, 0600);\n'
            "    if (fd >= 0) close(fd);\n}")


def _chown_tree(path: Path, uid: int) -> None:
    for p in [path, *path.rglob("*")]:
        os.lchown(p, uid, uid)


def _compile_square(monkeypatch, cache: Path, marker: Path, backend: str = "native"):
    """The square graph compiled with ``cache`` as the cache; the planted constructor must not
    have run, whatever compile did."""
    monkeypatch.setenv("AUTOGRAD_SCALAR_CACHE", str(cache))
    x, y = _square_graph()
    try:
        return x, autograd.compile(y, backend=backend)
    finally:
        assert not marker.exists(), "the planted library was loaded"


@pytest.mark.parametrize("mode", [0o1777, 0o777, 0o775])
def test_a_library_planted_in_a_cache_others_can_write_never_runs(monkeypatch, tmp_path, mode):
    """A sticky directory like /tmp gets a private sub-directory per user (mode 0o700), where
    the replay builds its own library; without the sticky bit anyone who can write there could
    swap that sub-directory, so the native replay is refused."""
    key = _key_of(lambda: autograd.compile(_square_graph()[1], backend="native"),
                  tmp_path / "mine", monkeypatch)
    shared, marker = tmp_path / "shared", tmp_path / "marker"
    _plant(shared, key, _constructor(marker), tmp_path / "work")
    shared.chmod(mode)
    if mode & 0o1000:
        x, graph = _compile_square(monkeypatch, shared, marker)
        graph.backward()
        assert graph.mode == "native" and graph.value(graph.root) == 10.0 and x.grad == 6.0
        private = shared / f"user-{os.geteuid()}"
        assert private.stat().st_mode & 0o777 == 0o700 and (private / f"{key}.so").exists()
        assert (private / f"{key}.so").stat().st_mode & 0o777 == 0o700
        assert (private / f"{key}.sha256").stat().st_mode & 0o777 == 0o600
    else:
        with pytest.raises(autograd.NativeUnavailable, match="writable by group or others"):
            _compile_square(monkeypatch, shared, marker)


@pytest.mark.skipif(not AS_ROOT, reason="making a directory another user's needs root")
def test_a_private_sub_directory_made_by_someone_else_is_not_trusted(monkeypatch, tmp_path):
    """Another user got there first and made ``user-<uid>`` in the shared directory, with a
    library in it: refused, and ``backend="auto"`` replays in Python."""
    key = _key_of(lambda: autograd.compile(_square_graph()[1], backend="native"),
                  tmp_path / "mine", monkeypatch)
    shared, marker = tmp_path / "shared", tmp_path / "marker"
    private = shared / f"user-{os.geteuid()}"
    _plant(private, key, _constructor(marker), tmp_path / "work")
    private.chmod(0o700)
    _chown_tree(private, _NOBODY)
    shared.chmod(0o1777)
    with pytest.raises(autograd.NativeUnavailable, match=f"owned by uid {_NOBODY}"):
        _compile_square(monkeypatch, shared, marker)


@pytest.mark.skipif(not AS_ROOT, reason="making a directory another user's needs root")
@pytest.mark.parametrize("mode", [0o755, 0o1777])
def test_a_cache_owned_by_another_user_is_not_trusted(monkeypatch, tmp_path, mode):
    key = _key_of(lambda: autograd.compile(_square_graph()[1], backend="native"),
                  tmp_path / "mine", monkeypatch)
    theirs, marker = tmp_path / "theirs", tmp_path / "marker"
    _plant(theirs, key, _constructor(marker), tmp_path / "work")
    _chown_tree(theirs, _NOBODY)
    theirs.chmod(mode)
    with pytest.raises(autograd.NativeUnavailable, match=f"owned by uid {_NOBODY}"):
        _compile_square(monkeypatch, theirs, marker)
    monkeypatch.setattr(compile_module, "_warned", False)
    with pytest.warns(compile_module.NativeFallbackWarning, match=f"owned by uid {_NOBODY}"):
        x, graph = _compile_square(monkeypatch, theirs, marker, backend="auto")
    graph.backward()
    assert graph.mode == "code" and x.grad == 6.0


@pytest.mark.skipif(not AS_ROOT, reason="giving a file to another user needs root")
def test_a_library_in_the_cache_that_is_not_ours_is_rebuilt_not_loaded(monkeypatch, tmp_path):
    """The cache is ours, but the entry belongs to someone else, or others may write to it."""
    key = _key_of(lambda: autograd.compile(_square_graph()[1], backend="native"),
                  tmp_path / "mine", monkeypatch)
    for k, fix in enumerate([lambda p: os.lchown(p, _NOBODY, _NOBODY),
                             lambda p: p.chmod(0o666)]):
        cache, marker = tmp_path / f"cache{k}", tmp_path / f"marker{k}"
        _plant(cache, key, _constructor(marker), tmp_path / "work")
        fix(cache / f"{key}.so")
        x, graph = _compile_square(monkeypatch, cache, marker)
        graph.backward()
        assert graph.mode == "native" and x.grad == 6.0
        assert (cache / f"{key}.so").stat().st_uid == os.geteuid()


_BUILD_SQUARE = ("import autograd; from autograd import Value; x = Value(3.0); "
                 "g = autograd.compile(x * x + 1.0, backend='native'); g.backward(); "
                 "print(x.grad)")


def _huge(path: Path) -> None:
    path.unlink()
    with open(path, "wb") as f:
        f.truncate(4 << 30)  # sparse: no disk, but 4 GiB to whoever reads it whole


@pytest.mark.parametrize("entry,spoil", [
    ("so", lambda p: (p.unlink(), p.symlink_to("/dev/zero"))),
    ("sha256", lambda p: (p.unlink(), p.symlink_to("/dev/zero"))),
    ("so", lambda p: (p.unlink(), os.mkfifo(p))),
    ("sha256", lambda p: (p.unlink(), os.mkfifo(p))),
    ("so", _huge),
    ("sha256", _huge),
], ids=["so-dev-zero", "digest-dev-zero", "so-fifo", "digest-fifo", "so-huge", "digest-huge"])
def test_a_cache_entry_that_is_no_regular_file_or_too_big_is_not_read(monkeypatch, tmp_path,
                                                                       entry, spoil):
    """Read whole, /dev/zero or a 4 GiB file would fill the memory and a FIFO would block: the
    entry is refused unread and rebuilt. Run in a process with 1 GiB of address space."""
    key = _key_of(lambda: autograd.compile(_square_graph()[1], backend="native"),
                  tmp_path, monkeypatch)
    spoil(tmp_path / f"{key}.{entry}")
    limit = ("import resource; resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30)); ")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-c", limit + _BUILD_SQUARE], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "6.0"
    assert (tmp_path / f"{key}.{entry}").is_file() and not (tmp_path / f"{key}.so").is_symlink()


def test_a_library_without_the_replay_functions_is_unavailable_and_auto_falls_back(
        monkeypatch, tmp_path):
    """The right key, a matching digest, a private cache, but no ag_forward: NativeUnavailable
    (not AttributeError), and ``backend="auto"`` replays in Python with the right gradients."""
    key = _key_of(lambda: autograd.compile(_square_graph()[1], backend="native"),
                  tmp_path / "mine", monkeypatch)
    cache = tmp_path / "cache"
    _plant(cache, key, "", tmp_path / "work")
    monkeypatch.setenv("AUTOGRAD_SCALAR_CACHE", str(cache))
    x, y = _square_graph()
    with pytest.raises(autograd.NativeUnavailable, match="ag_forward"):
        autograd.compile(y, backend="native")
    monkeypatch.setattr(compile_module, "_warned", False)
    with pytest.warns(compile_module.NativeFallbackWarning, match="ag_forward"):
        graph = autograd.compile(y)
    x.data = 5.0
    assert graph.mode == "code" and graph.forward() == 26.0
    graph.backward()
    assert x.grad == 10.0


def test_a_leaf_mover_library_without_its_functions_means_no_helpers(monkeypatch, tmp_path):
    """leafio's library planted without its functions: helpers() is None, the leaves are moved in
    Python, and the replay is still right."""
    leafio.helpers.cache_clear()
    try:
        if leafio.helpers() is None:
            pytest.skip("no Python headers: leafio builds no library here")
        leafio.helpers.cache_clear()
        key = _key_of(leafio.helpers, tmp_path / "mine", monkeypatch, "python")
        cache = tmp_path / "cache"
        _plant(cache / "python", key, "", tmp_path / "work")
        monkeypatch.setenv("AUTOGRAD_SCALAR_CACHE", str(cache))
        leafio.helpers.cache_clear()
        assert leafio.helpers() is None
        x, y = _square_graph()
        graph = autograd.compile(y, backend="native")
        graph.backward()
        assert graph.mode == "native" and x.grad == 6.0
    finally:
        leafio.helpers.cache_clear()


# ------------------------------------------------------------------- sum and dot as loops

csource_module = sys.modules["autograd.compile.csource"]


def test_sum_and_dot_have_loop_forms_and_the_library_does_not_depend_on_their_sizes():
    from autograd.compile.trace import loop_form
    from autograd.ops import OPS
    assert loop_form(OPS["sum"]) is not None and loop_form(OPS["dot"]) is not None
    S, D = OPS["sum"], OPS["dot"]
    small = csource_module.Source([(S, 3), (D, 5)]).code()
    assert csource_module.Source([(S, 4417), (D, 129), (D, 5)]).code() == small


def _wide(pick, values):
    """A wide dot and sum over a few leaves used many times over (so that the order of the
    additions into one gradient matters), behind relus that may be off."""
    leaves = [Value(v) for v in values]
    ws = [leaves[k] for k in pick[: len(pick) // 2]]
    xs = [leaves[k] for k in pick[len(pick) // 2: 2 * (len(pick) // 2)]]
    d = autograd.dot(ws, xs, leaves[pick[-1]])
    s = autograd.sum([leaves[k] * leaves[(k + 1) % len(leaves)] for k in pick])
    return leaves, (d.relu() + s * d + autograd.sum([d, s, leaves[0]]).relu())


EDGE = [0.0, -0.0, 1.5, -2.25, 1e300, -1e-300, 3.0, 0.1, math.inf, -math.inf, math.nan]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(0, 5), min_size=3, max_size=90),
       st.lists(st.floats(-4, 4) | st.sampled_from(EDGE), min_size=6, max_size=6))
def test_wide_sums_and_dots_replayed_as_loops_equal_eager_bit_for_bit(pick, values):
    leaves, root = _wide(pick, values)
    graph = autograd.compile(root, backend="native")
    got = [graph.forward()]
    graph.backward()
    got += [x.grad for x in leaves]
    leaves, root = _wide(pick, values)
    root.backward()
    want = [root.data] + [x.grad for x in leaves]
    assert list(map(_bits, got)) == list(map(_bits, want))


def test_a_wide_dot_over_repeated_leaves_adds_in_eagers_order():
    """40 weights and 40 inputs drawn from 5 leaves: each gradient is a sum of 16 products,
    whose bits depend on the order in which they are added."""
    import random
    rng = random.Random(7)
    pick = [rng.randrange(5) for _ in range(81)]
    values = [rng.uniform(-3, 3) for _ in range(6)]
    test_wide_sums_and_dots_replayed_as_loops_equal_eager_bit_for_bit.hypothesis.inner_test(
        pick, values)


def _bits(x: float) -> bytes:
    """The float's bits, every NaN alike (a NaN's payload is not specified)."""
    return b"nan" if math.isnan(x) else struct.pack("<d", x)


def test_a_new_batch_size_or_width_builds_no_new_library(monkeypatch, tmp_path):
    monkeypatch.setenv("AUTOGRAD_SCALAR_CACHE", str(tmp_path))
    builds = []
    real = csource_module._build
    monkeypatch.setattr(csource_module, "_build", lambda *a: builds.append(1) or real(*a))
    for n, width in [(30, 20), (47, 20), (30, 33), (200, 24)]:
        X, y = nn.datasets.make_moons(n, noise=0.1, seed=1)
        model = nn.MLP(2, [width, width, 1], seed=1)
        loss = losses.hinge([model(x) for x in X], y) + losses.l2(model.parameters(), 1e-4)
        graph = autograd.compile(loss, backend="native")
        assert graph.forward() == loss.data
        # One example's graph through batch() (rows side by side: a library of its own).
        xs, t = [Value(0.0), Value(0.0)], Value(1.0)
        term = autograd.compile((1.0 - t * model(xs)).relu(), backend="native", inputs=[*xs, t])
        term.batch([[*x, 2.0 * c - 1.0] for x, c in zip(X, y)])
        if n == 30 and width == 20:
            first = len(builds)
            assert first >= 1
    assert len(builds) == first


# ------------------------------------------------------------------- rows side by side

def _mlp_rows(seed, n):
    """One example's graph of an MLP with a wide layer (a dot over 40 inputs, a loop in C)
    and repeated weights, and n rows of inputs including edge values."""
    import random
    rng = random.Random(seed)
    xs = [Value(0.0), Value(0.0), Value(1.0)]
    model = nn.MLP(2, [40, 3, 1], seed=seed)
    out = model(xs[:2])
    loss = (1.0 - xs[2] * out).relu() + (out * out).tanh()
    pool = [0.0, -0.0, 1e300, -1e-300, math.inf, 2.5, -3.0]
    rows = [[rng.choice(pool) if rng.random() < 0.1 else rng.uniform(-3, 3),
             rng.uniform(-3, 3), rng.choice([1.0, -1.0])] for _ in range(n)]
    return loss, xs, model.parameters(), rows


@pytest.mark.parametrize("n", [1, 3, 4, 5, 8, 9, 17, 30])
def test_rows_side_by_side_equal_eager_row_after_row_bit_for_bit(n, monkeypatch):
    lanes = []
    real = native_module.NativeCompiled._rows_buffers
    monkeypatch.setattr(native_module.NativeCompiled, "_rows_buffers",
                        lambda self: lanes.append(self._lanes) or real(self))
    loss, xs, params, rows = _mlp_rows(n, n)
    graph = autograd.compile(loss, backend="native", inputs=xs)
    got_map = graph.map(rows)
    got = graph.batch(rows, gradient=0.25)
    got_grads = [p.grad for p in params]
    assert lanes and min(lanes) > 1  # the rows did go side by side
    want, want_grads = [], [0.0] * len(params)
    loss, xs, params, _ = _mlp_rows(n, n)
    for row in rows:
        for x, v in zip(xs, row):
            x.data = v
        for p in params:
            p.grad = 0.0
        fresh = autograd.compile(loss, backend="python")
        want.append(fresh.forward())
        fresh.backward(0.25)
        want_grads = [a + p.grad for a, p in zip(want_grads, params)]
    assert list(map(_bits, got_map)) == list(map(_bits, want))
    assert list(map(_bits, got)) == list(map(_bits, want))
    assert list(map(_bits, got_grads)) == list(map(_bits, want_grads))



@pytest.mark.parametrize("backend", ["native", "one row at a time", "python"])
@pytest.mark.parametrize("n", [1, 5, 9])
def test_map_and_batch_keep_the_values_of_nodes_from_the_same_pass(backend, n, monkeypatch):
    """keep= gives each row's values of some nodes, equal bit for bit to a forward per row, in
    every path: rows side by side, one row at a time in C, the Python replay."""
    if backend == "one row at a time":  # what a graph with an op called back in Python takes
        monkeypatch.setattr(native_module.NativeCompiled, "_side_by_side", lambda self: False)
        backend = "native"
    loss, xs, params, rows = _mlp_rows(n, n)
    out = loss.parents[0].parents[0].parents[1].parents[1]  # relu(1 - y·out): the MLP's out
    hidden = out.parents[0]
    keep = [out, hidden, xs[0]]
    want = []
    for row in rows:
        for x, v in zip(xs, row):
            x.data = v
        fresh = autograd.compile(loss, backend="python")
        fresh.forward()
        want.append(list(map(_bits, fresh.values(keep))))
    for x, v in zip(xs, [0.0, 0.0, 1.0]):
        x.data = v
    graph = autograd.compile(loss, backend=backend, inputs=xs)
    roots, kept = graph.map(rows, keep=keep)
    assert roots == graph.map(rows) and [list(map(_bits, k)) for k in kept] == want
    plain = graph.batch(rows, gradient=0.5)
    grads = [p.grad for p in params]
    for p in params:
        p.grad = 0.0
    roots, kept = graph.batch(rows, gradient=0.5, keep=keep)
    assert roots == plain and [p.grad for p in params] == grads
    assert [list(map(_bits, k)) for k in kept] == want
    # One node, not in a list: its value itself per row.
    for p in params:
        p.grad = 0.0
    roots, kept = graph.batch(rows, gradient=0.5, keep=out)
    assert roots == plain and [p.grad for p in params] == grads
    assert list(map(_bits, kept)) == [k[0] for k in want]
    roots, kept = graph.map(rows, keep=hidden)
    assert roots == plain and list(map(_bits, kept)) == [k[1] for k in want]


@pytest.mark.parametrize("rows", [
    [[0.5, -1.0, 1.0], [2.0, 0.25, -1.0]],                  # lists of floats: packed in C
    [[0.5, -1, 1], [2, 0.25, -1.0]],                        # ints: converted in Python
    [(0.5, -1.0, 1.0), [2.0, 0.25, -1.0]],                  # a tuple row
    ([0.5, -1.0, 1.0], [2.0, 0.25, -1.0]),                  # a tuple of rows
    [[type("F", (float,), {})(0.5), -1.0, 1.0], [2.0, 0.25, -1.0]],  # a float subclass
])
def test_rows_of_any_real_numbers_give_what_lists_of_floats_give(rows):
    """map and batch take rows as lists of floats (packed by leafio's C code where it is built)
    or any sequence of real numbers (converted in Python): the same numbers either way."""
    loss, xs, params, _ = _mlp_rows(2, 2)
    graph = autograd.compile(loss, backend="native", inputs=xs)
    floats = [[float(v) for v in row] for row in rows]
    assert graph.map(rows) == graph.map(floats)
    roots = graph.batch(rows, gradient=0.5)
    grads = [p.grad for p in params]
    for p in params:
        p.grad = 0.0
    assert graph.batch(floats, gradient=0.5) == roots and [p.grad for p in params] == grads


def test_lists_of_floats_are_packed_without_a_python_step_per_number(monkeypatch):
    if leafio.helpers() is None:
        pytest.skip("no Python headers: leafio builds no library here")
    loss, xs, params, rows = _mlp_rows(3, 9)
    graph = autograd.compile(loss, backend="native", inputs=xs)
    want = graph.map(rows)
    monkeypatch.setattr(native_module.NativeCompiled, "_rows", None)  # would raise if called
    assert graph.map(rows) == want


@pytest.mark.parametrize("bad, match", [
    ([[0.5, -1.0, 1.0], [2.0, 0.25]], "row 1 has 2 values, expected 3"),
    ([[0.5, -1.0, 1.0], [2.0, True, 1.0]], "row 1"),
    ([[0.5, -1.0, 1.0], [2.0, "x", 1.0]], "row 1"),
])
def test_a_bad_row_is_named_whichever_packer_meets_it(bad, match):
    loss, xs, params, _ = _mlp_rows(2, 2)
    graph = autograd.compile(loss, backend="native", inputs=xs)
    with pytest.raises((TypeError, ValueError), match=match):
        graph.batch(bad)
    assert all(p.grad == 0.0 for p in params)



@pytest.mark.parametrize("bad", [math.inf, math.nan])
def test_rows_skip_a_zero_gradient_only_where_every_lane_is_finite(bad):
    """w·x gets g = 0 in every row (z is 0); eager still adds g·x, NaN where x is not finite:
    rows side by side may skip the node only when its numbers are finite in every lane."""
    w, x, z = Value(2.0), Value(1.0), Value(0.0)
    graph = autograd.compile((w * x) * z, backend="native", inputs=[x, z])
    rows = [[1.0, 0.0], [2.0, 0.0], [bad, 0.0], [3.0, 0.0], [1.0, 0.0], [2.0, 0.0]]
    graph.batch(rows)
    assert math.isnan(w.grad)
    w.grad = 0.0
    graph.batch(rows[:2] + rows[3:])
    assert w.grad == 0.0 and math.copysign(1.0, w.grad) == 1.0


def test_rows_without_the_vector_flags_where_the_compiler_refuses_them(monkeypatch):
    """A compiler that does not take this machine's vector flags still gets rows side by
    side, built without them (four lanes), with the same numbers."""
    loss, xs, params, rows = _mlp_rows(2, 9)
    want = autograd.compile(loss, backend="native", inputs=xs).map(rows)
    monkeypatch.setattr(native_module, "isa_flags", lambda: ("-mno-such-flag-anywhere",))
    graph = autograd.compile(loss, backend="native", inputs=xs)
    assert graph.map(rows) == want and graph._lanes == 4


@pytest.mark.parametrize("start", [0.0, -0.0, 2.5])
def test_wide_dots_sum_their_weights_over_the_rows_as_eager_does(start):
    """A dot whose weights and bias are used once (a neuron's) has its weights' gradients
    summed over the rows straight away, a row's whole group at once: bit for bit what eager
    adds with one backward per row, through blocks whose gradient is 0 in every row (the node
    skipped), -0.0 products (a column of signed zeros), a grad that starts at -0.0, and a last
    block that is not full."""
    w = [Value(v) for v in (0.5, -1.5, 3.0, 0.0, -2.0, 1.0)]
    b = Value(0.25)
    x = [Value(0.0) for _ in w]
    z = Value(0.0)
    root = autograd.dot(w, x, b) * z
    rows = []
    for k in range(29):
        zero_block = 8 <= k < 16          # a whole block of rows with g = 0 (and finite)
        zk = 0.0 if zero_block or k % 4 == 0 else (k % 5) - 2.0
        # the last column's products g·x are all -0.0: its weight's sum must end +0.0
        rows.append([(-0.0 if (k + i) % 3 == 0 else (k - i) / 7) for i in range(5)]
                    + [0.0 if zk < 0 else -0.0, zk])
    want = []
    for p in w + [b]:
        p.grad = start
    for row in rows:                      # eager: the graph built and walked once per row
        xs = [Value(v) for v in row[:-1]]
        loss = autograd.dot(w, xs, b) * row[-1]
        loss.backward(0.5)
        want.append(_bits(loss.data))
    want_grads = [_bits(p.grad) for p in w + [b]]
    for p in w + [b]:
        p.grad = start
    graph = autograd.compile(root, backend="native", inputs=x + [z])
    assert list(map(_bits, graph.batch(rows, gradient=0.5))) == want
    assert [_bits(p.grad) for p in w + [b]] == want_grads
    assert graph._lanes > 1 and sum(s < 0 for s in graph._rwslot) == len(w) + 1


def _layer(xs, z):
    """Dots that read the same inputs xs, as a layer's neurons do, and some that must not be
    gathered with them: one whose weight is an input, one whose weight is another dot's
    output, one of another width; their sum times z (0 in some rows: skipped blocks)."""
    import random
    rng = random.Random(7)
    ws = [[Value(rng.uniform(-2, 2)) for _ in xs] for _ in range(10)]
    bs = [Value(rng.uniform(-1, 1)) for _ in range(10)]
    outs = [autograd.dot(w, xs, b) for w, b in zip(ws, bs)]
    outs.insert(2, autograd.dot([xs[0]] + ws[0][1:], xs, bs[0]))   # a weight that is an input
    outs.insert(4, autograd.dot([outs[0]] + ws[1][1:], xs, bs[1]))  # one that is a dot's output
    outs.append(autograd.dot(ws[2][:2], xs[:2], bs[2]))             # another width
    return autograd.sum([o.relu() for o in outs]) * z, ws, bs


def test_a_layers_dots_run_side_by_side_bit_for_bit_as_eager():
    """The forward programs gather the dots that read the same inputs into group records
    (chains side by side; in ag_rows the weights read once for all lanes): each row's
    loss and the summed gradients are what eager computes row after row, bit for bit, rows
    side by side and one row at a time."""
    import random
    rng = random.Random(3)
    xs, z = [Value(0.0) for _ in range(5)], Value(0.0)
    root, ws, bs = _layer(xs, z)
    params = [p for w in ws for p in w] + bs
    rows = [[rng.choice([0.0, -0.0, 1e300, rng.uniform(-3, 3)]) for _ in xs]
            + [rng.choice([0.0, 1.0, -0.5])] for _ in range(21)]
    want = []
    for row in rows:
        for v, x in zip(row, xs + [z]):
            x.data = v
        fresh = autograd.compile(root, backend="python")
        want.append(_bits(fresh.forward()))
        fresh.backward(0.5)
    want_grads = [_bits(p.grad) for p in params]
    for p in params:
        p.grad = 0.0
    graph = autograd.compile(root, backend="native", inputs=xs + [z])
    assert list(map(_bits, graph.batch(rows, gradient=0.5))) == want
    assert [_bits(p.grad) for p in params] == want_grads
    groups = [k for k, _ in graph._keep.source.groups.values()]
    prog = list(graph._rfprog)
    assert graph._lanes > 1 and prog[0] in groups and prog[1] == 10  # the layer's ten dots
    # One row at a time (forward, backward): every dot that reads xs joins, whatever its
    # weights are, but the one whose weight is another dot's output (not ready at the first).
    one = autograd.compile(root, backend="native")
    assert one._keep.fprog[0] in groups and one._keep.fprog[1] == 11
    for p in params:
        p.grad = 0.0
    for row, loss in zip(rows, want):
        for v, x in zip(row, xs + [z]):
            x.data = v
        assert _bits(one.forward()) == loss
        one.backward(0.5)
    assert [_bits(p.grad) for p in params] == want_grads


def test_keep_names_a_node_not_in_the_graph_before_any_row_runs():
    loss, xs, params, rows = _mlp_rows(1, 3)
    graph = autograd.compile(loss, backend="native", inputs=xs)
    with pytest.raises(KeyError, match="not a node of the compiled graph"):
        graph.batch(rows, keep=[Value(1.0)])
    assert all(p.grad == 0.0 for p in params)


def test_keep_survives_the_python_redo_of_a_flagged_row():
    x, w = Value(1.0), Value(1.0)
    prod = x * w
    graph = autograd.compile(prod.log(), backend="native", inputs=[x])
    assert graph.batch([[1.0], [2.0]], keep=[prod]) == ([0.0, math.log(2.0)], [[1.0], [2.0]])
    with pytest.raises(ValueError, match="log"):
        graph.batch([[1.0], [-1.0]], keep=[prod])

@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(instruction, min_size=1, max_size=20), points,
       st.lists(points, min_size=1, max_size=17))
def test_random_graphs_rows_side_by_side_and_the_update_in_c_agree_with_python(instrs, first,
                                                                                rows):
    """The native fuzz through map/batch (four or eight rows at once, relus and abs flipping
    from row to row) and an SGD step in C, against the Python replay row by row and the
    Python step."""
    build = program(instrs, mix="adds")
    runs = []
    for backend in ("native", "python"):
        xs = [Value(d) for d in first]
        root = build(xs)
        used = set(topological_order(root))
        inputs = [x for x in xs[:2] if x in used]
        if not inputs:
            return
        graph = autograd.compile(root, backend=backend, inputs=inputs)
        opt = nn.optim.SGD(xs[2:], lr=0.01, momentum=0.5)
        values = graph.map([r[:len(inputs)] for r in rows])
        values += graph.batch([r[:len(inputs)] for r in rows], gradient=0.5)
        grad = xs[2].grad
        opt.step()
        runs.append((values, grad, xs[2].data))
    (v1, g1, p1), (v2, g2, p2) = runs
    assert all(map(close, v1, v2)) and close(g1, g2) and close(p1, p2), runs


class _Live(Value):
    """A leaf whose data is read from elsewhere: it changes without Value's setter."""

    __slots__ = ("source",)

    @property
    def data(self):
        return self.source[0]


def test_leaves_are_read_again_when_their_data_changes_without_the_setter():
    x = _Live.__new__(_Live)
    Value.__init__(x, 0.0)
    x.source = [2.0]
    graph = autograd.compile(x * 3.0 + Value(1.0), backend="native")
    assert graph.forward() == 7.0
    x.source[0] = 5.0          # no assignment to any Value's data: the count stands still
    assert graph.forward() == 16.0
    w = Value(1.0)
    graph = autograd.compile(w * 3.0, backend="native")
    assert graph.forward() == 3.0
    w.data = 2.0               # through the setter: seen
    assert graph.forward() == 6.0
