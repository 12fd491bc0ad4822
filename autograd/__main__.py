"""Command line: the value, gradients and chain rule of one expression, and optionally its page.

    python -m autograd "tanh(x*w + b)" x=2 w=-3 b=1 [--out page.html|graph.svg|graph.png] [--open]
"""
from __future__ import annotations

import argparse
import sys
import webbrowser
from pathlib import Path
from typing import Sequence

from .graph import fmt
from .ops import OPS
from .views import draw, explain, explore
from .views.expr import ExpressionError, parse_assignment, parse_expression

PICTURES = (".svg", ".png")


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m autograd",
        description="Build the graph of an expression, run backward and explain each gradient.",
        epilog=f"Functions: {', '.join(sorted(OPS))}. Example: "
               '"tanh(x*w + b)" x=2 w=-3 b=1 --out page.html')
    p.add_argument("expression", help='e.g. "tanh(x*w + b)"; numbers, variables, + - * / **')
    p.add_argument("values", nargs="*", metavar="name=number", help="each variable's value")
    p.add_argument("--out", type=Path, help="write the explorer page (.html) or a picture "
                   "(.svg, .png)")
    p.add_argument("--open", action="store_true", help="open what --out wrote in the browser")
    p.add_argument("--precision", type=int, default=6, help="significant digits shown")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(argv)
    try:
        values = dict(parse_assignment(a) for a in args.values)
    except ValueError as e:
        return _fail(str(e))
    if args.out is not None and args.out.suffix.lower() not in (".html", *PICTURES):
        return _fail(f"--out {args.out}: expected a .html, .svg or .png file")
    try:
        root = parse_expression(args.expression, values)
    except ExpressionError as e:
        return _fail(str(e))
    root.label = "f" if "f" not in values else "f_out"
    root.backward()
    _report(root, values, args.expression, args.precision)
    if args.out is not None:
        _write(root, args.out)
        print(f"wrote {args.out}")
        if args.open:
            webbrowser.open(args.out.resolve().as_uri())
    return 0


def _fail(message: str) -> int:
    # One line on stderr, nothing run: scripts can test the exit status.
    print(f"error: {message}", file=sys.stderr)
    return 2


def _report(root, values: dict[str, float], text: str, precision: int) -> None:
    from .graph import topological_order
    leaves = {v.label: v for v in topological_order(root) if v.label in values}
    print(f"{root.label} = {text} = {fmt(root.data, precision)}")
    for name in values:
        g = leaves[name].grad if name in leaves else 0.0
        print(f"∂{root.label}/∂{name} = {fmt(g, precision)}")
    for name in values:
        if name in leaves:
            print()
            print(explain(root, leaves[name], through="all", precision=precision))


def _write(root, path: Path) -> None:
    if path.suffix.lower() == ".html":
        explore(root, path)
    else:
        path.write_bytes(draw(root).pipe(format=path.suffix.lower()[1:]))


if __name__ == "__main__":
    sys.exit(main())
