"""Fixtures for every test. Tests are grouped by package: tests/autograd/, tests/nn/.

Helpers that are not fixtures live beside this file by purpose: support.py (the worked
example), oracle.py (PyTorch), rendering.py, browser.py, programs.py.
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
    """The worked example in PyTorch float64: name → tensor, every leaf requiring grad (the
    test is skipped where PyTorch is not installed)."""
    pytest.importorskip("torch", reason="PyTorch is the oracle of this test")
    from oracle import torch_network
    return torch_network()


def pytest_collection_modifyitems(items):
    # Every test on the explorer page's shared Chromium is a browser test: slow.
    for item in items:
        if "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)
