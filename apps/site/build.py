"""Build the static site: ``python -m apps.site.build [OUT]`` (default ``build/site``).

Every file lands flat at the site's root and every URL in it is relative, so the folder works
served at ``/`` or under a sub-path. What goes in:

- this package's ``static/`` files and the playground's (its page written as ``playground.html``,
  told to use the worker transport), the explorer's script and styles;
- the Pyodide core (``pyodide/``) and viz-js (``viz/``) from ``node_modules`` (``npm ci``),
  with their licences;
- the project itself as its real wheel (``wheels/``, ``pip wheel --no-deps``), named in
  ``site.json`` for the workers;
- the notebooks as pages rendered with their saved outputs, next to the ``.ipynb`` files.
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from .notebooks import render_notebooks
from .pages import explorer_page, nav, set_csp

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
PYODIDE_FILES = ("pyodide.js", "pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm",
                 "python_stdlib.zip", "pyodide-lock.json", "package.json", "README.md")
VIZ_FILES = ("dist/viz.js", "package.json", "README.md")
CODEMIRROR_FILES = ("lib/codemirror.js", "lib/codemirror.css", "mode/python/python.js",
                    "LICENSE", "package.json")
EXTRA_WHEELS = ("graphviz==0.21",)
"""Pure-Python wheels the exercises page's worker unpacks beside the project's: the checker
draws the learner's graph with the graphviz package (it writes DOT; viz-js lays it out)."""
# The project's own files the wheel is built from (a clean copy, so no stale build/ leaks in).
SOURCES = ("autograd", "nn", "apps", "setup.cfg", "pyproject.toml", "README.md")


class BuildError(RuntimeError):
    """What is missing for the build and how to get it."""


