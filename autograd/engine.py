"""Value, the graph it records, and the reverse-mode walk that applies the chain rule."""
from __future__ import annotations

import builtins
import contextvars
import math
import numbers
import operator
import threading
from typing import Callable, Iterable, Sequence

from .ops import ONE, OPS, Op

# One context variable holds the recording mode, so each op pays for a single lookup. It is a
# ContextVar rather than a global so that no_grad in one thread or async task leaves others alone.
# _IEEE is on while a walk builds derivatives as Values: there an op whose forward raises (1/0 in
# the slope of √x at 0) gives IEEE 754's inf or nan instead, as PyTorch does.
_RECORD, _ANOMALY, _IEEE = 1, 2, 4
_MODE: contextvars.ContextVar[int] = contextvars.ContextVar("autograd_mode", default=_RECORD)

# How many times any Value's data has been assigned: a replay that read the leaves can tell
# whether one changed since without reading them all again.
_EDITS = [0]

ADD, SUB, MUL, DIV, POW = OPS["add"], OPS["sub"], OPS["mul"], OPS["div"], OPS["pow"]
NEG, ABS, EXP, LOG, SQRT = OPS["neg"], OPS["abs"], OPS["exp"], OPS["log"], OPS["sqrt"]
TANH, SIGMOID, RELU, SOFTPLUS = OPS["tanh"], OPS["sigmoid"], OPS["relu"], OPS["softplus"]
SIN, COS, SUM, DOT = OPS["sin"], OPS["cos"], OPS["sum"], OPS["dot"]
_ANY = numbers.Real


def _binary_method(op: Op, name: str) -> Callable:
    """``Value.__add__`` and its kind: _binary for ``self`` known to be a Value, with the op's
    forward bound once. One Python call per node instead of two; the closure holds the op, never
    a node."""
    forward = op.forward

    def method(self, other):
        if not isinstance(other, Value):
            other = _wrap(other)
            if other is None:
                return NotImplemented
        try:
            data = forward(self._data, other._data)
        except (ArithmeticError, ValueError):
            data = _beyond_domain(op, (self, other))
        out = _new(Value)
        out._data = data
        out.grad = 0.0
        out.label = ""
        out._op = op
        out._a = self
        out._b = other
        out._acc = 0.0
        if _MODE.get() != _RECORD:
            _rare_mode(out)
        return out
    method.__name__, method.__qualname__ = name, f"Value.{name}"
    return method


def _unary_method(op: Op, name: str) -> Callable:
    """``Value.relu`` and its kind, built like _binary_method."""
    forward = op.forward

    def method(self):
        try:
            data = forward(self._data)
        except (ArithmeticError, ValueError):
            data = _beyond_domain(op, (self,))
        out = _new(Value)
        out._data = data
        out.grad = 0.0
        out.label = ""
        out._op = op
        out._a = self
        out._b = None
        out._acc = 0.0
        if _MODE.get() != _RECORD:
            _rare_mode(out)
        return out
    method.__name__, method.__qualname__ = name, f"Value.{name}"
    return method


