"""A traced template written out as lines of a C-like language: C for the native replay,
JavaScript for the browser's. The walk over expressions and statements is shared; a language
says how it writes numbers, operators, calls, a declaration and a failure."""
from __future__ import annotations


class TemplateText:
    """Renders template expressions and statements, with ``inp(k)`` and ``out`` for the
    stand-ins of the op's inputs and output."""

    LET = "const double"   # how a temporary is declared
    FAIL = "ag_err = 1;"   # the statement for "Python would raise here"
    INDENT = "    "

    def __init__(self, inp, out: str, fcalls: dict) -> None:
        self.inp, self.out, self.fcalls = inp, out, fcalls

    def expr(self, e: tuple) -> str:
        kind = e[0]
        if kind == "in":
            return self.inp(e[1])
        if kind == "out":
            return self.out
        if kind == "g":
            return "g"
        if kind == "tmp":
            return f"t{e[1]}"
        if kind == "res":
            return f"r{e[1]}"
        if kind == "num":
            return self.number(e[1])
        if kind == "neg":
            return f"(-{self.expr(e[1])})"
        if kind == "call":
            return self.call(e[1], [self.expr(a) for a in e[2]])
        return self.operator(e)

    def block(self, stmts: list, ind: str) -> list[str]:
        """Lines of template statements; nesting is bounded by an op's branch count."""
        lines = []
        for s in stmts:
            if s[0] == "let":
                lines.append(f"{ind}{self.LET} t{s[1]} = {self.expr(s[2])};")
            elif s[0] == "res":
                lines.append(f"{ind}r{s[1]} = {self.expr(s[2])};")
            elif s[0] == "fail":
                lines.append(f"{ind}{self.FAIL}")
            else:
                lines.append(f"{ind}if {self.expr(s[1])} {{")
                self.enter(s[1])
                lines += self.block(s[2], ind + self.INDENT)
                self.leave()
                lines.append(f"{ind}}} else {{")
                lines += self.block(s[3], ind + self.INDENT)
                lines.append(f"{ind}}}")
        return lines

    # What a language fills in.
    def number(self, x) -> str:
        raise NotImplementedError

    def operator(self, e: tuple) -> str:
        """A ``bin``, ``cmp`` or ``truth`` expression."""
        raise NotImplementedError

    def call(self, name: str, args: list[str]) -> str:
        raise NotImplementedError

    def enter(self, cond: tuple) -> None:
        """The ``then`` branch of ``if cond`` is being written."""

    def leave(self) -> None:
        """It is written."""
