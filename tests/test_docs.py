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


def shown_outputs() -> list[tuple[str, str, str, str]]:
    """(where, language, code, output shown) for every python or sh block that a ```text block
    follows directly: the text is what the code prints. A shown output ending in ``...`` is the
    start of what it prints."""
    found = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        fences = list(BLOCK.finditer(text))
        for code, shown in zip(fences, fences[1:]):
            if (code["lang"] in ("python", "sh") and shown["lang"] == "text"
                    and not text[code.end():shown.start()].strip()):
                line = text.count("\n", 0, code.start("body")) + 1
                found.append((f"{page.relative_to(ROOT).as_posix()}:{line}", code["lang"],
                              code["body"], shown["body"]))
    return found


SHOWN = shown_outputs()


def test_the_front_door_shows_its_outputs():
    readme = [lang for where, lang, *_ in SHOWN if where.startswith("README.md:")]
    assert readme.count("python") >= 1 and readme.count("sh") >= 1
    assert any(where.startswith("docs/cli.md:") for where, *_ in SHOWN)


@pytest.mark.parametrize("where, lang, code, shown", SHOWN, ids=[w for w, *_ in SHOWN])
def test_shown_output_is_what_the_code_prints(where, lang, code, shown, tmp_path):
    if lang == "python":
        args = [sys.executable, "-c", code]
    else:
        lines = [shlex.split(x, comments=True) for x in code.splitlines()]
        lines = [x for x in lines if x]
        assert len(lines) == 1 and lines[0][:2] == ["python", "-m"], (
            f"{where}: a shown output follows one `python -m` command")
        args = [sys.executable, *lines[0][1:]]
    done = run(args, tmp_path, timeout=60)
    assert done.returncode == 0, f"{where}\n{done.stderr}"
    differ = f"{where}: the page shows\n{shown}\nthe code prints\n{done.stdout}"
    if shown.endswith("...\n"):
        assert done.stdout.startswith(shown.removesuffix("...\n")), differ
    else:
        assert done.stdout == shown, differ


def test_readme_says_which_python():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert ".venv/bin/python my_script.py" in readme
    assert ".venv/bin/pip install graphviz" in readme


def test_relative_links_resolve():
    missing = []
    for page in PAGES:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text(encoding="utf-8")):
            if "://" in target or target.startswith("#"):
                continue
            if not (page.parent / target.split("#")[0]).exists():
                missing.append(f"{page.relative_to(ROOT)}: {target}")
    assert not missing
