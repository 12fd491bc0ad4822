"""The core: a scalar Value, the graph it records, and backpropagation through that graph.

Read it top to bottom, in five steps:

1. What a node holds: a ``Value`` keeps its number, its gradient, and the op and inputs that
   made it.
2. How an op makes a node: ``apply``, the one builder, runs the op's forward on the inputs'
   numbers and records a new node. Operators (``a * b``) and methods (``a.tanh()``) call it.
3. The topological order: every node after the inputs it was made from.
4. ``backward``: the chain rule, from the output back to the leaves. Each node hands each input
   its gradient times the local derivative, and the gradients of a value used twice add up.
5. ``grad``: the same walk, with the gradients handed back instead of added to ``.grad``.

Every derivative comes from the op table (``ops.py``); this module knows none of them.
"""
from __future__ import annotations

import builtins
import math
import numbers
import operator
import threading
from typing import Iterable, Sequence

from .modes import ANOMALY, IEEE, MODE, RECORD, Mode, check_terms, check_total
from .ops import OPS, Op

ADD, SUB, MUL, DIV, POW = OPS["add"], OPS["sub"], OPS["mul"], OPS["div"], OPS["pow"]
NEG, ABS, EXP, LOG, SQRT = OPS["neg"], OPS["abs"], OPS["exp"], OPS["log"], OPS["sqrt"]
TANH, SIGMOID, RELU, SOFTPLUS = OPS["tanh"], OPS["sigmoid"], OPS["relu"], OPS["softplus"]
SIN, COS, SUM, DOT, LEAKY_RELU = OPS["sin"], OPS["cos"], OPS["sum"], OPS["dot"], OPS["leaky_relu"]


# ------------------------------------------------------------------- 1. what a node holds

class Value:
    """A scalar that records the operation that made it, so gradients can flow back."""

    # _data: the number. grad: what backward() adds up for it. label: a name for pictures.
    # _op: the op-table entry that made it (None for a leaf). _a, _b: its inputs, one in _a or
    # two in _a and _b, or a tuple of them in _a (two slots rather than a tuple: one object per
    # node halves the work of Python's cycle collector, which scans every node of a graph being
    # built). _acc: scratch for the walk, the gradient being summed.
    __slots__ = ("_data", "grad", "label", "_op", "_a", "_b", "_acc")

    def __init__(self, data: float, label: str = "") -> None:
        self._data = _number("Value", data)
        self.grad = 0.0
        self.label = label
        self._op: Op | None = None
        self._a = self._b = None
        self._acc = 0.0

    @property
    def data(self) -> float:
        """The number this node holds; always a float (an assigned int or Fraction is converted)."""
        return self._data

    @data.setter
    def data(self, value: float) -> None:
        self._data = value if type(value) is float else _number("data", value)
        _EDITS[0] += 1   # a compiled replay re-reads its leaves only when this count moved

    @property
    def parents(self) -> tuple[Value, ...]:
        """The inputs of the op that made this value; empty for a leaf."""
        a, b = self._a, self._b
        if b is not None:
            return (a, b)
        if a is None:
            return ()
        return a if type(a) is tuple else (a,)

    @property
    def op(self) -> str:
        """Name of the op that made this value; empty for a leaf."""
        return self._op.name if self._op is not None else ""

    @property
    def operation(self) -> Op | None:
        """The op-table entry that made this value; None for a leaf."""
        return self._op

    @property
    def is_leaf(self) -> bool:
        return self._op is None

    def __repr__(self) -> str:
        extra = f", label={self.label!r}" if self.label else ""
        if self._op is not None:
            extra += f", op={self._op.name!r}"
        return f"Value(data={_short(self._data)}, grad={_short(self.grad)}{extra})"

    def item(self) -> float:
        """The number, as a plain float (PyTorch's name; the same as ``data``)."""
        return self._data

    def __format__(self, spec: str) -> str:
        # f"{loss:.4f}" formats the number: a string cannot be computed with, so nothing is lost.
        return format(self._data, spec) if spec else repr(self)

    # A Value is not a float. math.tanh(v) converts through __float__ and would return a bare
    # number that silently left the graph, so every conversion to a number is an error that
    # says what to write instead.
    def __float__(self): raise _not_a_number(self, "float")
    def __int__(self): raise _not_a_number(self, "int")
    def __complex__(self): raise _not_a_number(self, "complex")
    def __round__(self, ndigits=None): raise _not_a_number(self, "round")

    # Operators and methods: each is one op of the table, applied by the builder below.
    def __add__(self, other): return _operator(ADD, self, other)
    def __radd__(self, other): return _operator(ADD, other, self)
    def __sub__(self, other): return _operator(SUB, self, other)
    def __rsub__(self, other): return _operator(SUB, other, self)
    def __mul__(self, other): return _operator(MUL, self, other)
    def __rmul__(self, other): return _operator(MUL, other, self)
    def __truediv__(self, other): return _operator(DIV, self, other)
    def __rtruediv__(self, other): return _operator(DIV, other, self)
    def __pow__(self, other): return _operator(POW, self, other)
    def __rpow__(self, other): return _operator(POW, other, self)
    def __neg__(self): return apply(NEG, (self,))
    def __pos__(self): return self
    def __abs__(self): return apply(ABS, (self,))
    def exp(self): return apply(EXP, (self,))
    def log(self): return apply(LOG, (self,))
    def sqrt(self): return apply(SQRT, (self,))
    def tanh(self): return apply(TANH, (self,))
    def sigmoid(self): return apply(SIGMOID, (self,))
    def relu(self): return apply(RELU, (self,))
    def leaky_relu(self, slope: float = 0.01): return apply(LEAKY_RELU, (self, slope))
    def softplus(self): return apply(SOFTPLUS, (self,))
    def sin(self): return apply(SIN, (self,))
    def cos(self): return apply(COS, (self,))

    # Comparisons look at data and return bools, so `if x > 0:` works (a Value on the right
    # answers through its own reflected method); equality stays identity, which keeps Values
    # usable as dict keys and in sets.
    def __lt__(self, other): return self._data < other
    def __le__(self, other): return self._data <= other
    def __gt__(self, other): return self._data > other
    def __ge__(self, other): return self._data >= other

    def backward(self, gradient: float = 1.0) -> None:
        """Add ∂self/∂node × gradient into the ``grad`` of every node this value depends on."""
        seed = _number("backward", gradient)
        with _WALKS:
            order = _chain_rule(self, seed)
            for node in order:
                node.grad += node._acc   # leaves accumulate across calls, as in PyTorch


