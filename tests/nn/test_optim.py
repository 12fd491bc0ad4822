"""SGD and Adam against torch.optim on the same problem, step for step."""
from __future__ import annotations
import math

import pytest

import nn
from autograd import Value
from oracle import torch


def rosenbrock(x, y):
    return (1 - x) ** 2 + 100 * (y - x * x) ** 2


def run_ours(make_opt, steps, start=(-1.2, 1.0)):
    x, y = Value(start[0]), Value(start[1])
    opt = make_opt([x, y])
    path = []
    for _ in range(steps):
        opt.zero_grad()
        rosenbrock(x, y).backward()
        opt.step()
        path.append((x.data, y.data))
    return path


def run_torch(make_opt, steps, start=(-1.2, 1.0)):
    x = torch.tensor(start[0], dtype=torch.float64, requires_grad=True)
    y = torch.tensor(start[1], dtype=torch.float64, requires_grad=True)
    opt = make_opt([x, y])
    path = []
    for _ in range(steps):
        opt.zero_grad()
        rosenbrock(x, y).backward()
        opt.step()
        path.append((x.item(), y.item()))
    return path


@pytest.mark.parametrize("kw", [dict(), dict(momentum=0.9), dict(weight_decay=0.1),
                                dict(momentum=0.5, weight_decay=0.01)])
def test_sgd_matches_torch(kw):
    ours = run_ours(lambda p: nn.optim.SGD(p, lr=1e-3, **kw), 50)
    theirs = run_torch(lambda p: torch.optim.SGD(p, lr=1e-3, **kw), 50)
    for a, b in zip(ours, theirs):
        assert a == pytest.approx(b, rel=1e-10, abs=1e-12)
    assert ours[-1] != ours[0]


@pytest.mark.parametrize("kw", [dict(lr=1e-2), dict(lr=0.05, betas=(0.8, 0.99), eps=1e-6)])
def test_adam_matches_torch(kw):
    ours = run_ours(lambda p: nn.optim.Adam(p, **kw), 200)
    theirs = run_torch(lambda p: torch.optim.Adam(p, **kw), 200)
    for a, b in zip(ours, theirs):
        assert a == pytest.approx(b, rel=1e-9, abs=1e-12)


def test_lr_is_settable_and_used():
    x = Value(1.0)
    opt = nn.optim.SGD([x], lr=0.1)
    opt.lr = 0.5
    (x * x).backward()  # grad 2
    opt.step()
    assert x.data == pytest.approx(0.0)
    assert opt.lr == 0.5


@pytest.mark.parametrize("cls", [nn.optim.SGD, nn.optim.Adam])
def test_bad_arguments(cls):
    with pytest.raises(ValueError, match="empty"):
        cls([], lr=0.1)
    for lr in (0.0, -1.0, math.nan):
        with pytest.raises(ValueError, match="lr"):
            cls([Value(1.0)], lr=lr)
    opt = cls([Value(1.0)], lr=0.1)
    with pytest.raises(ValueError, match="lr"):
        opt.lr = 0
    with pytest.raises(TypeError):
        cls([1.0], lr=0.1)


def test_zero_grad():
    x = Value(2.0)
    opt = nn.optim.Adam([x])
    (x * 3).backward()
    assert x.grad == 3.0
    opt.zero_grad()
    assert x.grad == 0.0


@pytest.mark.parametrize("make, name, value", [
    (lambda v: nn.optim.SGD([Value(1.0)], lr=0.1, weight_decay=v), "SGD: weight_decay", math.inf),
    (lambda v: nn.optim.SGD([Value(1.0)], lr=0.1, weight_decay=v), "SGD: weight_decay", math.nan),
    (lambda v: nn.optim.SGD([Value(1.0)], lr=0.1, momentum=v), "SGD: momentum", math.nan),
    (lambda v: nn.optim.Adam([Value(1.0)], eps=v), "Adam: eps", math.inf),
    (lambda v: nn.optim.Adam([Value(1.0)], eps=v), "Adam: eps", math.nan),
    (lambda v: nn.optim.Adam([Value(1.0)], betas=(v, 0.9)), r"Adam: betas\[0\]", math.nan),
])
def test_non_finite_settings_are_refused(make, name, value):
    with pytest.raises(ValueError, match=f"{name} .*{value}"):
        make(value)


@pytest.mark.parametrize("make, name", [
    (lambda v: nn.optim.SGD([Value(1.0)], lr=0.1, weight_decay=v), "SGD: weight_decay"),
    (lambda v: nn.optim.SGD([Value(1.0)], lr=0.1, momentum=v), "SGD: momentum"),
    (lambda v: nn.optim.Adam([Value(1.0)], eps=v), "Adam: eps"),
    (lambda v: nn.optim.SGD([Value(1.0)], lr=v), "SGD: lr"),
])
def test_settings_of_the_wrong_type_are_type_errors(make, name):
    for bad in ("0.1", None, True):
        with pytest.raises(TypeError, match=name):
            make(bad)
