"""check(): a learner's Value class against the engine on every graded graph.

Each graph is built twice by the same builder, once on the learner's class and once on
``autograd.Value``; the builder's names pair the nodes. The learner's class then runs as written
(forward values first, then ``backward()``), and its leaves' gradients are compared with the
engine's. When they differ, the graph is built a third time and every node's ``_backward`` is
wrapped so that the checker sees each step of the learner's own walk: when it ran, what the
node's grad was, what it added to each input. Walking the engine's graph from the output, the
first node whose gradient is right but which sends a wrong amount to an input is where the error
enters.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from autograd import Constant, Value

from .adapter import HOOK, Learner, TimeLimit, attempt, hint, number, one_line, own_lines
from .engine_side import Ours, graph_named
from .graphs import GRAPHS, Graph, Tape
from .report import FAIL, NOT_RUN, PASS, SKIP, Entry, GraphResult, Report, Row, close, fmt

DEFAULT_TIMEOUT = 10.0
"""Seconds each graph may take on the learner's class (the 5,000-deep chain included)."""


def check(value_class: Any, *, timeout: float = DEFAULT_TIMEOUT,
          graphs: Iterable[str] | None = None,
          progress: Callable[[GraphResult], None] | None = None) -> Report:
    """Run ``value_class`` and the engine on the graded graphs; the report names, in order, the
    graphs that fail, and for the first one where the wrong gradient enters.

    ``value_class`` is read as micrograd's ``Value`` is (see ``autograd.exercises.adapter``);
    ``...`` or None (an exercise not written yet) gives a report saying so. ``graphs`` picks
    graphs by name (all of ``GRAPHS`` by default); ``progress`` is called with each result as
    it comes. Learner code never raises out of check() and each graph stops after ``timeout``
    seconds.
    """
    if value_class is ... or value_class is None:
        return Report("Value", (), problem="not written yet: define your class, then check it")
    if not isinstance(value_class, type):
        raise TypeError(f"check: value_class must be a class (your Value, not one of its "
                        f"values), got {type(value_class).__name__}")
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise ValueError(f"check: timeout must be a positive number of seconds, got {timeout!r}")
    chosen = select(graphs)
    learner = Learner(value_class)
    problem = _leaf_problem(learner, timeout)
    if problem:
        return Report(learner.name, tuple(GraphResult(g.name, NOT_RUN) for g in chosen), problem)
    results: list[GraphResult] = []
    for g in chosen:
        if any(r.timed_out for r in results):
            # Every later graph would most likely hang too, each for the whole time limit.
            results.append(GraphResult(g.name, NOT_RUN, "not run: an earlier graph timed out"))
        else:
            results.append(run_graph(g, learner, timeout))
        if progress is not None:
            progress(results[-1])
    return Report(learner.name, tuple(results))


def select(graphs: Iterable[str] | None) -> list[Graph]:
    """The graphs named (all of them for None), in the order given."""
    if graphs is None:
        return list(GRAPHS)
    if isinstance(graphs, str):
        graphs = [graphs]
    return [graph_named(name) for name in graphs]


def _leaf_problem(learner: Learner, timeout: float) -> str:
    """Why the class cannot even make a leaf holding 2.0, or ""."""
    data, error = attempt(timeout, lambda: number(getattr(learner.value_class(2.0), "data", None)))
    if error is not None:
        return (f"not implemented yet: {learner.name}(2.0) raised {one_line(error)}; start "
                f"with __init__(self, data, ...) storing data and grad")
    if data != 2.0:
        return (f"not implemented yet: {learner.name}(2.0).data should be 2.0, got "
                f"{fmt(data)}")
    return ""


# --------------------------------------------------------------------------- one graph

