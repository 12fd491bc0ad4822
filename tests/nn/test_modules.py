"""Modules: shapes, labels, call contract, reproducible init, and to_torch against PyTorch."""
from __future__ import annotations
import random

import pytest

import nn
from autograd import Value
from oracle import torch, require_torch


def test_mlp_parameter_count_and_layout():
    model = nn.MLP(2, [16, 16, 1])
    # (2·16 + 16) + (16·16 + 16) + (16 + 1)
    assert len(model.parameters()) == 337
    assert [len(layer.neurons) for layer in model.layers] == [16, 16, 1]
    assert [layer.activation for layer in model.layers] == ["relu", "relu", "linear"]


def test_labels_say_where_parameters_live():
    model = nn.MLP(2, [3, 1], seed=0)
    names = [name for name, _ in model.named_parameters()]
    assert names[:3] == ["L1.N1.w1", "L1.N1.w2", "L1.N1.b"]
    assert "L1.N3.w2" in names and "L2.N1.w3" in names and names[-1] == "L2.N1.b"
    assert len(set(names)) == len(names)
    for name, p in model.named_parameters():
        assert p.label == name


def test_activation_and_net_nodes_are_labelled():
    model = nn.MLP(2, [3, 1], seed=0)
    out = model([0.5, -1.0])
    assert out.label == "L2.N1.net" and out.op == "dot"
    hidden = out.parents[3:6]
    assert [h.label for h in hidden] == ["L1.N1.out", "L1.N2.out", "L1.N3.out"]
    assert all(h.op == "relu" for h in hidden)
    assert hidden[0].parents[0].label == "L1.N1.net"
    # Plain numbers become leaves named x1, x2.
    net = hidden[0].parents[0]
    assert [v.label for v in net.parents] == ["L1.N1.w1", "L1.N1.w2", "x1", "x2", "L1.N1.b"]


def test_neuron_is_one_dot_node_then_activation():
    for act, op in [("relu", "relu"), ("tanh", "tanh"), ("sigmoid", "sigmoid")]:
        n = nn.Neuron(3, act, seed=1)
        out = n([1.0, 2.0, 3.0])
        assert out.op == op and out.parents[0].op == "dot"
        expected = sum(w.data * x for w, x in zip(n.w, [1.0, 2.0, 3.0])) + n.b.data
        assert out.parents[0].data == pytest.approx(expected, rel=1e-15)
    lin = nn.Neuron(3, "linear", seed=1)
    assert lin([1.0, 2.0, 3.0]).op == "dot"


def test_call_returns_value_for_one_output_else_list():
    assert isinstance(nn.Layer(2, 1, seed=0)([1.0, 2.0]), Value)
    outs = nn.Layer(2, 4, seed=0)([1.0, 2.0])
    assert isinstance(outs, list) and len(outs) == 4
    assert isinstance(nn.MLP(2, [3, 2], seed=0)([1.0, 2.0]), list)


def test_accepts_values_and_gradients_reach_inputs():
    model = nn.MLP(2, [4, 1], activation="tanh", seed=3)
    x = [Value(0.3, label="a"), Value(-0.7, label="b")]
    out = model(x)
    out.backward()
    assert x[0].grad != 0.0 and x[1].grad != 0.0


