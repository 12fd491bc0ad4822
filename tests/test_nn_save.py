"""save/load: exact round trip, atomic writes, and clear errors for damaged or foreign files."""
import json
import os

import pytest

import nn
from nn import module as nn_module


@pytest.mark.parametrize("make", [lambda: nn.MLP(3, [5, 2], activation="tanh", seed=1),
                                  lambda: nn.Layer(2, 3, "sigmoid", seed=2, name="enc"),
                                  lambda: nn.Neuron(4, "linear", seed=3)])
def test_round_trip_is_exact(tmp_path, make):
    m = make()
    path = tmp_path / "m.json"
    m.save(path)
    back = nn.load(path)
    assert type(back) is type(m) and back.config() == m.config()
    assert [(k, p.data) for k, p in back.named_parameters()] == \
        [(k, p.data) for k, p in m.named_parameters()]
    x = [0.1 * k for k in range(m.nin)]
    out_a, out_b = m(x), back(x)
    a = [o.data for o in out_a] if isinstance(out_a, list) else [out_a.data]
    b = [o.data for o in out_b] if isinstance(out_b, list) else [out_b.data]
    assert a == b


def test_file_is_plain_json_with_architecture(tmp_path):
    path = tmp_path / "m.json"
    nn.MLP(2, [3, 1], seed=0).save(path)
    doc = json.loads(path.read_text())
    assert doc["module"] == "MLP" and doc["config"]["nouts"] == [3, 1]
    assert len(doc["parameters"]) == 13 and "L1.N3.w2" in doc["parameters"]
    assert os.stat(path).st_mode & 0o777 == 0o644


def test_crash_while_writing_leaves_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "m.json"
    old = nn.MLP(2, [3, 1], seed=0)
    old.save(path)
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(nn_module.os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        nn.MLP(2, [3, 1], seed=5).save(path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.json"]


def test_truncated_file(tmp_path):
    path = tmp_path / "m.json"
    nn.MLP(2, [3, 1], seed=0).save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="not valid JSON"):
        nn.load(path)


@pytest.mark.parametrize("content, message", [
    (b"\x80\x81 binary junk", "not valid JSON"),
    (b"hello", "not valid JSON"),
    (b"[1, 2, 3]", "not a saved nn module"),
    (b'{"name": "some other tool"}', "not a saved nn module"),
])
def test_foreign_files(tmp_path, content, message):
    path = tmp_path / "x.json"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message):
        nn.load(path)


def edit(tmp_path, change):
    path = tmp_path / "m.json"
    nn.MLP(2, [3, 1], seed=0).save(path)
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(version=99), "version 99"),
    (lambda d: d.update(module="Transformer"), "unknown module type"),
    (lambda d: d["parameters"].pop("L2.N1.b"), "missing \\['L2.N1.b'\\]"),
    (lambda d: d["parameters"].update({"L9.N1.w1": 1.0}), "unexpected \\['L9.N1.w1'\\]"),
    (lambda d: d["parameters"].update({"L1.N1.w1": "big"}), "L1.N1.w1 is not a finite number"),
    (lambda d: d["config"].update(activation="swish"), "invalid MLP config"),
    (lambda d: d.pop("config"), "config"),
])
def test_inconsistent_files(tmp_path, change, message):
    with pytest.raises(ValueError, match=message):
        nn.load(edit(tmp_path, change))


def test_non_finite_parameter_is_refused(tmp_path):
    m = nn.MLP(2, [3, 1], seed=0)
    m.parameters()[0].data = float("nan")
    with pytest.raises(ValueError, match="not finite"):
        m.save(tmp_path / "m.json")
    assert not os.listdir(tmp_path)
