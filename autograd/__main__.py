"""Command line: the value, gradients and chain rule of one expression, and optionally its page.

    python -m autograd "tanh(x*w + b)" x=2 w=-0.5 b=0.5 [--out page.html|graph.svg|graph.png]
                       [--open]
"""
from __future__ import annotations

import argparse
import itertools
import os
import sys
import webbrowser
from pathlib import Path
from typing import Sequence

from .engine import Value
from .graph import fmt, topological_order
from .ops import OPS
from .views import draw, explain, explore
from .views.expr import parse_assignment, parse_expression

PICTURES = (".svg", ".png")
DIGITS = range(1, 18)
"""--precision: 17 significant digits already print any float exactly; 0 is no number at all."""


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m autograd",
        description="Build the graph of an expression, run backward and explain each gradient.",
        epilog=f"Functions: {', '.join(sorted(OPS))}. Example: "
               '"tanh(x*w + b)" x=2 w=-0.5 b=0.5 --out page.html')
    p.add_argument("expression", help='e.g. "tanh(x*w + b)"; numbers, variables, + - * / **')
    p.add_argument("values", nargs="*", metavar="name=number", help="each variable's value")
    p.add_argument("--out", type=Path, help="write the explorer page (.html) or a picture "
                   "(.svg, .png)")
    p.add_argument("--open", action="store_true", help="open what --out wrote in the browser")
    p.add_argument("--precision", type=_digits, default=6,
                   help=f"significant digits shown, {DIGITS[0]} to {DIGITS[-1]} (default 6)")
    return p.parse_args(argv)


def _digits(text: str) -> int:
    # argparse turns this error into its usual usage line plus one error line, exit status 2.
    try:
        n = int(text)
    except ValueError:
        n = None
    if n not in DIGITS:
        raise argparse.ArgumentTypeError(f"expected {DIGITS[0]} to {DIGITS[-1]} significant "
                                         f"digits, got {text!r}")
    return n


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(argv)
    try:
        values = dict(parse_assignment(a) for a in args.values)
        if args.out is not None:
            _check_out(args.out)
            _check_graphviz(args.out)
        root = parse_expression(args.expression, values)  # ExpressionError is a ValueError
    except ValueError as e:
        return _fail(str(e))
    # Found before the root is named, and by identity afterwards: the root may be a variable.
    leaves = {v.label: v for v in topological_order(root) if v.is_leaf and v.label in values}
    name = _output_name(values)
    if root not in leaves.values():
        root.label = name  # the page and the explanation call the output by this name too
    root.backward()
    _report(root, name, leaves, values, args.expression, args.precision)
    return 0 if args.out is None else _deliver(root, args.out, args.open)


def _deliver(root: Value, path: Path, show: bool) -> int:
    """Write the page or picture, say so, and open it if asked."""
    try:
        _write(root, path)
    except OSError as e:  # checked beforehand, but a disk can fill or a folder go away
        return _fail(f"--out {path}: {e.strerror or e}")
    print(f"wrote {path}")
    if show:
        webbrowser.open(path.resolve().as_uri())
    return 0


def _check_out(path: Path) -> None:
    """Reject an --out that could not be written, before any work is done."""
    if path.suffix.lower() not in (".html", *PICTURES):
        raise ValueError(f"--out {path}: expected a .html, .svg or .png file")
    # os.path.isdir, unlike Path.is_dir, answers False rather than raising for a bad path.
    if not os.path.isdir(path.parent):
        raise ValueError(f"--out {path}: no folder {str(path.parent)!r}")
    if os.path.isdir(path):
        raise ValueError(f"--out {path}: is a folder, expected a file")


def _check_graphviz(path: Path) -> None:
    """--out (the page's layout too) needs graphviz: the Python package and its dot program."""
    try:
        import graphviz
    except ImportError:
        raise ValueError(f"--out {path}: needs the graphviz package; install it into this "
                         f"Python with {sys.executable} -m pip install graphviz") from None
    try:
        graphviz.version()   # runs `dot -V`
    except graphviz.ExecutableNotFound:
        raise ValueError(f"--out {path}: needs Graphviz's dot program, which is not on the PATH; "
                         "install the system package (apt-get install graphviz, brew install "
                         "graphviz or conda install graphviz)") from None


def _output_name(values: dict[str, float]) -> str:
    """The output's name in the report: f, else f_out, f_out2, ..., never a variable's name."""
    names = itertools.chain(["f", "f_out"], (f"f_out{k}" for k in itertools.count(2)))
    return next(n for n in names if n not in values)


def _fail(message: str) -> int:
    # One line on stderr, nothing run: scripts can test the exit status.
    print(f"error: {message}", file=sys.stderr)
    return 2


def _report(root: Value, name: str, leaves: dict[str, Value], values: dict[str, float],
            text: str, precision: int) -> None:
    print(f"{name} = {text} = {fmt(root.data, precision)}")
    for v in values:
        g = leaves[v].grad if v in leaves else 0.0
        print(f"∂{name}/∂{v} = {fmt(g, precision)}")
    for v in (v for v in values if v in leaves):
        print()
        if leaves[v] is root:  # explain() would call the output by the variable's own name
            print(f"∂{name}/∂{v} = 1: {name} is {v} itself.")
        else:
            print(explain(root, leaves[v], through="all", precision=precision))


def _write(root: Value, path: Path) -> None:
    if path.suffix.lower() == ".html":
        explore(root, path)
    else:
        path.write_bytes(draw(root).pipe(format=path.suffix.lower()[1:]))


if __name__ == "__main__":
    sys.exit(main())
