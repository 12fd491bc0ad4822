"""native: replay a graph in C; the graph is two programs of records, the code comes from
``csource``.

Buffers are allocated once per compiled graph: ``V`` (every node's value), ``G`` (every node's
gradient), the leaves' data ``L`` and the gradients of the leaves that need one, added into their
``.grad`` after each backward (both moves by ``leafio``'s C code where it exists, else in Python).

``L`` holds the parameters (every leaf but the Constants) first, then the Constants, whose
numbers are read once, here. A forward reads the parameters' data only when some Value's data
was assigned since the last read (the engine's ``data_edits`` count moved): an optimizer that
writes the parameters back in C (``update``) counts its write, so a user's ``p.data = ...`` and
the optimizer's update are both seen, and a loop that changes nothing reads nothing.
"""
from __future__ import annotations

import ctypes
import math
import struct
import weakref
from array import array
from collections import Counter
from itertools import chain
from typing import Sequence

from .csource import NativeUnavailable, Source, function, isa_flags, load
from .trace import traceable
from ..engine import DATA_SLOT, Constant, Value, data_edits
from .leafio import helpers, slot_mover
from .replay import Compiled, data_reader, needs_grad, op_and_parents
from .tape import TapeCompiled

__all__ = ["NativeCompiled", "NativeUnavailable", "holding", "native_graphs"]

_INT = ctypes.POINTER(ctypes.c_int)
_DBL = ctypes.POINTER(ctypes.c_double)
_FCB = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.c_int)
_BCB = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int)
_GRAD = Value.grad  # the member descriptor of the grad slot, which leafio writes through


class _Graph(ctypes.Structure):
    _fields_ = [("nl", ctypes.c_int), ("root", ctypes.c_int), ("n", ctypes.c_int),
                ("nf", ctypes.c_int), ("nb", ctypes.c_int),
                ("fprog", _INT), ("bprog", _INT), ("lslot", _INT),
                ("V", _DBL), ("G", _DBL), ("fcb", _FCB), ("bcb", _BCB),
                ("nr", ctypes.c_int), ("nrb", ctypes.c_int), ("rslot", _INT), ("rbprog", _INT),
                ("S", _DBL), ("XT", _DBL), ("nrf", ctypes.c_int), ("rfprog", _INT)]


def _addresses(kept: tuple) -> tuple:
    """``_kept``'s count and buffers as ctypes arguments."""
    nk, slots, K = kept
    return nk, slots and slots.buffer_info()[0], K and K.buffer_info()[0]


