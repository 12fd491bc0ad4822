"""compile: trace a built graph once, replay its forward and backward fast.

The generated code comes from the op table. Each op's ``forward`` and ``partials`` are run once per
(op, number of inputs) on symbolic stand-ins that write down every arithmetic step as a line of
Python; a comparison inside them (relu's ``a > 0``, abs's sign, pow's special cases) becomes an
``if`` in the generated code, so the branch is taken at replay, on the current numbers. An op whose
functions cannot be traced that way (a C function such as ``math.tanh``, a forward with a domain
check) is called as it is at replay. Either way no derivative exists anywhere but in the table,
and every traced template is checked bit for bit against the op's own functions before use.

The code is flat: one statement per node (a few for a branch), expressions nested at most
``_MAX_NEST`` deep, so Python's compiler never recurses deeply. Graphs larger than
``MAX_CODE_NODES`` are replayed from a flat tape of op-table calls instead.
"""
from __future__ import annotations

import builtins
import math
import random
import re
import weakref
from typing import Callable, Sequence

from .engine import Constant, Value, topological_order
from .ops import OPS, Op

MAX_CODE_NODES = 100_000
"""Above this many nodes the graph is replayed from a tape rather than generated code."""

_MAX_NEST = 24  # temporaries folded into one expression before a new statement starts
_MAX_PATHS = 8  # branches an op may have before it is called instead of inlined


class _Untraceable(Exception):
    """Raised inside a trace when the function does something the stand-ins cannot follow."""


class _Tracer:
    """Records the lines and the branch decisions of one run through a function."""

    def __init__(self, forced: tuple[bool, ...]) -> None:
        self.forced = forced
        self.decisions: list[tuple[str, bool, int]] = []  # (condition, taken, lines before it)
        self.lines: list[str] = []
        self.temps = 0

    def emit(self, expr: str) -> _Sym:
        name = f"{{T}}{self.temps}"
        self.temps += 1
        self.lines.append(f"{name} = {expr}")
        return _Sym(name, self)

    def decide(self, cond: str) -> bool:
        k = len(self.decisions)
        taken = self.forced[k] if k < len(self.forced) else False
        self.decisions.append((cond, taken, len(self.lines)))
        return taken


def _code(x) -> str:
    if isinstance(x, _Sym):
        return x.code
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise _Untraceable(f"a {type(x).__name__} in the computation")
    if isinstance(x, float) and not math.isfinite(x):
        return "NAN" if math.isnan(x) else ("INF" if x > 0 else "(-INF)")
    s = repr(x)
    return f"({s})" if s.startswith("-") else s


class _Sym:
    """A symbolic float: arithmetic on it emits a line; a comparison asks the tracer which way."""

    __slots__ = ("code", "tracer")
    __hash__ = None

    def __init__(self, code: str, tracer: _Tracer) -> None:
        self.code = code
        self.tracer = tracer

    def _bin(self, a, sym: str, b) -> _Sym:
        return self.tracer.emit(f"{_code(a)} {sym} {_code(b)}")

    def _cmp(self, sym: str, other) -> bool:
        return self.tracer.decide(f"{self.code} {sym} {_code(other)}")

    def __add__(self, o): return self._bin(self, "+", o)
    def __radd__(self, o): return self._bin(o, "+", self)
    def __sub__(self, o): return self._bin(self, "-", o)
    def __rsub__(self, o): return self._bin(o, "-", self)
    def __mul__(self, o): return self._bin(self, "*", o)
    def __rmul__(self, o): return self._bin(o, "*", self)
    def __truediv__(self, o): return self._bin(self, "/", o)
    def __rtruediv__(self, o): return self._bin(o, "/", self)
    def __pow__(self, o): return self._bin(self, "**", o)
    def __rpow__(self, o): return self._bin(o, "**", self)
    def __neg__(self): return self.tracer.emit(f"-{self.code}")
    def __pos__(self): return self
    def __abs__(self): return self.tracer.emit(f"abs({self.code})")
    def __lt__(self, o): return self._cmp("<", o)
    def __le__(self, o): return self._cmp("<=", o)
    def __gt__(self, o): return self._cmp(">", o)
    def __ge__(self, o): return self._cmp(">=", o)
    def __eq__(self, o): return self._cmp("==", o)
    def __ne__(self, o): return self._cmp("!=", o)

    def __bool__(self):
        return self.tracer.decide(self.code)

    def __getattr__(self, name: str):
        # Partials written for Values call methods such as x.log(); on floats at replay those are
        # the op's own forward. ``.data`` of a float stand-in is the stand-in itself.
        if name == "data":
            return self
        if name in OPS:
            def method(*args):
                return self.tracer.emit(
                    f"F_{name}({', '.join(_code(a) for a in (self, *args))})")
            return method
        raise _Untraceable(f"attribute {name!r}")


