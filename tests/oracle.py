"""The PyTorch float64 oracle: the worked example in torch, and the op sweep's torch counterparts.

Importing this module skips the importing test module where PyTorch is not installed, with
the reason; every other test runs without it.
"""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch", reason="PyTorch is the oracle of these tests")

from support import START  # noqa: E402


def torch_network(weights: dict[str, float] | None = None) -> dict[str, torch.Tensor]:
    """The same network in PyTorch float64, every named tensor kept (the oracle).

    Every leaf requires grad; ``weights`` overrides some of w1 … w8.
    """
    t = {k: torch.tensor(x, dtype=torch.float64, requires_grad=True)
         for k, x in {**START, **(weights or {})}.items()}
    return torch_forward(t)


def torch_forward(t: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Add the network's named values to ``t``, which holds its twelve leaves (kept as given)."""
    t["net_h1"] = t["w1"] * t["i1"] + t["w2"] * t["i2"] + t["b1"]
    t["net_h2"] = t["w3"] * t["i1"] + t["w4"] * t["i2"] + t["b1"]
    t["out_h1"], t["out_h2"] = torch.sigmoid(t["net_h1"]), torch.sigmoid(t["net_h2"])
    t["net_o1"] = t["w5"] * t["out_h1"] + t["w6"] * t["out_h2"] + t["b2"]
    t["net_o2"] = t["w7"] * t["out_h1"] + t["w8"] * t["out_h2"] + t["b2"]
    t["out_o1"], t["out_o2"] = torch.sigmoid(t["net_o1"]), torch.sigmoid(t["net_o2"])
    t["E_o1"] = 0.5 * (0.01 - t["out_o1"]) ** 2
    t["E_o2"] = 0.5 * (0.99 - t["out_o2"]) ** 2
    t["E"] = t["E_o1"] + t["E_o2"]
    return t


def d(t: dict[str, torch.Tensor], top: str, bottom: str) -> float:
    """∂top/∂bottom from PyTorch, holding every other named value's inputs as they are."""
    (g,) = torch.autograd.grad(t[top], t[bottom], retain_graph=True, allow_unused=True)
    return 0.0 if g is None else g.item()


TORCH = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "pow": lambda a, b: torch.pow(a, b),
    "neg": lambda a: -a,
    "abs": torch.abs,
    "exp": torch.exp,
    "log": torch.log,
    "sqrt": torch.sqrt,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "relu": torch.relu,
    "leaky_relu": lambda a, s: torch.where(a > 0, a, s * a),
    "softplus": torch.nn.functional.softplus,
    "sin": torch.sin,
    "cos": torch.cos,
    "sum": lambda *xs: torch.stack(xs).sum(),
    "dot": lambda *xs: torch.dot(torch.stack(xs[:len(xs) // 2]),
                                 torch.stack(xs[len(xs) // 2:-1])) + xs[-1],
}
