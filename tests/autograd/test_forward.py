"""Forward mode and the Jacobian family against torch.func (float64) and finite differences.

Random straight-line programs reuse nodes (shared subexpressions) and, between them, use every op
in the table. Each program is written once against a small backend namespace and run three ways:
on Values, on float64 tensors (torch.func is the oracle) and on 40-digit mpmath numbers (central
differences at 40 digits are exact to far below 1e-9, so they are an oracle at that tolerance).
"""
from __future__ import annotations
import math
import operator
from types import SimpleNamespace

import mpmath
import pytest
from hypothesis import assume, example, given, settings, strategies as st

import autograd
from autograd.forward import forwardprop
from autograd import Value
from autograd.extend import OPS
from support import ROOT
from oracle import torch


VALUES = SimpleNamespace(
    exp=Value.exp, log=Value.log, sqrt=Value.sqrt, tanh=Value.tanh, sigmoid=Value.sigmoid,
    relu=Value.relu, softplus=Value.softplus, sin=Value.sin, cos=Value.cos, abs=abs,
    pow=operator.pow, leaky_relu=lambda a, s: autograd.extend.apply(OPS["leaky_relu"], (a, s)),
    sum=autograd.sum, dot=autograd.dot)
TORCH = SimpleNamespace(
    exp=torch.exp, log=torch.log, sqrt=torch.sqrt, tanh=torch.tanh, sigmoid=torch.sigmoid,
    relu=torch.relu, sin=torch.sin, cos=torch.cos, abs=torch.abs, pow=torch.pow,
    # PyTorch's softplus turns linear above its threshold (20 by default); its slope there is
    # 1 where σ(x) is 1 − 2e-9, too far apart at 1e-9. At 40, σ rounds to 1 as well.
    softplus=lambda x: torch.nn.functional.softplus(x, threshold=40.0),
    leaky_relu=lambda a, s: torch.where(a > 0, a, s * a),
    sum=lambda xs: torch.stack(xs).sum(),
    dot=lambda w, x, b: torch.dot(torch.stack(w), torch.stack(x)) + b)
MP = SimpleNamespace(
    exp=mpmath.exp, log=mpmath.log, sqrt=mpmath.sqrt, tanh=mpmath.tanh, sin=mpmath.sin,
    cos=mpmath.cos, abs=abs, pow=operator.pow,
    sigmoid=lambda x: 1 / (1 + mpmath.exp(-x)), relu=lambda x: x if x > 0 else 0 * x,
    softplus=lambda x: mpmath.log(1 + mpmath.exp(x)),
    leaky_relu=lambda a, s: a if a > 0 else s * a,
    sum=mpmath.fsum, dot=lambda w, x, b: mpmath.fsum(p * q for p, q in zip(w, x)) + b)

