"""Optimizers that update Values in place from their ``grad``: SGD and Adam (PyTorch's rules)."""
from __future__ import annotations

import math
import numbers
from array import array
from typing import Callable, Iterable, Sequence

from autograd import Value
from autograd.compile import native_graphs, native_update


def _setting(owner: str, what: str, value, low: float, high: float = math.inf, *,
             low_open: bool = False, high_open: bool = True) -> float:
    """``value`` as a float, checked to be a real number in the given interval (never nan)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{owner}: {what} must be a number, got {type(value).__name__} {value!r}")
    v = float(value)
    above = v > low if low_open else v >= low
    below = v < high if high_open else v <= high
    if not (above and below and math.isfinite(v)):
        lo, hi = "(" if low_open else "[", ")" if high_open else "]"
        raise ValueError(f"{owner}: {what} must lie in {lo}{low:g}, {high:g}{hi}, got {value!r}")
    return v


class Optimizer:
    """Holds the parameters and a settable learning rate ``lr``.

    A subclass writes its arithmetic once, as a rule for one parameter's numbers:
    ``rule(p, g, *state, *settings) -> (new p, *new state)``, with its state in arrays of one
    float per parameter. ``_apply`` runs the rule over every parameter: in Python, or in C
    through ``autograd.compile``'s ``native_update`` when a native replay holds all the
    parameters (the same function traced, so the same numbers to the last bit).
    """

    def __init__(self, params: Iterable[Value], lr: float) -> None:
        self.params: list[Value] = list(params)
        name = type(self).__name__
        if not self.params:
            raise ValueError(f"{name}: empty parameter list")
        for p in self.params:
            if not isinstance(p, Value):
                raise TypeError(f"{name}: parameters must be Values, got {type(p).__name__} {p!r}")
        self.lr = lr
        self._native: dict = {}  # rule -> its Update in C, or None
        self._seen = -1  # native_graphs() when the rules were last looked up

    @property
    def lr(self) -> float:
        return self._lr

    @lr.setter
    def lr(self, value: float) -> None:
        self._lr = _setting(type(self).__name__, "lr", value, 0.0, low_open=True)

    def zero_grad(self) -> None:
        """Set every parameter's grad to 0."""
        update = next((u for u in self._native.values() if u is not None), None)
        if update is not None:
            update.zero_grad()
            return
        for p in self.params:
            p.grad = 0.0

    def step(self) -> None:
        raise NotImplementedError

    def _state(self) -> array:
        """A state array: one float per parameter, 0.0 to start."""
        return array("d", bytes(8 * len(self.params)))

    def _apply(self, rule: Callable, state: Sequence[array], settings: tuple) -> None:
        """``rule`` over every parameter, reading and writing ``state`` in place."""
        update = self._compiled(rule, state, len(settings))
        if update is not None and update(settings):
            return
        for i, p in enumerate(self.params):
            p.data, *new = rule(p.data, p.grad, *[s[i] for s in state], *settings)
            for s, x in zip(state, new):
                s[i] = x

    def _compiled(self, rule: Callable, state: Sequence[array], settings: int):
        seen = native_graphs()
        if seen != self._seen:  # a native replay was made since: look again
            self._seen = seen
            self._native = {r: u for r, u in self._native.items() if u is not None}
        if rule not in self._native:
            self._native[rule] = native_update(rule, self.params, state, settings)
        return self._native[rule]


# The rules: the arithmetic of each update, for one parameter, written once (PyTorch's).

def sgd_rule(p, g, lr, wd):
    return (p - lr * (g + wd * p),)


def momentum_first_rule(p, g, v, lr, mu, wd):
    v = g + wd * p   # PyTorch starts the buffer at the first gradient, not at zero
    return p - lr * v, v


def momentum_rule(p, g, v, lr, mu, wd):
    v = mu * v + g + wd * p
    return p - lr * v, v


def adam_rule(p, g, m, v, lr, b1, b2, c1, c2, eps):
    m = b1 * m + (1.0 - b1) * g
    v = b2 * v + (1.0 - b2) * g * g
    return p - lr * (m / c1) / (math.sqrt(v / c2) + eps), m, v


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum and L2 weight decay.

    As in PyTorch: g ← grad + weight_decay·p; v ← momentum·v + g; p ← p − lr·v.
    """

    def __init__(self, params: Iterable[Value], lr: float, momentum: float = 0.0,
                 weight_decay: float = 0.0) -> None:
        super().__init__(params, lr)
        self.momentum = _setting("SGD", "momentum", momentum, 0.0, 1.0)
        # Finite: an infinite decay turns every weight into nan at the first step.
        self.weight_decay = _setting("SGD", "weight_decay", weight_decay, 0.0)
        self._velocity = self._state()
        self._started = False

    def step(self) -> None:
        """Move every parameter against its gradient."""
        lr, mu, wd = self._lr, self.momentum, self.weight_decay
        if mu == 0.0:
            self._apply(sgd_rule, (), (lr, wd))
            return
        rule = momentum_rule if self._started else momentum_first_rule
        self._apply(rule, (self._velocity,), (lr, mu, wd))
        self._started = True


class Adam(Optimizer):
    """Adam with bias correction (Kingma & Ba, 2015)."""

    def __init__(self, params: Iterable[Value], lr: float = 1e-3,
                 betas: Sequence[float] = (0.9, 0.999), eps: float = 1e-8) -> None:
        super().__init__(params, lr)
        b1, b2 = betas
        self.betas = (_setting("Adam", "betas[0]", b1, 0.0, 1.0),
                      _setting("Adam", "betas[1]", b2, 0.0, 1.0))
        # Finite: an infinite eps divides every update down to zero, silently.
        self.eps = _setting("Adam", "eps", eps, 0.0, low_open=True)
        self.t = 0
        self._m, self._v = self._state(), self._state()

    def step(self) -> None:
        """One Adam update of every parameter."""
        b1, b2 = self.betas
        self.t += 1
        c1, c2 = 1.0 - b1 ** self.t, 1.0 - b2 ** self.t
        self._apply(adam_rule, (self._m, self._v), (self._lr, b1, b2, c1, c2, self.eps))