@dataclass
class Run:
    """What one run of the learner's class left: its nodes by name, their data, and their grads
    after each backward() call. Filled in as the run goes, so an exception keeps what came
    before it."""

    tape: Tape | None = None
    root: Any = None
    data: dict[str, float | None] = field(default_factory=dict)
    grads: list[dict[str, float | None]] = field(default_factory=list)
    not_nodes: dict[str, str] = field(default_factory=dict)   # name → type of a non-node


def _run(graph: Graph, learner: Learner, run: Run) -> None:
    run.tape = Tape(learner.value_class)
    run.root = graph.build(run.tape)
    run.not_nodes = {name: type(node).__name__ for name, node in run.tape.nodes.items()
                     if not hasattr(node, "data")}
    run.data = {name: number(getattr(node, "data", None)) for name, node in run.tape.nodes.items()}
    for _ in range(graph.backwards):
        run.root.backward()
        run.grads.append(_grads(run.tape))


def _grads(tape: Tape) -> dict[str, float | None]:
    return {name: number(getattr(node, "grad", None)) for name, node in tape.nodes.items()}


def run_graph(graph: Graph, learner: Learner, timeout: float = DEFAULT_TIMEOUT) -> GraphResult:
    """One graph on the learner's class: pass, skip (a method it does not have) or fail."""
    missing = [m for m in ("backward", *graph.needs) if not learner.has(m)]
    if missing:
        return GraphResult(graph.name, SKIP, f"not implemented yet: {', '.join(missing)}",
                           graph.about)
    ours = Ours(graph)
    try:
        return _judge(graph, learner, ours, timeout)
    finally:
        ours.release()


def _judge(graph: Graph, learner: Learner, ours: Ours, timeout: float) -> GraphResult:
    run = Run()
    _, error = attempt(timeout, _run, graph, learner, run)
    wrong_forward = _forward_error(ours, run)
    if wrong_forward is not None:
        return GraphResult(graph.name, FAIL, "wrong forward value", graph.about,
                           entry=wrong_forward)
    if error is not None:
        return _crashed(graph, learner, ours, run, error)
    rows = _rows(ours, run.grads[-1], graph.backwards)
    if all(r.ok for r in rows) and _earlier_calls_ok(ours, run):
        return GraphResult(graph.name, PASS, about=graph.about)
    wrong = ", ".join(r.name for r in rows if not r.ok) or "after the first call"
    entry, grads, call = diagnose(graph, learner, ours, run, timeout)
    reason = f"wrong gradients: {wrong}" + (f" (enters at `{entry.code}`)" if entry else "")
    return GraphResult(graph.name, FAIL, reason, graph.about, tuple(rows), entry, grads=grads,
                       call=call)


def _rows(ours: Ours, grads: dict[str, float | None], calls: int) -> list[Row]:
    # After k calls each leaf holds k times one call's gradient (PyTorch's contract).
    return [Row(ours.name(v), calls * ours.grad[v], grads.get(ours.name(v)))
            for v in ours.leaves]


def _earlier_calls_ok(ours: Ours, run: Run) -> bool:
    return all(r.ok for k, grads in enumerate(run.grads[:-1], 1)
               for r in _rows(ours, grads, k))


def _forward_error(ours: Ours, run: Run) -> Entry | None:
    """The first node, in the order the builder made them, whose value is wrong."""
    if run.tape is None:
        return None
    for name in run.tape.nodes:
        v = ours.nodes[name]
        if name not in run.data:   # the run stopped before reading the values
            return None
        yours = run.data[name]
        if close(yours, v.data):
            continue
        code = ours.code(v) if v.operation is not None else f"{name} = leaf({fmt(v.data)})"
        what = ("is not a number" if yours is None else f"is {fmt(yours)}")
        if name in run.not_nodes:
            what = f"gave a {run.not_nodes[name]}, not a node of your class"
        return Entry(name, code, "", f"forward: your `{code}` {what}; it should be "
                                     f"{fmt(v.data)}")
    return None


