"""What a check found, as plain data (names and numbers, no learner objects), and its views:
text for a terminal, HTML for Jupyter, the marked graph, JSON between processes.

Errors are measured as CS231n teaches gradient checks: the relative error
|yours − expected| / max(|yours|, |expected|), read in bands.
"""
from __future__ import annotations

import html
import json
import math
import textwrap
from dataclasses import asdict, dataclass, field
from typing import Any

PASS, FAIL, SKIP, NOT_RUN = "pass", "fail", "skip", "not run"
MARK = {PASS: "✓", FAIL: "✗", SKIP: "–", NOT_RUN: "·"}
GOOD = 1e-7
"""A gradient passes when its relative error is at most this (CS231n: "you should be happy")."""
TINY = 1e-12
"""Below this, two numbers count as equal whatever their ratio (0 against 1e-17)."""
BANDS = ((1e-2, "probably wrong (> 1e-2)"), (1e-4, "uncomfortable (1e-4 … 1e-2)"),
         (GOOD, "suspicious, fine only at a kink (1e-7 … 1e-4)"))


def relative_error(yours: float, expected: float) -> float:
    """|yours − expected| / max(|yours|, |expected|), 0 when both are 0."""
    top = abs(yours - expected)
    if top == 0:
        return 0.0
    return top / max(abs(yours), abs(expected))


def band(rel: float) -> str:
    """CS231n's reading of a relative error."""
    if math.isnan(rel):
        return "not a number"
    for limit, text in BANDS:
        if rel > limit:
            return text
    return "good (< 1e-7)"


def close(yours: float | None, expected: float) -> bool:
    """Whether a learner's number passes against the engine's."""
    if yours is None or math.isnan(yours):
        return False
    return abs(yours - expected) <= TINY or relative_error(yours, expected) <= GOOD


def fmt(x: float | None, digits: int = 6) -> str:
    if x is None:
        return "not a number"
    if x == 0:
        return "0"
    return f"{x:.{digits}g}"


@dataclass(frozen=True)
class Row:
    """One leaf's gradient: the engine's and the learner's (None: not a number)."""

    name: str
    expected: float
    yours: float | None

    @property
    def ok(self) -> bool:
        return close(self.yours, self.expected)

    def cells(self) -> list[str]:
        if self.yours is None:
            return [self.name, fmt(self.expected), "not a number", "", ""]
        rel = relative_error(self.yours, self.expected)
        return [self.name, fmt(self.expected), fmt(self.yours),
                fmt(abs(self.yours - self.expected), 3), f"{fmt(rel, 2)}  {band(rel)}"]


ROW_HEADER = ["leaf", "expected", "yours", "abs. error", "rel. error"]


@dataclass(frozen=True)
class Entry:
    """Where a wrong gradient enters: at ``node`` (``code`` = "c = a * b"), sent to ``input``."""

    node: str
    code: str
    input: str
    message: str


@dataclass(frozen=True)
class GraphResult:
    """One graph's outcome. ``grads`` holds the learner's gradient of each named node (of
    backward() call ``call``), for the drawing."""

    graph: str
    status: str
    reason: str = ""
    about: str = ""
    rows: tuple[Row, ...] = ()
    entry: Entry | None = None
    error: str = ""
    hint: str = ""
    traceback: tuple[str, ...] = ()
    grads: dict[str, float | None] = field(default_factory=dict)
    call: int = 1
    timed_out: bool = False

    def detail(self) -> list[str]:
        """The teaching part: what failed, the leaf table, where the error enters."""
        lines = [f"{self.graph}" + (f" — {self.about}" if self.about else "")]
        if self.error:
            lines += _wrapped(self.error, "  ")
        if self.hint:
            lines += _wrapped(self.hint, "  ")
        if self.traceback:
            lines.append("  Your code, innermost call last:")
            lines += [f"    {line}" for line in self.traceback]
        elif self.error and not self.timed_out:
            lines.append("  (none of your own lines is in the traceback)")
        if self.rows:
            lines += ["  " + line for line in _table([ROW_HEADER] + [r.cells() for r in self.rows])]
        if self.entry is not None:
            lines.append(f"  Where the error enters: `{self.entry.code}`")
            lines += _wrapped(self.entry.message, "    ")
        return lines


WIDTH = 96


