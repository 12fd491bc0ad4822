"""Forward mode and the Jacobian family: jvp, vjp, jacfwd, jacrev, hessian, hvp.

Reverse mode (backward) starts at one output and pulls gradients back to every input: one walk
gives a whole row of the Jacobian. Forward mode starts at the inputs with a tangent (a direction
to move them in) and pushes it forward to every output: one walk gives a whole column,

    tangent(node) = Σ over inputs i of ∂node/∂input_i × tangent(input_i),

with ∂node/∂input_i read from the op table, the same ``partials`` backward uses. No derivative is
written in this module. A function ℝⁿ → ℝᵐ needs n forward walks or m backward walks for its
full Jacobian, which is why ``count_passes()`` exists: it shows which mode was the cheap one.

The functions follow JAX's names and shapes, on scalars: ``f`` takes Values positionally and
returns a Value or a list of Values; results are floats and nested lists of floats.
"""
from __future__ import annotations

import contextvars
import numbers
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator, Mapping, Sequence

from .engine import Value, apply, backprop, dot, grad, topological_order
from .modes import enable_grad
from .extend import primitive
from .graph import send

__all__ = ["jvp", "vjp", "jacfwd", "jacrev", "hessian", "hvp", "value_and_grad", "forwardprop",
           "count_passes", "Passes"]


# ------------------------------------------------------------------------------ counting passes

@dataclass
class Passes:
    """How many walks the functions of this module made inside a ``count_passes()`` block."""

    forward: int = 0   # forward-mode walks: a tangent pushed from the inputs to the outputs
    backward: int = 0  # reverse-mode walks: a gradient pulled from an output to the inputs
    calls: int = 0     # evaluations of f (each builds its graph once)


# Every open count_passes() block; nested blocks all count, so an outer one sees the total.
_COUNTERS: contextvars.ContextVar[tuple[Passes, ...]] = contextvars.ContextVar(
    "autograd_passes", default=())


@contextmanager
def count_passes() -> Iterator[Passes]:
    """Count the forward and backward walks (and calls of f) made inside the block."""
    passes = Passes()
    token = _COUNTERS.set(_COUNTERS.get() + (passes,))
    try:
        yield passes
    finally:
        _COUNTERS.reset(token)


def _count(kind: str) -> None:
    for passes in _COUNTERS.get():
        setattr(passes, kind, getattr(passes, kind) + 1)


# ------------------------------------------------------------------------------ the forward walk

# A node with every output as a parent, so one topological sort covers them all. Its own
# partials are never read: the walk drops it before pushing tangents.
_OUTPUTS = primitive("outputs", lambda *xs: 0.0, lambda *xs: (0.0,) * (len(xs) - 1)).op


def _order(outputs: Sequence[Value]) -> list[Value]:
    if len(outputs) == 1:
        return topological_order(outputs[0])
    with enable_grad():
        join = apply(_OUTPUTS, outputs)
    return topological_order(join)[:-1]


def _push(order: list[Value], seeds: Mapping[Value, float]) -> dict[Value, float]:
    """One forward-mode walk over ``order`` (parents before children)."""
    _count("forward")
    tangents: dict[Value, float] = {}
    for node in order:
        if node in seeds:
            tangents[node] = seeds[node]
            continue
        op = node.operation
        moving = [tangents[p] for p in node.parents] if op is not None else ()
        if not any(moving):
            # Nothing upstream moves; skipping also keeps 0 × an infinite partial out.
            tangents[node] = 0.0
            continue
        # Each moving input's share t·∂node/∂input, formed by the op itself (graph.send): t / b
        # where reverse mode divides, and an exact 0 through a closed gate even for t = inf.
        tangents[node] = sum(send(node, i, t) for i, t in enumerate(moving) if t)
    return tangents


def forwardprop(outputs: Value | Sequence[Value],
                seeds: Mapping[Value, float]) -> tuple[list[Value], dict[Value, float]]:
    """Forward-mode walk: returns the order and the tangent of every node ``outputs`` depend on.

    ``seeds`` maps nodes (usually leaves) to their tangents; every other leaf has tangent 0. A
    seeded node that was made by an op keeps its seed, as if it were a leaf. This is the forward
    counterpart of ``engine.backprop``: one walk, in topological order, on floats.
    """
    roots = [outputs] if isinstance(outputs, Value) else list(outputs)
    for i, y in enumerate(roots):
        if not isinstance(y, Value):
            raise TypeError(f"forwardprop: output {i} must be a Value, got "
                            f"{type(y).__name__} {y!r}")
    for node, t in seeds.items():
        if not isinstance(node, Value):
            raise TypeError(f"forwardprop: seeds must map Values to numbers, got key "
                            f"{type(node).__name__} {node!r}")
        _number("forwardprop", f"the seed of {node!r}", t)
    order = _order(roots)
    return order, _push(order, seeds)