class Value:
    """A scalar that records the operations it takes part in, so gradients can flow back."""

    # The inputs live in two slots rather than a tuple: nearly every node has one or two, and
    # one object per node instead of two halves the work of Python's cycle collector, which
    # scans every live node of a graph being built (and finds nothing: a graph has no cycles).
    # _a and _b are a binary node's inputs; a unary node has its input in _a and None in _b;
    # a node with another count has them all as a tuple in _a; a leaf has None in both.
    # _acc is scratch for the walks: the mark of a node visited by topological_order, then the
    # gradient being summed during a float walk (see _walk_floats). Every node is made with
    # 0.0 there, so that a walk can read it on any node.
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
        # Converted once here so that every op can rely on float arithmetic.
        self._data = value if type(value) is float else _number("data", value)
        _EDITS[0] += 1

    @property
    def op(self) -> str:
        """Name of the op that made this value; empty for a leaf."""
        return self._op.name if self._op is not None else ""

    @property
    def operation(self) -> Op | None:
        """The op-table entry that made this value; None for a leaf."""
        return self._op

    @property
    def parents(self) -> tuple[Value, ...]:
        """The input Values of the op that made this value; empty for a leaf."""
        a, b = self._a, self._b
        if b is not None:
            return (a, b)
        if a is None:
            return ()
        return a if type(a) is tuple else (a,)

    @property
    def is_leaf(self) -> bool:
        return self._op is None

    def __repr__(self) -> str:
        extra = f", label={self.label!r}" if self.label else ""
        if self._op is not None:
            extra += f", op={self._op.name!r}"
        return f"Value(data={_short(self._data)}, grad={_short(self.grad)}{extra})"

    def __float__(self) -> float:
        return self._data

    # Binary operators: a number on either side becomes a Constant leaf. Value on the left is
    # the hot path of every model, so it gets its own function (see _binary_method).
    __add__ = _binary_method(ADD, "__add__")

    def __radd__(self, other):
        return _binary(ADD, other, self)

    __sub__ = _binary_method(SUB, "__sub__")

    def __rsub__(self, other):
        return _binary(SUB, other, self)

    __mul__ = _binary_method(MUL, "__mul__")

    def __rmul__(self, other):
        return _binary(MUL, other, self)

    __truediv__ = _binary_method(DIV, "__truediv__")

    def __rtruediv__(self, other):
        return _binary(DIV, other, self)

    __pow__ = _binary_method(POW, "__pow__")

    def __rpow__(self, other):
        return _binary(POW, other, self)

    __neg__ = _unary_method(NEG, "__neg__")

    def __pos__(self):
        return self

    __abs__ = _unary_method(ABS, "__abs__")

    # Comparisons look at data and return bools, so `if x > 0:` works; equality stays identity,
    # which keeps Values usable as dict keys and in sets.
    def __lt__(self, other):
        return self._data < _data(other)

    def __le__(self, other):
        return self._data <= _data(other)

    def __gt__(self, other):
        return self._data > _data(other)

    def __ge__(self, other):
        return self._data >= _data(other)

    exp = _unary_method(EXP, "exp")

    log = _unary_method(LOG, "log")

    sqrt = _unary_method(SQRT, "sqrt")

    tanh = _unary_method(TANH, "tanh")

    sigmoid = _unary_method(SIGMOID, "sigmoid")

    relu = _unary_method(RELU, "relu")

    def leaky_relu(self, slope: float = 0.01) -> Value:
        return apply(OPS["leaky_relu"], (self, slope))

    softplus = _unary_method(SOFTPLUS, "softplus")

    sin = _unary_method(SIN, "sin")

    cos = _unary_method(COS, "cos")

    def backward(self, gradient: float = 1.0) -> None:
        """Add ∂self/∂node × gradient into the ``grad`` of every node this value depends on."""
        seed = _number("backward", gradient)
        if _MODE.get() & _ANOMALY:
            _, grads = backprop(self, seed, create_graph=False)
            for node, g in grads.items():
                node.grad += g
            return
        with _FLOAT_WALK:
            order = _walk_floats(self, seed)
            for node in order:
                node.grad += node._acc


class Constant(Value):
    """A number that took part in an op; drawn compactly, never differentiated by users."""

    __slots__ = ()


_is_value = Value.__instancecheck__
_get_data = operator.attrgetter("_data")
_get_acc = operator.attrgetter("_acc")
_isfinite, _plain_sum = math.isfinite, builtins.sum   # this module defines its own sum
# Walks keep their marks and sums in the nodes (Value._acc), so two walks over shared nodes
# (two threads training one model) must not interleave. Walks in pure Python run one at a time
# under the GIL anyway; the lock costs one acquire per walk. Re-entrant, so that a partial may
# itself run a backward on another graph.
_FLOAT_WALK = threading.RLock()
_new = object.__new__


def _short(x: float) -> str:
    s = f"{x:.4g}"
    return s + ".0" if s.lstrip("-").isdigit() else s


def _data(x) -> float:
    return x._data if isinstance(x, Value) else x


def _number(op: str, x) -> float:
    if type(x) is float:   # the common case, without numbers.Real's slow ABC check
        return x
    if not isinstance(x, _ANY) or isinstance(x, bool):
        raise TypeError(f"{op}: expected a real number, got {type(x).__name__} {x!r}")
    return float(x)


def _wrap(x) -> Value | None:
    if isinstance(x, Value):
        return x
    if type(x) is float or type(x) is int:   # skips numbers.Real's slow ABC check
        return Constant(float(x))
    if isinstance(x, _ANY) and not isinstance(x, bool):
        return Constant(x)
    return None


