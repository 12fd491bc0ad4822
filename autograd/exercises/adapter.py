"""Reading a learner's Value class the way micrograd's is read, and running its code safely.

The adapter asks little of a class:

- ``V(2.0)`` makes a leaf; ``+ - * / **`` and unary ``-`` (with numbers on either side) and the
  methods ``exp``, ``tanh``, ``relu``, ``sigmoid``, ``log`` make new nodes;
- ``node.data`` is its number and ``node.grad`` its gradient (anything ``float()`` accepts);
- ``node._prev``, ``node._children``, ``node.parents``, ``node.children`` or ``node.prev`` (the
  first one present; a set, tuple or list, or a method returning one) are its inputs;
- ``node._op`` or ``node.op`` may name the op as micrograd's do, but is not read: every node
  is named and described from the engine's copy of the graph ("c = a * b");
- ``out.backward()`` fills every ``grad``;
- optionally, ``node._backward()`` (micrograd's closure) sends the node's grad to its inputs: with
  it the checker can watch each node's step and name the node where a wrong gradient enters.

Learner code runs under a time limit and every exception it raises is kept, never re-raised; only
KeyboardInterrupt goes through, so that Ctrl-C still stops a notebook cell.
"""
from __future__ import annotations

import importlib.util
import os
import re
import signal
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any, Callable, Iterable

CHILDREN = ("_prev", "_children", "parents", "children", "prev")
HOOK = "_backward"


class TimeLimit(BaseException):
    """Raised inside learner code when its time is up. A BaseException, so that a learner's
    ``except Exception`` does not swallow it."""


class Learner:
    """A learner's class, read through the adapter described in the module docstring."""

    def __init__(self, value_class: type) -> None:
        self.value_class = value_class
        name, _ = attempt(1.0, getattr, value_class, "__name__", "Value")
        self.name = printable(name)[:80] if isinstance(name, str) else "Value"
        files, _ = attempt(1.0, source_files, value_class)
        self.files = files or set()

    def has(self, method: str) -> bool:
        value, error = attempt(1.0, getattr, self.value_class, method, None)
        return error is None and callable(value)

    def children(self, node: Any) -> list[Any]:
        """The node's inputs, each once (a set keeps one copy of a + a's input anyway)."""
        for attr in CHILDREN:
            kids = getattr(node, attr, None)
            if kids is None:
                continue
            if callable(kids):
                kids = kids()
            return list({id(k): k for k in kids}.values())
        return []

    def walk(self, root: Any) -> list[Any]:
        """Every node reachable from ``root`` through its inputs (iterative, each once)."""
        seen = {id(root)}
        found, stack = [root], [root]
        while stack:
            for kid in self.children(stack.pop()):
                if id(kid) not in seen:
                    seen.add(id(kid))
                    found.append(kid)
                    stack.append(kid)
        return found


def printable(text: str) -> str:
    """``text`` with every control or invisible character written as its escape (``\\x1b``),
    so that a learner's message cannot move a terminal's cursor or hide what follows."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape", "backslashreplace")
                   .decode("ascii") for c in text)


def number(x: Any) -> float | None:
    """``x`` as a float, or None if it is not a number (a Value, a string, None, ...)."""
    if isinstance(x, bool):
        return None
    try:
        return float(x)
    except Exception:  # noqa: BLE001 - a learner's __float__ may raise anything
        return None


# ---------------------------------------------------------------------- running learner code

def attempt(seconds: float, fn: Callable[..., Any], *args: Any) -> tuple[Any, BaseException | None]:
    """``(fn(*args), None)``, or ``(None, error)`` for whatever learner code raised or timed out
    with: nothing but KeyboardInterrupt goes through."""
    try:
        return within(seconds, fn, *args), None
    except KeyboardInterrupt:
        raise
    except BaseException as e:  # noqa: BLE001 - learner code may raise anything; it is reported
        return None, e


def within(seconds: float, fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)``, interrupted by ``TimeLimit`` after ``seconds``.

    On the main thread an interval timer raises TimeLimit inside the running code, so a loop that
    never ends is stopped where it is (its traceback says where). Off the main thread no signal
    can reach it: the call runs in a daemon thread, and is abandoned, still running, at the limit.
    WebAssembly (Pyodide) has neither timer nor threads: there the call runs with no limit, and
    whoever runs Python (a page's worker) stops it from outside.
    """
    if sys.platform == "emscripten" and not hasattr(signal, "setitimer"):
        return fn(*args)
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal,
                                                                                "setitimer"):
        return _in_thread(seconds, fn, *args)

    def stop(signum, frame):
        raise TimeLimit(f"timed out after {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, stop)
    outer, _ = signal.setitimer(signal.ITIMER_REAL, seconds)
    start = time.monotonic()
    try:
        return fn(*args)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer:   # someone else's timer was running: let it go on, a little late at worst
            signal.setitimer(signal.ITIMER_REAL, max(outer - (time.monotonic() - start), 1e-3))


def _in_thread(seconds: float, fn: Callable[..., Any], *args: Any) -> Any:
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = fn(*args)
        except BaseException as e:  # noqa: BLE001 - handed to the caller's thread below
            box["error"] = e

    worker = threading.Thread(target=run, daemon=True, name="exercises-learner-code")
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise TimeLimit(f"timed out after {seconds:g} s (left running in a background thread: "
                        "only the main thread can be interrupted)")
    if "error" in box:
        raise box["error"]
    return box.get("value")


# --------------------------------------------------------------------------- tracebacks

def source_files(value_class: type) -> set[str]:
    """The files the class's code comes from (its own and its bases' methods), so that a
    traceback can be cut down to the learner's own lines."""
    files: set[str] = set()
    for klass in getattr(value_class, "__mro__", ()):
        if klass is object:
            continue
        for attr in vars(klass).values():
            for f in (attr, getattr(attr, "__func__", None), getattr(attr, "fget", None)):
                code = getattr(f, "__code__", None)
                if code is not None:
                    files.add(code.co_filename)
    return files


_CELL = re.compile(r"(ipykernel_\d+[/\\]\d+\.py|<ipython-input-[^>]*>)$")


def shown_file(path: str) -> str:
    """A file name as shown to the learner: a notebook cell's temporary file is "your cell",
    anything else its base name (never the absolute path of someone's checkout)."""
    if _CELL.search(path):
        return "your cell"
    return printable(os.path.basename(path) or path)


def own_lines(error: BaseException, files: Iterable[str]) -> list[str]:
    """The traceback of ``error`` cut down to frames in ``files``, innermost last, with a run of
    the same line (a recursion) written once and counted."""
    files = set(files)
    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename in files]
    lines: list[str] = []
    k = 0
    while k < len(frames):
        f = frames[k]
        run = 1
        while k + run < len(frames) and _same(frames[k + run], f):
            run += 1
        lines.append(f'{shown_file(f.filename)}, line {f.lineno}, in {f.name}')
        if f.line:
            lines.append(f"    {printable(f.line.strip())}")
        if run > 1:
            lines.append(f"[the call above repeated {run - 1} more times]")
        k += run
    return lines


