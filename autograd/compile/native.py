"""native: replay a graph in C; the graph is two programs of records, the code comes from
``csource``.

Buffers are allocated once per compiled graph: ``V`` (every node's value), ``G`` (every node's
gradient), the leaves' data, packed into one buffer per forward, and the gradients of the leaves
that need one, added into their ``.grad`` after each backward (both moves by ``leafio``'s C code
where it exists, else in Python).
"""
from __future__ import annotations

import ctypes
import math
import struct
from array import array
from itertools import chain
from typing import Sequence

from .csource import NativeUnavailable, Source, function, load
from .trace import traceable
from ..engine import Value
from .leafio import helpers
from .replay import Compiled, needs_grad, op_and_parents
from .tape import TapeCompiled

__all__ = ["NativeCompiled", "NativeUnavailable"]

_INT = ctypes.POINTER(ctypes.c_int)
_DBL = ctypes.POINTER(ctypes.c_double)
_FCB = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.c_int)
_BCB = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int)
_GRAD = Value.grad  # the member descriptor of the grad slot, which leafio writes through


class _Graph(ctypes.Structure):
    _fields_ = [("nl", ctypes.c_int), ("root", ctypes.c_int), ("n", ctypes.c_int),
                ("nf", ctypes.c_int), ("nb", ctypes.c_int),
                ("fprog", _INT), ("bprog", _INT), ("lslot", _INT),
                ("V", _DBL), ("G", _DBL), ("fcb", _FCB), ("bcb", _BCB)]


def _ptr(buf: array, kind=_INT):
    return ctypes.cast(buf.buffer_info()[0], kind)


def _zeros(n: int) -> array:
    return array("d", bytes(8 * max(n, 1)))


class _Tables:
    """The graph as two programs for the C walks: per op node a record (see ``_record``), in
    order for forward, and in reverse order for backward over the nodes that need a gradient."""

    def __init__(self, order: list[Value], index: dict, needs: list[bool]):
        nodes = [(i, op, ps) for i, (op, ps) in enumerate(map(op_and_parents, order))
                 if op is not None]
        nary = {(id(op), len(ps)): (op, len(ps)) for _, op, ps in nodes
                if op.arity is None and traceable(op)}
        self.source = src = Source(list(nary.values()))
        slot = index.__getitem__
        fkind, bkind = src.fkinds.get, src.bkinds.get
        kinds = [(fkind((id(op), len(ps)), -1), bkind((id(op), len(ps)), -1))
                 for _, op, ps in nodes]
        # For the nodes called back in Python: op node number -> (op, input slots, output slot)
        self.calls = {k: (op, list(map(slot, ps)), i) for k, (i, op, ps) in enumerate(nodes)
                      if kinds[k][0] < 0 or (kinds[k][1] < 0 and needs[i])}
        records = [(i, k, list(map(slot, ps))) for k, (i, _, ps) in enumerate(nodes)]
        self.fprog = array("i", chain.from_iterable(
            _record(kinds[k][0], i, k, ps) for i, k, ps in records))
        self.bprog = array("i", chain.from_iterable(
            _record(kinds[k][1], i, k, ps) for i, k, ps in reversed(records) if needs[i]))


def _record(kind: int, out: int, k: int, inputs: list[int]) -> tuple[int, ...]:
    """A node's record: its C code's kind, output slot and input slots (the kind fixes their
    number), or for a node called back in Python also that number and the op node number."""
    if kind < 0:
        return (kind, out, len(inputs), k, *inputs)
    return (kind, out, *inputs)


def _callbacks(calls: dict, V: array, G: array, errors: list):
    """Python functions the C walk calls for ops it has no code for (no reference to the
    compiled object, so that it is freed by reference counting)."""

    def forward(k: int) -> float:
        op, ps, _ = calls[k]
        try:
            return op.forward(*[V[p] for p in ps])
        except BaseException as e:  # noqa: BLE001 - re-raised by the Python redo of the step
            errors.append(e)
            return math.nan

    def backward(k: int) -> int:
        op, ps, i = calls[k]
        try:
            for p, d in zip(ps, op.partials(*[V[p] for p in ps], V[i], g=G[i])):
                G[p] += d
            return 0
        except BaseException as e:  # noqa: BLE001 - re-raised by the Python redo of the step
            errors.append(e)
            return 1
    return _FCB(forward), _BCB(backward)


