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


# Defects from an adversarial sweep: load must check sizes before building, cap what it reads,
# and turn every kind of bad input into a ValueError.

def write_doc(tmp_path, config, parameters=None, module="MLP"):
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"format": nn_module.FORMAT, "version": nn_module.FORMAT_VERSION,
                                "module": module, "config": config,
                                "parameters": parameters or {}}))
    return path


@pytest.mark.parametrize("module, config", [
    ("MLP", {"nin": 100000, "nouts": [100000, 1]}),
    ("MLP", {"nin": 10 ** 7, "nouts": [1]}),
    ("Layer", {"nin": 10 ** 9, "nout": 10 ** 9}),
    ("Neuron", {"nin": 10 ** 12}),
])
def test_declared_size_is_checked_before_building(tmp_path, monkeypatch, module, config):
    # Building would allocate the declared network; refusing must not get that far.
    def no_building(*args, **kwargs):
        raise AssertionError("load built a module before checking its size")

    monkeypatch.setattr(nn_module, "Value", no_building)
    path = write_doc(tmp_path, config, {"L1.N1.w1": 0.5}, module=module)
    with pytest.raises(ValueError, match="declares .* parameters but the file holds 1"):
        nn.load(path)


def test_reading_is_capped(tmp_path):
    path = tmp_path / "big.json"
    with open(path, "wb") as f:
        f.truncate(nn_module.MAX_LOAD_BYTES + 1)  # sparse: costs no disk
    with pytest.raises(ValueError, match="larger than"):
        nn.load(path)
    small = tmp_path / "small.json"
    nn.MLP(2, [3, 1], seed=0).save(small)
    with pytest.raises(ValueError, match="larger than 100 bytes"):
        nn.load(small, max_bytes=100)


def test_endless_stream_is_refused():
    # /dev/zero never ends: load must stop at its cap instead of reading forever.
    if not os.path.exists("/dev/zero"):
        pytest.skip("no /dev/zero")
    with pytest.raises(ValueError, match="larger than 1000 bytes"):
        nn.load("/dev/zero", max_bytes=1000)


def test_cap_fits_a_large_model(tmp_path):
    # The default cap must hold any model this engine could reasonably train.
    path = tmp_path / "m.json"
    nn.MLP(64, [256, 256, 10], seed=0).save(path)  # 85,002 parameters
    assert os.path.getsize(path) < nn_module.MAX_LOAD_BYTES / 2
    assert nn.load(path).num_parameters() == 85002


@pytest.mark.parametrize("text", [
    "[" * 100000 + "]" * 100000,                       # deeper than the parser's recursion
    '{"a": ' * 100000 + "1" + "}" * 100000,
])
def test_deep_json_is_a_value_error(tmp_path, text):
    path = tmp_path / "deep.json"
    path.write_text(text)
    with pytest.raises(ValueError, match="nested too deeply"):
        nn.load(path)


def test_huge_numbers_are_value_errors(tmp_path):
    saved = json.loads(edit(tmp_path, lambda d: None).read_text())
    saved["parameters"]["L1.N1.w1"] = 10 ** 1000
    path = tmp_path / "huge.json"
    path.write_text(json.dumps(saved))
    with pytest.raises(ValueError, match="L1.N1.w1 is not a finite number"):
        nn.load(path)
    # A number written as 1e999 parses to infinity.
    path.write_text(json.dumps(saved).replace("1" + "0" * 1000, "1e999"))
    with pytest.raises(ValueError, match="L1.N1.w1 is not a finite number"):
        nn.load(path)
    with pytest.raises(ValueError, match=r"declares more than 10\^15 parameters but the file "
                                         r"holds 0"):
        nn.load(write_doc(tmp_path, {"nin": 10 ** 1000, "nouts": [1]}))
    # Python refuses to read integers of more than 4300 digits.
    path.write_text(json.dumps(saved).replace("1" + "0" * 1000, "1" + "0" * 5000))
    with pytest.raises(ValueError, match="number too long"):
        nn.load(path)


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(module=["MLP"]), "unknown module type"),
    (lambda d: d.update(module={"MLP": 1}), "unknown module type"),
    (lambda d: d.update(format=["x"]), "not a saved nn module"),
    (lambda d: d.update(version=[1]), "version"),
    (lambda d: d["config"].update(nouts="31"), "invalid MLP config"),
    (lambda d: d["config"].update(nouts=[3.0, 1]), "invalid MLP config"),
    (lambda d: d["config"].update(nin=True), "invalid MLP config"),
    (lambda d: d["config"].update(extra=1), "invalid MLP config"),
    (lambda d: d["config"].update(activation=["relu"]), "invalid MLP config"),
    (lambda d: d.update(config=[]), "config"),
    (lambda d: d.update(parameters=[1, 2]), "parameters"),
])
def test_wrong_types_are_value_errors(tmp_path, change, message):
    with pytest.raises(ValueError, match=message):
        nn.load(edit(tmp_path, change))


