"""The textbook 2-2-2 sigmoid network (Mazur, "A Step by Step Backpropagation Example") as Values.

Two inputs, two hidden neurons, two outputs, one bias shared per layer, sigmoid everywhere and
E = ½ Σ (target − out)². Every node carries the textbook's name, so a rendered graph or an
explanation reads like the worked example.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

from autograd import Constant, Value, dot

# Starting values of the worked example.
INPUTS = {"i1": 0.05, "i2": 0.10}
WEIGHTS = {"w1": 0.15, "w2": 0.20, "w3": 0.25, "w4": 0.30,
           "w5": 0.40, "w6": 0.45, "w7": 0.50, "w8": 0.55}
BIASES = {"b1": 0.35, "b2": 0.60}
TARGETS = {"target_o1": 0.01, "target_o2": 0.99}
LEARNING_RATE = 0.5


@dataclass
class WorkedExample:
    """Every named node of the network; ``net["out_o1"]`` also works."""

    i1: Value
    i2: Value
    w1: Value
    w2: Value
    w3: Value
    w4: Value
    w5: Value
    w6: Value
    w7: Value
    w8: Value
    b1: Value
    b2: Value
    net_h1: Value
    out_h1: Value
    net_h2: Value
    out_h2: Value
    net_o1: Value
    out_o1: Value
    net_o2: Value
    out_o2: Value
    E_o1: Value
    E_o2: Value
    E: Value

    def __getitem__(self, name: str) -> Value:
        return getattr(self, name)

    def as_dict(self) -> dict[str, Value]:
        """Name → node, inputs first, the total error last."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @property
    def weights(self) -> list[Value]:
        """w1 … w8, the parameters the worked example updates (biases stay fixed)."""
        return [self.w1, self.w2, self.w3, self.w4, self.w5, self.w6, self.w7, self.w8]


def _leaf(name: str, value: float) -> Value:
    return Value(value, label=name)


def build(weights: dict[str, float] | None = None,
          biases: dict[str, float] | None = None) -> WorkedExample:
    """Build the network's graph up to E; ``weights``/``biases`` override the starting values."""
    w_init = {**WEIGHTS, **(weights or {})}
    b_init = {**BIASES, **(biases or {})}
    unknown = set(w_init) - set(WEIGHTS) | set(b_init) - set(BIASES)
    if unknown:
        raise ValueError(f"build: unknown parameter names {sorted(unknown)}")
    i1, i2 = (_leaf(k, v) for k, v in INPUTS.items())
    w1, w2, w3, w4, w5, w6, w7, w8 = (_leaf(k, w_init[k]) for k in WEIGHTS)
    b1, b2 = _leaf("b1", b_init["b1"]), _leaf("b2", b_init["b2"])

    def neuron(name: str, ws: list[Value], xs: list[Value], b: Value) -> tuple[Value, Value]:
        net = dot(ws, xs, b)  # one node: w·x + b, as the textbook writes net_h1
        net.label = f"net_{name}"
        out = net.sigmoid()
        out.label = f"out_{name}"
        return net, out

    net_h1, out_h1 = neuron("h1", [w1, w2], [i1, i2], b1)
    net_h2, out_h2 = neuron("h2", [w3, w4], [i1, i2], b1)
    net_o1, out_o1 = neuron("o1", [w5, w6], [out_h1, out_h2], b2)
    net_o2, out_o2 = neuron("o2", [w7, w8], [out_h1, out_h2], b2)

    def error(name: str, out: Value) -> Value:
        target = Constant(TARGETS[f"target_{name}"], label=f"target_{name}")
        e = 0.5 * (target - out) ** 2
        e.label = f"E_{name}"
        return e

    E_o1, E_o2 = error("o1", out_o1), error("o2", out_o2)
    E = E_o1 + E_o2
    E.label = "E"
    return WorkedExample(i1, i2, w1, w2, w3, w4, w5, w6, w7, w8, b1, b2, net_h1, out_h1,
                         net_h2, out_h2, net_o1, out_o1, net_o2, out_o2, E_o1, E_o2, E)


def train(steps: int, lr: float = LEARNING_RATE) -> WorkedExample:
    """Gradient descent on w1 … w8 as in the worked example (biases fixed); the last graph."""
    net = build()
    for _ in range(steps):
        net.E.backward()
        new = {w.label: w.data - lr * w.grad for w in net.weights}
        net = build(weights=new)
    return net