def _wrapped(text: str, indent: str) -> list[str]:
    """A long sentence as lines of at most WIDTH characters (a terminal, a notebook's column)."""
    return textwrap.wrap(text, WIDTH, initial_indent=indent, subsequent_indent=indent,
                         break_long_words=False, break_on_hyphens=False) or [indent.rstrip()]


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[k]) for r in rows) for k in range(len(rows[0]))]
    return ["   ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]


@dataclass(frozen=True)
class Report:
    """Every graph's result for one class, in order; ``problem`` is set when no graph could run
    (the class cannot even make a leaf, or was not written yet)."""

    subject: str
    results: tuple[GraphResult, ...]
    problem: str = ""
    notes: tuple[str, ...] = ()   # lines under the problem: the learner's own traceback

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.results)

    @property
    def passed(self) -> bool:
        """No graph failed and the class could be read (skipped graphs are not failures)."""
        return not self.problem and self.count(FAIL) == 0 and self.count(PASS) > 0

    @property
    def first_failure(self) -> GraphResult | None:
        return next((r for r in self.results if r.status == FAIL), None)

    def result(self, graph: str) -> GraphResult:
        for r in self.results:
            if r.graph == graph:
                return r
        raise KeyError(f"result: no graph named {graph!r} in this report")

    def summary(self) -> str:
        """One line: passed or failed, counts, the first failure, what was skipped."""
        skipped, not_run = self.count(SKIP), self.count(NOT_RUN)
        tail = f"; not implemented yet: {skipped} graphs skipped" if skipped else ""
        tail += f"; {not_run} not run" if not_run else ""
        if self.problem:
            return f"NOT CHECKED: {self.problem}"
        first = self.first_failure
        if first is not None:
            return (f"FAILED: {self.count(FAIL)} of {len(self.results)} graphs fail (first: "
                    f"{first.graph}); {self.count(PASS)} pass{tail}")
        if not self.count(PASS):
            return f"NOT CHECKED: no graph could run{tail}"
        return f"PASSED: all {self.count(PASS)} graphs that ran pass{tail}"

    def lines(self) -> list[str]:
        """The whole report as text lines, the summary last."""
        out = [f"check({self.subject})"]
        if self.problem:
            return out + [f"  {self.problem}", *[f"    {n}" for n in self.notes], "",
                          self.summary()]
        width = max((len(r.graph) for r in self.results), default=0)
        for r in self.results:
            reason = r.reason if r.status != PASS else ""
            out.append(f"  {MARK[r.status]} {r.graph.ljust(width)}   {reason}".rstrip())
        first = self.first_failure
        if first is not None:
            detail = first.detail()
            out += ["", *_wrapped("First failure: " + detail[0], ""), *detail[1:]]
        return out + ["", self.summary()]

    def text(self) -> str:
        return "\n".join(self.lines())

    def __str__(self) -> str:
        return self.text()

    def __repr__(self) -> str:
        return self.text()

    def _repr_pretty_(self, p, cycle) -> None:  # IPython's plain-text view
        p.text(self.text())

    def _repr_html_(self) -> str:
        body = f"<pre>{html.escape(self.text())}</pre>"
        drawn = self.drawing()
        if drawn is not None:
            result, dot = drawn
            # Scaled to the column: a big graph shows whole, and zooms as a vector picture.
            svg = dot.pipe(format="svg").decode("utf-8").replace(
                "<svg ", "<svg style='max-width:100%; height:auto' ", 1)
            body += (f"<p>Your graph for <b>{html.escape(result.graph)}</b>: each box shows "
                     f"the engine's grad and yours (<i>given</i>); boxes marked "
                     f"<b>≠ engine</b> differ{_drawn_call(result)}.</p>{svg}")
        return f"<div class='autograd-exercises'>{body}</div>"

    def drawing(self):
        """(result, ``graphviz.Digraph``) for the first failing graph that can be drawn: the
        engine's gradients with the learner's beside them, the differing nodes marked and the
        paths to the node where the error enters highlighted. None if there is none."""
        from .drawing import draw_result
        for r in self.results:
            dot = draw_result(r) if r.status == FAIL else None
            if dot is not None:
                return r, dot
        return None

    def draw(self, graph: str | None = None):
        """``drawing()``'s picture, or that of the graph named (None when it has none)."""
        from .drawing import draw_result
        if graph is not None:
            return draw_result(self.result(graph))
        drawn = self.drawing()
        return None if drawn is None else drawn[1]

    def svg(self, graph: str | None = None) -> str:
        """``draw`` as SVG text ("" when there is nothing to draw)."""
        dot = self.draw(graph)
        return "" if dot is None else dot.pipe(format="svg").decode("utf-8")

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=True)

    @classmethod
    def from_json(cls, text: str) -> Report:
        data = json.loads(text)
        return cls(data["subject"], tuple(result_from_dict(r) for r in data["results"]),
                   data.get("problem", ""), tuple(data.get("notes", ())))


def result_from_dict(r: dict[str, Any]) -> GraphResult:
    return GraphResult(**{**r, "rows": tuple(Row(**x) for x in r.get("rows", ())),
                          "entry": Entry(**r["entry"]) if r.get("entry") else None,
                          "traceback": tuple(r.get("traceback", ()))})


def _drawn_call(result: GraphResult) -> str:
    if result.call == 1:
        return ""
    return f"; yours are what backward() call {result.call} added"