class Constant(Value):
    """A number that took part in an op; drawn compactly, never differentiated by users."""

    __slots__ = ()


# ------------------------------------------------------------- 2. how an op makes a node

def apply(op: Op, inputs: Sequence) -> Value:
    """Apply ``op`` to Values or numbers and return the new node: the one place nodes are made.

    Numbers become Constant leaves. The forward runs before the node exists, so an op that
    fails (log of a negative number) raises and leaves nothing half-built.
    """
    n = len(inputs)
    if n != op.arity and op.arity is not None:
        raise TypeError(f"{op.name}: takes {op.arity} inputs, got {n}")
    # Numbers become Constant leaves. One and two inputs, nearly every node, are checked and
    # read directly: a loop or map over them costs as much as the rest of the node (measured
    # on micrograd's graph: each op twice as fast as through the general case).
    try:
        if n == 2:
            a, b = inputs
            if not (isinstance(a, Value) and isinstance(b, Value)):
                inputs = a, b = _wrap(op, a), _wrap(op, b)
            data = op.forward(a._data, b._data)
        elif n == 1:
            a = inputs[0]
            if not isinstance(a, Value):
                inputs = a, = (_wrap(op, a),)
            data = op.forward(a._data)
        else:
            if not all(map(_is_value, inputs)):
                inputs = [_wrap(op, x) for x in inputs]
            data = op.forward(*[x._data for x in inputs])
    except (ArithmeticError, ValueError):
        data = _beyond_domain(op, inputs)
    out = _new(Value)   # Value() without __init__'s checks: data is a float already
    out._data = data
    out.grad = 0.0
    out.label = ""
    out._op = op
    out._acc = 0.0
    if n == 2:
        out._a, out._b = inputs
    else:
        out._a, out._b = inputs[0] if n == 1 else tuple(inputs), None
    if MODE.get() != RECORD:
        _rare_mode(out)
    return out


