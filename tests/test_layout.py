"""The shape of the house, read from the imports (ast): a core, two wings, a library, the apps.

- the core (engine, ops, modes, graph, forward, check, escape, extend) sits at the top of
  ``autograd/`` and imports nothing from the wings;
- the compile wing is ``autograd/compile/``, the view wing ``autograd/views/``: each one folder;
- no import circles between modules; no module imports another's underscore name;
- ``nn`` uses only public names of ``autograd`` (and of its extend, graph and compile modules),
  and ``apps`` sits on top of both.
"""
import ast
import importlib
from pathlib import Path

import pytest

from support import ROOT

CORE = {"engine", "ops", "modes", "graph", "forward", "check", "escape", "extend"}
PACKAGES = ("autograd", "nn", "apps")


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def imports(name: str, path: Path) -> list[tuple[str, list[str]]]:
    """(module imported, names taken from it) for each import in the file, made absolute."""
    out = []
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(a.name, []) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module != "__future__":
            base = name.split(".")
            if node.level:
                base = base[:len(base) - node.level + (1 if is_package else 0)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            out.append((target, [a.name for a in node.names]))
    return out


MODULES = modules()
GRAPH = {name: imports(name, path) for name, path in MODULES.items()}


def ours(target: str) -> str | None:
    """The module of ours that an import names (a name imported from a package may be a
    module of it: ``from . import datasets``)."""
    while target and target not in MODULES:
        target = target.rpartition(".")[0]
    return target or None


def test_the_wings_are_one_folder_each_and_the_core_sits_at_the_top():
    top = {p.stem for p in (ROOT / "autograd").glob("*.py")} - {"__init__", "__main__"}
    assert top == CORE
    assert (ROOT / "autograd" / "compile" / "__init__.py").exists()
    assert (ROOT / "autograd" / "views" / "__init__.py").exists()
    for name in CORE:
        for target, _ in GRAPH[f"autograd.{name}"]:
            mod = ours(target) or ""
            assert not mod.startswith(("autograd.compile", "autograd.views", "autograd.exercises",
                                       "nn", "apps")), (name, target)


def test_no_module_imports_an_underscore_name_of_another():
    for name, found in GRAPH.items():
        for target, names in found:
            if ours(target) is None:
                continue
            assert not [n for n in names if n.startswith("_")], (name, target, names)


def test_no_import_circles():
    edges = {name: {ours(t) for t, _ in found} - {None, name} for name, found in GRAPH.items()}
    # A package's __init__ importing its own modules is how a package is made, not a circle.
    for name in edges:
        edges[name] = {m for m in edges[name] if not name.startswith(m + ".")}
    state: dict[str, int] = {}
    for start in edges:
        stack = [(start, iter(sorted(edges[start])))]
        state.setdefault(start, 1)
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                state[node] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                cycle = [n for n, _ in stack] + [nxt]
                pytest.fail(f"import circle: {' -> '.join(cycle[cycle.index(nxt):])}")
            elif nxt not in state:
                state[nxt] = 1
                stack.append((nxt, iter(sorted(edges.get(nxt, ())))))


def test_nn_uses_only_autograds_public_names():
    import autograd
    import autograd.extend
    import autograd.graph
    # autograd.compile the attribute is the function; the wing's module is in sys.modules.
    wing = importlib.import_module("autograd.compile")
    public = {"autograd": set(autograd.__all__) | {"sum", "compile"},
              "autograd.graph": set(autograd.graph.__all__),
              "autograd.extend": set(autograd.extend.__all__),
              "autograd.compile": set(wing.__all__)}
    for name, found in GRAPH.items():
        if not name.startswith("nn"):
            continue
        for target, names in found:
            if target.startswith("autograd"):
                assert target in public, (name, target)
                assert set(names) <= public[target], (name, target, set(names) - public[target])


def test_the_apps_are_not_imported_by_the_library():
    for name, found in GRAPH.items():
        if name.startswith(("autograd", "nn")):
            assert not [t for t, _ in found if t.startswith("apps")], name