def _binary(op: Op, a, b):
    # The common case, two Values, costs two isinstance checks and no calls.
    if not isinstance(a, Value):
        a = _wrap(a)
        if a is None:
            return NotImplemented
    if not isinstance(b, Value):
        b = _wrap(b)
        if b is None:
            return NotImplemented
    try:
        data = op.forward(a._data, b._data)
    except (ArithmeticError, ValueError):
        data = _beyond_domain(op, (a, b))
    # Every op builds its node inline (here, in apply and in the methods above): a helper's
    # call would cost about as much as the rest of the node's construction. The forward runs
    # first, and may raise, so a failed op leaves no node.
    out = _new(Value)
    out._data = data
    out.grad = 0.0
    out.label = ""
    out._op = op
    out._a = a
    out._b = b
    out._acc = 0.0
    if _MODE.get() != _RECORD:
        _rare_mode(out)
    return out


def apply(op: Op, args: Sequence) -> Value:
    """Apply ``op`` to Values or numbers and return the new node."""
    parents = tuple(args)
    # C-level check over all inputs (a neuron's dot has 2n+1); wrap numbers only when needed.
    if not all(map(_is_value, parents)):
        parents = tuple(_wrap(a) for a in args)
        for a, p in zip(args, parents):
            if p is None:
                raise TypeError(f"{op.name}: expected a Value or a real number, "
                                f"got {type(a).__name__} {a!r}")
    if op.arity is not None and len(parents) != op.arity:
        raise TypeError(f"{op.name}: takes {op.arity} inputs, got {len(parents)}")
    try:
        # A comprehension reads the slots faster than map with attrgetter.
        data = op.forward(*[p._data for p in parents])
    except (ArithmeticError, ValueError):
        data = _beyond_domain(op, parents)
    out = _new(Value)
    out._data = data
    out.grad = 0.0
    out.label = ""
    out._op = op
    if len(parents) == 2:
        out._a, out._b = parents
    else:
        out._a = parents[0] if len(parents) == 1 else parents
        out._b = None
    out._acc = 0.0
    if _MODE.get() != _RECORD:
        _rare_mode(out)
    return out


def _beyond_domain(op: Op, parents: tuple[Value, ...]) -> float:
    """Re-raise the forward's error, unless a walk is building derivatives (see _IEEE)."""
    if op.ieee is None or not _MODE.get() & _IEEE:
        raise  # noqa: PLE0704 - called from an except block: re-raises the forward's error
    return op.ieee(*map(_get_data, parents))


def _rare_mode(out: Value) -> None:
    """Apply no_grad or detect_anomaly to a node just made (recording is the common case)."""
    mode = _MODE.get()
    if mode & _ANOMALY and not math.isfinite(out._data):
        raise FloatingPointError(
            f"detect_anomaly: {out._op.name} produced {out._data!r} from inputs "
            f"{[p._data for p in out.parents]}")
    if not mode & _RECORD:
        out._op = None
        out._a = out._b = None


def sum(values: Iterable) -> Value:  # noqa: A001 - the namespaced name reads best
    """Σ values as a single node with one parent per term."""
    values = list(values)
    if not values:
        return Constant(0.0)
    return apply(SUM, values)


def dot(w: Sequence, x: Sequence, b=0.0) -> Value:
    """w·x + b as a single node, the net input of a neuron."""
    if type(w) is not list or type(x) is not list:   # a neuron's are lists: no copies
        w, x = list(w), list(x)
    if len(w) != len(x):
        raise ValueError(f"dot: {len(w)} weights but {len(x)} inputs")
    return apply(DOT, (*w, *x, b))


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
    derivative with respect to each input, written so that it also works on Values if higher-order
    gradients are wanted.
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


# ----------------------------------------------------------------------------------- modes

class _Mode:
    """A context manager that turns mode bits on and off; reusable and re-entrant."""

    __slots__ = ("on", "off", "_tokens")

    def __init__(self, on: int, off: int) -> None:
        self.on, self.off = on, off
        self._tokens: list[contextvars.Token] = []

    def __enter__(self) -> None:
        self._tokens.append(_MODE.set((_MODE.get() | self.on) & ~self.off))

    def __exit__(self, *exc) -> None:
        # Undo the newest entry made in this context. One object shared by threads or tasks
        # holds tokens from several contexts, and a token can only be reset in its own.
        for token in self._tokens[::-1]:
            try:
                _MODE.reset(token)
            except ValueError:
                continue
            self._tokens.remove(token)
            return


def no_grad() -> _Mode:
    """Context manager under which ops record no parents (their results are leaves)."""
    return _Mode(0, _RECORD)


def enable_grad() -> _Mode:
    """Context manager that turns recording back on inside a ``no_grad`` block."""
    return _Mode(_RECORD, 0)


