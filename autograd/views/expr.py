"""Arithmetic expressions as graphs: ``tanh(x*w + b)`` read with ``ast``, never evaluated.

Allowed: numbers, variables, ``+ - * / **``, unary minus and plus, and calls of the op table's
functions by name (``exp``, ``log``, ``tanh``, ``sigmoid``, ``relu``, ...). The whole tree is
checked before any op runs, so a rejected expression executes nothing.
"""
from __future__ import annotations

import ast
from typing import Mapping

from ..engine import Value, apply
from ..ops import OPS

__all__ = ["ExpressionError", "parse_expression", "parse_assignment"]

_BINARY = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "div", ast.Pow: "pow"}
_UNARY = {ast.USub: "neg", ast.UAdd: None}


class ExpressionError(ValueError):
    """What is wrong with an expression and where (``column`` counts from 1)."""

    def __init__(self, message: str, column: int) -> None:
        super().__init__(f"column {column}: {message}")
        self.message = message
        self.column = column


def _tree(text: str) -> ast.expr:
    if "\n" in text or "\r" in text:
        raise ExpressionError("an expression is one line", text.find("\n") + 1)
    try:
        return ast.parse(text, mode="eval").body
    except SyntaxError as e:
        # At the very end of the text Python reports offset 0: the column after the last.
        column = e.offset if e.offset and 1 <= e.offset <= len(text) else len(text) + 1
        raise ExpressionError(f"syntax error: {e.msg}", column) from None
    except (RecursionError, MemoryError):
        raise ExpressionError("too deeply nested", 1) from None


def _check(tree: ast.expr, names: Mapping[str, object]) -> None:
    """Reject anything but numbers, known variables, the five operators and op calls."""
    todo = [tree]
    while todo:
        node = todo.pop()
        col = getattr(node, "col_offset", 0) + 1
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
                raise ExpressionError(f"{node.value!r} is not a number", col)
        elif isinstance(node, ast.Name):
            if node.id in OPS:
                raise ExpressionError(f"{node.id} is a function: call it, {node.id}(...)", col)
            if node.id not in names:
                raise ExpressionError(f"unknown name {node.id!r} (give it a value: "
                                      f"{node.id}=1.0)", col)
        elif isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            todo += [node.left, node.right]
        elif isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            todo.append(node.operand)
        elif isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name):
                raise ExpressionError("only the op table's functions can be called, by name",
                                      col)
            if node.func.id not in OPS:
                raise ExpressionError(f"{node.func.id!r} is not a function of the op table "
                                      f"(one of {', '.join(sorted(OPS))})", col)
            if node.keywords:
                raise ExpressionError(f"{node.func.id}() takes no keyword arguments", col)
            todo += node.args
        else:
            raise ExpressionError(f"{_what(node)} is not allowed (only numbers, variables, "
                                  "+ - * / **, unary minus and op calls)", col)


def _what(node: ast.AST) -> str:
    if isinstance(node, ast.Attribute):
        return f"attribute access .{node.attr}"
    if isinstance(node, (ast.BinOp, ast.UnaryOp)):
        return f"the operator {type(node.op).__name__}"
    if isinstance(node, ast.Starred):
        return "unpacking with *"
    return type(node).__name__


def _build(tree: ast.expr, values: Mapping[str, Value]) -> Value | float:
    # Post-order without recursion: a node is built once its children are.
    done: dict[int, Value | float] = {}
    stack = [(tree, False)]
    while stack:
        node, ready = stack.pop()
        kids = _children(node)
        if not ready:
            stack.append((node, True))
            stack += [(k, False) for k in kids]
            continue
        args = [done.pop(id(k)) for k in kids]
        col = node.col_offset + 1
        try:
            done[id(node)] = _apply(node, args, values)
        # LookupError too: an n-ary forward that indexes its inputs (dot) may fail that way on a
        # wrong count; it is still the user's expression at fault, so it is reported, not raised.
        except (TypeError, ValueError, ArithmeticError, LookupError) as e:
            raise ExpressionError(_failure(node, e), col) from None
    return done[id(tree)]


def _failure(node: ast.expr, e: Exception) -> str:
    """``e`` as one line naming the op that raised it (engine messages mostly do already)."""
    text, what = str(e), _op_name(node)
    if not text.startswith(f"{what}:"):
        text = f"{what}: {text}"
    return f"{type(e).__name__}: {text}"


def _op_name(node: ast.expr) -> str:
    if isinstance(node, ast.Call):
        return node.func.id
    if isinstance(node, ast.BinOp):
        return _BINARY[type(node.op)]
    if isinstance(node, ast.UnaryOp):
        return _UNARY[type(node.op)] or "+"
    return "number"  # a literal: only an int too big for a float fails


def _children(node: ast.expr) -> list[ast.expr]:
    if isinstance(node, ast.BinOp):
        return [node.left, node.right]
    if isinstance(node, ast.UnaryOp):
        return [node.operand]
    if isinstance(node, ast.Call):
        return list(node.args)
    return []


def _apply(node: ast.expr, args: list, values: Mapping[str, Value]):
    if isinstance(node, ast.Constant):
        return float(node.value)
    if isinstance(node, ast.Name):
        return values[node.id]
    if isinstance(node, ast.BinOp):
        a, b = args
        if not isinstance(a, Value) and not isinstance(b, Value):
            a = Value(a)  # numbers alone still make a node, so 2*3 has a graph
        return apply(OPS[_BINARY[type(node.op)]], (a, b))
    if isinstance(node, ast.UnaryOp):
        name = _UNARY[type(node.op)]
        return args[0] if name is None else apply(OPS[name], (args[0],))
    return apply(OPS[node.func.id], args)


def parse_expression(text: str, values: Mapping[str, float]) -> Value:
    """The graph of ``text`` with each variable a leaf labelled by its name."""
    body = text.lstrip()
    lead = len(text) - len(body)  # columns count in the text as given
    try:
        tree = _tree(body)
        _check(tree, values)
        leaves = {name: Value(float(v), label=name) for name, v in values.items()}
        out = _build(tree, leaves)
    except ExpressionError as e:
        raise ExpressionError(e.message, e.column + lead) from None
    return out if isinstance(out, Value) else Value(out)


def parse_assignment(text: str) -> tuple[str, float]:
    """``x=2`` → ("x", 2.0); the name must be an identifier and not an op's name."""
    name, sep, number = text.partition("=")
    name = name.strip()
    if not sep or not name.isidentifier():
        raise ValueError(f"expected name=number, got {text!r}")
    if name in OPS:
        raise ValueError(f"{name!r} is the name of an op; choose another variable name")
    try:
        return name, float(number)
    except ValueError:
        raise ValueError(f"{name}: {number.strip()!r} is not a number") from None
