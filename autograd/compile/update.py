"""update: an optimizer's rule applied to every parameter in one call into C.

An optimizer (``nn.optim``) writes its arithmetic once, as a function of one parameter's
numbers, ``rule(p, g, *state, *settings) -> (p', *state')``; its Python step calls that function
per parameter. Here the same function is traced (``trace.rule_template``), checked bit for bit
against itself, compiled to a C loop, and applied to all the parameters at once: their data and
grad read through their slots, the rule run, the new data written back through the slots. The
write is counted in the engine's ``data_edits``, so a replay reads the new numbers at its next
forward, and ``p.data`` reads the new value the moment the step returns.

It is used when a native replay holds all of the optimizer's parameters (the documented loop
``opt.zero_grad(); c.forward(); c.backward(); opt.step()``, and ``fit(compile=...)``); where
anything is missing (no compiler, no Python headers, a parameter whose ``data`` or ``grad`` is
a property of its own, a ``grad`` that is no float, a step C flags) the Python step runs, with
the same numbers.
"""
from __future__ import annotations

import ctypes
from array import array
from typing import Callable, Sequence

from ..engine import DATA_SLOT, Value, data_written
from .csource import NativeUnavailable, RuleSource, function, load
from .leafio import helpers, slot_mover
from .native import holding, native_graphs
from .trace import rule_template

__all__ = ["Update", "native_update", "native_graphs"]

_GRAD = Value.grad
_PTRS = ctypes.c_void_p


def _at(buf: array) -> int:
    return buf.buffer_info()[0]


class Update:
    """``rule`` over ``params`` in C. ``state``: the optimizer's arrays, one float per
    parameter each, read and written in place (never resized); ``settings``: how many numbers
    the rule takes after them."""

    def __init__(self, rule: Callable, params: Sequence[Value], state: Sequence[array],
                 settings: int) -> None:
        self.params = list(params)
        k, n = len(state), 2 + len(state) + settings
        t = rule_template(rule, n, 1 + k)
        if t is None:
            raise NativeUnavailable(f"update: {rule.__name__} cannot be traced for C")
        self._io = helpers()
        if (self._io is None or not slot_mover(self.params)
                or len(set(map(id, self.params))) != len(self.params)):
            raise NativeUnavailable("update: the parameters' numbers cannot be moved in C")
        fn = function(load(RuleSource(t, n, 1 + k, 2 + k).code()), "ag_rule")
        fn.argtypes, fn.restype = [ctypes.c_int, _PTRS, _PTRS, _PTRS], ctypes.c_int
        self._rule = fn
        m = len(self.params)
        zeros = bytes(8 * max(m, 1))
        self._P, self._G = array("d", zeros), array("d", zeros)
        self._out = [array("d", zeros) for _ in range(1 + k)]
        self._state = list(state)
        self._X = (_PTRS * (2 + k))(*map(_at, [self._P, self._G, *self._state]))
        self._Y = (_PTRS * (1 + k))(*map(_at, self._out))
        self._h = (ctypes.c_double * max(settings, 1))()

    def __call__(self, settings: Sequence[float]) -> bool:
        """One step; False (nothing changed) where the Python step must do it."""
        io, params, m = self._io, self.params, len(self.params)
        if (io.ag_read_slot(params, _GRAD, _at(self._G)) != m
                or io.ag_read_slot(params, DATA_SLOT, _at(self._P)) != m):
            return False
        self._h[:len(settings)] = settings
        if self._rule(m, self._X, self._h, self._Y):
            return False  # a domain error or a division by zero: Python raises it
        if io.ag_write_slot(params, DATA_SLOT, _at(self._out[0]), 0.0) != m:
            raise MemoryError("update: no memory for the parameters' new data")
        data_written()
        for buf, new in zip(self._state, self._out[1:]):
            buf[:] = new[:m]  # the same length: copied in place, the address kept
        return True

    def zero_grad(self) -> None:
        """Every parameter's grad set to 0.0."""
        if self._io.ag_write_slot(self.params, _GRAD, None, 0.0) != len(self.params):
            raise MemoryError("update: no memory for the parameters' grads")


def native_update(rule: Callable, params: Sequence[Value], state: Sequence[array],
                  settings: int) -> Update | None:
    """An ``Update`` when a native replay alive now holds every one of ``params`` among its
    leaves and the rule can run in C; else None (the optimizer steps in Python)."""
    if not holding(params):
        return None
    try:
        return Update(rule, params, state, settings)
    except NativeUnavailable:
        return None
