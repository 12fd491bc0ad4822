"""The README is a front door and its examples run: every ```python block in README.md and
docs/*.md is executed verbatim, and every short ``python -m`` command in their shell blocks exits 0.

A Python block that cannot run here (a server, a browser, Jupyter, the reader's own class) is
preceded in the markdown by ``<!-- not run: reason -->``; a shell command that trains for minutes
or serves a page is skipped by the prefix list below, with its reason.
"""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"(?:<!-- not run: (?P<reason>[^\n]*?) -->\n)?"
                   r"^```(?P<lang>\w*)\n(?P<body>.*?)^```$", re.DOTALL | re.MULTILINE)

# Shell commands listed in the pages but not run here: (prefix, why).
SKIPPED_COMMANDS = [
    ("python -m nn.demo", "trains for tens of seconds and needs the demo extra"),
    ("python -m nn.digits", "needs scikit-learn and trains for seconds"),
    ("python -m nn.playground", "serves a page until stopped"),
]
NOT_RUN_LIMIT = 3   # keep the marked exceptions few


def blocks(lang: set[str]) -> list[tuple[str, int, str, str | None]]:
    """(page, line, body, reason not to run) of every fenced block in one of these languages."""
    found = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for m in BLOCK.finditer(text):
            if m["lang"] in lang:
                line = text.count("\n", 0, m.start("body")) + 1
                found.append((page.relative_to(ROOT).as_posix(), line, m["body"], m["reason"]))
    return found


PYTHON_BLOCKS = blocks({"python"})


def commands() -> list[tuple[str, str]]:
    """(where, command) for every ``python -m`` line in a bash/sh block, comments removed."""
    found = []
    for page, line, body, _ in blocks({"sh", "bash"}):
        for i, text in enumerate(body.splitlines()):
            if text.lstrip().startswith("python -m "):
                found.append((f"{page}:{line + i}", shlex.split(text, comments=True)))
    return found


def run(args: list[str], tmp_path: Path, timeout: float) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    return subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_readme_is_a_front_door():
    assert len((ROOT / "README.md").read_text(encoding="utf-8").splitlines()) < 200


def test_the_blocks_are_found_and_few_are_skipped():
    assert len(PYTHON_BLOCKS) >= 8
    assert sum(reason is not None for *_, reason in PYTHON_BLOCKS) <= NOT_RUN_LIMIT
    assert any(cmd[:3] == ["python", "-m", "autograd"] for _, cmd in commands())


@pytest.mark.parametrize("page, line, body, reason", PYTHON_BLOCKS,
                         ids=[f"{p}:{n}" for p, n, *_ in PYTHON_BLOCKS])
def test_python_block_runs(page, line, body, reason, tmp_path):
    if reason is not None:
        pytest.skip(reason)
    code = f"exec(compile({body!r}, {f'{page}:{line}'!r}, 'exec'), {{'__name__': '__main__'}})"
    # Deprecated names (autograd.graph_data, ...) fail here: the pages show where things live now.
    args = [sys.executable, "-W", "error::DeprecationWarning", "-c", code]
    done = run(args, tmp_path, timeout=120)
    assert done.returncode == 0, f"{page}:{line}\n{done.stdout}\n{done.stderr}"


@pytest.mark.parametrize("where, cmd", commands(), ids=[w for w, _ in commands()])
def test_shell_command_runs(where, cmd, tmp_path):
    line = " ".join(cmd)
    for prefix, why in SKIPPED_COMMANDS:
        if line.startswith(prefix):
            pytest.skip(why)
    if "--open" in cmd:
        pytest.skip("opens a browser")
    done = run([sys.executable, *cmd[1:]], tmp_path, timeout=60)
    assert done.returncode == 0, f"{where}: {line}\n{done.stdout}\n{done.stderr}"


def test_readme_shows_what_its_example_prints(tmp_path):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    example = readme.split("```python\n")[1].split("```")[0]
    shown = readme.split(example + "```\n\n```text\n")[1].split("```")[0]
    done = run([sys.executable, "-c", example], tmp_path, timeout=60)
    assert done.stdout == shown


def test_readme_shows_what_the_cli_prints(tmp_path):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    command = 'python -m autograd "tanh(x*w + b)" x=2 w=-0.5 b=0.5'
    shown = readme.split(f"```sh\n{command}\n```\n\n```text\n")[1].split("```")[0]
    assert shown.endswith("...\n")
    done = run([sys.executable, *shlex.split(command)[1:]], tmp_path, timeout=60)
    assert done.returncode == 0
    assert done.stdout.startswith(shown.removesuffix("...\n"))


def test_relative_links_resolve():
    missing = []
    for page in PAGES:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text(encoding="utf-8")):
            if "://" in target or target.startswith("#"):
                continue
            if not (page.parent / target.split("#")[0]).exists():
                missing.append(f"{page.relative_to(ROOT)}: {target}")
    assert not missing
