"""Recording modes: ``no_grad``, ``enable_grad``, ``detect_anomaly``, and the anomaly checks.

One context variable holds the mode, so each op pays for a single lookup; a ContextVar rather
than a global, so that ``no_grad`` in one thread or async task leaves the others alone.
"""
from __future__ import annotations

import contextvars
import math

__all__ = ["no_grad", "enable_grad", "detect_anomaly", "is_grad_enabled", "Mode", "MODE",
           "RECORD", "ANOMALY", "IEEE", "check_terms", "check_total"]

# The mode's bits. IEEE is on while a walk builds derivatives as Values: an op whose forward
# raises (1/0 in the slope of √x at 0) then gives IEEE 754's inf or nan instead, as PyTorch does.
RECORD, ANOMALY, IEEE = 1, 2, 4
MODE: contextvars.ContextVar[int] = contextvars.ContextVar("autograd_mode", default=RECORD)


class Mode:
    """A context manager that turns mode bits on and off; reusable and re-entrant."""

    __slots__ = ("on", "off", "_tokens")

    def __init__(self, on: int, off: int) -> None:
        self.on, self.off = on, off
        self._tokens: list[contextvars.Token] = []

    def __enter__(self) -> None:
        self._tokens.append(MODE.set((MODE.get() | self.on) & ~self.off))

    def __exit__(self, *exc) -> None:
        # Undo the newest entry made in this context: one object shared by threads or tasks
        # holds tokens from several contexts, and a token can only be reset in its own.
        for token in self._tokens[::-1]:
            try:
                MODE.reset(token)
            except ValueError:
                continue
            self._tokens.remove(token)
            return


def no_grad() -> Mode:
    """Context manager under which ops record no inputs (their results are leaves)."""
    return Mode(0, RECORD)


def enable_grad() -> Mode:
    """Context manager that turns recording back on inside a ``no_grad`` block."""
    return Mode(RECORD, 0)


def detect_anomaly() -> Mode:
    """Context manager that raises ``FloatingPointError`` at the first non-finite value or
    gradient, naming the op and its inputs."""
    return Mode(ANOMALY, 0)


def is_grad_enabled() -> bool:
    return bool(MODE.get() & RECORD)


def _number(x) -> float:
    return x.data if hasattr(x, "data") else x


def check_terms(op, node, inputs, terms, g) -> None:
    """Under detect_anomaly: every gradient an op sends back must be finite."""
    for i, (p, d) in enumerate(zip(inputs, terms)):
        if not math.isfinite(_number(d)):
            raise FloatingPointError(
                f"detect_anomaly: backward of {op.name} gave a non-finite gradient "
                f"{_number(d)!r} for input {i} (data={p.data!r}); inputs "
                f"{[q.data for q in inputs]}, output {node.data!r}, upstream gradient "
                f"{_number(g)!r}")


def check_total(node, g) -> None:
    """Under detect_anomaly: every term was finite when sent, but their sum can overflow."""
    if not math.isfinite(_number(g)):
        name = node.label or (f"the output of {node.op}" if node.op else "a leaf")
        raise FloatingPointError(
            f"detect_anomaly: the gradient of {name} (data={node.data!r}) summed to "
            f"{_number(g)!r} over its uses")
