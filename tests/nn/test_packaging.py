"""Packaging: the package installs with no run-time dependencies; pictures, progress bars and
the demo are extras, and `make demo` installs only what the demo needs."""
import configparser
import re
import shutil
import subprocess

import pytest
from support import ROOT

OPTIONAL = {"matplotlib", "tqdm", "graphviz"}
TEST_ONLY = {"torch", "hypothesis", "selenium", "pytest"}


def names(requirements: str) -> set[str]:
    """Distribution names in a requirements block, without versions or extras."""
    return {re.split(r"[<>=!~\[;\s]", line.strip(), maxsplit=1)[0].lower()
            for line in requirements.splitlines() if line.strip()}


def setup_cfg() -> configparser.ConfigParser:
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    return cfg


def test_installing_the_package_pulls_in_nothing_optional():
    assert not names(setup_cfg()["options"].get("install_requires", "")) & OPTIONAL


def test_each_optional_library_has_its_extra():
    extras = {k: names(v) for k, v in setup_cfg()["options.extras_require"].items()}
    assert "matplotlib" in extras["plot"]
    assert "tqdm" in extras["progress"]
    assert "graphviz" in extras["draw"]
    assert OPTIONAL <= extras["demo"] and not TEST_ONLY & extras["demo"]
    assert OPTIONAL | TEST_ONLY | {"numpy"} <= extras["test"]


def dry_run(target: str, tmp_path) -> str:
    if shutil.which("make") is None:
        pytest.skip("no make")
    run = subprocess.run(["make", "-n", target, f"VENV={tmp_path / 'venv'}"], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    return run.stdout


def test_make_demo_installs_the_demo_extra_only(tmp_path):
    commands = dry_run("demo", tmp_path)
    assert "-e '.[demo]'" in commands and "python -m nn.demo" in commands
    assert "[test]" not in commands


def test_make_test_installs_the_test_extra(tmp_path):
    commands = dry_run("test", tmp_path)
    assert "-e '.[test]'" in commands and "pytest" in commands
