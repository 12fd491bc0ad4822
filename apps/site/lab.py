"""The lab's Python side: an expression and its variables' values in, the answer out.

The page's worker calls ``answer_json``; the answer is what ``python -m autograd`` prints (the
value and each variable's gradient, with the same grammar and parser) plus the explorer's data
for the graph, laid out by whatever ``layout`` is given (in the page: Graphviz in WebAssembly).
"""
from __future__ import annotations

import ast
import itertools
import json
from typing import Any, Mapping

from autograd import Value
from autograd.graph import fmt, to_json, topological_order
from autograd.ops import OPS
from autograd.views.explorer import LayoutSource, explorer_data
from autograd.views.expr import ExpressionError, parse_assignment, parse_expression

MAX_TEXT = 600
"""Longest expression the lab takes (the worked example written out is about 250 characters)."""
MAX_VARIABLES = 40
MAX_DEPTH = 60
"""Most brackets open at once. Python's parser spends a dozen C frames on each level, and in the
page (Pyodide) a deep enough nesting overflows the WebAssembly stack, which kills the
interpreter instead of raising; measured there, 150 levels answered and 199 did not."""
PRECISION = 6
"""Significant digits shown, as the command line shows them."""
DEFAULT = "1"
"""The value of a variable the page has no value for yet."""


def _depth(text: str) -> int:
    """How many brackets are open at most, read before Python's parser sees the text."""
    most = depth = 0
    for ch in text:
        if ch in "([{":
            depth += 1
            most = max(most, depth)
        elif ch in ")]}":
            depth -= 1
    return most


def variables(text: str) -> list[str]:
    """The variables of ``text`` in the order they first appear; [] when it does not parse
    (``parse_expression`` then says what is wrong) or nests too deeply."""
    if _depth(text) > MAX_DEPTH:
        return []
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    names = [n for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in called
             and n.id not in OPS]
    names.sort(key=lambda n: (n.lineno, n.col_offset))
    return list(dict.fromkeys(n.id for n in names))


def answer(text: str, given: Mapping[str, str], layout: LayoutSource | None = None
           ) -> dict[str, Any]:
    """The lab's answer to ``text`` with the values ``given`` as text (name → "2.5"):
    ``{"ok": True, ...}`` with the value, gradients and explorer data, or ``{"ok": False,
    "error": one line}`` for anything wrong with the input. ``layout``: by default Graphviz in
    WebAssembly where the page's worker has it (``js.vizPlain``), else the ``dot`` program."""
    if not isinstance(text, str) or not text.strip():
        return _error("type an expression, e.g. tanh(x*w + b)")
    if len(text) > MAX_TEXT:
        return _error(f"the expression has {len(text):,} characters; the lab takes at most "
                      f"{MAX_TEXT}")
    depth = _depth(text)
    if depth > MAX_DEPTH:
        return _error(f"brackets nested {depth} deep; the lab takes at most {MAX_DEPTH}")
    names = variables(text)
    if len(names) > MAX_VARIABLES:
        return _error(f"{len(names)} variables; the lab takes at most {MAX_VARIABLES}")
    try:
        values = dict(parse_assignment(f"{n}={given.get(n, DEFAULT)}") for n in names)
        root = parse_expression(text, values)
    except ValueError as e:  # ExpressionError is one
        return _error(str(e))
    leaves = {v.label: v for v in topological_order(root) if v.is_leaf and v.label in values}
    name = next(n for n in itertools.chain(["f"], (f"f{k}" for k in itertools.count(2)))
                if n not in values)
    if root not in leaves.values():
        root.label = name
    root.backward()
    if layout is None:
        layout = _page_layout()
    return {"ok": True, "expr": text, "name": name, "value": fmt(root.data, PRECISION),
            "values": [[n, str(given.get(n, DEFAULT)).strip()] for n in names],
            "grads": [[n, fmt(leaves[n].grad if n in leaves else 0.0, PRECISION)]
                      for n in names],
            "payload": explorer_data(root, layout=layout)}


def answer_json(text: str, given_json: str, layout: LayoutSource | None = None) -> str:
    """``answer`` for the worker: the values as a JSON object, the answer as JSON text."""
    try:
        given = json.loads(given_json)
    except (ValueError, RecursionError):
        given = None
    if not isinstance(given, dict) or not all(isinstance(v, str) for v in given.values()):
        return to_json(_error("the values must be an object of name → number text"))
    return to_json(answer(text, given, layout))


def _page_layout() -> LayoutSource | None:
    # In the page's worker Graphviz is viz-js (boot.js); elsewhere the dot program.
    try:
        from js import vizPlain  # type: ignore[import-not-found]
    except ImportError:
        return None
    return vizPlain


def _error(message: str) -> dict[str, Any]:
    return {"ok": False, "error": message.splitlines()[0] if message else "error"}


__all__ = ["answer", "answer_json", "variables", "ExpressionError", "Value"]