def _explore(fn: Callable, n: int, with_out: bool, n_out: int | None):
    """Run ``fn`` on stand-ins along every branch; returns the paths or None if untraceable."""
    paths = []
    pending: list[tuple[bool, ...]] = [()]
    while pending:
        forced = pending.pop()
        tracer = _Tracer(forced)
        args = [_Sym(f"{{{i}}}", tracer) for i in range(n)]
        if with_out:
            args.append(_Sym("{out}", tracer))
        try:
            result = fn(*args)
            outs = list(result) if n_out is None else [result]
            if n_out is None and len(outs) != n:
                return None
            codes = [_code(r) for r in outs]
        except Exception:  # anything the stand-ins cannot follow: call the function at replay
            return None
        for k in range(len(forced), len(tracer.decisions)):
            pending.append(tuple(d[1] for d in tracer.decisions[:k]) + (True,))
        paths.append((tracer, codes))
        if len(paths) > _MAX_PATHS:
            return None
    return paths


def _inline(lines: list[str], outs: list[str]) -> tuple[list[str], list[str]]:
    """Fold temporaries used once into the expression that uses them, to a bounded depth."""
    uses: dict[str, int] = {}
    for s in [ln.split(" = ", 1)[1] for ln in lines] + outs:
        for tok in re.findall(r"\{T\}\d+", s):
            uses[tok] = uses.get(tok, 0) + 1
    exprs: dict[str, tuple[str, int]] = {}  # temp -> (expression, nesting depth)
    kept: list[str] = []

    def sub(s: str) -> tuple[str, int]:
        depth = 0

        def one(m):
            nonlocal depth
            expr, d = exprs.pop(m.group(0), (None, 0))
            if expr is None:
                return m.group(0)
            depth = max(depth, d)
            return f"({expr})"
        return re.sub(r"\{T\}\d+", one, s), depth

    for ln in lines:
        name, expr = ln.split(" = ", 1)
        expr, depth = sub(expr)
        # Python's compiler recurses on nesting, so a long fold is cut into statements.
        if uses.get(name) == 1 and depth < _MAX_NEST:
            exprs[name] = (expr, depth + 1)
        else:
            kept.append(f"{name} = {expr}")
    return kept, [sub(o)[0] for o in outs]


def _assemble(paths) -> tuple[list[str], list[str]]:
    """Lines (with if/else for branches) and the output codes, from the explored paths."""
    if len(paths) == 1 and not paths[0][0].decisions:
        return _inline(paths[0][0].lines, paths[0][1])
    n_out = len(paths[0][1])
    lines: list[str] = []
    # Work list instead of recursion: (paths sharing the first `depth` decisions, depth, indent,
    # first line not yet written). An "else:" marker is written between siblings.
    work: list = [(paths, 0, "", 0)]
    while work:
        item = work.pop()
        if isinstance(item, str):
            lines.append(item)
            continue
        group, depth, ind, start = item
        tracer, codes = group[0]
        if depth == len(tracer.decisions):
            lines.extend(ind + s for s in tracer.lines[start:])
            lines.extend(f"{ind}{{R}}{k} = {c}" for k, c in enumerate(codes))
            continue
        cond, _, at = tracer.decisions[depth]
        lines.extend(ind + s for s in tracer.lines[start:at])
        yes = [p for p in group if p[0].decisions[depth][1]]
        no = [p for p in group if not p[0].decisions[depth][1]]
        lines.append(f"{ind}if {cond}:")
        work.append((no, depth + 1, ind + "    ", at))
        work.append(f"{ind}else:")
        work.append((yes, depth + 1, ind + "    ", at))
    return lines, [f"{{R}}{k}" for k in range(n_out)]


