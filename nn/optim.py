"""Optimizers that update Values in place from their ``grad``: SGD and Adam (PyTorch's rules)."""
from __future__ import annotations

import math
import numbers
from typing import Iterable, Sequence

from autograd import Value


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
    """Holds the parameters and a settable learning rate ``lr``."""

    def __init__(self, params: Iterable[Value], lr: float) -> None:
        self.params: list[Value] = list(params)
        name = type(self).__name__
        if not self.params:
            raise ValueError(f"{name}: empty parameter list")
        for p in self.params:
            if not isinstance(p, Value):
                raise TypeError(f"{name}: parameters must be Values, got {type(p).__name__} {p!r}")
        self.lr = lr

    @property
    def lr(self) -> float:
        return self._lr

    @lr.setter
    def lr(self, value: float) -> None:
        self._lr = _setting(type(self).__name__, "lr", value, 0.0, low_open=True)

    def zero_grad(self) -> None:
        """Set every parameter's grad to 0."""
        for p in self.params:
            p.grad = 0.0

    def step(self) -> None:
        raise NotImplementedError


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
        self._velocity: list[float] | None = None

    def step(self) -> None:
        """Move every parameter against its gradient."""
        lr, mu, wd = self._lr, self.momentum, self.weight_decay
        if mu == 0.0:
            for p in self.params:
                p.data -= lr * (p.grad + wd * p.data)
            return
        if self._velocity is None:
            # PyTorch starts the buffer at the first gradient, not at zero.
            self._velocity = [p.grad + wd * p.data for p in self.params]
        else:
            self._velocity = [mu * v + p.grad + wd * p.data
                              for v, p in zip(self._velocity, self.params)]
        for p, v in zip(self.params, self._velocity):
            p.data -= lr * v


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
        self._m = [0.0] * len(self.params)
        self._v = [0.0] * len(self.params)

    def step(self) -> None:
        """One Adam update of every parameter."""
        b1, b2 = self.betas
        self.t += 1
        c1, c2 = 1.0 - b1 ** self.t, 1.0 - b2 ** self.t
        lr, eps, m, v = self._lr, self.eps, self._m, self._v
        for i, p in enumerate(self.params):
            g = p.grad
            m[i] = b1 * m[i] + (1.0 - b1) * g
            v[i] = b2 * v[i] + (1.0 - b2) * g * g
            p.data -= lr * (m[i] / c1) / (math.sqrt(v[i] / c2) + eps)