def _crashed(graph: Graph, learner: Learner, ours: Ours, run: Run,
             error: BaseException) -> GraphResult:
    """A graph whose run raised or timed out: the error, a hint, the learner's own lines, and
    the node being built if it happened while building."""
    entry = None
    built = list(run.tape.nodes) if run.tape is not None else []
    if run.data == {} and len(built) < len(ours.nodes):
        name = list(ours.nodes)[len(built)]
        v = ours.nodes[name]
        code = ours.code(v) if v.operation is not None else f"{name} = leaf"
        entry = Entry(name, code, "", f"raised while building `{code}`")
    where = "building the graph" if entry else "backward()"
    what = "timed out" if isinstance(error, TimeLimit) else type(error).__name__
    return GraphResult(graph.name, FAIL, f"{what} in {where}", graph.about,
                       entry=entry, error=one_line(error), hint=hint(error, learner.name),
                       traceback=tuple(own_lines(error, learner.files)),
                       timed_out=isinstance(error, TimeLimit))


# ------------------------------------------------------------------ watching each step

@dataclass
class Step:
    """One call of a node's ``_backward``: the node's grad then, and each input's grad before
    and after (by id)."""

    node: int
    grad: float | None
    inputs: dict[int, tuple[float | None, float | None]]


class _Watch:
    """Stands in for a node's ``_backward``: records the step, then runs the original."""

    def __init__(self, node: Any, original: Any, kids: list[Any], log: list[Step]) -> None:
        self.node, self.original, self.kids, self.log = node, original, kids, log

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        grad = number(getattr(self.node, "grad", None))
        before = [number(getattr(k, "grad", None)) for k in self.kids]
        try:
            return self.original(*args, **kwargs)
        finally:
            after = [number(getattr(k, "grad", None)) for k in self.kids]
            self.log.append(Step(id(self.node), grad,
                                 {id(k): (b, a) for k, b, a in zip(self.kids, before, after)}))


@dataclass
class Watched:
    """A run with every ``_backward`` watched: the steps of each call, grads before and after."""

    run: Run = field(default_factory=Run)
    owner: dict[int, str] = field(default_factory=dict)
    hooked: set[int] = field(default_factory=set)
    log: list[Step] = field(default_factory=list)
    calls: list[tuple[int, int]] = field(default_factory=list)   # slices of log, one per call
    before: list[dict[str, float | None]] = field(default_factory=list)


def _watched_run(graph: Graph, learner: Learner, w: Watched) -> None:
    run = w.run
    run.tape = Tape(learner.value_class)
    run.root = graph.build(run.tape)
    nodes = learner.walk(run.root)
    w.owner = _owners(learner, run.tape)
    for node in nodes:
        original = getattr(node, HOOK, None)
        if callable(original):
            _, error = attempt(1.0, setattr, node, HOOK,
                               _Watch(node, original, learner.children(node), w.log))
            if error is None:   # else __slots__ without room for it: the node goes unwatched
                w.hooked.add(id(node))
    for _ in range(graph.backwards):
        w.before.append(_grads(run.tape))
        start = len(w.log)
        run.root.backward()
        w.calls.append((start, len(w.log)))
        run.grads.append(_grads(run.tape))


def _owners(learner: Learner, tape: Tape) -> dict[int, str]:
    """Which named node each of the learner's nodes belongs to: itself if named, else the named
    node above it (micrograd's ``a - b`` is ``a + (b * -1)``: the ``b * -1`` and its -1 belong to
    the node named for ``a - b``)."""
    owner = {id(node): name for name, node in tape.nodes.items()}
    for name, node in reversed(tape.nodes.items()):
        stack = [node]
        while stack:
            for kid in learner.children(stack.pop()):
                if id(kid) not in owner:
                    owner[id(kid)] = name
                    stack.append(kid)
    return owner


