"""The seed network (Mazur's worked example) against its published numbers and PyTorch float64."""
from __future__ import annotations
import pytest

from nn import worked_example as we
from oracle import torch_forward, torch_network
from support import START
from oracle import torch

# Published in "A Step by Step Backpropagation Example" (Matt Mazur).
PUBLISHED_FORWARD = {"out_o1": 0.75136507, "out_o2": 0.772928465, "E": 0.298371109}
PUBLISHED_AFTER_ONE = {"w1": 0.149780716, "w2": 0.19956143, "w3": 0.24975114,
                       "w4": 0.29950229, "w5": 0.35891648, "w6": 0.408666186,
                       "w7": 0.511301270, "w8": 0.561370121}
PUBLISHED_AFTER_10000 = 0.0000351085


def torch_weights_and_values():
    """The oracle's w1 … w8 tensors and its named values (from the shared oracle)."""
    t = torch_network()
    return {k: t[k] for k in we.WEIGHTS}, t


def test_names_are_the_textbook_ones():
    net = we.build()
    names = ["i1", "i2", *[f"w{k}" for k in range(1, 9)], "b1", "b2", "net_h1", "out_h1",
             "net_h2", "out_h2", "net_o1", "out_o1", "net_o2", "out_o2", "E_o1", "E_o2", "E"]
    assert list(net.as_dict()) == names
    for name in names:
        assert net[name].label == name
    # net_h1 is one node reading w1, w2, i1, i2, b1, the textbook's w1·i1 + w2·i2 + b1.
    assert net.net_h1.op == "dot"
    assert net.net_h1.parents == (net.w1, net.w2, net.i1, net.i2, net.b1)
    assert net.out_h1.parents == (net.net_h1,)
    # The shared bias feeds both hidden neurons.
    assert net.net_h2.parents[-1] is net.b1


def test_forward_matches_published_numbers():
    net = we.build()
    for name, value in PUBLISHED_FORWARD.items():
        assert net[name].data == pytest.approx(value, abs=1e-8)


def test_forward_matches_torch():
    net = we.build()
    t = torch_network()
    for name in ("out_h1", "out_h2", "out_o1", "out_o2", "E"):
        tensor = t[name]
        assert net[name].data == pytest.approx(tensor.item(), rel=1e-14, abs=1e-15)


def test_all_eight_gradients_match_torch():
    net = we.build()
    net.E.backward()
    w, t = torch_weights_and_values()
    t["E"].backward()
    for k in range(1, 9):
        assert net[f"w{k}"].grad == pytest.approx(w[f"w{k}"].grad.item(), rel=1e-12, abs=1e-16)
        assert net[f"w{k}"].grad != 0.0


def test_published_gradient_of_w5():
    # The article's first worked gradient: ∂E/∂w5 = 0.082167041.
    net = we.build()
    net.E.backward()
    assert net.w5.grad == pytest.approx(0.082167041, abs=1e-9)


def test_one_update_matches_published_and_torch():
    after = {w.label: w.data for w in we.train(1).weights}
    w, t = torch_weights_and_values()
    t["E"].backward()
    for k in range(1, 9):
        name = f"w{k}"
        assert after[name] == pytest.approx(PUBLISHED_AFTER_ONE[name], abs=1e-8)
        expected = (w[name] - 0.5 * w[name].grad).item()
        assert after[name] == pytest.approx(expected, rel=1e-13)


def test_error_after_many_updates_matches_torch():
    steps = 10_000
    net = we.train(steps)
    w, _ = torch_weights_and_values()
    opt = torch.optim.SGD(list(w.values()), lr=0.5)
    for _ in range(steps):
        opt.zero_grad()
        _, t = _forward_with(w)
        t["E"].backward()
        opt.step()
    _, t = _forward_with(w)
    assert net.E.data == pytest.approx(t["E"].item(), rel=1e-9)
    # The article reports the error after 10,000 rounds as 0.0000351085. Both this engine and
    # PyTorch give 0.00003510188, 2e-4 away; the article's figure is only as close as that, so
    # it is checked to 1e-3 while PyTorch above pins the value to 1e-9.
    assert net.E.data == pytest.approx(PUBLISHED_AFTER_10000, rel=1e-3)
    assert net.E.data < PUBLISHED_FORWARD["E"] / 1000


def _forward_with(w):
    """The oracle's forward on existing weight tensors, so torch.optim can update them."""
    fixed = {k: torch.tensor(x, dtype=torch.float64) for k, x in START.items() if k not in w}
    return w, torch_forward({**fixed, **w})


def test_unknown_override_is_rejected():
    with pytest.raises(ValueError, match="w9"):
        we.build(weights={"w9": 1.0})
