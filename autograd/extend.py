"""Extending the engine: the op table, ``apply``, and ``primitive`` for ops of your own.

What a user types lives in ``autograd`` itself; this module is for those who add to it (as
HIPS autograd keeps ``extend``). An op is one ``Op`` entry: its forward on floats, its partials
``partials(*xs, out, g=ONE)`` giving g·∂out/∂x_i, its symbol and formulas (see ``ops.py``).
``apply(op, inputs)`` makes a node with it; ``primitive`` builds the entry from two plain
functions. Tools read recorded graphs through the public graph layer, ``autograd.graph``.
"""
from __future__ import annotations

from typing import Callable, Sequence

from .engine import Value, apply
from .ops import ONE, OPS, Op

__all__ = ["Op", "OPS", "ONE", "apply", "primitive", "Primitive"]


class Primitive:
    """A user-defined op, called like a function on Values or numbers; ``op`` is its entry."""

    __slots__ = ("op",)

    def __init__(self, op: Op) -> None:
        self.op = op

    def __call__(self, *args) -> Value:
        return apply(self.op, args)

    def __repr__(self) -> str:
        return f"Primitive({self.op.name!r})"


def primitive(name: str, forward: Callable[..., float], partials: Callable[..., tuple], *,
              symbol: str | None = None, formulas: Sequence[str] | None = None,
              arity: int | None = None) -> Primitive:
    """Define a new primitive, returned as a callable on Values or numbers (its ``.op`` is the
    table entry, for ``apply`` and the tools).

    ``forward(*xs)`` computes the output from floats; ``partials(*xs, out)`` returns the local
    derivative with respect to each input, written so that it also works on Values if
    higher-order gradients are wanted.
    """
    if not callable(forward) or not callable(partials):
        raise TypeError(f"primitive {name!r}: forward and partials must be callables")
    text = name.replace("{", "{{").replace("}", "}}")  # the name is text, never a slot

    def formula(i: int, k: int) -> str:
        return f"∂{text}/∂x{i}"

    def expression(k: int) -> str:
        return f"{text}(" + ", ".join(f"{{{i}}}" for i in range(k)) + ")"

    op = Op(name, symbol or name, _float_forward(name, forward), _scaled_partials(name, partials),
            formulas if formulas is not None else formula, expression, arity)
    return Primitive(op)


def _float_forward(name: str, forward: Callable) -> Callable[..., float]:
    def call(*xs):
        return float(forward(*xs))
    call.__name__ = call.__qualname__ = name   # tracebacks and generated code show the op
    return call


def _scaled_partials(name: str, partials: Callable) -> Callable[..., tuple]:
    # The table's convention: partials(*xs, out, g=ONE) gives g·∂out/∂x_i.
    def call(*args, g=ONE):
        local = partials(*args)
        return local if g is ONE else tuple([g * d for d in local])
    call.__name__ = call.__qualname__ = f"d_{name}"
    return call
