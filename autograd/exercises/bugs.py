"""Five Values with the classic backprop mistakes, one each, for "fix the bug".

Each class is the reference ``Value`` (``autograd.exercises.reference``) with one method
rewritten the way learners often first write it. ``show(cls)`` prints that method; ``check(cls)``
says which graph it fails and where the wrong gradient enters.
"""
from __future__ import annotations

import inspect
import textwrap

from .reference import Value, topological_order

__all__ = ["Overwrites", "EveryPath", "TooEarly", "Recursive", "CountsTwice", "BUGS", "show"]


class Overwrites(Value):
    """``a + a``: a value used twice gets only one share of the gradient."""

    def __add__(self, other):
        other = self._node(other)
        out = type(self)(self.data + other.data, (self, other), "+")

        def _backward():
            self.grad = out.grad
            other.grad = out.grad
        out._backward = _backward
        return out


class EveryPath(Value):
    """``b = a + a; c = b + b``: a node reached along two paths passes its gradient on twice."""

    def backward(self):
        order, stack = [], [(self, False)]
        while stack:
            node, inputs_done = stack.pop()
            if inputs_done:
                order.append(node)
                continue
            stack.append((node, True))
            stack.extend((child, False) for child in node._prev)
        for node in order:
            if node._prev:
                node.grad = 0.0
        self.grad += 1.0
        for node in reversed(order):
            node._backward()


class TooEarly(Value):
    """The 2-2-2 network: a node passes its gradient on before every user has added its share."""

    def backward(self):
        for node in topological_order(self):
            if node._prev:
                node.grad = 0.0
        self.grad += 1.0
        visited, stack = set(), [self]
        while stack:
            node = stack.pop()
            if node not in visited:
                visited.add(node)
                node._backward()
                stack.extend(node._prev)


class Recursive(Value):
    """A chain 5,000 ops deep: a recursive topological sort runs out of Python's stack."""

    def backward(self):
        order, visited = [], set()

        def visit(node):
            if node not in visited:
                visited.add(node)
                for child in node._prev:
                    visit(child)
                order.append(node)
        visit(self)
        for node in order:
            if node._prev:
                node.grad = 0.0
        self.grad += 1.0
        for node in reversed(order):
            node._backward()


class CountsTwice(Value):
    """Two backward() calls: the second passes on what the first left in every grad."""

    def backward(self):
        order = topological_order(self)
        self.grad = 1.0
        for node in reversed(order):
            node._backward()


BUGS = (Overwrites, EveryPath, TooEarly, Recursive, CountsTwice)


def show(cls: type) -> None:
    """Print the method ``cls`` rewrote, the place to look for its mistake."""
    if not (isinstance(cls, type) and issubclass(cls, Value)):
        raise TypeError(f"show: expected one of {', '.join(c.__name__ for c in BUGS)}, got "
                        f"{cls!r}")
    for attr in vars(cls).values():
        if inspect.isfunction(attr):
            print(textwrap.dedent(inspect.getsource(attr)).rstrip())