def detect_anomaly() -> _Mode:
    """Context manager that raises ``FloatingPointError`` at the first non-finite value or
    gradient, naming the op and its inputs."""
    return _Mode(_ANOMALY, 0)


def data_of(nodes: Sequence[Value]) -> list[float]:
    """The ``data`` of each node, read in one C-level pass over the slots (a replay reads every
    leaf at every step)."""
    return list(map(_slot_data, nodes))


_slot_data = operator.attrgetter("_data")


def data_edits() -> int:
    """A count that grows whenever some Value's ``data`` is assigned (never reset)."""
    return _EDITS[0]


def is_grad_enabled() -> bool:
    return bool(_MODE.get() & _RECORD)


# ----------------------------------------------------------------------------------- walks

def topological_order(root: Value) -> list[Value]:
    """Every node ``root`` depends on, each after all of its parents (iterative DFS)."""
    with _FLOAT_WALK:
        return _order(root)


def _order(root: Value) -> list[Value]:
    # Each walk has a mark of its own, a new object, left in _acc of every node it has
    # finished: no node holds that very object from before, so `p._acc is done` tells a node
    # already in the order, in a slot read instead of a set's hash-table probe. (Not a float:
    # on some Pythons equal floats are the same object.) A node on the stack needs no mark:
    # meeting it again would take a cycle, and a graph has none.
    done = object()
    order: list[Value] = []
    # Two parallel stacks: the nodes waiting for an input to be done, and for each an iterator
    # over its inputs if they are a tuple (None for one or two inputs, which are looked up
    # again instead). A million-deep chain then stacks no new objects, which the cycle
    # collector would scan over and over while the stack grows.
    nodes: list[Value] = []
    inputs: list = []
    p = root
    while True:
        # Go down from p, a node not done, through first inputs not done, to a node whose
        # inputs are all done (a leaf at the latest): it is next in the order.
        while True:
            a, b = p._a, p._b
            if b is not None:
                if a._acc is not done:
                    nodes.append(p)
                    inputs.append(None)
                    p = a
                    continue
                if b._acc is not done:
                    nodes.append(p)
                    inputs.append(None)
                    p = b
                    continue
            elif type(a) is tuple:
                it = iter(a)
                for q in it:
                    if q._acc is not done:
                        nodes.append(p)
                        inputs.append(it)   # resumes after q
                        p = q
                        break
                else:
                    q = None
                if q is not None:
                    continue
            elif a is not None and a._acc is not done:
                nodes.append(p)
                inputs.append(None)
                p = a
                continue
            p._acc = done
            order.append(p)
            break
        # Back up the stack: each node is done once its inputs are; the first one with an
        # input not done sends the walk down again from that input.
        while nodes:
            node, it = nodes[-1], inputs[-1]
            if it is not None:
                for p in it:
                    if p._acc is not done:
                        break
                else:
                    p = None
            else:
                a, b = node._a, node._b
                if b is not None and a._acc is done:
                    a = b
                p = None if a._acc is done else a
            if p is not None:
                break
            node._acc = done
            order.append(nodes.pop())
            inputs.pop()
        else:
            return order


def backprop(root: Value, seed=1.0, create_graph: bool = False) -> tuple[list[Value], dict]:
    """Reverse topological walk: returns the order and ∂root/∂node × seed for every node.

    Gradients are gathered apart from ``.grad`` (in each node's ``_acc`` on floats, in a dict
    local to the walk otherwise) and never read from it, so whatever an earlier pass left in a
    node is not propagated again. With ``create_graph`` the partials
    are evaluated on Values and the products recorded, so the results can be differentiated.
    """
    anomaly = bool(_MODE.get() & _ANOMALY)
    if not create_graph and not anomaly:
        with _FLOAT_WALK:
            order = _walk_floats(root, seed)
            return order, dict(zip(order, map(_get_acc, order)))
    order = topological_order(root)
    grads = dict.fromkeys(order, 0.0)
    grads[root] = seed
    if create_graph:
        with _Mode(_RECORD | _IEEE, 0):
            _walk(order, grads, anomaly, create_graph=True)
    else:
        with _Mode(0, _RECORD):
            _walk(order, grads, anomaly, create_graph=False)
    return order, grads