# Each step: (arity, how to compute it on backend B). Guards such as a·a + 0.5 keep log, sqrt and a
# varying exponent inside their domains; None as arity means n-ary.
STEPS = {
    "add": (2, lambda B, a, b: a + b),
    "sub": (2, lambda B, a, b: a - b),
    "mul": (2, lambda B, a, b: a * b),
    "div": (2, lambda B, a, b: a / (b * b + 1)),
    "pow": (2, lambda B, a, b: B.pow(a * a + 0.5, B.tanh(b))),
    "cube": (1, lambda B, a: a ** 3),
    "neg": (1, lambda B, a: -a),
    "abs": (1, lambda B, a: B.abs(a)),
    "exp": (1, lambda B, a: B.exp(a * 0.1)),
    "log": (1, lambda B, a: B.log(a * a + 0.5)),
    "sqrt": (1, lambda B, a: B.sqrt(a * a + 0.1)),
    "tanh": (1, lambda B, a: B.tanh(a)),
    "sigmoid": (1, lambda B, a: B.sigmoid(a)),
    "relu": (1, lambda B, a: B.relu(a)),
    "leaky_relu": (2, lambda B, a, s: B.leaky_relu(a, s)),
    "softplus": (1, lambda B, a: B.softplus(a)),
    "sin": (1, lambda B, a: B.sin(a)),
    "cos": (1, lambda B, a: B.cos(a)),
    "sum": (None, lambda B, *xs: B.sum(list(xs))),
    "dot": (None, lambda B, *xs: B.dot(xs[:len(xs) // 2], xs[len(xs) // 2:-1], xs[-1])),
}

leaf_values = st.floats(-2, 2, allow_nan=False).filter(lambda x: abs(x) > 1e-3)


@st.composite
def programs(draw):
    """(leaves, steps, outputs): each step's operands come from the whole pool so far."""
    leaves = draw(st.lists(leaf_values, min_size=1, max_size=4))
    steps, size = [], len(leaves)
    for _ in range(draw(st.integers(1, 12))):
        name = draw(st.sampled_from(sorted(STEPS)))
        arity = STEPS[name][0]
        if arity is None:
            arity = 2 * draw(st.integers(1, 3)) + 1 if name == "dot" else draw(st.integers(1, 5))
        steps.append((name, draw(st.lists(st.integers(0, size - 1), min_size=arity,
                                          max_size=arity))))
        size += 1
    outputs = draw(st.lists(st.integers(0, size - 1), min_size=1, max_size=3))
    return leaves, steps, outputs


def run(B, xs, steps):
    pool = list(xs)
    for name, args in steps:
        pool.append(STEPS[name][1](B, *[pool[i] for i in args]))
    return pool


def scalar(B, xs, steps):
    """A scalar root that mixes the last node with an earlier one (many paths meet)."""
    pool = run(B, xs, steps)
    return pool[-1] * pool[len(pool) // 2] + pool[-1]


def functions(program):
    """(f on Values, f on a float64 vector, f on mpmath numbers) for the program's outputs; f on
    Values returns a single Value when there is one output, as the scalar case must work too."""
    leaves, steps, outputs = program

    def ours(*xs):
        pool = run(VALUES, xs, steps)
        ys = [pool[i] for i in outputs]
        return ys[0] if len(ys) == 1 else ys

    def theirs(x):
        pool = run(TORCH, list(x.unbind()), steps)
        return torch.stack([pool[i] for i in outputs])

    def exact(*xs):
        pool = run(MP, xs, steps)
        return [pool[i] for i in outputs]

    return ours, theirs, exact


def finite(program, bound=1e6) -> None:
    """Skip programs that overflow or leave the domain (domain checks are tested elsewhere)."""
    leaves, steps, outputs = program
    try:
        pool = run(VALUES, [Value(x) for x in leaves], steps)
        root = pool[-1] * pool[len(pool) // 2] + pool[-1]
    except (OverflowError, ValueError, ZeroDivisionError):
        assume(False)
    assume(all(abs(v.data) < bound for v in pool + [root]))


def flat(x) -> list[float]:
    """A number, a list or a list of rows, as one flat list."""
    if not isinstance(x, (list, tuple)):
        return [float(x)]
    if x and isinstance(x[0], list):
        return [float(v) for row in x for v in row]
    return [float(v) for v in x]


def close(ours, expected, rel=1e-9, floor=1e-300) -> None:
    """Normwise relative error: max |ours − expected| ≤ rel × max |expected| + floor. Entries
    that cancel to near 0 are judged against the size of the whole result, not their own."""
    a, b = flat(ours), flat(expected)
    assert len(a) == len(b)
    scale = max([abs(v) for v in b] + [1e-300])
    worst = max(abs(x - y) for x, y in zip(a, b))
    assert worst <= rel * scale + floor, (a, b, worst / scale)


def direction(n: int) -> list[float]:
    return [0.7 - 0.45 * i + 0.1 * i * i for i in range(n)]


@settings(max_examples=120, deadline=None)
@given(programs())
def test_jvp_matches_torch_func(program):
    finite(program)
    ours, theirs, _ = functions(program)
    x, v = program[0], direction(len(program[0]))
    value, tangent = autograd.jvp(ours, x, v)
    tvalue, ttangent = torch.func.jvp(theirs, (torch.tensor(x),), (torch.tensor(v),))
    close(value, tvalue.tolist())
    close(tangent, ttangent.tolist())


@settings(max_examples=80, deadline=None)
@given(programs())
def test_vjp_matches_torch_func(program):
    finite(program)
    ours, theirs, _ = functions(program)
    x, m = program[0], len(program[2])
    cot = [1.3 - 0.6 * i for i in range(m)]
    value, vjp_fn = autograd.vjp(ours, *x)
    tvalue, tvjp_fn = torch.func.vjp(theirs, torch.tensor(x))
    close(value, tvalue.tolist())
    (expected,) = tvjp_fn(torch.tensor(cot))
    close(list(vjp_fn(cot[0] if m == 1 else cot)), expected.tolist())


@settings(max_examples=80, deadline=None)
@given(programs())
def test_jacobians_match_torch_func(program):
    finite(program)
    ours, theirs, _ = functions(program)
    x = program[0]
    expected = torch.func.jacrev(theirs)(torch.tensor(x))
    for jac in (autograd.jacfwd(ours)(*x), autograd.jacrev(ours)(*x)):
        if len(program[2]) == 1:
            assert not isinstance(jac[0], list)  # a scalar output gives a flat list
            close(jac, expected[0].tolist())
        else:
            assert [len(row) for row in jac] == [len(x)] * len(program[2])
            close(jac, expected.tolist())
    close(autograd.jacfwd(ours)(*x), torch.func.jacfwd(theirs)(torch.tensor(x)).tolist())


@settings(max_examples=60, deadline=None)
@given(programs())
@example(([-0.25], [("leaky_relu", [0, 0]), ("div", [0, 0])], [0]))  # y/y: 0 up to rounding
def test_hessian_and_hvp_match_torch_func(program):
    finite(program, bound=1e4)
    leaves, steps, _ = program

    def f(*xs):
        return scalar(VALUES, xs, steps)

    def g(x):
        return scalar(TORCH, list(x.unbind()), steps)

    expected = torch.func.hessian(g)(torch.tensor(leaves))
    # A Hessian that is 0 by cancellation (y/y) is rounding noise of order 1e-16 either side,
    # in whichever order each engine sums its terms; no relative error can judge that.
    close(autograd.hessian(f)(*leaves), expected.tolist(), floor=1e-12)
    v = direction(len(leaves))
    close(autograd.hvp(f, leaves, v), (expected @ torch.tensor(v)).tolist(), floor=1e-12)


KINKS = {"abs", "relu", "leaky_relu"}


def smooth_at(f, x, margin: float = 1e-6) -> bool:
    """Whether no kinked op sees an input at its kink: a finite difference across a kink
    measures neither one-sided slope, so it is no oracle there."""
    outs = f(*[Value(a) for a in x])
    outs = outs if isinstance(outs, list) else [outs]
    return not any(node.op in KINKS and abs(node.parents[0].data) < margin
                   for out in outs for node in autograd.graph.topological_order(out))


STEP = mpmath.mpf("1e-15")  # the finite-difference step, made once


def directional(exact, x, v, h=STEP):
    """Central differences along v at 40 digits: error ~h² and 1e-40/h, both far below 1e-9."""
    with mpmath.workdps(40):
        xs = [mpmath.mpf(a) for a in x]
        up = exact(*[a + h * d for a, d in zip(xs, v)])
        down = exact(*[a - h * d for a, d in zip(xs, v)])
        return [float((u - w) / (2 * h)) for u, w in zip(up, down)]


@settings(max_examples=80, deadline=None)
@given(programs())
def test_jvp_matches_finite_differences(program):
    finite(program)
    ours, _, exact = functions(program)
    x, v = program[0], direction(len(program[0]))
    assume(smooth_at(ours, x))
    _, tangent = autograd.jvp(ours, x, v)
    close(tangent, directional(exact, x, v))


def test_programs_use_every_op_in_the_table():
    """A new op in the table fails here until STEPS (and so the random programs) use it."""
    used = set()
    for arity, step in STEPS.values():
        xs = [Value(0.5 + 0.25 * i) for i in range(arity or 3)]
        used.update(node.op for node in autograd.graph.topological_order(step(VALUES, *xs)))
    assert set(OPS) <= used, sorted(set(OPS) - used)


# ------------------------------------------------------------------------------ calculus


def test_jvp_by_calculus():
    value, tangent = autograd.jvp(lambda x: x * x.sin(), (2.0,), (1.0,))
    assert value == 2.0 * math.sin(2.0)
    assert tangent == pytest.approx(math.sin(2.0) + 2.0 * math.cos(2.0), rel=1e-15)


def test_jvp_is_linear_in_the_tangent():
    f = lambda x, y: [x * y.exp(), (x - y).tanh()]  # noqa: E731
    _, a = autograd.jvp(f, (0.3, -0.8), (1.0, 0.0))
    _, b = autograd.jvp(f, (0.3, -0.8), (0.0, 1.0))
    _, c = autograd.jvp(f, (0.3, -0.8), (2.0, -3.0))
    assert c == pytest.approx([2 * p - 3 * q for p, q in zip(a, b)], rel=1e-14)


def test_hessian_forward_over_reverse_equals_reverse_over_reverse():
    def f(x, y, z):
        return (x * y).sin() * z.exp() + (x / (z * z + 1)) ** 2

    xs = [Value(0.4), Value(-1.1), Value(0.6)]
    first = autograd.grad(f(*xs), xs, create_graph=True)
    twice = [autograd.grad(g, xs) for g in first]
    assert autograd.hessian(f)(0.4, -1.1, 0.6) == [pytest.approx(row, rel=1e-12) for row in twice]


def test_worked_example_tangent_on_w5_equals_backward():
    from nn import worked_example

    net = worked_example.build()
    _, tangents = autograd.forward.forwardprop(net.E, {net.w5: 1.0})
    net.E.backward()
    assert tangents[net.E] == pytest.approx(net.w5.grad, rel=1e-14)
    assert tangents[net.E] == pytest.approx(0.082167041, rel=1e-8)  # the published ∂E/∂w5
    assert tangents[net.net_o1] == net.out_h1.data  # ∂net_o1/∂w5 = out_h1
    assert tangents[net.out_o2] == 0.0  # w5 does not reach o2


# ------------------------------------------------------------------------------ counting passes


def test_count_passes_forward_n_backward_m():
    def f(a, b, c):  # ℝ³ → ℝ²
        return [a * b + c, (a - c).sin()]

    with autograd.count_passes() as fwd:
        autograd.jacfwd(f)(1.0, 2.0, 3.0)
    with autograd.count_passes() as rev:
        autograd.jacrev(f)(1.0, 2.0, 3.0)
    assert (fwd.forward, fwd.backward, fwd.calls) == (3, 0, 1)
    assert (rev.forward, rev.backward, rev.calls) == (0, 2, 1)


def test_count_passes_of_the_rest_and_nesting():
    f = lambda x, y: x * x * y  # noqa: E731
    with autograd.count_passes() as outer:
        with autograd.count_passes() as inner:
            autograd.jvp(f, (1.0, 2.0), (1.0, 0.0))
        _, vjp_fn = autograd.vjp(f, 1.0, 2.0)
        vjp_fn(1.0)
        vjp_fn(2.0)
        with autograd.count_passes() as hess:
            autograd.hessian(f)(1.0, 2.0)
        with autograd.count_passes() as hv:
            autograd.hvp(f, (1.0, 2.0), (0.5, 0.5))
    assert (inner.forward, inner.backward, inner.calls) == (1, 0, 1)
    assert (hess.forward, hess.backward, hess.calls) == (2, 1, 1)
    assert (hv.forward, hv.backward, hv.calls) == (1, 1, 1)
    assert (outer.forward, outer.backward, outer.calls) == (4, 4, 4)
    # Outside any block nothing is counted and nothing fails.
    autograd.jvp(f, (1.0, 2.0), (1.0, 0.0))
    assert outer.forward == 4


# ------------------------------------------------------------------------------ shapes and leaves


def test_shapes_follow_jax():
    def many(x, y):
        return [x * y, x + y, x.exp()]

    assert len(autograd.jacfwd(many)(1.0, 2.0)) == 3
    assert autograd.jacfwd(lambda x: x * x)(3.0) == [6.0]  # scalar output: a flat list
    assert autograd.jacrev(lambda x: [x * x])(3.0) == [[6.0]]  # a list of one: 1 × 1
    value, tangent = autograd.jvp(many, [1.0, 2.0], [1.0, 1.0])
    assert isinstance(value, list) and isinstance(tangent, list) and len(tangent) == 3
    value, vjp_fn = autograd.vjp(lambda x, y: x * y, 2.0, 5.0)
    assert value == 10.0 and vjp_fn(1.0) == (5.0, 2.0)
    assert autograd.hessian(lambda x: x ** 3)(2.0) == [[12.0]]


def test_works_under_no_grad_and_with_leaf_values():
    x = Value(1.5)
    with autograd.no_grad():
        assert autograd.jvp(lambda a: a * a, (x,), (1.0,)) == (2.25, 3.0)
        assert autograd.jacrev(lambda a, b: a * b)(x, 4.0) == [4.0, 1.5]
    # The same leaf passed twice: its tangents add, as d/dt f(x + t(v1 + v2)).
    assert autograd.jvp(lambda a, b: a * b, (x, x), (1.0, 2.0)) == (2.25, 9.0)
    assert autograd.jacfwd(lambda a, b: a * b)(x, x) == [3.0, 3.0]


def test_an_infinite_partial_with_zero_tangent_stays_out():
    # ∂√a/∂a is infinite at 0; a tangent on b only must not turn it into 0 × inf = nan.
    _, tangent = autograd.jvp(lambda a, b: a.sqrt() + b, (0.0, 1.0), (0.0, 1.0))
    assert tangent == 1.0


# ------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize("call, kind, words", [
    (lambda: autograd.jvp(lambda x: x, (1.0, 2.0), (1.0,)), ValueError,
     ["jvp", "tangents", "1 entries for 2 primals"]),
    (lambda: autograd.jvp(lambda x: x, (1.0,), ("a",)), TypeError, ["jvp", "tangents[0]", "str"]),
    (lambda: autograd.jvp(lambda x: x, (1.0,), (True,)), TypeError, ["jvp", "tangents[0]"]),
    (lambda: autograd.jvp(lambda x: x, (1.0,), (Value(1.0),)), TypeError, ["tangents[0]"]),
    (lambda: autograd.jvp(lambda x: x, 1.0, 1.0), TypeError, ["jvp", "primals", "tuple or list"]),
    (lambda: autograd.jvp(lambda x: x, (None,), (1.0,)), TypeError, ["jvp", "primal 0"]),
    (lambda: autograd.jvp(lambda x: x, (), ()), ValueError, ["jvp", "no primals"]),
    (lambda: autograd.jvp(lambda x: 3.0, (1.0,), (1.0,)), TypeError,
     ["jvp", "<lambda>", "float 3.0", "a Value or a list of Values"]),
    (lambda: autograd.jvp(lambda x: [x, "y"], (1.0,), (1.0,)), TypeError,
     ["jvp", "output 1", "<lambda>", "str"]),
    (lambda: autograd.jvp(lambda x: [], (1.0,), (1.0,)), ValueError, ["jvp", "empty"]),
    (lambda: autograd.jvp(Value(1.0) * 2, (1.0,), (1.0,)), TypeError, ["jvp", "callable"]),
    (lambda: autograd.jvp(lambda x: x, (Value(1.0) * 2,), (1.0,)), ValueError,
     ["jvp", "primal 0", "'mul'", "leaf"]),
    (lambda: autograd.jacrev(lambda x: {"y": x})(1.0), TypeError, ["jacrev", "dict"]),
    (lambda: autograd.jacfwd(3), TypeError, ["jacfwd", "callable", "int 3"]),
    (lambda: autograd.hessian(lambda x: [x, x])(1.0), TypeError,
     ["hessian", "single Value", "list of 2"]),
    (lambda: autograd.hvp(lambda x: x * x, (1.0,), (1.0, 2.0)), ValueError,
     ["hvp", "v has 2 entries for 1 primals"]),
    (lambda: autograd.vjp(lambda x: [x, x], 1.0)[1]([1.0]), ValueError,
     ["vjp_fn", "cotangent has 1 entries for 2 outputs"]),
    (lambda: autograd.vjp(lambda x: x, 1.0)[1]("1"), TypeError, ["vjp_fn", "cotangent", "str"]),
    (lambda: forwardprop(Value(1.0), {1.0: 1.0}), TypeError, ["forwardprop", "seeds"]),
    (lambda: autograd.forward.forwardprop([1.0], {}), TypeError, ["forwardprop", "output 0"]),
])
def test_bad_input_is_named(call, kind, words):
    with pytest.raises(kind) as info:
        call()
    for word in words:
        assert word in str(info.value), (word, str(info.value))


def test_the_function_is_named_by_its_name():
    def my_loss(x):
        return x.item()   # a float, not a Value: jacrev must say so

    with pytest.raises(TypeError, match=r"jacrev: f \(test_the_function_is_named_by_its_name"
                                        r"\.<locals>\.my_loss\) returned float 1\.0"):
        autograd.jacrev(my_loss)(1.0)


def test_docs_example_runs_and_prints_what_it_says(capsys):
    page = (ROOT / "docs" / "forward.md").read_text(encoding="utf-8")
    section = page.split("<!-- section: forward -->")[1].split("<!-- /section: forward -->")[0]
    example = section.split("```python\n")[1].split("```")[0]
    exec(compile(example, "docs/forward.md", "exec"), {})
    assert capsys.readouterr().out == "Passes(forward=2, backward=0, calls=1)\n"