_NAMESPACE = {"INF": math.inf, "NAN": math.nan, "abs": abs,
              **{f"F_{name}": op.forward for name, op in OPS.items()}}


def _same(a, b) -> bool:
    return a == b or (a != a and b != b)


def _validate(fn: Callable, lines: list[str], outs: list[str], n: int,
              out_of: Callable | None, tuple_out: bool) -> bool:
    """Check the traced code against the function itself on sample inputs, bit for bit."""
    params = [f"a{i}" for i in range(n)] + (["aout"] if out_of is not None else [])
    fmt = {"T": "t", "R": "r", "out": "aout"}
    body = [s.format(*params[:n], **fmt) for s in lines]
    body.append(f"return ({', '.join(o.format(*params[:n], **fmt) for o in outs)},)")
    src = f"def probe({', '.join(params)}):\n" + "".join(f"    {s}\n" for s in body)
    ns = dict(_NAMESPACE)
    try:
        exec(builtins.compile(src, "<autograd.compile probe>", "exec"), ns)
    except SyntaxError:
        return False
    rng = random.Random(n)
    pool = [0.0, 1.0, -1.0, 0.5, -0.5, 2.0, -2.5, 3.7, 1e-3, 0.3]
    checked = 0
    for trial in range(40):
        xs = [rng.choice(pool) if trial % 2 else rng.uniform(-4, 4) for _ in range(n)]
        try:
            args = xs + ([out_of(*xs)] if out_of is not None else [])
            want = fn(*args)
        except Exception:
            continue
        want = tuple(want) if tuple_out else (want,)
        try:
            got = ns["probe"](*args)
        except Exception:
            return False
        if len(got) != len(want) or not all(_same(g, w) for g, w in zip(got, want)):
            return False
        checked += 1
    return checked > 0


# Weak keys: a primitive defined and dropped must not leave a template for a reused id.
_TEMPLATES: weakref.WeakKeyDictionary[Op, dict] = weakref.WeakKeyDictionary()


def _template(op: Op, n: int, kind: str):
    """Traced code of ``op``'s forward or partials for ``n`` inputs, or None to call it."""
    cache = _TEMPLATES.setdefault(op, {})
    key = (n, kind)
    if key in cache:
        return cache[key]
    fwd = op.forward
    if getattr(fwd, "__objclass__", None) is float:
        # float.__add__ and friends: the same-named operator on the stand-in.
        name = fwd.__name__
        fwd_traceable = lambda *a: getattr(a[0], name)(*a[1:])  # noqa: E731
    else:
        fwd_traceable = fwd
    result = None
    if kind == "forward":
        paths = _explore(fwd_traceable, n, False, 1)
        if paths is not None:
            lines, outs = _assemble(paths)
            if _validate(fwd, lines, outs, n, None, False):
                result = (lines, outs)
    else:
        paths = _explore(op.partials, n, True, None)
        if paths is not None:
            lines, outs = _assemble(paths)
            if _validate(op.partials, lines, outs, n, fwd, True):
                result = (lines, outs)
    cache[key] = result
    return result


class Compiled:
    """A graph traced once: ``forward()`` and ``backward()`` replay it on the leaves' data."""

    def __init__(self, root: Value, order: list[Value], mode: str) -> None:
        self.root = root
        self.mode = mode
        self._order = order
        self._index = {node: i for i, node in enumerate(order)}
        self.leaves = [n for n in order if n._op is None]
        self._values: Sequence[float] = [n.data for n in order]

    def __len__(self) -> int:
        return len(self._order)

    def __repr__(self) -> str:
        return (f"Compiled({len(self._order)} nodes, {len(self.leaves)} leaves, "
                f"mode={self.mode!r})")

    def forward(self) -> float:
        """Recompute every node from the leaves' current ``data``; returns the root's value."""
        raise NotImplementedError

    def backward(self, gradient: float = 1.0) -> None:
        """Add ∂root/∂leaf × gradient into each leaf's ``grad`` (Constants are skipped)."""
        raise NotImplementedError

    def value(self, node: Value) -> float:
        """The value ``node`` had in the last ``forward()`` (its data at compile time before)."""
        try:
            return self._values[self._index[node]]
        except (KeyError, TypeError):
            raise KeyError(f"compile: {node!r} is not a node of the compiled graph") from None

    def values(self, nodes: Sequence[Value]) -> list[float]:
        """``value`` for each of ``nodes``."""
        return [self.value(n) for n in nodes]