def build(out: Path, *, notebooks: bool = True) -> Path:
    """Write the whole site into ``out`` (emptied first) and return it."""
    out = Path(out)
    modules = ROOT / "node_modules"
    if not (modules / "pyodide" / "pyodide.asm.wasm").exists():
        raise BuildError("node_modules/pyodide is missing: run `npm ci --ignore-scripts` in the "
                         "repository (package.json pins Pyodide and viz-js)")
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    _copy_static(out)
    _copy_libraries(modules, out)
    wheel = _wheel(out / "wheels")
    extras = _extra_wheels(out / "wheels")
    manifest = {"wheel": f"wheels/{wheel.name}",
                "extras": [f"wheels/{w.name}" for w in extras],
                "pyodide": _version(modules / "pyodide"),
                "viz": _version(modules / "@viz-js" / "viz")}
    (out / "site.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    if notebooks:
        render_notebooks(ROOT / "notebooks", out / "notebooks")
    return out


def _copy_static(out: Path) -> None:
    for f in sorted((HERE / "static").iterdir()):
        if f.is_file():
            shutil.copy2(f, out / f.name)
    play = ROOT / "apps" / "playground" / "static"
    for f in sorted(play.iterdir()):
        if f.is_file() and f.name != "index.html":
            shutil.copy2(f, out / f.name)
    page = (play / "index.html").read_text(encoding="utf-8")
    page = re.sub(r"(<body[^>]*>)", lambda m: m[1] + "\n" + nav("playground"), page, count=1)
    page = page.replace('<link rel="stylesheet" href="playground.css">',
                        '<link rel="stylesheet" href="playground.css">\n'
                        '<link rel="stylesheet" href="site.css">')
    (out / "playground.html").write_text(_worker_transport(set_csp(page)), encoding="utf-8")
    explorer = ROOT / "autograd" / "views" / "explorer"
    for name in ("explorer.js", "explorer.css"):
        shutil.copy2(explorer / name, out / name)
    template = (explorer / "page.html").read_text(encoding="utf-8")
    (out / "explorer.html").write_text(
        explorer_page(template, title="Explorer", nav_html=nav("explorer"),
                      scripts=["explorer-page.js"]), encoding="utf-8")
    panel = (HERE / "lab.html").read_text(encoding="utf-8")
    (out / "index.html").write_text(
        explorer_page(template, title="Lab: backpropagation, step by step", nav_html=nav("lab"),
                      scripts=["lab.js"], panel=panel), encoding="utf-8")
    exercises = (HERE / "static" / "exercises.html").read_text(encoding="utf-8")
    (out / "exercises.html").write_text(set_csp(exercises.replace("<!-- NAV -->",
                                                                  nav("exercises"))),
                                        encoding="utf-8")


def _worker_transport(page: str) -> str:
    """The playground page with ``<body data-transport="worker">``."""
    page, n = re.subn(r"<body(?![^>]*data-transport)([^>]*)>",
                      r'<body\1 data-transport="worker">', page, count=1)
    if not n and 'data-transport="worker"' not in page:
        raise BuildError("apps/playground/static/index.html: no <body> tag to mark")
    return page


def _copy_libraries(modules: Path, out: Path) -> None:
    for sub, names, dest in (("pyodide", PYODIDE_FILES, "pyodide"),
                             ("@viz-js/viz", VIZ_FILES, "viz"),
                             ("codemirror", CODEMIRROR_FILES, "codemirror")):
        (out / dest).mkdir()
        for name in names:
            src = modules / sub / name
            if src.exists():
                shutil.copy2(src, out / dest / Path(name).name)
    (out / "LICENSES.txt").write_text(_licences(modules, out), encoding="utf-8")


def _version(package: Path) -> str:
    return json.loads((package / "package.json").read_text(encoding="utf-8"))["version"]


LICENCE_TEXTS = ("MPL-2.0", "MIT", "EPL-1.0", "PSF-2.0")
"""Full texts written into ``licenses/``, from npm's spdx-license-list (pinned in the lock):
Pyodide's, viz-js's and CodeMirror's, and those of what they contain in object code form."""


def _licences(modules: Path, out: Path) -> str:
    """The licence of each library the site ships (from its own package.json), with the full
    texts in ``licenses/``; CodeMirror's own LICENSE file sits beside it."""
    texts = modules / "spdx-license-list" / "licenses"
    (out / "licenses").mkdir()
    for name in LICENCE_TEXTS:
        entry = json.loads((texts / f"{name}.json").read_text(encoding="utf-8"))
        (out / "licenses" / f"{name}.txt").write_text(entry["licenseText"], encoding="utf-8")
    lines = ["The site ships these libraries unchanged, from npm (see package-lock.json); the",
             "full texts of their licences are in licenses/.", ""]
    for sub, dest in (("pyodide", "pyodide/"), ("@viz-js/viz", "viz/"),
                      ("codemirror", "codemirror/")):
        meta = json.loads((modules / sub / "package.json").read_text(encoding="utf-8"))
        home = meta.get("homepage") or meta.get("repository", {}).get("url", "")
        lines += [f"{meta['name']} {meta['version']} in {dest}: licence {meta.get('license')} "
                  f"(licenses/{meta.get('license')}.txt)", f"  source: {home}", ""]
    lines += ["Pyodide (MPL-2.0; its source: the address above) contains CPython and its",
              "standard library (licenses/PSF-2.0.txt). viz-js (MIT, Copyright (c) Michael",
              "Daines; its notices head viz/viz.js) contains Graphviz (licenses/EPL-1.0.txt) and",
              "Expat (MIT) in object code form. CodeMirror (MIT): codemirror/LICENSE. The",
              "project itself (wheels/) is MIT licensed; wheels/ also holds the graphviz Python",
              "package (MIT) for the exercises page.", ""]
    return "\n".join(lines)


def _extra_wheels(dest: Path) -> list[Path]:
    """``EXTRA_WHEELS`` from the package index, pure-Python builds only."""
    before = set(dest.glob("*.whl"))
    cmd = [sys.executable, "-m", "pip", "download", *EXTRA_WHEELS, "--no-deps", "--quiet",
           "--only-binary=:all:", "--platform", "any", "--python-version", "3.14",
           "--dest", str(dest)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode:
        raise BuildError(f"pip download failed:\n{done.stdout}{done.stderr}")
    return sorted(set(dest.glob("*.whl")) - before)


def _wheel(dest: Path) -> Path:
    """The project's wheel, built by pip from a clean copy of its sources."""
    dest.mkdir()
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "src"
        src.mkdir()
        skip = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
        for name in SOURCES:
            path = ROOT / name
            if path.is_dir():
                shutil.copytree(path, src / name, ignore=skip)
            else:
                shutil.copy2(path, src / name)
        cmd = [sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--quiet",
               "--wheel-dir", str(dest)]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode:
            raise BuildError(f"pip wheel failed:\n{done.stdout}{done.stderr}")
    wheels = sorted(dest.glob("*.whl"))
    if len(wheels) != 1:
        raise BuildError(f"expected one wheel, got {[w.name for w in wheels]}")
    return wheels[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m apps.site.build", description=__doc__
                                     .splitlines()[0])
    parser.add_argument("out", nargs="?", default="build/site", help="the folder to write")
    parser.add_argument("--no-notebooks", action="store_true",
                        help="leave the rendered notebooks out (they need nbconvert)")
    args = parser.parse_args(argv)
    try:
        out = build(Path(args.out), notebooks=not args.no_notebooks)
    except BuildError as e:
        print(f"site: {e}", file=sys.stderr)
        return 1
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    print(f"site: {out} ({size / 1e6:.1f} MB); serve it with `make serve-site`")
    return 0


if __name__ == "__main__":
    sys.exit(main())