def _walk(order: list[Value], grads: dict, anomaly: bool, create_graph: bool) -> None:
    """The chain rule, node by node from the root: each op sends g·∂node/∂parent to its
    parents, formed by the op itself the precise way round (g / x, not g·(1/x))."""
    for node in reversed(order):
        g = grads[node]
        if anomaly:
            _check_total(node, g)
        op = node._op
        if op is None:
            continue
        parents = node.parents
        if create_graph:
            terms = op.partials(*parents, node, g=g)
        else:
            terms = op.partials(*map(_get_data, parents), node._data, g=g)
        if anomaly:
            _check_terms(op, node, parents, terms, g)
        for p, d in zip(parents, terms):
            grads[p] += d


def _walk_floats(root: Value, seed: float) -> list[Value]:
    """The chain rule on floats with no checks, the path of every plain backward(); returns
    the order, with ∂root/∂node × seed left in each node's ``_acc``. Call under _FLOAT_WALK.

    The sums live in a slot of each node rather than a dict keyed by node: an edge costs a
    slot read and write instead of two hash-table probes, on a node whose data the walk has
    just read. Unary and binary nodes, nearly all of a graph, are called directly.
    """
    order = _order(root)
    for node in order:
        node._acc = 0.0
    root._acc = seed
    for node in reversed(order):
        op = node._op
        if op is None:
            continue
        g = node._acc
        a, b = node._a, node._b
        # A zero g through an op with finite slopes sends ±0 to every parent when the data are
        # finite (a finite sum says so, in one addition), and adding ±0 changes no sum (a sum
        # that starts at +0 is never −0): skipping such a node is exact. ReLU networks send
        # zeros through most of their graph. A non-finite datum is not skipped, so 0·∞ = nan
        # still propagates.
        if b is not None:
            if g == 0.0 and op.finite_slopes and _isfinite(a._data + b._data + node._data):
                continue
            da, db = op.partials(a._data, b._data, node._data, g=g)
            a._acc += da
            b._acc += db
        elif type(a) is not tuple:
            if g == 0.0 and op.finite_slopes and _isfinite(a._data + node._data):
                continue
            a._acc += op.partials(a._data, node._data, g=g)[0]
        else:
            xs = [p._data for p in a]
            if g == 0.0 and op.finite_slopes and _isfinite(_plain_sum(xs, node._data)):
                continue
            terms = op.partials(*xs, node._data, g=g)
            for p, d in zip(a, terms):
                p._acc += d
    return order


def _check_terms(op: Op, node: Value, parents, terms, g) -> None:
    for i, (p, d) in enumerate(zip(parents, terms)):
        if not math.isfinite(_data(d)):
            raise FloatingPointError(
                f"detect_anomaly: backward of {op.name} gave a non-finite gradient "
                f"{_data(d)!r} for input {i} (data={p._data!r}); inputs "
                f"{[q._data for q in parents]}, output {node._data!r}, upstream gradient "
                f"{_data(g)!r}")


def _check_total(node: Value, g) -> None:
    # Every term was finite when sent (checked above), but their sum can still overflow.
    if not math.isfinite(_data(g)):
        name = node.label or (f"the output of {node._op.name}" if node._op else "a leaf")
        raise FloatingPointError(
            f"detect_anomaly: the gradient of {name} (data={node._data!r}) summed to "
            f"{_data(g)!r} over its uses")


def grad(output: Value, inputs: Value | Sequence[Value], *, create_graph: bool = False,
         grad_output: float | Value = 1.0):
    """∂output/∂input, leaving every ``.grad`` untouched: one gradient for a single Value, a
    list for a sequence of them (JAX's rule).

    With ``create_graph=True`` the results are Values whose graphs can be differentiated again
    (second derivatives, Hessians). An input ``output`` does not depend on gets 0.
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


def value_and_grad(f: Callable[..., Value], argnums: int | Sequence[int] | None = None):
    """JAX-style: ``value_and_grad(f)(*numbers)`` returns ``(f's value, [∂f/∂arg, ...])``.

    ``argnums`` picks the arguments to differentiate (all by default); as in ``grad``, a single
    int gives a single float gradient and a sequence a list.
    """
    def wrapped(*args):
        xs = [Value(a) if not isinstance(a, Value) else a for a in args]
        out = f(*xs)
        if not isinstance(out, Value):
            raise TypeError(f"value_and_grad: f must return a Value, got {type(out).__name__}")
        if isinstance(argnums, int):
            return out._data, grad(out, xs[argnums])
        picks = range(len(xs)) if argnums is None else argnums
        return out._data, grad(out, [xs[i] for i in picks])
    return wrapped
