"""Fixtures for every test. Tests are grouped by package: tests/autograd/, tests/nn/.

Helpers that are not fixtures live beside this file by purpose: support.py (the worked
example), oracle.py (PyTorch), rendering.py, browser.py, programs.py.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading

import pytest

import support
from support import EMSCRIPTEN

# Pyodide has no processes, threads or network: a test that reaches for one is skipped there,
# at the point where it does, with the reason; every other test runs.


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


def _unavailable(what: str):
    def refuse(*args, **kwargs):
        pytest.skip(f"{what}: WebAssembly (Pyodide) has none")
    return refuse


def _no_process(popen, args, *rest, **kwargs):
    program = args if isinstance(args, (str, bytes, os.PathLike)) else args[0]
    name = "python" if program == sys.executable else os.path.basename(os.fsdecode(program))
    pytest.skip(f"starts a process ({name}): WebAssembly (Pyodide) has none")


@pytest.fixture(autouse=EMSCRIPTEN)
def _no_processes_threads_or_sockets(monkeypatch):
    """Under Pyodide: starting a process (e.g. graphviz's ``dot``), a thread or a network
    connection skips the test instead of failing it deep inside the library."""
    monkeypatch.setattr(subprocess.Popen, "__init__", _no_process)
    monkeypatch.setattr(threading.Thread, "start", _unavailable("starts a thread"))
    for name in ("bind", "connect", "connect_ex"):
        monkeypatch.setattr(socket.socket, name, _unavailable("opens a socket"))


# CPython frees a chain of nodes recursively, and guards that recursion by its own C stack; under
# Pyodide the JavaScript engine's stack runs out first (past about 15,000 nodes deep with the
# runner's 4 MB) and the interpreter dies, taking the whole run with it. The walks themselves
# are iterative; only the freeing recurses.
DEEP = pytest.mark.skip(reason="frees a graph tens of thousands of nodes deep, which overflows "
                               "the JavaScript stack under Pyodide")


def pytest_collection_modifyitems(items):
    for item in items:
        # Every test on the explorer page's shared Chromium is a browser test: slow.
        if "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)
        if EMSCRIPTEN and item.get_closest_marker("deep"):
            item.add_marker(DEEP)
