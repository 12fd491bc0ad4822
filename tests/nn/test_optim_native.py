"""The whole step in C: the documented loop ``opt.zero_grad(); c.forward(); c.backward();
opt.step()`` with the optimizer's rule run in C (autograd.compile.update) gives eager's numbers
to the last bit, step after step, and ``.data`` is never stale."""
import os
import shlex
import shutil
import struct

import pytest

import autograd
import nn
from autograd import Value
from autograd.compile import update as update_module
from nn import losses, optim

pytestmark = pytest.mark.skipif(   # found on the PATH: no process is started (Pyodide has none)
    shutil.which((shlex.split(os.environ.get("CC") or "cc") or ["cc"])[0]) is None,
    reason="no C compiler")

OPTIMIZERS = {
    "sgd": lambda p: optim.SGD(p, lr=0.05),
    "momentum+decay": lambda p: optim.SGD(p, lr=0.05, momentum=0.9, weight_decay=1e-3),
    "adam": lambda p: optim.Adam(p, lr=0.01),
}


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("AUTOGRAD_SCALAR_CACHE",
                       os.environ.get("AUTOGRAD_SCALAR_CACHE")
                       or str(tmp_path_factory.getbasetemp() / "optim-cache"))


@pytest.fixture
def c_steps(monkeypatch):
    """Counts the optimizer steps done in C (a step Python does is not counted)."""
    done = []
    real = update_module.Update.__call__

    def counted(self, settings):
        ok = real(self, settings)
        done.append(ok)
        return ok
    monkeypatch.setattr(update_module.Update, "__call__", counted)
    return done


def bits(xs):
    return [struct.pack("<d", x) for x in xs]


def demo(n=40, sizes=(8, 8, 1)):
    X, y = nn.datasets.make_moons(n, noise=0.1, seed=4)
    model = nn.MLP(2, list(sizes), seed=4)
    return X, y, model


def demo_loss(model, X, y):
    return losses.hinge([model(x) for x in X], y) + losses.l2(model.parameters(), 1e-4)


def eager_run(make_opt, steps, edit=None):
    X, y, model = demo()
    params = model.parameters()
    opt = make_opt(params)
    trail = []
    for k in range(steps):
        if edit:
            edit(k, params)
        loss = demo_loss(model, X, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        trail.append((loss.data, [p.data for p in params]))
    return trail


def native_run(make_opt, steps, edit=None):
    X, y, model = demo()
    params = model.parameters()
    opt = make_opt(params)
    c = autograd.compile(demo_loss(model, X, y), backend="native")
    trail = []
    for k in range(steps):
        if edit:
            edit(k, params)
        opt.zero_grad()
        value = c.forward()
        c.backward()
        opt.step()
        # .data read right after the step: the new numbers, not those C held before.
        trail.append((value, [p.data for p in params]))
    return trail


def same(a, b):
    return all(va == vb and bits(pa) == bits(pb) for (va, pa), (vb, pb) in zip(a, b)) \
        and len(a) == len(b)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_documented_loop_with_the_update_in_c_equals_eager_bit_for_bit(name, c_steps):
    steps = 40
    assert same(native_run(OPTIMIZERS[name], steps), eager_run(OPTIMIZERS[name], steps))
    assert c_steps and all(c_steps) and len(c_steps) == steps


def _edit(k, params):
    # The user's own writes between steps: one weight reset, one scaled, on alternate steps.
    if k % 3 == 1:
        params[0].data = 0.25
        params[5].data *= 0.5


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_the_users_own_data_writes_between_steps_are_honoured(name, c_steps):
    steps = 12
    assert same(native_run(OPTIMIZERS[name], steps, _edit),
                eager_run(OPTIMIZERS[name], steps, _edit))
    assert all(c_steps)


def test_data_read_mid_loop_is_current_and_grad_is_the_backwards():
    X, y, model = demo()
    params = model.parameters()
    opt = optim.SGD(params, lr=0.1, momentum=0.5)
    c = autograd.compile(demo_loss(model, X, y), backend="native")
    for _ in range(3):
        opt.zero_grad()
        assert all(p.grad == 0.0 for p in params)
        c.forward()
        c.backward()
        before = [p.data for p in params]
        grads = [p.grad for p in params]
        opt.step()
        after = [p.data for p in params]
        assert after != before and [p.grad for p in params] == grads
        # A forward after the step sees the stepped weights: its value is eager's at them.
        assert c.forward() == demo_loss(model, X, y).data


def test_an_optimizer_over_parameters_no_replay_holds_steps_in_python(c_steps):
    w = [Value(0.5), Value(-1.0)]
    opt = optim.SGD(w, lr=0.1)
    (w[0] * w[1]).backward()
    opt.step()
    assert c_steps == [] and [p.data for p in w] == [0.5 - 0.1 * -1.0, -1.0 - 0.1 * 0.5]


def test_a_grad_that_is_no_float_is_stepped_by_python(c_steps):
    from fractions import Fraction
    w = [Value(0.5), Value(-1.0)]
    c = autograd.compile(autograd.dot(w, [1.0, 2.0], 0.0), backend="native")
    opt = optim.SGD(w, lr=0.5)
    c.backward()
    w[1].grad = Fraction(1, 3)
    opt.step()
    assert c_steps == [False]
    assert [p.data for p in w] == [0.5 - 0.5 * 1.0, -1.0 - 0.5 * Fraction(1, 3)]


def test_without_a_compiler_the_loop_trains_in_python_with_the_same_numbers(monkeypatch,
                                                                            tmp_path):
    want = native_run(OPTIMIZERS["adam"], 5)
    monkeypatch.setenv("CC", str(tmp_path / "no-such-cc"))
    monkeypatch.setenv("AUTOGRAD_SCALAR_CACHE", str(tmp_path / "empty"))
    X, y, model = demo()
    params = model.parameters()
    opt = OPTIMIZERS["adam"](params)
    c = autograd.compile(demo_loss(model, X, y), backend="python")
    got = []
    for _ in range(5):
        opt.zero_grad()
        value = c.forward()
        c.backward()
        opt.step()
        got.append((value, [p.data for p in params]))
    assert same(got, want)


def test_fit_compiled_native_steps_in_c_and_equals_eager(c_steps):
    X, y = nn.datasets.make_moons(30, noise=0.1, seed=2)
    runs = []
    for how in (False, "native"):
        model = nn.MLP(2, [6, 6, 1], seed=2)
        opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-3)
        h = nn.fit(model, X, y, optimizer=opt, steps=8, l2=1e-4, progress=False, compile=how)
        runs.append((h.loss, bits(p.data for p in model.parameters())))
    assert runs[0] == runs[1]
    assert len(c_steps) == 8 and all(c_steps)
