"""The PyTorch float64 oracle: the worked example in torch, and the op sweep's torch counterparts.

``torch`` here is PyTorch imported at first use: a test that touches it is skipped, with the
reason, where PyTorch is not installed, and every other test of its module still runs.
"""
from __future__ import annotations

import pytest

from support import START


class _Torch:
    """PyTorch, imported (in float64) the first time an attribute is read."""

    def __getattr__(self, name: str):
        if name.startswith(("_", "pytest")):   # pytest's own probes while collecting
            raise AttributeError(name)
        real = pytest.importorskip("torch", reason="PyTorch is the oracle of this test")
        real.set_default_dtype(real.float64)
        return getattr(real, name)


torch = _Torch()


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
    "abs": lambda a: torch.abs(a),
    "exp": lambda a: torch.exp(a),
    "log": lambda a: torch.log(a),
    "sqrt": lambda a: torch.sqrt(a),
    "tanh": lambda a: torch.tanh(a),
    "sigmoid": lambda a: torch.sigmoid(a),
    "relu": lambda a: torch.relu(a),
    "leaky_relu": lambda a, s: torch.where(a > 0, a, s * a),
    "softplus": lambda a: torch.nn.functional.softplus(a),
    "sin": lambda a: torch.sin(a),
    "cos": lambda a: torch.cos(a),
    "sum": lambda *xs: torch.stack(xs).sum(),
    "dot": lambda *xs: torch.dot(torch.stack(xs[:len(xs) // 2]),
                                 torch.stack(xs[len(xs) // 2:-1])) + xs[-1],
}


def require_torch() -> None:
    """Skip the calling test, with the reason, where PyTorch is missing: for a test that
    reaches PyTorch through the library (``Module.to_torch``), not through ``torch`` here."""
    pytest.importorskip("torch", reason="PyTorch is the oracle of this test")