def _operator(op: Op, a, b):
    # Python's operators: anything but a number goes back to Python (NotImplemented), which
    # then tries the other operand's method or raises TypeError.
    if isinstance(a, _OPERAND) and isinstance(b, _OPERAND):
        return apply(op, (a, b))
    return NotImplemented


def sum(values: Iterable) -> Value:  # noqa: A001 - the namespaced name reads best
    """Σ values as a single node with one input per term."""
    values = list(values)
    return apply(SUM, values) if values else Constant(0.0)


def dot(w: Sequence, x: Sequence, b=0.0) -> Value:
    """w·x + b as a single node, the net input of a neuron."""
    if not isinstance(w, (list, tuple)) or not isinstance(x, (list, tuple)):
        w, x = list(w), list(x)
    if len(w) != len(x):
        raise ValueError(f"dot: {len(w)} weights but {len(x)} inputs")
    return apply(DOT, (*w, *x, b))


# ------------------------------------------------------------------ 3. topological order

def topological_order(root: Value) -> list[Value]:
    """Every node ``root`` depends on, each after all of its inputs (an iterative depth-first
    search: no recursion, so a graph a million ops deep is fine)."""
    order: list[Value] = []
    seen: set[Value] = set()
    # Two stacks side by side: a node, and whether its inputs are already in the order (no
    # pair objects, which the cycle collector would scan again and again down a deep graph).
    nodes, inputs_done = [root], [False]
    while nodes:
        node, done = nodes.pop(), inputs_done.pop()
        if done:
            order.append(node)        # every input came before it
        elif node not in seen:
            seen.add(node)
            nodes.append(node)        # come back to it once its inputs are done
            inputs_done.append(True)
            for p in reversed(node.parents):   # popped first input first
                if p not in seen:
                    nodes.append(p)
                    inputs_done.append(False)
    return order


# ------------------------------------------------------------------------- 4. backward

def _chain_rule(root: Value, seed, on_values: bool = False) -> list[Value]:
    """The chain rule, node by node from ``root``: leaves ∂root/∂node × seed in each node's
    ``_acc`` and returns the order. Call it holding ``_WALKS``.

    ``on_values``: the partials are evaluated on the Values themselves and recorded, so the
    gradients can be differentiated again (``create_graph``).
    """
    order = topological_order(root)
    for node in order:
        node._acc = 0.0                  # the gradient arriving at each node, summed over uses
    root._acc = seed
    checking = MODE.get() & ANOMALY
    for node in reversed(order):         # a node before the inputs it was made from
        op, g = node._op, node._acc
        if checking:
            check_total(node, g)
        if op is None:
            continue                     # a leaf: its gradient is complete
        a, b = node._a, node._b
        if b is not None:   # two inputs, most nodes: read directly (see apply)
            inputs, data = (a, b), [a._data, b._data]
        else:
            inputs = node.parents
            data = [x._data for x in inputs]
        # A zero gradient through an op whose slopes are finite (no division, no infinite
        # slope) sends only ±0 when the numbers are finite, and adding ±0 changes no sum: skip
        # it. Exact, and ReLU networks send zeros through most of their graph.
        if g == 0.0 and op.finite_slopes and math.isfinite(_plain_sum(data, node._data)):
            continue
        if on_values:
            terms = op.partials(*inputs, node, g=g)
        else:
            terms = op.partials(*data, node._data, g=g)   # g·∂node/∂input, one per input
        if checking:
            check_terms(op, node, inputs, terms, g)
        for x, d in zip(inputs, terms):
            x._acc += d                  # a value used twice gets both gradients
    return order


def backprop(root: Value, seed=1.0, create_graph: bool = False) -> tuple[list[Value], dict]:
    """The backward walk without touching ``.grad``: the order, and ∂root/∂node × seed for
    every node. With ``create_graph`` the gradients are Values that can be differentiated."""
    with _WALKS:
        if not create_graph:
            order = _chain_rule(root, seed)
            return order, dict(zip(order, map(_get_acc, order)))
        with Mode(RECORD | IEEE, 0):
            order = _chain_rule(root, seed, on_values=True)
        grads = dict(zip(order, map(_get_acc, order)))
        for node in order:
            node._acc = 0.0   # no node keeps a gradient graph that holds the node itself
        return order, grads


# ----------------------------------------------------------------------------- 5. grad

