"""One answer to "build your own Value": micrograd's design, with the classic mistakes avoided.

Read it after writing your own. Each node keeps its inputs in a tuple (so both edges of ``a + a``
are there) and a ``_backward`` closure that *adds* its share to each input's grad. ``backward()``
orders the graph with an explicit stack (no recursion: a chain 5,000 ops deep is fine), resets
the grads of the non-leaf nodes, then runs every ``_backward`` once, users before what they use.
Calling it twice adds the gradient to the leaves twice, as PyTorch does.

The closures make a reference cycle per node (out → _backward → out), so Python's cycle collector
frees a graph; the engine (``autograd.Value``) avoids that, but this is the design a learner
writes first, and the one the checker is built to read.
"""
from __future__ import annotations

import math


class Value:
    """A number that remembers how it was made, so that gradients can flow back through it."""

    def __init__(self, data, _children=(), _op=""):
        self.data = data
        self.grad = 0.0
        self._prev = tuple(_children)
        self._op = _op
        self._backward = lambda: None   # a leaf has no inputs to send to

    def __repr__(self):
        return f"Value(data={self.data}, grad={self.grad})"

    def _node(self, other):
        # Numbers become leaves of the same class (a subclass stays itself).
        return other if isinstance(other, Value) else type(self)(other)

    def __add__(self, other):
        other = self._node(other)
        out = type(self)(self.data + other.data, (self, other), "+")

        def _backward():
            self.grad += out.grad
            other.grad += out.grad
        out._backward = _backward
        return out

    def __mul__(self, other):
        other = self._node(other)
        out = type(self)(self.data * other.data, (self, other), "*")

        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
        out._backward = _backward
        return out

    def __pow__(self, k):
        if not isinstance(k, (int, float)):
            return NotImplemented   # only a number as the exponent
        out = type(self)(self.data ** k, (self,), f"**{k}")

        def _backward():
            self.grad += k * self.data ** (k - 1) * out.grad
        out._backward = _backward
        return out

    def _unary(self, data, slope, op):
        """A one-input op: its value and the slope d(out)/d(self) at this point."""
        out = type(self)(data, (self,), op)

        def _backward():
            self.grad += slope * out.grad
        out._backward = _backward
        return out

    def exp(self):
        e = math.exp(self.data)
        return self._unary(e, e, "exp")

    def log(self):
        return self._unary(math.log(self.data), 1 / self.data, "log")

    def tanh(self):
        t = math.tanh(self.data)
        return self._unary(t, 1 - t * t, "tanh")

    def sigmoid(self):
        s = 1 / (1 + math.exp(-self.data))
        return self._unary(s, s * (1 - s), "sigmoid")

    def relu(self):
        return self._unary(max(self.data, 0.0), float(self.data > 0), "relu")

    def __neg__(self):
        return self * -1

    def __sub__(self, other):
        return self + (-self._node(other))

    def __truediv__(self, other):
        return self * self._node(other) ** -1

    def __radd__(self, other):
        return self + other

    def __rmul__(self, other):
        return self * other

    def __rsub__(self, other):
        return self._node(other) - self

    def __rtruediv__(self, other):
        return self._node(other) / self

    def backward(self):
        order = topological_order(self)
        for node in order:
            if node._prev:      # leaves keep what earlier calls added
                node.grad = 0.0
        self.grad += 1.0        # ∂self/∂self
        for node in reversed(order):
            node._backward()


def topological_order(root):
    """Every node ``root`` depends on, each after its inputs: a depth-first walk whose stack
    holds (node, whether its inputs are already done)."""
    order, visited = [], set()
    stack = [(root, False)]
    while stack:
        node, inputs_done = stack.pop()
        if inputs_done:
            order.append(node)
            continue
        if node in visited:
            continue
        visited.add(node)
        stack.append((node, True))
        stack.extend((child, False) for child in node._prev if child not in visited)
    return order
