"""The notebooks' install line is enough: a fresh venv made from ``pip install '.[notebooks]'``
alone runs every notebook top to bottom (only Graphviz's ``dot`` program comes from the system).

The package is installed from a copy of the source, not in editable mode, and the notebooks run
from a copy too, so nothing on the test's own path (its venv, the checkout) can stand in for a
missing dependency.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow   # a venv, an install and every notebook: minutes

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
NOT_SOURCE = shutil.ignore_patterns(".git", ".venv*", "node_modules", "out", "build", "dist",
                                    "*.egg-info", "__pycache__", ".pytest_cache", ".hypothesis",
                                    ".ipynb_checkpoints")


def _clean_env() -> dict[str, str]:
    # Nothing of this interpreter's environment may leak into the fresh one.
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env["MPLBACKEND"] = "Agg"
    return env


def _run(args: list, cwd: Path, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], cwd=cwd, env=_clean_env(), capture_output=True,
                          text=True, timeout=timeout)


def _last_lines(text: str, n: int = 6) -> str:
    plain = re.sub(r"\x1b\[[0-9;]*m", "", text)   # IPython colours its tracebacks
    return "\n".join(plain.strip().splitlines()[-n:])


def test_the_notebooks_extra_runs_every_notebook(tmp_path):
    assert shutil.which("dot"), "Graphviz's dot program (the system package) is needed here"
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCE)
    venv = tmp_path / "venv"
    python = venv / "bin" / "python"
    made = _run([sys.executable, "-m", "venv", venv], tmp_path, timeout=300)
    assert made.returncode == 0, made.stderr
    installed = _run([python, "-m", "pip", "install", "--quiet", f"{source}[notebooks]"],
                     tmp_path, timeout=1800)
    assert installed.returncode == 0, _last_lines(installed.stderr, 20)

    # The notebooks import the installed package, not the copy of the source beside them.
    where = _run([python, "-c", "import autograd, nn; print(autograd.__file__, nn.__file__)"],
                 source / "notebooks", timeout=120)
    assert where.returncode == 0, where.stderr
    assert all(Path(p).is_relative_to(venv) for p in where.stdout.split()), where.stdout

    failed = {}
    for path in NOTEBOOKS:
        done = _run([python, source / "notebooks" / "execute.py", path.name], tmp_path,
                    timeout=900)
        if done.returncode != 0:
            failed[path.name] = _last_lines(done.stderr, 2)
    assert not failed, "notebooks that stop in a venv made from '.[notebooks]' alone:\n" + (
        "\n\n".join(f"{name}:\n{why}" for name, why in failed.items()))
