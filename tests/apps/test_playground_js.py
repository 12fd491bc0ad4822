"""The playground's JavaScript replay (graphs.JavaScriptReplay, static/js-replay.js).

In Pyodide under Node, with the project's wheel and the worker's own js-replay.js: a run whose
graph has an exact JavaScript replay trains through it, and its weights, gradients, losses and
accuracies after N steps equal those of the same run on the Python replay, bit for bit (compared
as hex); runs whose JavaScript would not be exact keep the Python replay. In CPython (no
JavaScript): the fallbacks, with loaders that fail.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from apps.playground.graphs import MIN_ROWS, Batches
from apps.playground.session import Session
from apps.playground.settings import Settings
from support import ROOT

NODE = shutil.which("node")
PYODIDE = ROOT / "node_modules" / "pyodide" / "pyodide.asm.wasm"

# Each run: settings, steps; the program trains it twice (with the JavaScript replay offered,
# and without) and prints what each ends with.
RUNS = [
    ({"activation": "relu", "loss": "hinge"}, 60),                       # the page's batch of 100
    ({"activation": "relu", "loss": "hinge", "dataset": "xor", "batch": 16, "optimizer": "adam",
      "lr": 0.03, "l2": 0.001, "hidden": [8, 6, 4]}, 60),                # mini-batches, Adam, L2
    ({"activation": "relu", "loss": "hinge", "test_fraction": 0.0, "lr": 0.5}, 40),
    ({"activation": "tanh", "loss": "cross-entropy"}, 5),                # Math.tanh, Math.log1p
    ({"activation": "relu", "loss": "squared"}, 5),                      # ** 2
    ({"activation": "relu", "loss": "cross-entropy", "dataset": "spiral3"}, 5),
]

PROGRAM = r"""
import json, warnings
warnings.simplefilter("ignore")  # no C compiler here: the Python replay is the plan
import autograd
from apps.playground.session import Session
from apps.playground.settings import Settings, updated

def run(settings, steps, javascript):
    s = Session(updated(Settings(), settings), javascript=javascript)
    for _ in range(steps):
        assert s.step(), s.message
    s.refresh()
    frame = s.frame()
    return {"replay": frame["replay"], "steps": s.steps,
            "weights": [p.data.hex() for p in s.params],
            "grads": [p.grad.hex() for p in s.params],
            "metrics": {k: v.hex() if isinstance(v, float) else v for k, v in s.metrics.items()}}

plain = [autograd.Value(x) for x in (1.0, 1e100, 1.0, -1e100)]
out = {"fold": [autograd.sum(plain).data, autograd.dot(plain, [1.0] * 4, 0.0).data],
       "runs": [[run(st, n, load_replay), run(st, n, None)] for st, n in RUNS]}
print("RESULT " + json.dumps(out))
"""


@pytest.fixture(scope="module")
def pyodide_runs(tmp_path_factory):
    """What each run ends with in Pyodide, with the JavaScript replay offered and without."""
    if NODE is None or not PYODIDE.exists():
        pytest.skip("node, or node_modules (`npm ci --ignore-scripts`), is missing")
    tmp = tmp_path_factory.mktemp("pyodide")
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--quiet",
                    "-w", str(tmp)], check=True, timeout=600)
    wheel = next(tmp.glob("autograd_scalar-*.whl"))
    program = tmp / "program.py"
    program.write_text(f"RUNS = {RUNS!r}\n" + PROGRAM, encoding="utf-8")
    done = subprocess.run([NODE, "--no-warnings", str(ROOT / "tests" / "apps" /
                                                       "pyodide_replays.mjs"),
                           str(wheel), str(program)],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    return json.loads(line[len("RESULT "):])


def test_sum_and_dot_add_left_to_right_in_pyodide_too(pyodide_runs):
    # Python 3.12+ compensates sum() of floats; the ops add term by term as every replay does
    # (1 + 1e100 is 1e100, + 1 is 1e100, − 1e100 is 0; compensated it would be 2).
    assert pyodide_runs["fold"] == [0.0, 0.0]


@pytest.mark.parametrize("k", range(3))
def test_exact_runs_train_through_javascript_bit_for_bit_as_in_python(pyodide_runs, k):
    js, python = pyodide_runs["runs"][k]
    assert (js["replay"], python["replay"]) == ("JS", "Python")
    assert js["steps"] == python["steps"] == RUNS[k][1]
    assert js["weights"] == python["weights"]
    assert js["grads"] == python["grads"]
    assert js["metrics"] == python["metrics"]
    # Trained: the weights moved (a replay that did nothing would also be "equal" at step 0).
    assert float.fromhex(js["metrics"]["train_accuracy"]) > 60


@pytest.mark.parametrize("k", range(3, len(RUNS)))
def test_runs_without_an_exact_javascript_replay_stay_in_python(pyodide_runs, k):
    js, python = pyodide_runs["runs"][k]
    assert js["replay"] == python["replay"] == "Python"
    assert js == python


# ------------------------------------------------------------------------- in CPython: fallbacks

def flagging_loader(calls: list):
    """A loader whose replay always says "Python must redo this" (as where Python raises)."""
    def load(source: str):
        assert source.startswith('"use strict";')
        calls.append("load")

        def run(values, X, rows, out, grads, seed):
            calls.append(rows)
            return 1
        return run
    return load


def refusing_loader(source: str):
    """As a worker whose policy forbids eval: loading raises."""
    raise RuntimeError("EvalError: Evaluating a string as JavaScript violates the policy")


def trained(javascript, steps=15, **settings) -> Session:
    s = Session(Settings(activation="relu", loss="hinge", points=60, **settings),
                javascript=javascript)
    for _ in range(steps):
        assert s.step()
    s.refresh()
    return s


def test_a_call_the_javascript_cannot_finish_is_redone_in_python():
    calls: list = []
    flagged, plain = trained(flagging_loader(calls)), trained(None)
    assert flagged.frame()["replay"] == "JS" and calls  # offered every time, refused every time
    assert [p.data for p in flagged.params] == [p.data for p in plain.params]
    assert [p.grad for p in flagged.params] == [p.grad for p in plain.params]
    assert flagged.metrics == plain.metrics


def test_a_replay_that_cannot_load_leaves_the_python_one(caplog):
    s = trained(refusing_loader)
    assert s.frame()["replay"] == trained(None).frame()["replay"] != "JS"
    assert "could not be loaded" in caplog.text


def test_inexact_graphs_never_reach_the_loader():
    calls: list = []
    for activation, loss in (("tanh", "hinge"), ("relu", "squared"), ("sigmoid", "hinge"),
                             ("relu", "cross-entropy")):
        b = Batches(Session(Settings(activation=activation)).model, loss, 2,
                    flagging_loader(calls))
        assert b.replay != "JS", (activation, loss)
    assert not calls


def test_the_frame_names_the_replay():
    assert Session(Settings(points=20)).frame()["replay"] in ("C", "Python")


def test_a_batch_of_a_few_rows_is_replayed_in_python():
    """A few rows are no slower in Python (bench_playground_site.py); the page says which."""
    calls: list = []
    s = trained(flagging_loader(calls), batch=MIN_ROWS - 1)
    assert s.frame()["replay"] != "JS"
    assert MIN_ROWS - 1 not in calls  # only the evaluation's maps (every point) were offered
    assert trained(flagging_loader([]), batch=MIN_ROWS).frame()["replay"] == "JS"
