"""Fixtures for every test. Tests are grouped by package: tests/autograd/, tests/nn/.

Helpers that are not fixtures (the worked example, its PyTorch oracle, the DOT and SVG readers,
the op-sweep table, headless Chromium) live in support.py: ``from support import ...``.
"""
from __future__ import annotations

import pytest

import support


@pytest.fixture
def worked():
    """The worked example as Values with textbook labels: (E, name → node), no backward yet."""
    return support.seed_network()


@pytest.fixture
def oracle():
    """The worked example in PyTorch float64: name → tensor, every leaf requiring grad."""
    return support.torch_network()
