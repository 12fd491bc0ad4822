"""compile: trace a built graph once, replay its forward and backward fast.

The parts, each in its own module:

- ``trace``: each op's ``forward`` and ``partials`` from the op table, run once per (op, number
  of inputs) on symbolic stand-ins, become templates (branches included), checked bit for bit
  against the op's own functions before use;
- ``codegen``: the templates filled in for every node as straight-line Python (``mode="code"``);
- ``tape``: a flat list of op-table calls, for graphs too large to generate code for
  (``mode="tape"``);
- ``csource`` and ``native``: the templates as C, compiled once and cached, and the replay that
  walks the graph as arrays in C (``backend="native"``);
- ``text``: the walk that writes a template's statements in a C-like language (C, JavaScript);
- ``jssource``: the templates as JavaScript, a self-contained function for a browser or Node
  (``javascript(root)``, which returns source text; it is not a ``Compiled``);
- ``update``: an optimizer's per-parameter rule traced and run over all its parameters in C,
  when a native replay holds them;
- ``replay``: what all share (the ``Compiled`` interface, which inputs need gradients, many
  rows through ``map`` and ``batch``).

No derivative exists anywhere but in the op table. Partials are traced and called in the table's
scaled form, ``partials(*xs, out, g=g)``, so every replay adds into each input the product g·∂
that the op itself forms (g / x, not g·(1/x)): the same numbers, bit for bit, that eager adds.
"""
from __future__ import annotations

import warnings
from typing import Sequence

from .codegen import CodeCompiled
from ..engine import Value, topological_order
from .jssource import JavaScript, JavaScriptUnsupported, javascript
from .native import NativeCompiled, NativeUnavailable
from .replay import Compiled
from .tape import TapeCompiled
from .update import Update, native_graphs, native_update

__all__ = ["compile", "Compiled", "MAX_CODE_NODES", "NativeUnavailable", "NativeFallbackWarning",
           "javascript", "JavaScript", "JavaScriptUnsupported", "Update", "native_update",
           "native_graphs"]

MAX_CODE_NODES = 100_000
"""Above this many nodes the Python replay uses a tape rather than generated code."""


class NativeFallbackWarning(RuntimeWarning):
    """``backend="auto"`` found no working C compiler and replays in Python instead."""


_warned = False


def compile(root: Value, *, backend: str = "auto", mode: str = "auto",  # noqa: A001 - jit name
            inputs: Sequence[Value] | None = None) -> Compiled:
    """Trace the graph behind ``root`` once and return an object that replays it.

    ``backend`` is ``"native"`` (C, compiled once with the system C compiler and cached),
    ``"python"``, or ``"auto"``: native where a C compiler is available, else Python with one
    warning. For Python, ``mode`` is ``"code"`` (generated straight-line Python), ``"tape"`` (a
    flat list of op-table calls) or ``"auto"`` (code up to ``MAX_CODE_NODES`` nodes, the tape
    above); asking for a mode other than ``"auto"`` means the Python backend.

    ``inputs``: leaves that take a new value per example, for ``map(rows)`` and
    ``batch(rows)``, which run the graph once per row (in one call into C when native).

    The graph's structure is fixed at this moment: a Python ``if`` on a value taken while
    building it is not re-evaluated at replay; branches inside ops (relu, abs, pow) are.
    """
    _check_root(root)
    if backend not in ("auto", "native", "python"):
        raise ValueError(f"compile: backend must be 'auto', 'native' or 'python', "
                         f"got {backend!r}")
    if mode not in ("auto", "code", "tape"):
        raise ValueError(f"compile: mode must be 'auto', 'code' or 'tape', got {mode!r}")
    if backend == "native" and mode != "auto":
        raise ValueError(f"compile: mode={mode!r} is a Python replay mode; the native backend "
                         f"has none")
    order = topological_order(root)
    xs = _check_inputs(inputs, order)
    if backend == "native" or (backend == "auto" and mode == "auto"):
        try:
            return NativeCompiled(root, order, xs)
        except NativeUnavailable as e:
            if backend == "native":
                raise
            _warn_once(e)
    if mode == "tape" or (mode == "auto" and len(order) > MAX_CODE_NODES):
        return TapeCompiled(root, order, xs)
    return CodeCompiled(root, order, xs)


def _check_root(root) -> None:
    if not isinstance(root, Value):
        raise TypeError(f"compile: expected a Value, got {type(root).__name__} {root!r}")
    if root.operation is None:
        raise ValueError(f"compile: {root!r} is a leaf, there is no recorded op to replay "
                         f"(was the graph built under no_grad?)")


def _check_inputs(inputs, order: list[Value]) -> list[Value]:
    if inputs is None:
        return []
    xs = list(inputs)
    in_graph = set(order)
    for x in xs:
        if not isinstance(x, Value) or x.operation is not None or x not in in_graph:
            raise ValueError(f"compile: each input must be a leaf of the graph, got {x!r}")
    if len(set(xs)) != len(xs):
        raise ValueError("compile: an input is listed twice")
    return xs


def _warn_once(error: Exception) -> None:
    global _warned
    if not _warned:
        _warned = True
        warnings.warn(f"{error}; replaying in Python instead (backend='python' silences this)",
                      NativeFallbackWarning, stacklevel=3)
