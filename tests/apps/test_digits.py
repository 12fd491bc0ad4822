"""The handwritten digits: the lazy loader, the split, and a shortened training run."""
import re
import subprocess
import sys

import pytest

import nn
from apps import digits
from nn import datasets

from support import ROOT


@pytest.fixture
def sklearn_datasets():
    """The images ship inside scikit-learn: a test that loads them skips where it is missing."""
    return pytest.importorskip("sklearn.datasets", reason="the digits ship inside scikit-learn")


def test_load_digits_scales_scikit_learns_images_to_unit_range(sklearn_datasets):
    X, y = datasets.load_digits()
    raw = sklearn_datasets.load_digits()
    assert len(X) == len(y) == 1797 and all(len(x) == 64 for x in X)
    assert X[0] == [v / 16.0 for v in raw.data[0]]
    assert min(map(min, X)) == 0.0 and max(map(max, X)) == 1.0
    assert sorted(set(y)) == list(range(10)) and y[:5] == list(raw.target[:5])
    assert all(type(t) is int for t in y)


def test_load_digits_without_scikit_learn_names_the_extra(monkeypatch):
    # None in sys.modules makes the import raise ImportError, as if it were not installed.
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match=r"pip install 'autograd-scalar\[digits\]'"):
        datasets.load_digits()


def test_importing_nn_does_not_import_scikit_learn():
    code = "import sys, nn, nn.datasets, apps.digits; print('sklearn' in sys.modules)"
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "False"


def test_split_is_a_seeded_partition():
    X, y = [[float(i)] for i in range(10)], list(range(10))
    Xa, ya, Xb, yb = datasets.split(X, y, 0.3, seed=1)
    assert len(Xb) == 3 and len(Xa) == 7
    assert sorted(ya + yb) == y and all(x == [float(t)] for x, t in zip(Xa + Xb, ya + yb))
    assert datasets.split(X, y, 0.3, seed=1) == (Xa, ya, Xb, yb)
    assert datasets.split(X, y, 0.3, seed=2) != (Xa, ya, Xb, yb)
    for bad in (0.0, 1.0, -0.5):
        with pytest.raises(ValueError, match="split: test_fraction must lie in"):
            datasets.split(X, y, bad)
    with pytest.raises(ValueError, match="split: 10 examples but 9 labels"):
        datasets.split(X, y[:9])


def test_a_short_run_is_far_above_chance(capsys, sklearn_datasets):
    # The full run (500 steps) reaches about 96%; 40 steps already clear chance (10%) by far.
    assert digits.main(["--steps", "40", "--no-progress"]) == 0
    out = capsys.readouterr().out
    acc = float(re.search(r"test accuracy ([\d.]+)%", out).group(1))
    assert acc >= 60.0
    assert "MLP(64, [32, 10])" in out and "449 held-out images" in out


def test_build_scales_the_weights_by_fan_in():
    model = digits.build(hidden=8, seed=0)
    plain = nn.MLP(64, [8, 10], seed=0)
    for layer, twin in zip(model.layers, plain.layers):
        for n, m in zip(layer.neurons, twin.neurons):
            assert [w.data for w in n.w] == pytest.approx([w.data / n.nin ** 0.5 for w in m.w])
