"""What several test files share: the repository's root and the worked example (no oracle).

The other shared helpers live by purpose beside this file (setup.cfg puts tests/ on pytest's
path): ``oracle`` (PyTorch float64, which skips its importers where PyTorch is missing),
``rendering`` (DOT and SVG readers, hostile text), ``browser`` (headless Chromium),
``programs`` (random programs, the op sweep's sample points).
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from autograd import Value
from nn import worked_example

ROOT = Path(__file__).resolve().parent.parent  # the repository

# Pyodide: CPython compiled to WebAssembly (make test-pyodide runs the suite there, in Node).
EMSCRIPTEN = sys.platform == "emscripten"


# The worked example's published numbers (nine significant digits).
PUBLISHED = {"dE/dout_o1": 0.74136507, "dout_o1/dnet_o1": 0.186815602,
             "dnet_o1/dw5": 0.593269992, "dE/dw5": 0.082167041, "dE/dw1": 0.000438568}


WEIGHTS = [0.15, 0.20, 0.25, 0.30, 0.40, 0.45, 0.50, 0.55]


# Written out here rather than read from nn.worked_example, so the oracle does not share its input.
START = {"i1": 0.05, "i2": 0.10, "b1": 0.35, "b2": 0.60,
         **{f"w{k}": x for k, x in enumerate(WEIGHTS, 1)}}


def seed_network() -> tuple[Value, dict[str, Value]]:
    """The worked example as Values with its textbook labels: (E, name → node)."""
    net = worked_example.build()
    return net.E, net.as_dict()


def numpy_scalar(kind: str, x):
    """``numpy.<kind>(x)``, made inside the test, which skips where numpy is missing (Pyodide
    has no pure wheel of it)."""
    return getattr(pytest.importorskip("numpy"), kind)(x)
