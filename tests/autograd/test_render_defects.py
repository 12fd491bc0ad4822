"""Defects found in the drawing, explaining and stepping tools, each pinned by a test.

Nothing here is timed: sizes are bounded by operation counts and tracemalloc instead.
"""
from __future__ import annotations

import ast
import math
import random
import re
import subprocess
import sys
import textwrap
import tracemalloc

import pytest

import autograd
from autograd import Value
from autograd import graph
from support import ROOT

TOOLS = ["views/drawing.py", "views/explaining.py", "views/steps.py", "graph.py"]


# ----------------------------------------------------------------- one public graph layer

@pytest.mark.parametrize("name", TOOLS)
def test_tools_read_the_graph_through_public_names_only(name):
    tree = ast.parse((ROOT / "autograd" / name).read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                assert not alias.name.startswith("_"), (name, alias.name)
        if isinstance(node, ast.Attribute) and node.attr in ("_op", "_parents"):
            raise AssertionError(f"{name} reads .{node.attr}")


def test_drawing_does_not_import_the_step_through():
    tree = ast.parse((ROOT / "autograd" / "views" / "drawing.py").read_text(encoding="utf-8"))
    modules = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert "steps" not in modules and not any(m and m.endswith(".steps") for m in modules)


def test_draw_takes_the_backward_state_as_a_named_value():
    x = Value(0.5, "x")
    y = (x * x).tanh()
    y.label = "y"
    state = autograd.graph.backward_state(y, 1)
    assert isinstance(state, graph.BackwardState)
    assert state.current is y and y in state.visited and x not in state.visited
    assert autograd.draw(y, state=state).source == autograd.draw(y, step=1).source
    with pytest.raises(TypeError, match="BackwardState"):
        autograd.draw(y, state=(state.grads, True, set(), set(), None))


# ------------------------------------------------------------ import without graphviz

def test_import_and_differentiate_without_graphviz():
    code = textwrap.dedent("""
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name == "graphviz" or name.startswith("graphviz."):
                    raise ModuleNotFoundError("No module named 'graphviz'", name=name)
        sys.meta_path.insert(0, Block())
        import autograd
        x = autograd.Value(3.0, "x")
        y = x * x + x.sin()
        y.backward()
        assert abs(x.grad - (6 + __import__("math").cos(3.0))) < 1e-12
        str(autograd.explain(y, x))
        list(autograd.backward_steps(y))
        try:
            autograd.draw(y)
        except ImportError as e:
            print("IMPORTERROR", e)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "IMPORTERROR" in out.stdout and "pip install graphviz" in out.stdout
    assert "apt" in out.stdout or "brew" in out.stdout  # the system package too


# --------------------------------------------------------- flows from the engine's walk

def test_flows_are_drawn_after_zero_grad_and_before_backward():
    x = Value(0.5, "x")
    w = Value(-2.0, "w")
    y = (x * w).tanh()
    y.label = "y"
    y.backward()
    after = autograd.draw(y).source
    x.grad = w.grad = y.grad = 0.0  # what zero_grad leaves
    for n in autograd.graph.topological_order(y):
        n.grad = 0.0
    zeroed = autograd.draw(y).source
    assert "←" in after and zeroed == after
    assert "←" not in autograd.draw(y, flows=False).source


# ------------------------------------------------------------------- explain at scale

def unlabelled_chain(n: int) -> tuple[Value, Value]:
    x = Value(0.5, "x")
    y = x
    for _ in range(n):
        y = y * 1.0
    return y, x


@pytest.mark.deep
def test_explain_is_linear_on_a_long_unlabelled_chain():
    y, x = unlabelled_chain(100_000)
    ex = autograd.explain(y, x)
    assert ex.n_paths == 1 and ex.total == 1.0
    assert len(str(ex)) < 10_000  # a 100,000-factor product is summarised, not spelled out
    small, sx = unlabelled_chain(2_000)
    big, bx = unlabelled_chain(8_000)

    def peak(root, wrt):
        tracemalloc.start()
        autograd.explain(root, wrt)
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top

    peak(small, sx)
    # Four times the ops may cost about four times the memory, not sixteen.
    assert peak(big, bx) < 6 * peak(small, sx)


def add_chain(n: int) -> tuple[Value, Value]:
    x = Value(0.5, "x")
    y = x
    for _ in range(n):
        y = y + 1.0  # every link's factor is 1 by its formula, so explain tries to fold it
    return y, x


def python_calls(fn) -> int:
    """How many Python-level calls (functions and generator steps) ``fn()`` makes."""
    count = [0]

    def profile(frame, event, arg):
        if event == "call":
            count[0] += 1

    sys.setprofile(profile)
    try:
        fn()
    finally:
        sys.setprofile(None)
    return count[0]


def test_explain_through_all_on_an_add_chain_does_linear_work():
    counts = []
    for n in (300, 1200):
        y, x = add_chain(n)
        ex = autograd.explain(y, x, through="all", max_paths=4)
        assert ex.n_paths == 1 and ex.total == 1.0
        assert len(ex.paths[0].factors) == n  # every link its own factor: "all" means all
        counts.append(python_calls(lambda y=y, x=x: autograd.explain(y, x, through="all",
                                                                    max_paths=4)))
    # Four times the links may cost about four times the calls, not sixteen.
    assert counts[1] < 6 * counts[0], counts


def test_explain_with_infinite_paths_left_unlisted():
    x = Value(0.0, "x")
    a, b = x.sqrt(), x.sqrt()
    a.label, b.label = "a", "b"
    y = a - b + 2 * x
    y.label = "y"
    for through in ("labelled", "all"):
        text = str(autograd.explain(y, x, max_paths=2, through=through))
        assert "more path" in text and "nan" in text


def test_explain_with_nan_gradient_that_backward_computed():
    x = Value(0.0, "x")
    y = x.sqrt() - x.sqrt()
    y.label = "y"
    y.backward()
    ex = autograd.explain(y, x)
    assert math.isnan(ex.total) and math.isnan(x.grad)
    assert "has not run" not in str(ex) and ex.matches_grad


# --------------------------------------------------------------------- steps input types

def test_backward_steps_wants_a_number_for_its_seed():
    x = Value(0.5, "x")
    y = x * x
    with pytest.raises(TypeError, match="seed"):
        list(autograd.backward_steps(y, seed="1.5"))
    with pytest.raises(TypeError, match="seed"):
        list(autograd.backward_steps(y, seed=True))
    assert list(autograd.backward_steps(y, seed=2))[0].grad == 2.0


# ------------------------------------------------------------- user text that is not text

def test_non_string_label_is_drawn_explained_and_stepped():
    x = Value(0.5, label=42)
    y = x * x
    y.label = ("tuple", 1)
    assert "42" in autograd.draw(y).source
    assert "42" in autograd.draw(y, group=True).source
    assert "42" in str(autograd.explain(y, x))
    assert "42" in str(next(autograd.backward_steps(y)))


def braces_op():
    return autograd.extend.primitive("tw{i}st}", lambda a: 2 * a, lambda a, out: (2.0,),
                              symbol="\\{0}\"")


def test_primitive_with_braces_and_backslash_in_its_name_and_symbol():
    op = braces_op()
    x = Value(1.5, "x")
    y = op(x)
    y.label = "y"
    src = autograd.draw(y).source
    autograd.draw(y).pipe(format="svg")  # valid DOT
    assert "tw{i}st}" in src
    assert "tw{i}st}" in str(autograd.explain(y, x, through="all"))
    assert "tw{i}st}" in str(next(autograd.backward_steps(y)))
    assert "tw{i}st}" in autograd.graph.graph_data(y)["edges"][0]["formula"]


def test_fill_never_formats_user_text_as_a_template():
    assert graph.fill("{0}·{1} + {out}", ["{1}", "a}"], "o{") == "{1}·a} + o{"
    assert graph.fill("∂tw{i}st}/∂x{0}", ["x"], "y") == "∂tw{i}st}/∂xx"
    assert graph.fill("{{0}}", ["a"], "o") == "{0}"


@pytest.mark.parametrize("label", ["x" * 20_000, "a\x00b", "esc\x1b[31m", "lone\ud800",
                                   "\\N\\G\\l", "}{", "a\nb\rc"])
def test_awkward_labels_render(label):
    x = Value(0.5, label=label)
    y = (x * 2).tanh()
    y.label = label + ".out"
    for g in (autograd.draw(y), autograd.draw(y, group=True)):
        svg = g.pipe(format="svg")
        assert b"<svg" in svg
        assert len(g.source) < 10_000


# ------------------------------------------------------------------ drawing within bounds

def test_constants_as_nodes_count_against_max_nodes():
    x = Value(0.5, "x")
    c = autograd.Constant(1.5)
    y = x
    for _ in range(141):
        y = y * c
    with pytest.raises(ValueError, match="max_nodes"):
        autograd.draw(y, constants="node", max_nodes=300)
    src = autograd.draw(y, constants="hide", max_nodes=300).source  # 283 nodes fit
    assert src.count("->") == 2 * 141


class Unreachable(Value):
    """A node no bounded walk should reach: reading its inputs fails the test."""

    __slots__ = ()

    @property
    def parents(self):
        raise AssertionError("the walk went past the node limit")


def test_group_refuses_a_deep_chain_after_counting_past_the_limit():
    y, _ = unlabelled_chain(5_000)
    node = y
    for _ in range(2_000):
        node = node.parents[0]
    node._a = Unreachable(1.0)  # its first input, 2,000 ops down: far past max_nodes=300
    with pytest.raises(ValueError, match="max_nodes") as err:
        autograd.draw(y, group=True)
    seen = [int(s) for s in re.findall(r"stopped counting at (\d+)", str(err.value))]
    assert seen and max(seen) <= 310


def shared_random_graph(n: int = 99) -> Value:
    rng = random.Random(0)
    x, y = Value(0.5, "x"), Value(-0.3, "y")
    nodes = [x, y]
    for i in range(n):
        a, b = nodes[-1], rng.choice(nodes)
        nodes.append((a * b).tanh() if i % 2 else a + b)
    return nodes[-1]


def test_layout_cost_is_bounded_before_graphviz_runs():
    # Shared values used all along a long graph make edges that span many ranks; dot spends
    # its time on the bends of those edges. draw estimates them and keeps the layout cheap.
    root = shared_random_graph()
    g = autograd.draw(root)
    attrs = g.graph_attr
    assert float(attrs["nslimit"]) <= 1 and float(attrs["mclimit"]) <= 1
    assert attrs["splines"] in ("line", "polyline", "false")
    # A small graph keeps graphviz's full-quality layout.
    x = Value(0.5, "x")
    assert "nslimit" not in autograd.draw(x * x).graph_attr


def test_a_primitive_named_like_a_slot_keeps_its_name():
    # The default formula and expression hold the name as text: "{0}" is not input 0's slot.
    from autograd.graph import expression, graph_names, partial_formula
    twice = autograd.extend.primitive("{0}", lambda a: 2 * a, lambda a, out: (2.0,))
    x = Value(1.0, label="x")
    y = twice(x)
    names = graph_names(y)
    assert partial_formula(y, 0, names) == "∂{0}/∂x0"
    assert expression(y, names) == "{0}(x)"