def diagnose(graph: Graph, learner: Learner, ours: Ours, run: Run,
             timeout: float) -> tuple[Entry | None, dict[str, float | None], int]:
    """Where the error enters, the learner's gradients to draw, and which backward() call."""
    w = Watched()
    _, error = attempt(timeout, _watched_run, graph, learner, w)
    if error is not None or len(w.run.grads) != graph.backwards:
        # The watched run behaved differently: judge from the plain run alone.
        w = Watched(run=run, before=[{}] + run.grads[:-1])
        w.calls = [(0, 0)] * graph.backwards
    for k in range(1, graph.backwards + 1):
        entry = _entry(ours, w, k)
        if entry is not None or k == graph.backwards:
            return entry, _shown_grads(ours, w, k), k
    return None, {}, graph.backwards


# ------------------------------------------------------------------ where the error enters

def _this_call(ours: Ours, w: Watched, k: int, v: Value) -> float | None:
    """The learner's gradient of ``v`` from backward() call ``k`` alone: for a leaf what the call
    added; for a non-leaf its grad, or what the call added if it keeps adding (micrograd)."""
    name = ours.name(v)
    after = w.run.grads[k - 1].get(name)
    before = w.before[k - 1].get(name) if k > 1 else 0.0
    if after is None or before is None:
        return None
    if v.operation is None or not close(after, ours.grad[v]):
        return after - before
    return after


def _shown_grads(ours: Ours, w: Watched, k: int) -> dict[str, float | None]:
    return {ours.name(v): _this_call(ours, w, k, v) for v in ours.nodes.values()}


def _grad_ok(ours: Ours, w: Watched, k: int, v: Value) -> bool:
    return close(_this_call(ours, w, k, v), ours.grad[v])


def _entry(ours: Ours, w: Watched, k: int) -> Entry | None:
    """The first node from the output whose gradient is right but which sends a wrong amount to
    one of its inputs, in backward() call ``k``."""
    root = ours.root
    if not _grad_ok(ours, w, k, root):
        return _seed_entry(ours, w, k)
    steps = w.log[slice(*w.calls[k - 1])]
    sent = _sent(ours, w, steps)
    for v in reversed(ours.order):
        if v.operation is None or not _grad_ok(ours, w, k, v):
            continue
        node = w.run.tape.nodes[ours.name(v)]
        for p in dict.fromkeys(v.parents):
            if isinstance(p, Constant):
                continue
            # No step at all: this backward() does not call _backward, so nothing was watched.
            if steps and id(node) in w.hooked:
                got = sent.get((ours.name(v), ours.name(p)), 0.0)
                if not close(got, ours.send(v, p)):
                    own = [s for s in steps if s.node == id(node)]
                    return _explain(ours, w, k, v, p, got, own)
            elif not _grad_ok(ours, w, k, p):
                return _unwatched_entry(ours, w, k, v, p)
    return None


def _sent(ours: Ours, w: Watched, steps: list[Step]) -> dict[tuple[str, str], float]:
    """What each named node's steps (its own and those of the nodes it owns) added to each named
    input: (node name, input name) → total."""
    named = {id(node): name for name, node in w.run.tape.nodes.items()}
    sent: dict[tuple[str, str], float] = {}
    for s in steps:
        owner = w.owner.get(s.node)
        for kid, (before, after) in s.inputs.items():
            if kid in named and named[kid] != owner and before is not None and after is not None:
                key = (owner, named[kid])
                sent[key] = sent.get(key, 0.0) + (after - before)
    return sent


def _seed_entry(ours: Ours, w: Watched, k: int) -> Entry:
    name = ours.name(ours.root)
    yours = fmt(w.run.grads[k - 1].get(name))
    return Entry(name, ours.code(ours.root), "",
                 f"after backward(), the output {name}'s grad is {yours}; backward() starts "
                 f"from {name}.grad = 1 (∂{name}/∂{name} = 1), and everything else is that 1 "
                 f"times the partials along the way")