class _CodeCompiled(Compiled):
    def __init__(self, root: Value, order: list[Value]) -> None:
        super().__init__(root, order, "code")
        self._fwd, self._bwd = _generate(order, self._index, self.leaves)

    def forward(self) -> float:
        self._values = values = self._fwd(self.leaves)
        return values[-1]

    def backward(self, gradient: float = 1.0) -> None:
        self._bwd(self._values, self.leaves, _seed(gradient))


class _TapeCompiled(Compiled):
    def __init__(self, root: Value, order: list[Value]) -> None:
        super().__init__(root, order, "tape")
        index = self._index
        needs = _needs(order, index)
        self._leaf_slots = [index[n] for n in self.leaves]
        self._tape = [(n._op.forward, n._op.partials, i, tuple(index[p] for p in n._parents))
                      for i, n in enumerate(order) if n._op is not None]
        self._needs = needs
        self._wanted = [(leaf, index[leaf]) for leaf in self.leaves if needs[index[leaf]]]

    def forward(self) -> float:
        vals = [0.0] * len(self._order)
        for leaf, i in zip(self.leaves, self._leaf_slots):
            vals[i] = leaf.data
        for fwd, _, i, args in self._tape:
            vals[i] = fwd(*[vals[a] for a in args])
        self._values = vals
        return vals[-1]

    def backward(self, gradient: float = 1.0) -> None:
        vals, needs = self._values, self._needs
        grads = [0.0] * len(vals)
        grads[-1] = _seed(gradient)
        for _, partials, i, args in reversed(self._tape):
            if not needs[i]:
                continue
            g = grads[i]
            local = partials(*[vals[a] for a in args], vals[i])
            for a, d in zip(args, local):
                if needs[a]:
                    grads[a] += g * d
        for leaf, i in self._wanted:
            leaf.grad += grads[i]


def _seed(gradient) -> float:
    if isinstance(gradient, Value):
        gradient = gradient.data
    if not isinstance(gradient, (int, float)) or isinstance(gradient, bool):
        raise TypeError(f"compile: backward gradient must be a real number, got "
                        f"{type(gradient).__name__} {gradient!r}")
    return float(gradient)


def _needs(order: list[Value], index: dict) -> list[bool]:
    # A node needs a gradient if a non-Constant leaf lies behind it; parents come first in order.
    needs = [False] * len(order)
    for i, node in enumerate(order):
        if node._op is None:
            needs[i] = not isinstance(node, Constant)
        else:
            needs[i] = any(needs[index[p]] for p in node._parents)
    return needs


def _selects(tpl) -> bool:
    """Whether traced partials only select inputs, the output or finite constants."""
    lines, outs = tpl
    return not any("{T}" in s or "INF" in s or "NAN" in s or "F_" in s for s in lines + outs)