def grad(output: Value, inputs: Value | Sequence[Value], *, create_graph: bool = False,
         grad_output: float | Value = 1.0):
    """∂output/∂input, leaving every ``.grad`` untouched: one gradient for a single Value, a
    list for a sequence of them (JAX's rule). An input ``output`` does not depend on gets 0.

    With ``create_graph=True`` the results are Values whose graphs can be differentiated again
    (second derivatives, Hessians).
    """
    if not isinstance(output, Value):
        raise TypeError(f"grad: output must be a Value, got {type(output).__name__}")
    single = isinstance(inputs, Value)
    inputs = [inputs] if single else list(inputs)
    for x in inputs:
        if not isinstance(x, Value):
            raise TypeError(f"grad: inputs must be Values, got {type(x).__name__} {x!r}")
    seed = grad_output if isinstance(grad_output, Value) else _number("grad", grad_output)
    _, grads = backprop(output, seed, create_graph)
    result = [grads.get(x, 0.0) for x in inputs]
    if create_graph:
        result = [r if isinstance(r, Value) else Constant(r) for r in result]
    return result[0] if single else result


def _rare_mode(out: Value) -> None:
    """Apply no_grad or detect_anomaly to a node just made (recording is the common case)."""
    mode = MODE.get()
    if mode & ANOMALY and not math.isfinite(out._data):
        raise FloatingPointError(
            f"detect_anomaly: {out._op.name} produced {out._data!r} from inputs "
            f"{[p._data for p in out.parents]}")
    if not mode & RECORD:
        out._op = None
        out._a = out._b = None


def _beyond_domain(op: Op, inputs) -> float:
    """Re-raise the forward's error, unless a walk is building derivatives (see IEEE)."""
    if op.ieee is None or not MODE.get() & IEEE:
        raise  # noqa: PLE0704 - called from an except block: re-raises the forward's error
    return op.ieee(*[x._data for x in inputs])


# -------------------------------------------------------------------------------- helpers

# Walks keep their sums in the nodes (_acc), so two walks over shared nodes (two threads
# training one model) must not interleave. Re-entrant: a user's partial may run a backward.
_WALKS = threading.RLock()
_EDITS = [0]   # how many times any Value's data has been assigned
_ANY = numbers.Real
_OPERAND = (Value, float, int, _ANY)
_new = object.__new__
_is_value = Value.__instancecheck__
_get_acc, _get_data = operator.attrgetter("_acc"), operator.attrgetter("_data")
_plain_sum = builtins.sum   # this module defines its own sum


def _short(x: float) -> str:
    s = f"{x:.4g}"
    return s + ".0" if s.lstrip("-").isdigit() else s


def _not_a_number(v: Value, into: str) -> TypeError:
    return TypeError(
        f"{into}(): {v!r} is not a plain number; math.tanh(v), float(v) and the like would "
        f"silently drop it from the graph: write v.tanh() (v.exp(), v.log(), ...) to stay in "
        f"the graph, or v.item() or v.data for the number")


def _number(op: str, x) -> float:
    if type(x) is float:   # the common case, without numbers.Real's slow ABC check
        return x
    if not isinstance(x, _ANY) or isinstance(x, bool):
        raise TypeError(f"{op}: expected a real number, got {type(x).__name__} {x!r}")
    return float(x)


def _wrap(op: Op, x) -> Value:
    if isinstance(x, Value):
        return x
    if type(x) is float or (isinstance(x, _ANY) and not isinstance(x, bool)):
        return Constant(x)
    raise TypeError(f"{op.name}: expected a Value or a real number, got {type(x).__name__} {x!r}")


def data_of(nodes: Sequence[Value]) -> list[float]:
    """The ``data`` of each node, in one C-level pass (a compiled replay reads its leaves)."""
    return list(map(_get_data, nodes))


def data_edits() -> int:
    """A count that grows whenever some Value's ``data`` is assigned (never reset)."""
    return _EDITS[0]


def data_written() -> int:
    """Count a write of Values' data made past the setter (compiled code writes a whole list of
    parameters at once, through ``DATA_SLOT``); returns the new count."""
    _EDITS[0] += 1
    return _EDITS[0]


# The slot that holds a Value's number: compiled code reads and writes many at once through it.
# Measured on the demo step (337 parameters): the SGD update through the property 52 µs, in C
# through the slot 7 µs (docs/performance.md).
DATA_SLOT = Value.__dict__["_data"]
