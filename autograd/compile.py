"""compile: trace a built graph once, replay its forward and backward fast.

The parts, each in its own module:

- ``trace``: each op's ``forward`` and ``partials`` from the op table, run once per (op, number
  of inputs) on symbolic stand-ins, become templates (branches included), checked bit for bit
  against the op's own functions before use;
- ``codegen``: the templates filled in for every node as straight-line Python (``mode="code"``);
- ``tape``: a flat list of op-table calls, for graphs too large to generate code for
  (``mode="tape"``);
- ``replay``: what both share (the ``Compiled`` interface, which inputs need gradients).

No derivative exists anywhere but in the op table.
"""
from __future__ import annotations

from .codegen import CodeCompiled
from .engine import Value, topological_order
from .replay import Compiled
from .tape import TapeCompiled

__all__ = ["compile", "Compiled", "MAX_CODE_NODES"]

MAX_CODE_NODES = 100_000
"""Above this many nodes the graph is replayed from a tape rather than generated code."""


def compile(root: Value, *, mode: str = "auto") -> Compiled:  # noqa: A001 - jit-style name
    """Trace the graph behind ``root`` once and return an object that replays it.

    ``mode`` is ``"code"`` (generated straight-line Python), ``"tape"`` (a flat list of op-table
    calls) or ``"auto"`` (code up to ``MAX_CODE_NODES`` nodes, the tape above). The graph's
    structure is fixed at this moment: a Python ``if`` on a value taken while building it is not
    re-evaluated at replay; branches inside ops (relu, abs, pow) are.
    """
    if not isinstance(root, Value):
        raise TypeError(f"compile: expected a Value, got {type(root).__name__} {root!r}")
    if root.operation is None:
        raise ValueError(f"compile: {root!r} is a leaf, there is no recorded op to replay "
                         f"(was the graph built under no_grad?)")
    if mode not in ("auto", "code", "tape"):
        raise ValueError(f"compile: mode must be 'auto', 'code' or 'tape', got {mode!r}")
    order = topological_order(root)
    if mode == "tape" or (mode == "auto" and len(order) > MAX_CODE_NODES):
        return TapeCompiled(root, order)
    return CodeCompiled(root, order)