class NativeCompiled(Compiled):
    """Replays the graph in C; steps the C code flags are redone by the Python tape."""

    def __init__(self, root: Value, order: list[Value], inputs: Sequence[Value] = ()) -> None:
        super().__init__(root, order, "native", inputs)
        index = self._index
        needs = needs_grad(order, index)
        tables = _Tables(order, index, needs)
        self._bind(load(tables.source.code()))
        self._keep = tables  # the C side points into these arrays
        self._V, self._G = _zeros(len(order)), _zeros(len(order))
        self._errors: list = []
        self._cbs = _callbacks(tables.calls, self._V, self._G, self._errors)
        self._lslot = array("i", [index[leaf] for leaf in self.leaves])
        self._graph = _Graph(len(self.leaves), len(order) - 1, len(order), len(tables.fprog),
                             len(tables.bprog), _ptr(tables.fprog), _ptr(tables.bprog),
                             _ptr(self._lslot), _ptr(self._V, _DBL), _ptr(self._G, _DBL),
                             *self._cbs)
        self._ref = ctypes.byref(self._graph)
        self._gradient_buffers(needs)
        self._tape: TapeCompiled | None = None
        # The leaves' data for C: packed into one buffer allocated once, by C code where it
        # can be built (leafio), else by struct (several times faster than array() from a list).
        self._L = (ctypes.c_double * max(len(self.leaves), 1))()
        self._pack_leaves = struct.Struct(f"{len(self.leaves)}d").pack_into
        self._io = helpers()
        self._unpack = self._io.ag_unpack if self._io else None
        self._add_grads = None
        if self._io and all(type(leaf).grad is _GRAD for leaf in self._wanted):
            self._add_grads = self._io.ag_add_into

    def _gradient_buffers(self, needs: list[bool]) -> None:
        """Which leaves get a gradient (all that need one; all but the inputs in batch())."""
        index = self._index
        self._wanted = [leaf for leaf in self.leaves if needs[index[leaf]]]
        self._wslot = array("i", [index[leaf] for leaf in self._wanted])
        self._GW = _zeros(len(self._wanted))
        self._GW_at = self._GW.buffer_info()[0]
        inputs = set(self.inputs)
        self._params = [leaf for leaf in self._wanted if leaf not in inputs]
        self._pslot = array("i", [index[leaf] for leaf in self._params])
        self._islot = array("i", [index[x] for x in self.inputs])

    def _bind(self, lib: ctypes.CDLL) -> None:
        p, d, i = ctypes.c_void_p, ctypes.c_double, ctypes.c_int
        for name, args in [("ag_forward", [p, p]), ("ag_backward", [p, d, i, p, p]),
                           ("ag_map", [p, p, i, i, p, p, p]),
                           ("ag_batch", [p, p, i, i, p, p, p, d, i, p, p])]:
            fn = function(lib, name)
            fn.argtypes, fn.restype = args, ctypes.c_int
            setattr(self, "_c" + name[2:], fn)
        self._lib = lib

    def _python(self) -> TapeCompiled:
        if self._tape is None:
            self._tape = TapeCompiled(self.root, self._order)
        return self._tape

    def _run_forward(self, data: list[float]) -> Sequence[float]:
        self._pack(data)
        self._errors.clear()
        if self._c_forward(self._ref, self._L) or self._errors:
            # Redo in Python: raises the op's own error, or computes what eager computes.
            vals = self._python()._run_forward(data)
            self._V[:] = array("d", vals)
        return self._V

    def _run_backward(self, seed: float) -> None:
        self._errors.clear()
        wslot, GW = self._wslot, self._GW
        if self._c_backward(self._ref, seed, len(wslot), wslot.buffer_info()[0],
                            GW.buffer_info()[0]) or self._errors:
            tape = self._python()
            tape._values = list(self._V)
            tape._run_backward(seed)
            return
        done = self._add_grads(self._wanted, _GRAD, self._GW_at) if self._add_grads else 0
        if done < len(GW):
            for leaf, g in zip(self._wanted[done:], GW[done:]):
                leaf.grad += g

    def _pack(self, data: list[float]) -> None:
        """The leaves' data into the buffer C reads them from."""
        if self._unpack is None or self._unpack(data, self._L) != len(data):
            self._pack_leaves(self._L, 0, *data)

    def map(self, rows) -> list[float]:
        X, n = self._pack_rows(rows)
        Y = _zeros(n)
        self._pack(self._gather())
        self._errors.clear()
        self._read = None  # V now holds the last row's values
        if self._c_map(self._ref, self._L, n, len(self.inputs),
                       self._islot.buffer_info()[0], X.buffer_info()[0],
                       Y.buffer_info()[0]) or self._errors:
            return super().map(rows)
        return Y.tolist()[:n]

    def batch(self, rows, gradient: float = 1.0) -> list[float]:
        seed = self._seed_for_batch(gradient)
        X, n = self._pack_rows(rows)
        Y = _zeros(n)
        GW = array("d", [leaf.grad for leaf in self._params]) or _zeros(0)
        self._pack(self._gather())
        self._errors.clear()
        self._read = None
        if self._c_batch(self._ref, self._L, n, len(self.inputs),
                         self._islot.buffer_info()[0], X.buffer_info()[0], Y.buffer_info()[0],
                         seed, len(self._params), self._pslot.buffer_info()[0],
                         GW.buffer_info()[0]) or self._errors:
            return super().batch(rows, gradient)
        for leaf, g in zip(self._params, GW):
            leaf.grad = g
        return Y.tolist()[:n]

    def _pack_rows(self, rows) -> tuple[array, int]:
        rows = self._rows(rows)
        return array("d", chain.from_iterable(rows)) or _zeros(0), len(rows)