def test_wrong_length_is_value_error():
    with pytest.raises(ValueError, match="expected 2 inputs, got 3"):
        nn.MLP(2, [3, 1])([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="expected 3 inputs, got 1"):
        nn.Neuron(3)([1.0])


@pytest.mark.parametrize("bad", [[1.0, "2"], [1.0, None], [True, 1.0], 3.0, "ab", None])
def test_non_numbers_are_type_errors(bad):
    with pytest.raises(TypeError):
        nn.MLP(2, [3, 1])(bad)


def test_bad_architecture():
    with pytest.raises(ValueError, match="activation"):
        nn.MLP(2, [3, 1], activation="swish")
    with pytest.raises(ValueError):
        nn.Layer(0, 3)
    with pytest.raises(TypeError):
        nn.MLP(2, 3)
    with pytest.raises(TypeError):
        nn.MLP(2, [3, 1], seed="x")


def test_seed_reproduces_weights():
    a = [p.data for p in nn.MLP(2, [8, 1], seed=42).parameters()]
    b = [p.data for p in nn.MLP(2, [8, 1], seed=42).parameters()]
    c = [p.data for p in nn.MLP(2, [8, 1], seed=43).parameters()]
    assert a == b and a != c
    r1, r2 = random.Random(7), random.Random(7)
    assert [p.data for p in nn.MLP(2, [4, 1], seed=r1).parameters()] == \
        [p.data for p in nn.MLP(2, [4, 1], seed=r2).parameters()]
    # Weights are spread over [-1, 1], biases start at zero.
    weights = [p.data for name, p in nn.MLP(2, [16, 16, 1], seed=0).named_parameters()
               if ".w" in name]
    assert all(-1.0 <= w <= 1.0 for w in weights) and max(weights) - min(weights) > 1.5
    assert all(p.data == 0.0 for name, p in nn.MLP(2, [4, 1], seed=0).named_parameters()
               if name.endswith(".b"))


def test_zero_grad():
    model = nn.MLP(2, [4, 1], seed=0)
    model([1.0, -1.0]).backward()
    assert any(p.grad for p in model.parameters())
    model.zero_grad()
    assert all(p.grad == 0.0 for p in model.parameters())


def test_repr_is_readable():
    assert repr(nn.MLP(2, [16, 16, 1])) == \
        "MLP(2 → 16 relu → 16 relu → 1 linear; 337 parameters)"
    assert "Layer(2 → 3, tanh" in repr(nn.Layer(2, 3, "tanh"))
    assert "Neuron(4 inputs, sigmoid" in repr(nn.Neuron(4, "sigmoid"))


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "linear"])
def test_to_torch_outputs_and_gradients_equal_ours(activation):
    require_torch()
    model = nn.MLP(3, [5, 4, 2], activation=activation, seed=11)
    seq = model.to_torch()
    assert isinstance(seq, torch.nn.Sequential)
    rng = random.Random(5)
    for _ in range(5):
        x = [rng.uniform(-2, 2) for _ in range(3)]
        ours = [o.data for o in model(x)]
        theirs = seq(torch.tensor([x], dtype=torch.float64))[0].tolist()
        assert ours == pytest.approx(theirs, rel=1e-12, abs=1e-14)
    # Same weights means same gradients too: compare ∂(sum of outputs)/∂(first layer weights).
    x = [0.3, -1.2, 0.8]
    model.zero_grad()
    (model(x)[0] + model(x)[1]).backward()
    seq(torch.tensor([x], dtype=torch.float64)).sum().backward()
    first = seq[0]
    ours_w = [[w.grad for w in n.w] for n in model.layers[0].neurons]
    assert torch.allclose(first.weight.grad, torch.tensor(ours_w, dtype=torch.float64),
                          rtol=1e-12, atol=1e-14)


def test_to_torch_of_layer_and_neuron():
    require_torch()
    layer = nn.Layer(2, 3, "tanh", seed=1)
    seq = layer.to_torch()
    x = [0.4, -0.9]
    assert [o.data for o in layer(x)] == pytest.approx(
        seq(torch.tensor(x, dtype=torch.float64)).tolist(), rel=1e-12)
    neuron = nn.Neuron(2, "sigmoid", seed=1)
    assert neuron(x).data == pytest.approx(
        neuron.to_torch()(torch.tensor(x, dtype=torch.float64)).item(), rel=1e-12)


def test_numpy_rows_are_inputs():
    np = pytest.importorskip("numpy")

    model = nn.MLP(3, [4, 2], seed=0)
    row = [0.5, -1.0, 2.0]
    assert [o.data for o in model(np.array(row))] == [o.data for o in model(row)]
    with pytest.raises(TypeError, match="input 1 must be a number"):
        model(np.array([row, row, row]))
