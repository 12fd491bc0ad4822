"""The exercises page's Python side, run in its worker: the learner's code in, the checker's
report out, one graph at a time, and the learner's graph marked where the error enters.

The page writes the learner's ``Value`` in an editor; the worker saves it as a file and loads it
the way ``python -m autograd.exercises check FILE`` does, then runs ``autograd.exercises.check``
on it. There are no timers in the browser: the page stops a worker whose graph takes too long
(it knows which graph is running from the results that came before).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

from autograd.exercises import GRAPHS, GraphResult, check
from autograd.exercises.adapter import load_file
from autograd.exercises.report import ROW_HEADER

FILE = "my_value.py"
"""The name the learner's code carries in tracebacks."""
LOAD_SECONDS = 10.0


def graph_names() -> list[str]:
    """The graded graphs, in the order they run."""
    return [g.name for g in GRAPHS]


def run(code: str, folder: str, progress: Callable[[str], None]) -> str:
    """Check ``code`` (Python defining ``Value``); ``progress`` gets each graph's result (JSON)
    as it comes; the answer (JSON) is the summary and, for the first failing graph, what the
    report says and the DOT of the learner's graph with the wrong gradients marked."""
    if not isinstance(code, str):
        raise TypeError(f"exercises: the code must be text, got {type(code).__name__}")
    path = Path(folder) / FILE
    path.write_text(code, encoding="utf-8")
    value_class, problem, lines = load_file(path, LOAD_SECONDS)
    if value_class is None:
        return json.dumps({"problem": f"NOT CHECKED: {problem}", "lines": lines})
    report = check(value_class, progress=lambda r: progress(json.dumps(brief(r))))
    if report.problem:
        return json.dumps({"problem": report.summary(), "lines": list(report.notes)})
    first = report.first_failure
    drawn = report.drawing()
    return json.dumps({
        "summary": report.summary(), "passed": report.passed,
        "failure": None if first is None else failure(first),
        "dot": "" if drawn is None else drawn[1].source,
        "drawn": "" if drawn is None else drawn[0].graph,
    })


def brief(r: GraphResult) -> dict[str, Any]:
    """One graph's line in the page's list."""
    return {"graph": r.graph, "status": r.status, "reason": r.reason}


def failure(r: GraphResult) -> dict[str, Any]:
    """The teaching part of a failing graph, as the page shows it: what failed, the learner's
    own traceback lines, the table per leaf, where the error enters."""
    entry = r.entry
    return {
        "graph": r.graph, "about": r.about, "reason": r.reason, "error": r.error,
        "hint": r.hint, "traceback": list(r.traceback), "timed_out": r.timed_out,
        "header": ROW_HEADER, "rows": [row.cells() for row in r.rows],
        "entry": None if entry is None else {"code": entry.code, "node": entry.node,
                                             "input": entry.input, "message": entry.message},
    }
