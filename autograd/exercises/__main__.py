"""Command line: check the ``Value`` class a Python file defines.

    python -m autograd.exercises check my_value.py [--out graph.svg] [--timeout 10] [--graph NAME]

The file runs in a child process (``worker``), so that nothing it does, not even a loop in C that
no signal can stop, can hang or crash the checker: the child sends each graph's result back as a
line of JSON and is stopped when one takes longer than the time limit allows. Exit status: 0 when
every graph that ran passes, 1 when one fails, 2 when the file cannot be loaded; the last line
printed is a one-line summary.
"""
from __future__ import annotations

import argparse
import json
import os
import queue
import subprocess
import sys
import threading
from dataclasses import asdict
from pathlib import Path
from typing import Any, Sequence

from .adapter import load_file, shown_file
from .checker import DEFAULT_TIMEOUT, check, select
from .engine_side import graph_named
from .report import FAIL, NOT_RUN, GraphResult, Report, result_from_dict

LOAD_ERROR = 2
GRACE = 3.0
"""Seconds the parent waits beyond the time limit before it stops the child (a child that
starts Python and imports the package needs a moment, and the child's own limit comes first)."""


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m autograd.exercises",
                                description="Check your own Value class against the engine.")
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("check", help="check the Value class a Python file defines",
                       description="Run the Value class FILE defines and the engine on the "
                                   "graded graphs; report the first that fails and where its "
                                   "error enters.")
    c.add_argument("file", type=Path, help="a Python file that defines a class named Value")
    c.add_argument("--out", type=Path, help="write the first failing graph, with the wrong "
                   "gradients marked, to this .svg or .png file")
    c.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                   help=f"seconds each graph may take (default {DEFAULT_TIMEOUT:g})")
    c.add_argument("--graph", action="append", metavar="NAME",
                   help="check only this graph (repeatable); names as in the report")
    w = sub.add_parser("worker")   # the child process; not for people
    w.add_argument("file", type=Path)
    w.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT)
    w.add_argument("--graph", action="append")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(argv)
    if args.command == "worker":
        return worker(args.file, args.timeout, args.graph)
    if args.out is not None and args.out.suffix.lower() not in (".svg", ".png"):
        return _fail(f"--out {args.out}: expected a .svg or .png file")
    if not args.timeout > 0:
        return _fail(f"--timeout must be a positive number of seconds, got {args.timeout:g}")
    try:
        graphs = [g.name for g in select(args.graph)]
    except ValueError as e:
        return _fail(str(e))
    report, load_error = run_file(args.file, args.timeout, graphs)
    lines = report.lines()
    if args.out is not None and not load_error:
        lines.insert(-1, _write(report, args.out))
    print("\n".join(lines), flush=True)
    if load_error:
        return LOAD_ERROR
    return 0 if report.passed else 1


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return LOAD_ERROR


def _write(report: Report, out: Path) -> str:
    drawn = report.drawing()
    if drawn is None:
        why = "nothing failed" if report.first_failure is None else "no failure has a graph to draw"
        return f"--out: nothing written ({why})"
    result, dot = drawn
    out.write_bytes(dot.pipe(format=out.suffix.lower()[1:]))
    return (f"wrote {out}: {result.graph}, your gradients beside the engine's, the differences "
            f"marked")


# ------------------------------------------------------------------------- the parent

def run_file(path: Path, timeout: float, graphs: list[str]) -> tuple[Report, bool]:
    """Check the file's class in a child process: (report, whether the file failed to load)."""
    subject = shown_file(str(path))
    if not path.is_file():
        return Report(subject, (), problem=f"cannot load {path}: no such file"), True
    child = subprocess.Popen(
        [sys.executable, "-m", "autograd.exercises", "worker", str(path), "--timeout",
         str(timeout), *[f"--graph={g}" for g in graphs]],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
        env=_child_env(), text=True, encoding="utf-8")
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_pump, args=(child.stdout, lines), daemon=True).start()
    try:
        return _collect(child, lines, subject, timeout, graphs)
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()


def _child_env() -> dict[str, str]:
    # The child imports this very package, wherever it was imported from here.
    home = str(Path(__file__).resolve().parent.parent.parent)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([home, *filter(None, [env.get("PYTHONPATH")])])
    env["PYTHONIOENCODING"] = "utf-8"
    return env


def _pump(stream, lines: queue.Queue) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


def _collect(child: subprocess.Popen, lines: queue.Queue, subject: str, timeout: float,
             graphs: list[str]) -> tuple[Report, bool]:
    """Read the child's results as they come; stop it if one is late."""
    results: list[GraphResult] = []
    loaded = False
    while True:
        try:
            line = lines.get(timeout=timeout + GRACE)
        except queue.Empty:
            if not loaded:
                return Report(subject, (), problem=f"cannot load {subject}: it did not finish "
                              f"within {timeout:g} s (a loop at the top level of the file?)"), True
            return _stopped(subject, results, graphs, timeout), False
        if line is None:   # the child ended without saying it was done: it crashed
            problem = (f"the process running {subject} ended unexpectedly (exit status "
                       f"{child.wait()}) after {len(results)} graphs")
            return Report(subject, tuple(results), problem=problem), not loaded
        message = json.loads(line)
        loaded = loaded or "loaded" in message
        if "problem" in message:
            return Report(message.get("subject", subject), (), message["problem"],
                          tuple(message.get("notes", ()))), message.get("load_error", False)
        if "result" in message:
            results.append(result_from_dict(message["result"]))
        if "done" in message:
            return Report(message["subject"], tuple(results)), False


def _stopped(subject: str, results: list[GraphResult], graphs: list[str],
             timeout: float) -> Report:
    if len(results) >= len(graphs):
        return Report(subject, tuple(results))
    late = graphs[len(results)]
    stopped = GraphResult(late, FAIL, "timed out: the checker stopped your file's process",
                          graph_named(late).about,
                          error=f"timed out after {timeout:g} s; the process running your "
                                f"file did not respond and was stopped",
                          hint="your code could not even be interrupted: a long computation "
                               "inside one call to C code (sum, sorted, a regular expression) "
                               "on a huge input?", timed_out=True)
    rest = [GraphResult(g, NOT_RUN, "not run: an earlier graph timed out")
            for g in graphs[len(results) + 1:]]
    return Report(subject, (*results, stopped, *rest))


# ------------------------------------------------------------------------- the child

def worker(path: Path, timeout: float, graphs: list[str] | None) -> int:
    """Load the file, check its Value and write one JSON line per result to the real stdout;
    whatever the file prints goes to stderr."""
    channel = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())

    def send(message: dict[str, Any]) -> None:
        channel.write(json.dumps(message, ensure_ascii=True) + "\n")
        channel.flush()

    subject = shown_file(str(path))
    value_class, problem, lines = load_file(path, timeout)
    if problem:
        send({"subject": subject, "problem": problem, "notes": lines, "load_error": True})
        return LOAD_ERROR
    send({"loaded": subject})
    report = check(value_class, timeout=timeout, graphs=graphs,
                   progress=lambda r: send({"result": asdict(r)}))
    if report.problem:
        send({"subject": report.subject, "problem": report.problem})
    else:
        send({"subject": report.subject, "done": True})
    return 0


if __name__ == "__main__":
    sys.exit(main())