def _generate(order: list[Value], index: dict, leaves: list[Value]):
    """Straight-line forward and backward functions for the graph in ``order``."""
    ns = dict(_NAMESPACE)
    called: dict[int, str] = {}

    def callee(fn: Callable) -> str:
        name = called.get(id(fn))
        if name is None:
            name = called[id(fn)] = f"C{len(called)}"
            ns[name] = fn
        return name

    n = len(order)
    fwd = ["def forward(L):"]
    fwd += [f"    v{index[leaf]} = L[{k}].data" for k, leaf in enumerate(leaves)]
    for i, node in enumerate(order):
        op = node._op
        if op is None:
            continue
        args = [f"v{index[p]}" for p in node._parents]
        tpl = _template(op, len(args), "forward")
        if tpl is None:
            fwd.append(f"    v{i} = {callee(op.forward)}({', '.join(args)})")
            continue
        lines, outs = tpl
        fmt = {"T": f"t{i}_", "R": f"r{i}_"}
        fwd += ["    " + s.format(*args, **fmt) for s in lines]
        fwd.append(f"    v{i} = {outs[0].format(*args, **fmt)}")
    fwd.append(f"    return ({', '.join(f'v{i}' for i in range(n))},)")

    needs = _needs(order, index)
    body: list[str] = []
    has_grad = [False] * n
    zeroed: list[str] = []  # accumulators first touched inside a skippable block
    root = n - 1
    if needs[root]:
        body.append(f"    g{root} = seed")
        has_grad[root] = True
    for i in range(n - 1, -1, -1):
        node = order[i]
        op = node._op
        if op is None or not needs[i]:
            continue
        parents = [index[p] for p in node._parents]
        args = [f"v{p}" for p in parents]
        tpl = _template(op, len(args), "partials")
        block: list[str] = []
        if tpl is None:
            outs = [f"d{i}_{k}" for k in range(len(args))]
            block.append(f"({', '.join(outs)},) = "
                         f"{callee(op.partials)}({', '.join(args + [f'v{i}'])})")
            selects = False
        else:
            lines, outs = tpl
            fmt = {"T": f"u{i}_", "R": f"d{i}_", "out": f"v{i}"}
            block += [s.format(*args, **fmt) for s in lines]
            outs = [o.format(*args, **fmt) for o in outs]
            selects = _selects(tpl)
        for p, d in zip(parents, outs):
            if not needs[p]:
                continue
            if d == "1.0":
                term, neg = f"g{i}", False
            elif d == "(-1.0)":
                term, neg = f"g{i}", True
            else:
                term, neg = f"g{i} * {d}", False
            if has_grad[p]:
                block.append(f"g{p} {'-' if neg else '+'}= {term}")
            else:
                if selects:
                    zeroed.append(f"g{p}")
                    block.append(f"g{p} {'-' if neg else '+'}= {term}")
                else:
                    block.append(f"g{p} = {'-' if neg else ''}{term}")
                has_grad[p] = True
        if selects:
            # Partials that only pick inputs or finite constants: a zero upstream gradient
            # (a relu that is off, a hinge margin that is met) sends nothing back, so skip it.
            body.append(f"    if g{i}:")
            body += ["        " + s for s in block]
        else:
            body += ["    " + s for s in block]
    bwd = ["def backward(V, L, seed):",
           f"    ({', '.join(f'v{i}' for i in range(n))},) = V"]
    if zeroed:
        bwd.append(f"    {' = '.join(zeroed)} = 0.0")
    bwd += body
    for k, leaf in enumerate(leaves):
        i = index[leaf]
        if has_grad[i]:
            bwd.append(f"    L[{k}].grad += g{i}")
    bwd.append("    return None")
    src = "\n".join(fwd) + "\n\n" + "\n".join(bwd) + "\n"
    try:
        exec(builtins.compile(src, "<autograd.compile>", "exec"), ns)
    except (RecursionError, MemoryError, SyntaxError) as e:
        raise ValueError(f"compile: Python could not compile the generated code for {n} nodes "
                         f"({type(e).__name__}: {e}); lower MAX_CODE_NODES to use the tape") from e
    return ns["forward"], ns["backward"]


def compile(root: Value, *, mode: str = "auto") -> Compiled:  # noqa: A001 - jit-style name
    """Trace the graph behind ``root`` once and return an object that replays it.

    ``mode`` is ``"code"`` (generated straight-line Python), ``"tape"`` (a flat list of op-table
    calls) or ``"auto"`` (code up to ``MAX_CODE_NODES`` nodes, the tape above). The graph's
    structure is fixed at this moment: a Python ``if`` on a value taken while building it is not
    re-evaluated at replay; branches inside ops (relu, abs, pow) are.
    """
    if not isinstance(root, Value):
        raise TypeError(f"compile: expected a Value, got {type(root).__name__} {root!r}")
    if root._op is None:
        raise ValueError(f"compile: {root!r} is a leaf, there is no recorded op to replay "
                         f"(was the graph built under no_grad?)")
    if mode not in ("auto", "code", "tape"):
        raise ValueError(f"compile: mode must be 'auto', 'code' or 'tape', got {mode!r}")
    order = topological_order(root)
    if mode == "tape" or (mode == "auto" and len(order) > MAX_CODE_NODES):
        return _TapeCompiled(root, order)
    return _CodeCompiled(root, order)
