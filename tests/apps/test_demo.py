"""The demo end to end: trains to ≥ 97% on moons and writes readable files."""
import re
import shutil
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

import nn
from apps import demo
from nn import losses
from support import ROOT



def test_demo_command_writes_everything(tmp_path):
    out = tmp_path / "out"
    run = subprocess.run([sys.executable, "-m", "nn.demo", "--out", str(out)], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    acc = float(re.search(r"training accuracy ([\d.]+)%", run.stdout).group(1))
    assert acc >= 97.0
    names = {"decision_boundary.png", "training.png", "neuron.svg", "model.json"}
    assert {p.name for p in out.iterdir()} == names

    for png in ("decision_boundary.png", "training.png"):
        data = (out / png).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = struct.unpack(">II", data[16:24])
        assert width >= 600 and height >= 300

    svg = ET.parse(out / "neuron.svg").getroot()
    text = " ".join(t.text or "" for t in svg.iter() if t.tag.endswith("text"))
    # The neuron's parameters, its net input and its output all appear, with gradients.
    for label in ("w1", "w2", ".b", ".net", ".out", "x1", "x2"):
        assert label in text
    assert "∂" in text  # the edges carry the chain rule

    # The saved model is the trained one: reloaded, it classifies the data just as well.
    model = nn.load(out / "model.json")
    X, y = nn.datasets.make_moons(n_samples=100, noise=0.1, seed=1)
    assert losses.accuracy([model(x) for x in X], y) * 100 == acc


def test_demo_options(tmp_path):
    pytest.importorskip("matplotlib", reason="the demo plots with matplotlib")
    if shutil.which("dot") is None:
        pytest.skip("the demo draws a neuron with Graphviz's dot program")
    assert demo.main(["--out", str(tmp_path), "--dataset", "circles", "--steps", "5",
                      "--seed", "2", "--no-progress"]) == 0
    assert (tmp_path / "model.json").exists()


def test_neuron_graph_leaves_model_grads_alone():
    model, X, _, _ = demo.train(steps=2, progress=False)
    model.zero_grad()
    neuron, out = demo.neuron_graph(model, X[0])
    assert all(p.grad == 0.0 for p in model.parameters())
    # The demo picks a neuron whose ReLU is on, so ∂out/∂w_i = x_i flows back visibly.
    assert out.data > 0
    assert [w.grad for w in neuron.w] == X[0]
    assert neuron.b.grad == 1.0


# Picture libraries are optional extras: without one the demo says what to install, and says it
# before training rather than after.

def hide(monkeypatch, package):
    """Make ``package`` look uninstalled: None in sys.modules makes importing it fail."""
    for name in [n for n in sys.modules if n == package or n.startswith(package + ".")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, package, None)


@pytest.mark.parametrize("missing", ["matplotlib", "graphviz"])
def test_demo_without_a_picture_library_names_the_install_command(tmp_path, monkeypatch,
                                                                   missing):
    hide(monkeypatch, missing)
    monkeypatch.setattr(demo, "train", lambda *a, **k: pytest.fail("trained before checking"))
    with pytest.raises(ImportError, match=rf"{missing}.*pip install 'autograd-scalar\[demo\]'"):
        demo.main(["--out", str(tmp_path / "out"), "--steps", "1", "--no-progress"])
    assert not (tmp_path / "out").exists()


def test_demo_without_dot_says_so(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib", reason="the demo asks for matplotlib before dot")
    monkeypatch.setattr(demo.shutil, "which", lambda name: None)
    with pytest.raises(FileNotFoundError, match="Graphviz's 'dot' program"):
        demo.main(["--out", str(tmp_path / "out"), "--steps", "1", "--no-progress"])


def test_plots_without_matplotlib_name_the_install_command(tmp_path, monkeypatch):
    model, X, y, history = demo.train(steps=1, progress=False)
    hide(monkeypatch, "matplotlib")
    with pytest.raises(ImportError, match=r"pip install 'autograd-scalar\[plot\]'"):
        demo.plot_training(history, str(tmp_path / "t.png"))
    with pytest.raises(ImportError, match=r"pip install 'autograd-scalar\[plot\]'"):
        demo.plot_decision_boundary(model, X, y, str(tmp_path / "d.png"))