def _unwatched_entry(ours: Ours, w: Watched, k: int, v: Value, p: Value) -> Entry:
    name, pname = ours.name(v), ours.name(p)
    yours = _this_call(ours, w, k, p)
    return Entry(name, ours.code(v), pname,
                 f"{name}'s grad is right but {pname}'s is {fmt(yours)} where it should be "
                 f"{fmt(ours.grad[p])}: the error is between `{ours.code(v)}` and {pname} "
                 f"(without a per-node _backward to watch, the checker cannot see which step "
                 f"sent it)")


def _explain(ours: Ours, w: Watched, k: int, v: Value, p: Value, got: float,
             own: list[Step]) -> Entry:
    """Why ``v`` sent ``got`` to ``p``: it never ran or ran twice, it passed on a gradient that
    was not its own yet (or no longer), it replaced instead of adding, or a wrong partial."""
    name, pname, code = ours.name(v), ours.name(p), ours.code(v)
    g, want = ours.grad[v], ours.send(v, p)
    local, formula = ours.local(v, p), ours.formula(v, p)
    wrong = f"{pname} got {fmt(got)} from it; it should get {fmt(want)}"
    if not own:
        return Entry(name, code, pname, f"{name}'s _backward never ran in this backward() call: "
                     f"{wrong}. Is {name} in your topological order?")
    if len(own) > 1:
        return Entry(name, code, pname, f"{name}'s _backward ran {len(own)} times in one "
                     f"backward() call: {wrong}. A node reached along several paths must be "
                     f"visited once: keep a set of the nodes already in your topological order")
    g_run = own[0].grad
    if g_run is not None and not close(g_run, g) and close(got, g_run * local):
        return Entry(name, code, pname, _stale(name, pname, k, g_run, g, got, want))
    before, after = own[0].inputs.get(id(w.run.tape.nodes[pname]), (None, None))
    slots = len(ours.slots(v, p))
    if before and after is not None and close(after, want):
        return Entry(name, code, pname, f"`{code}` set {pname}.grad to {fmt(after)} instead "
                     f"of adding {fmt(want)} to the {fmt(before)} already there: use += in "
                     f"_backward (a value used more than once gets a share from each use)")
    if slots > 1 and close(got, want / slots):
        return Entry(name, code, pname, f"{pname} is used {slots} times by `{code}`: each use "
                     f"sends its share ({fmt(want / slots)}) and the shares add up to "
                     f"{fmt(want)}, but {pname} got {fmt(got)}: one share replaced the other. "
                     f"Use += in _backward")
    if g == 0:
        return Entry(name, code, pname, f"{name}'s grad is 0, so it sends nothing; {wrong}")
    scale = "" if g == 1 else (f" ({name}'s grad {fmt(g)} times ∂{name}/∂{pname}: you sent "
                               f"{fmt(got)}, it should be {fmt(want)})")
    return Entry(name, code, pname, f"at `{code}`, you sent ∂{name}/∂{pname} = {fmt(got / g)} "
                 f"to {pname}; it should be {formula} = {fmt(local)}{scale}")


def _stale(name: str, pname: str, k: int, g_run: float, g: float, got: float,
           want: float) -> str:
    if k > 1:
        return (f"in backward() call {k}, {name}'s grad was {fmt(g_run)} when its _backward "
                f"ran: this call's {fmt(g)} plus what the earlier call left in it, and it passed "
                f"all of it on ({pname} got {fmt(got)}; this call's share is {fmt(want)}). "
                f"Set the grads of the non-leaf nodes to 0 at the start of backward(), so that "
                f"only the leaves accumulate, as in PyTorch")
    return (f"{name}'s _backward ran when its grad was {fmt(g_run)}, before every node that uses "
            f"{name} had added its share (it should be {fmt(g)}), so {pname} got {fmt(got)} "
            f"instead of {fmt(want)}. Call _backward in reverse topological order: a node only "
            f"after every node that uses it")