def _aligned(buf: array) -> int:
    """The first address in ``buf`` on a 64-byte boundary (a cache line's)."""
    return -(-buf.buffer_info()[0] // 64) * 64


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
        loops = src.loops
        self.forward = [(kinds[k][0], i, k, ps) for i, k, ps in records]
        self.fprog = self._grouped(lambda ps, m: True)
        self.backward = [(kinds[k][1], i, k, ps) for i, k, ps in reversed(records) if needs[i]]
        self.bprog = array("i", chain.from_iterable(
            _record(kind, i, k, ps, loops) for kind, i, k, ps in self.backward))

    def rows_fprog(self, constant: set[int]) -> array:
        """ag_rows's forward program: grouped as fprog is, but only records whose first group
        and tails are among the slots ``constant`` (leaves that are not inputs: the same
        number in every row, read once for all lanes)."""
        return self._grouped(
            lambda ps, m: all(p in constant for p in ps[:m] + ps[2 * m:]))

    def _grouped(self, joins) -> array:
        """The forward program: the records in order, but those of a two-group loop (dot) that
        read the same second group (a layer's neurons) and for which ``joins(inputs, m)``
        holds gathered into one group record at the first one's place. A record joins a
        group only if every input it reads is ready there (a leaf, or computed before it),
        so moving it earlier changes no value."""
        at = {i: pos for pos, (_, i, _, _) in enumerate(self.forward)}
        src, groups, open_ = self.source, {}, {}
        for pos, (kind, _, _, ps) in enumerate(self.forward):
            g = src.group_kind(kind) if kind >= 0 else None
            m = (len(ps) - g[1]) // 2 if g else 0
            if not m or not joins(ps, m):
                continue
            # The earliest group of its kind where every input is ready, else the latest (where
            # any is ready: a later place has more computed before it), else a new one; two
            # looks, so that a chain of dots each reading the last builds in linear time.
            firsts = open_.setdefault((g[0], len(ps), tuple(ps[m:2 * m])), [])
            first = next((f for f in dict.fromkeys(firsts[:1] + firsts[-1:])
                          if all(at.get(p, -1) < f for p in ps)), None)
            if first is not None:
                groups[first].append(pos)
            else:
                firsts.append(pos)
                groups[pos] = [pos]
        joined = {pos for members in groups.values() for pos in members[1:]}
        out = []
        for pos, (kind, i, k, ps) in enumerate(self.forward):
            members = groups.get(pos, ())
            if len(members) > 1:
                recs = [self.forward[q] for q in members]
                out.append((src.group_kind(kind)[0], len(recs), len(ps),
                            *(r[1] for r in recs), *chain.from_iterable(r[3] for r in recs)))
            elif pos not in joined:
                out.append(_record(kind, i, k, ps, src.loops))
        return array("i", chain.from_iterable(out))

    def rows_bprog(self, params: list[int]) -> tuple[array, dict[int, int], int]:
        """ag_rows's backward program; the leaves its wide records sum over the rows, each
        with its index in those sums; and the widest such record's group. A record is wide
        where its op has a wide kind (dot) and its weights and tails are among ``params``
        (slots) and used nowhere else in the backward, so that each gets exactly its one
        term per row."""
        uses = Counter(chain.from_iterable(ps for *_, ps in self.backward))
        once = {p for p in params if uses[p] == 1}
        src, out, sums, groups, widest = self.source, [], {}, {}, 0
        for kind, i, k, ps in self.backward:
            wide = src.wide_kind(kind) if kind >= 0 else None
            m = (len(ps) - wide[1]) // 2 if wide else 0
            summed = ps[:m] + ps[2 * m:]
            if m and all(p in once for p in summed):
                base = len(sums)
                sums.update((p, base + j) for j, p in enumerate(summed))
                xid = groups.setdefault(tuple(ps[m:2 * m]), len(groups))
                out.append((wide[0], i, len(ps), base, xid, *ps))
                widest = max(widest, m)
            else:
                out.append(_record(kind, i, k, ps, src.loops))
        return array("i", chain.from_iterable(out)), sums, widest


def _record(kind: int, out: int, k: int, inputs: list[int], loops) -> tuple[int, ...]:
    """A node's record: its C code's kind, output slot and input slots (the kind fixes their
    number), or for a loop kind (sum, dot) also that number, or for a node called back in
    Python that number and the op node number."""
    if kind < 0:
        return (kind, out, len(inputs), k, *inputs)
    if kind in loops:
        return (kind, out, len(inputs), *inputs)
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


_LIVE: weakref.WeakSet = weakref.WeakSet()  # the native replays alive now
_MADE = [0]  # how many were made


def native_graphs() -> int:
    """How many native replays this process has made (an optimizer looks again when it moved)."""
    return _MADE[0]


def holding(params) -> bool:
    """Whether a native replay alive now has every one of ``params`` among its leaves."""
    want = set(params)
    return any(want <= c._var_set for c in list(_LIVE))


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
        self._vars = [leaf for leaf in self.leaves if not isinstance(leaf, Constant)]
        consts = [leaf for leaf in self.leaves if isinstance(leaf, Constant)]
        self._lslot = array("i", [index[leaf] for leaf in self._vars + consts])
        # The slots whose numbers change from row to row in map() and batch().
        ops = [i for i, node in enumerate(order) if node.operation is not None]
        self._rslot = array("i", ops + [index[x] for x in self.inputs]) or array("i", [0])
        self._graph = _Graph(len(self.leaves), len(order) - 1, len(order), len(tables.fprog),
                             len(tables.bprog), _ptr(tables.fprog), _ptr(tables.bprog),
                             _ptr(self._lslot), _ptr(self._V, _DBL), _ptr(self._G, _DBL),
                             *self._cbs, len(self._rslot), len(tables.bprog),
                             _ptr(self._rslot), _ptr(tables.bprog), None, None,
                             len(tables.fprog), _ptr(tables.fprog))
        self._ref = ctypes.byref(self._graph)
        # Rows side by side (map, batch) where every node has C code: the library and the
        # buffers are made at the first use.
        self._lanes = -1 if tables.calls else None
        self._VR: array | None = None
        self._gradient_buffers(needs)
        self._tape: TapeCompiled | None = None
        # The leaves' data for C: the parameters read through their slots by C code where it
        # can be built (leafio), else packed by struct (several times faster than array() from
        # a list); the Constants' numbers once, now.
        nv = len(self._vars)
        self._L = (ctypes.c_double * max(len(self.leaves), 1))()
        self._L[nv:len(self.leaves)] = [c.data for c in consts]
        self._pack_leaves = struct.Struct(f"{nv}d").pack_into
        self._var_data = data_reader(self._vars)
        self._io = helpers()
        self._read_slot = self._io.ag_read_slot if self._io and slot_mover(self._vars) else None
        self._synced: int | None = None  # data_edits() when the parameters were last read
        # Reads are skipped while the count stands still only where every leaf keeps its number
        # in Value's own slot (a subclass's data property could change without the setter).
        self._counted = all(type(leaf).data is Value.data for leaf in self._vars)
        self._var_set = frozenset(self._vars)
        _LIVE.add(self)
        _MADE[0] += 1
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
                           ("ag_map", [p, p, i, i, p, p, p, i, p, p]),
                           ("ag_batch", [p, p, i, i, p, p, p, d, i, p, p, i, p, p])]:
            fn = function(lib, name)
            fn.argtypes, fn.restype = args, ctypes.c_int
            setattr(self, "_c" + name[2:], fn)
        self._lib = lib

    def _python(self) -> TapeCompiled:
        if self._tape is None:
            self._tape = TapeCompiled(self.root, self._order)
        return self._tape

    def forward(self) -> float:
        edits = data_edits()
        self._sync(edits)
        self._errors.clear()
        if self._c_forward(self._ref, self._L) or self._errors:
            # Redo in Python: raises the op's own error, or computes what eager computes.
            vals = self._python()._run_forward(self._gather())
            self._V[:] = array("d", vals)
        self._values = self._V
        self._read = edits
        return self._V[len(self._order) - 1]

    def _sync(self, edits: int) -> None:
        """The parameters' data into ``L``, unless no Value's data was assigned since."""
        if edits == self._synced and self._counted:
            return
        n = len(self._vars)
        if self._read_slot is None or self._read_slot(self._vars, DATA_SLOT, self._L) != n:
            self._pack_leaves(self._L, 0, *self._var_data(self._vars))
        self._synced = edits

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

    def map(self, rows, keep: Sequence[Value] | Value = ()):
        slots = self._slots(keep)
        X, n = self._pack_rows(rows)
        Y = _zeros(n)
        kept = self._kept(slots, n)
        self._sync(data_edits())
        self._errors.clear()
        self._read = None  # V now holds the last row's values
        if self._side_by_side():
            failed = self._c_rows(self._ref, self._L, n, len(self.inputs),
                                  self._islot.buffer_info()[0], X.buffer_info()[0],
                                  Y.buffer_info()[0], 0.0, 0, None, None, *_addresses(kept),
                                  *self._rows_buffers())
        else:
            failed = self._c_map(self._ref, self._L, n, len(self.inputs),
                                 self._islot.buffer_info()[0], X.buffer_info()[0],
                                 Y.buffer_info()[0], *_addresses(kept))
        if failed or self._errors:
            return super().map(rows, keep)
        return self._result(Y, n, slots, kept, isinstance(keep, Value))

    def batch(self, rows, gradient: float = 1.0, keep: Sequence[Value] | Value = ()):
        seed = self._seed_for_batch(gradient)
        slots = self._slots(keep)
        X, n = self._pack_rows(rows)
        Y = _zeros(n)
        kept = self._kept(slots, n)
        lanes = self._side_by_side()
        params, wslot = (self._rparams, self._rwslot) if lanes else (self._params, self._pslot)
        GW = self._param_grads(params)
        self._sync(data_edits())
        self._errors.clear()
        self._read = None
        run = self._c_rows if lanes else self._c_batch
        extra = self._rows_buffers() if lanes else ()
        if run(self._ref, self._L, n, len(self.inputs), self._islot.buffer_info()[0],
               X.buffer_info()[0], Y.buffer_info()[0], seed, len(params),
               wslot.buffer_info()[0], GW.buffer_info()[0], *_addresses(kept),
               *extra) or self._errors:
            return super().batch(rows, gradient, keep)
        if self._read_slot is None or self._io.ag_write_slot(
                params, _GRAD, GW.buffer_info()[0], 0.0) < 0:
            for leaf, g in zip(params, GW):
                leaf.grad = g
        return self._result(Y, n, slots, kept, isinstance(keep, Value))

    @staticmethod
    def _kept(slots: list[int] | None, n: int) -> tuple:
        """ag_map/ag_batch/ag_rows's last three arguments: how many nodes to keep from each
        row, their slots, and the buffer for their values (row after row)."""
        if slots is None:
            return 0, None, None
        return len(slots), array("i", slots), _zeros(n * len(slots))

    @staticmethod
    def _result(Y: array, n: int, slots: list[int] | None, kept: tuple, one: bool):
        """The roots, and with ``slots`` the kept values: per row a list, or with ``one`` (a
        node kept, not in a list) a number."""
        roots = Y.tolist()[:n]
        if slots is None:
            return roots
        nk, _, K = kept
        flat = K.tolist()
        if one:
            return roots, flat[:n]
        if nk == 1:
            return roots, [[v] for v in flat[:n]]
        return roots, [flat[i:i + nk] for i in range(0, n * nk, nk)]

    def _side_by_side(self) -> bool:
        """Whether rows go side by side: loads the rows library the first time."""
        if self._lanes is None:
            code = self._keep.source.rows_code()
            try:
                try:
                    lib = load(code, isa_flags())
                except NativeUnavailable:
                    if not isa_flags():
                        raise
                    lib = load(code)  # a compiler that does not take the vector flags
                rows, lanes = function(lib, "ag_rows"), function(lib, "ag_lanes")
            except NativeUnavailable:
                self._lanes = -1
                return False
            p, d, i = ctypes.c_void_p, ctypes.c_double, ctypes.c_int
            rows.argtypes, rows.restype = [p, p, i, i, p, p, p, d, i, p, p, i, p, p, p, p], i
            lanes.argtypes, lanes.restype = [], i
            self._c_rows, self._rows_lib, self._lanes = rows, lib, lanes()
            # ag_rows's own backward program, its sums and its inputs row by row; a leaf it
            # sums is marked -1 - its index in the sums in wslot.
            self._rbprog, sums, widest = self._keep.rows_bprog(list(self._pslot))
            self._S, self._XT = _zeros(len(sums)), _zeros(widest * self._lanes)
            self._rfprog = self._keep.rows_fprog(set(self._lslot) - set(self._islot))
            g = self._graph
            g.nrf, g.rfprog = len(self._rfprog), _ptr(self._rfprog)
            g.nrb, g.rbprog = len(self._rbprog), _ptr(self._rbprog)
            g.S, g.XT = _ptr(self._S, _DBL), _ptr(self._XT, _DBL)
            # The parameters summed by wide records last: ag_rows's pass over the others
            # stops at the first of them.
            order = sorted(range(len(self._pslot)), key=lambda j: self._pslot[j] in sums)
            self._rparams = [self._params[j] for j in order]
            self._rwslot = array("i", [-1 - sums[s] if s in sums else s
                                       for s in (self._pslot[j] for j in order)])
        return self._lanes > 0

    def _rows_buffers(self) -> tuple[int, int]:
        """Values and gradients of every node in every lane, for ag_rows: the addresses of
        the first 64-byte boundaries in them, so that a slot's lanes (eight doubles are 64
        bytes) are never split between two cache lines; about 15% of a batch with eight lanes."""
        if self._VR is None:
            n = len(self) * self._lanes + 8
            self._VR, self._GR = _zeros(n), _zeros(n)
        return _aligned(self._VR), _aligned(self._GR)

    def _param_grads(self, params: list[Value]) -> array:
        """The parameters' grads as floats, for batch() to add into."""
        GW = _zeros(len(params))
        if self._read_slot is None or self._read_slot(params, _GRAD,
                                                      GW.buffer_info()[0]) != len(params):
            GW = array("d", [leaf.grad for leaf in params]) or _zeros(0)
        return GW

    def _pack_rows(self, rows) -> tuple[array, int]:
        """The rows as one array of floats, row after row, and their number: by leafio's C
        code where they are a list of lists of floats, else checked and converted first."""
        k = len(self.inputs)
        if self._io is not None and type(rows) is list and k:
            X = _zeros(len(rows) * k)
            if self._io.ag_pack_rows(rows, k, X.buffer_info()[0]) == len(rows):
                return X, len(rows)
        rows = self._rows(rows)
        return array("d", chain.from_iterable(rows)) or _zeros(0), len(rows)