# ------------------------------------------------------------------------------ checking input

def _number(fn: str, what: str, x) -> float:
    if not isinstance(x, numbers.Real) or isinstance(x, bool):
        raise TypeError(f"{fn}: {what} must be a real number, got {type(x).__name__} {x!r}")
    return float(x)


def _sequence(fn: str, what: str, xs) -> list:
    if not isinstance(xs, (list, tuple)):
        raise TypeError(f"{fn}: {what} must be a tuple or list, got {type(xs).__name__} {xs!r}")
    return list(xs)


def _inputs(fn: str, primals: Sequence) -> list[Value]:
    """The leaves f is called with: numbers become new Values, leaf Values are used as they are."""
    if not primals:
        raise ValueError(f"{fn}: no primals given, nothing to differentiate")
    xs = []
    for i, p in enumerate(primals):
        if isinstance(p, Value):
            if p.operation is not None:
                raise ValueError(f"{fn}: primal {i} is a Value made by {p.op!r}; pass a number "
                                 f"or a leaf Value (inputs are independent)")
            xs.append(p)
        else:
            xs.append(Value(_number(fn, f"primal {i}", p)))
    return xs


def _tangents(fn: str, what: str, tangents, n: int, per: str = "primal") -> list[float]:
    """``what`` names the argument (tangents, v, cotangent): one real number per ``per``."""
    ts = _sequence(fn, what, tangents)
    if len(ts) != n:
        raise ValueError(f"{fn}: {what} has {len(ts)} entries for {n} {per}s; give one per {per}")
    return [_number(fn, f"{what}[{i}]", t) for i, t in enumerate(ts)]


def _seeds(xs: list[Value], ts: list[float]) -> dict[Value, float]:
    seeds: dict[Value, float] = {}
    for x, t in zip(xs, ts):
        seeds[x] = seeds.get(x, 0.0) + t  # the same leaf passed twice moves by both tangents
    return seeds


def _name(f: Callable) -> str:
    return getattr(f, "__qualname__", None) or repr(f)


def _callable(fn: str, f) -> None:
    if not callable(f):
        raise TypeError(f"{fn}: f must be callable, got {type(f).__name__} {f!r}")


def _call(fn: str, f: Callable, xs: list[Value]) -> tuple[list[Value], bool]:
    """Run f on the leaves (recording, even under no_grad): (outputs, whether it gave one Value)."""
    _callable(fn, f)
    _count("calls")
    with enable_grad():
        out = f(*xs)
    if isinstance(out, Value):
        return [out], True
    if not isinstance(out, (list, tuple)):
        raise TypeError(f"{fn}: f ({_name(f)}) returned {type(out).__name__} {out!r}; "
                        f"expected a Value or a list of Values")
    if not out:
        raise ValueError(f"{fn}: f ({_name(f)}) returned an empty {type(out).__name__}")
    for i, y in enumerate(out):
        if not isinstance(y, Value):
            raise TypeError(f"{fn}: output {i} of f ({_name(f)}) is {type(y).__name__} {y!r}; "
                            f"expected a Value")
    return list(out), False


def _scalar(fn: str, f: Callable, xs: list[Value]) -> Value:
    outputs, single = _call(fn, f, xs)
    if not single:
        raise TypeError(f"{fn}: f ({_name(f)}) must return a single Value, "
                        f"got a list of {len(outputs)}")
    return outputs[0]


# ------------------------------------------------------------------------------ the family

def jvp(f: Callable, primals: Sequence, tangents: Sequence) -> tuple:
    """Forward mode: ``(f(*primals), Jf · tangents)`` from one walk, floats or lists of floats."""
    xs = _inputs("jvp", _sequence("jvp", "primals", primals))
    ts = _tangents("jvp", "tangents", tangents, len(xs))
    outputs, single = _call("jvp", f, xs)
    tan = _push(_order(outputs), _seeds(xs, ts))
    values, out_tangents = [y.data for y in outputs], [tan[y] for y in outputs]
    return (values[0], out_tangents[0]) if single else (values, out_tangents)


