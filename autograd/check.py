"""gradcheck: backward against central finite differences."""
from __future__ import annotations

import numbers
from typing import Callable, Sequence

from .engine import Value, grad
from .modes import no_grad


class GradcheckError(AssertionError):
    """Backward and finite differences disagree on some input."""


def gradcheck(f: Callable[..., Value], inputs: Sequence, *, eps: float = 1e-6,
              atol: float = 1e-5, rtol: float = 1e-3) -> bool:
    """Compare ∂f/∂input from backward with a central finite difference at ``inputs``.

    Returns True, or raises ``GradcheckError`` naming the input and both numbers. ``inputs`` may be
    numbers or Values (only their data is used).
    """
    point = [_number(k, x) for k, x in enumerate(inputs)]
    xs = [Value(x, label=getattr(i, "label", "") or f"x{k}") for k, (x, i) in
          enumerate(zip(point, inputs))]
    out = f(*xs)
    if not isinstance(out, Value):
        raise TypeError(f"gradcheck: f must return a Value, got {type(out).__name__}")
    analytic = grad(out, xs)   # a list, as xs is a list

    def at(k: int, delta: float) -> float:
        shifted = list(point)
        shifted[k] += delta
        with no_grad():
            return f(*[Value(v) for v in shifted]).data

    for k, x in enumerate(xs):
        numeric = (at(k, eps) - at(k, -eps)) / (2 * eps)
        if not abs(analytic[k] - numeric) <= atol + rtol * abs(numeric):
            raise GradcheckError(
                f"gradcheck: ∂f/∂{x.label} at {point[k]!r}: backward gives {analytic[k]!r}, "
                f"finite differences give {numeric!r}")
    return True


def _number(k: int, x) -> float:
    if isinstance(x, Value):
        return x.data
    if isinstance(x, numbers.Real) and not isinstance(x, bool):
        return float(x)
    raise TypeError(f"gradcheck: input {k} must be a real number or a Value, "
                    f"got {type(x).__name__} {x!r}")