def _same(a: traceback.FrameSummary, b: traceback.FrameSummary) -> bool:
    return (a.filename, a.lineno, a.name) == (b.filename, b.lineno, b.name)


def one_line(error: BaseException) -> str:
    """``TypeName: message`` on one line, bounded."""
    try:
        text = str(error).strip().replace("\n", " ")
    except Exception:  # noqa: BLE001 - a learner's exception may not even print
        text = "(its message could not be printed)"
    text = printable(text if len(text) <= 300 else text[:299] + "…")
    if isinstance(error, TimeLimit):
        return text
    name = printable(type(error).__name__)
    return f"{name}: {text}" if text else name


_REFLECTED = {"+": "__radd__", "-": "__rsub__", "*": "__rmul__", "/": "__rtruediv__",
              "** or pow()": "__rpow__"}
_UNSUPPORTED = re.compile(r"unsupported operand type\(s\) for (.+?): '(\w+)' and '(\w+)'")


def hint(error: BaseException, class_name: str) -> str:
    """What a learner can do about an error that has a well-known cause, else ""."""
    if isinstance(error, RecursionError):
        return ("recursive topological sort: use an explicit stack. A recursive walk goes one "
                "Python call deeper per node and Python stops near 1,000 calls; keep the nodes "
                "still to visit in a list instead (see autograd.exercises.reference)")
    if isinstance(error, TimeLimit):
        return ("your code did not finish: a loop whose condition never turns false? (a walk "
                "that re-adds nodes it has visited never ends on some graphs)")
    m = _UNSUPPORTED.search(str(error)) if isinstance(error, TypeError) else None
    if m and m[3] == class_name and m[2] in ("int", "float") and m[1] in _REFLECTED:
        return (f"with a number on the left, `{m[2]} {m[1]} {class_name}` asks the right "
                f"operand: define {class_name}.{_REFLECTED[m[1]]}")
    if isinstance(error, AttributeError) and "'float' object" in str(error):
        return ("an op returned a plain number where a node was expected, or a number was "
                "used where a node was: wrap numbers into your class before using .data")
    return ""


# --------------------------------------------------------------------------- loading a file

def load_file(path: str | Path, timeout: float) -> tuple[type | None, str, list[str]]:
    """The file's ``Value`` class, or why there is none and the file's lines that say so
    (the command line loads a learner's file this way, and so does the site's exercises page)."""
    path = Path(path)
    name = shown_file(str(path))
    spec = importlib.util.spec_from_file_location("learner_value", path)
    if spec is None or spec.loader is None:
        return None, f"cannot load {name}: not a Python file", []
    module = importlib.util.module_from_spec(spec)
    sys.modules["learner_value"] = module   # dataclasses and pickling look modules up here
    folder = str(path.resolve().parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)   # it may import files next to it
    _, error = attempt(timeout, spec.loader.exec_module, module)
    if isinstance(error, SyntaxError):
        return None, f"cannot load {name}: SyntaxError: {error.msg} (line {error.lineno})", \
            [(error.text or "").rstrip()]
    if error is not None:
        return None, f"cannot load {name}: {one_line(error)}", \
            own_lines(error, {str(path), str(path.resolve())})
    value_class = getattr(module, "Value", None)
    if not isinstance(value_class, type):
        what = "defines no name Value" if value_class is None else \
            f"defines Value as a {type(value_class).__name__}, not a class"
        return None, f"cannot load {name}: the file {what}", []
    return value_class, "", []