def test_module_name_must_be_text(tmp_path):
    path = write_doc(tmp_path, {"nin": 1, "name": 5}, {"5.w1": 1.0, "5.b": 0.0}, "Neuron")
    with pytest.raises(ValueError, match="invalid Neuron config"):
        nn.load(path)


# Nesting is refused before the JSON parser sees it: under Pyodide the parser's recursion
# overflows the WebAssembly stack, a fatal error rather than a RecursionError.

def refuse_parsing(monkeypatch):
    def parse(*args, **kwargs):
        raise AssertionError("load handed deeply nested text to json.loads")

    monkeypatch.setattr(nn_module.json, "loads", parse)


@pytest.mark.parametrize("text", [
    "[" * 100 + "]" * 100,                             # json.loads on CPython would accept it
    '{"a": ' * 100 + "1" + "}" * 100,
    '{"a\\\\": ' + "[" * 100 + "]" * 100 + "}",        # an escaped backslash ends no string
])
def test_nesting_is_refused_before_parsing(tmp_path, monkeypatch, text):
    path = tmp_path / "deep.json"
    path.write_text(text)
    refuse_parsing(monkeypatch)
    with pytest.raises(ValueError, match=f"load: {path} is nested too deeply to be a saved "
                                         f"model: more than {nn_module.MAX_LOAD_DEPTH} levels"):
        nn.load(path)


def test_nesting_limit_is_exact(tmp_path):
    limit = nn_module.MAX_LOAD_DEPTH
    path = tmp_path / "deep.json"
    path.write_text("[" * limit + "]" * limit)
    with pytest.raises(ValueError, match="not a saved nn module"):  # parsed, then refused
        nn.load(path)
    path.write_text("[" * (limit + 1) + "]" * (limit + 1))
    with pytest.raises(ValueError, match="nested too deeply"):
        nn.load(path)


def test_brackets_inside_strings_do_not_count(tmp_path):
    # Quotes and backslashes in the name are escaped in the file; the brackets after them are
    # still inside the string.
    name = '[[[["' + "[" * 100 + "\\" + "{" * 100 + '\\"' + "[" * 100
    m = nn.Neuron(2, "tanh", seed=0, name=name)
    path = tmp_path / "m.json"
    m.save(path)
    back = nn.load(path)
    assert back.name == name
    assert [p.data for p in back.parameters()] == [p.data for p in m.parameters()]


def test_saved_models_are_far_from_the_nesting_limit(tmp_path):
    # The deepest saved file is an MLP's: the document, its config, the list of layer sizes.
    def depth(v):
        return 1 + max(map(depth, v.values() if isinstance(v, dict) else v), default=0) \
            if isinstance(v, (dict, list)) else 0

    for m in (nn.MLP(2, [3, 3, 1], seed=0), nn.Layer(2, 2), nn.Neuron(2)):
        m.save(tmp_path / "m.json")
        assert depth(json.loads((tmp_path / "m.json").read_text())) <= 3
    assert nn_module.MAX_LOAD_DEPTH >= 8 * 3