def vjp(f: Callable, *primals) -> tuple:
    """Reverse mode: ``(f(*primals), vjp_fn)``; ``vjp_fn(cotangent)`` gives cotangent · Jf as
    a tuple with one float per primal, from one backward walk."""
    xs = _inputs("vjp", primals)
    outputs, single = _call("vjp", f, xs)

    def vjp_fn(cotangent) -> tuple[float, ...]:
        if single:
            root, seed = outputs[0], _number("vjp_fn", "cotangent", cotangent)
        else:
            cots = _tangents("vjp_fn", "cotangent", cotangent, len(outputs), "output")
            with enable_grad():
                root, seed = dot(outputs, cots), 1.0  # Σ c_i·y_i: its gradient is c · J
        _count("backward")
        _, grads = backprop(root, seed)
        return tuple(grads.get(x, 0.0) for x in xs)

    return (outputs[0].data if single else [y.data for y in outputs]), vjp_fn


def _shape(rows: list[list[float]], single: bool) -> list:
    return rows[0] if single else rows


def jacfwd(f: Callable) -> Callable[..., list]:
    """The Jacobian by forward mode: one walk per input (a column each), n walks in all."""
    _callable("jacfwd", f)

    def jacobian(*primals) -> list:
        xs = _inputs("jacfwd", primals)
        outputs, single = _call("jacfwd", f, xs)
        order = _order(outputs)
        columns = [_push(order, {x: 1.0}) for x in xs]
        return _shape([[col[y] for col in columns] for y in outputs], single)

    return jacobian


def jacrev(f: Callable) -> Callable[..., list]:
    """The Jacobian by reverse mode: one backward walk per output (a row each), m walks."""
    _callable("jacrev", f)

    def jacobian(*primals) -> list:
        xs = _inputs("jacrev", primals)
        outputs, single = _call("jacrev", f, xs)
        rows = []
        for y in outputs:
            _count("backward")
            _, grads = backprop(y)
            rows.append([grads.get(x, 0.0) for x in xs])
        return _shape(rows, single)

    return jacobian


def value_and_grad(f: Callable[..., Value], argnums: int | Sequence[int] | None = None):
    """JAX-style: ``value_and_grad(f)(*numbers)`` returns ``(f's value, [∂f/∂arg, ...])``;
    ``argnums`` picks the arguments (all by default; a single int gives a single gradient)."""
    def wrapped(*args):
        xs = [a if isinstance(a, Value) else Value(a) for a in args]
        out = f(*xs)
        if not isinstance(out, Value):
            raise TypeError(f"value_and_grad: f must return a Value, got {type(out).__name__}")
        if isinstance(argnums, int):
            return out.data, grad(out, xs[argnums])
        picks = range(len(xs)) if argnums is None else argnums
        return out.data, grad(out, [xs[i] for i in picks])
    return wrapped


def _gradient(fn: str, f: Callable, xs: list[Value]) -> list[Value]:
    """∇f as Values with their graph recorded: one backward walk (reverse mode)."""
    y = _scalar(fn, f, xs)
    _count("backward")
    return grad(y, xs, create_graph=True)


def hessian(f: Callable) -> Callable[..., list[list[float]]]:
    """The n × n Hessian of a scalar f, forward over reverse.

    One backward walk records ∇f as a graph; then one forward walk per input pushes a unit
    tangent through that graph and gives a whole column of the Hessian. Reverse over reverse
    would need a backward walk per entry of ∇f instead; forward over reverse gets the same n
    walks without recording anything a second time (the tangents are floats), and ``hvp``
    needs just one of them.
    """
    _callable("hessian", f)

    def hess(*primals) -> list[list[float]]:
        xs = _inputs("hessian", primals)
        g = _gradient("hessian", f, xs)
        order = _order(g)
        columns = [_push(order, {x: 1.0}) for x in xs]
        return [[col[gi] for col in columns] for gi in g]

    return hess


def hvp(f: Callable, primals: Sequence, v: Sequence) -> list[float]:
    """The Hessian of a scalar f times ``v``: one backward walk, then one forward walk."""
    xs = _inputs("hvp", _sequence("hvp", "primals", primals))
    vs = _tangents("hvp", "v", v, len(xs))
    g = _gradient("hvp", f, xs)
    tan = _push(_order(g), _seeds(xs, vs))
    return [tan[gi] for gi in g]

