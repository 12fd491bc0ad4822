"""Heat maps: every neuron's output over a grid of the input plane, on plain floats.

A 40×40 grid through a 2-8-8-1 network is 1,600 examples and about 140,000 multiply-adds. Building
Values for them would make some 70,000 nodes per refresh, and replaying a compiled one-example
graph 1,600 times pays a call and a list of every intermediate per grid point. Nothing here needs
a gradient, so the weights are read out as numbers and each neuron is computed for the whole grid
in a few list comprehensions (a column at a time), with the activation's forward function taken
from the op table, so no formula is written twice.
"""
from __future__ import annotations

import base64
import math
import sys
from array import array

from autograd.extend import OPS
from nn import MLP

_ACTIVATE = {name: OPS[name].forward for name in ("relu", "tanh", "sigmoid")}


def grid(n: int, extent: float) -> tuple[list[float], list[float]]:
    """Coordinates of an n×n grid over [−extent, extent]², row by row from the top."""
    ticks = [-extent + (2 * extent) * (k + 0.5) / n for k in range(n)]
    xs = [x for _ in range(n) for x in ticks]
    ys = [y for y in reversed(ticks) for _ in range(n)]
    return xs, ys


def neuron_outputs(model: MLP, xs: list[float], ys: list[float]) -> list[list[list[float]]]:
    """Per layer, per neuron: its output at every grid point (the last layer: its raw score)."""
    columns = [xs, ys]
    layers = []
    for layer in model.layers:
        act = _ACTIVATE.get(layer.activation)
        outs = []
        for neuron in layer.neurons:
            net = [neuron.b.data] * len(xs)
            for w, col in zip(neuron.w, columns):
                wd = w.data
                net = [a + wd * c for a, c in zip(net, col)]
            outs.append(list(map(act, net)) if act else net)
        layers.append(outs)
        columns = outs
    return layers


def encode(values: list[float]) -> str:
    """Values as base64 of little-endian float32: made in C, a few times faster than quantizing
    in Python; the page scales each map by its own largest |value|."""
    packed = array("f", values)
    if sys.byteorder == "big":
        packed.byteswap()
    return base64.b64encode(packed.tobytes()).decode("ascii")


def surface(scores: list[list[float]]) -> dict:
    """The output layer's scores as the decision surface the page paints.

    Two classes: tanh(z/2) = 2σ(z) − 1, the confidence in class 1 over class 0. More: the winning
    class at each point and its softmax probability.
    """
    if len(scores) == 1:
        return {"kind": "binary", "data": encode([math.tanh(z / 2) for z in scores[0]])}
    winners, confidence = [], []
    for zs in zip(*scores):
        top = max(range(len(zs)), key=zs.__getitem__)
        total = math.fsum(math.exp(z - zs[top]) for z in zs) if math.isfinite(zs[top]) else 1.0
        winners.append(top)
        confidence.append(1.0 / total if math.isfinite(total) else 0.0)
    return {"kind": "classes", "classes": base64.b64encode(bytes(winners)).decode("ascii"),
            "data": encode(confidence)}
