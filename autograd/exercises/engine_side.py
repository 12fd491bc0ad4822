"""The engine's side of a graded graph: the same builder run on ``autograd.Value``, its gradients
(the expected ones), and the words for each node ("c = a * b", "∂c/∂a = b")."""
from __future__ import annotations

from autograd import Constant, Value
from autograd.graph import backprop, fill, local_partials

from .graphs import GRAPHS, Graph, Tape

# How each op is written in Python, for "c = a * b"; an op missing here is a method, a.tanh().
PYTHON = {"add": "{0} + {1}", "sub": "{0} - {1}", "mul": "{0} * {1}", "div": "{0} / {1}",
          "pow": "{0} ** {1}", "neg": "-{0}"}


def graph_named(name: str) -> Graph:
    for g in GRAPHS:
        if g.name == name:
            return g
    raise ValueError(f"no graded graph is named {name!r}; the graphs are "
                     f"{', '.join(g.name for g in GRAPHS)}")


class Ours:
    """One graph built on the engine, its nodes labelled with the builder's names."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        tape = Tape(Value, label=True)
        self.root: Value = graph.build(tape)
        self.nodes: dict[str, Value] = dict(tape.nodes)
        self.names = {node: name for name, node in self.nodes.items()}
        # The engine's own walk: parents before children, and ∂root/∂node for every node.
        self.order, self.grad = backprop(self.root)

    def release(self) -> None:
        """Drop the graph root first. A chain 5,000 deep freed from its root frees each node
        from inside the last one's deallocation: CPython's C stack takes that, the browser's
        WebAssembly stack does not (Pyodide dies with "Maximum call stack size exceeded").
        Freed from a list that holds every node, the root goes first and each node after it
        is freed on its own."""
        order = self.order       # parents before children, so the root is last
        self.__dict__.clear()
        del order                # a list drops its items from the last one back

    @property
    def leaves(self) -> list[Value]:
        """The leaves that get a gradient, in the order the builder made them."""
        return [v for v in self.nodes.values() if v.operation is None]

    def name(self, v: Value) -> str:
        if isinstance(v, Constant):
            return f"{v.data:g}"
        return self.names[v]

    def code(self, v: Value) -> str:
        """The node as a line of Python: "c = a * b", "o = n.tanh()"."""
        op = v.operation
        inputs = [self.name(p) for p in v.parents]
        template = PYTHON.get(op.name, "{0}." + op.name + "()")
        return f"{self.name(v)} = " + template.format(*inputs)

    def slots(self, v: Value, p: Value) -> list[int]:
        """Where ``p`` is an input of ``v`` (twice for a + a)."""
        return [i for i, q in enumerate(v.parents) if q is p]

    def formula(self, v: Value, p: Value) -> str:
        """∂v/∂p in words from the op table: "b", "1 − o²"; one term per edge, added."""
        inputs = [self.name(q) for q in v.parents]
        op = v.operation
        return " + ".join(fill(op.formula(i, len(inputs)), inputs, self.name(v))
                          for i in self.slots(v, p))

    def local(self, v: Value, p: Value) -> float:
        """∂v/∂p, summed over the edges from p into v."""
        partials = local_partials(v)
        return sum(partials[i] for i in self.slots(v, p))

    def send(self, v: Value, p: Value) -> float:
        """What ``v`` sends to ``p`` in one backward(): its gradient times ∂v/∂p."""
        return self.grad[v] * self.local(v, p)
