"""python -m autograd: an expression's value, gradients and chain rule; bad input runs nothing."""
from __future__ import annotations

import math
import os
import re
import subprocess
import sys

import pytest

from autograd.__main__ import main
from autograd.views.expr import ExpressionError, parse_expression
from support import ROOT



def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def printed(out: str, name: str) -> float:
    return float(re.search(rf"^{re.escape(name)} = (\S+)$", out, re.M)[1])


def test_value_gradients_and_explanation(capsys):
    code, out, err = run(capsys, "tanh(x*w + b)", "x=2", "w=-3", "b=1")
    assert code == 0 and err == ""
    f = math.tanh(2 * -3 + 1)
    d = 1 - f * f  # calculus: tanh' = 1 − tanh²
    assert float(out.splitlines()[0].rsplit("= ", 1)[1]) == pytest.approx(f, rel=1e-5)
    assert printed(out, "∂f/∂x") == pytest.approx(d * -3, rel=1e-5)
    assert printed(out, "∂f/∂w") == pytest.approx(d * 2, rel=1e-5)
    assert printed(out, "∂f/∂b") == pytest.approx(d, rel=1e-5)
    assert "∂f/∂x by the chain rule" in out and "1 − f²" in out


def test_gradients_match_finite_differences(capsys):
    expr, at = "sigmoid(x) / (1 + y**2) - log(sqrt(x + exp(-y)))", {"x": 0.7, "y": -1.3}
    code, out, _ = run(capsys, expr, *(f"{k}={v}" for k, v in at.items()), "--precision", "12")
    assert code == 0

    def f(x, y):
        return 1 / (1 + math.exp(-x)) / (1 + y ** 2) - math.log(math.sqrt(x + math.exp(-y)))

    h = 1e-6
    fd_x = (f(at["x"] + h, at["y"]) - f(at["x"] - h, at["y"])) / (2 * h)
    fd_y = (f(at["x"], at["y"] + h) - f(at["x"], at["y"] - h)) / (2 * h)
    assert printed(out, "∂f/∂x") == pytest.approx(fd_x, rel=1e-6)
    assert printed(out, "∂f/∂y") == pytest.approx(fd_y, rel=1e-6)


@pytest.mark.parametrize("suffix,magic", [(".html", b"<!DOCTYPE html>"), (".svg", b"<"),
                                          (".png", b"\x89PNG")])
def test_out_writes_the_page_or_the_picture(capsys, tmp_path, suffix, magic):
    path = tmp_path / f"graph{suffix}"
    code, out, _ = run(capsys, "relu(a*a - 2*a) + 1", "a=3", "--out", str(path))
    assert code == 0 and f"wrote {path}" in out
    data = path.read_bytes()
    assert data.startswith(magic)
    if suffix == ".svg":
        assert b"<svg" in data
    if suffix == ".html":
        assert b'data-ready' in data and b'"n":"a"' in data


BAD = [
    ("x +* 2", 4, "syntax error"),
    ("x*", 3, "syntax error"),
    ("x + y", 5, "unknown name 'y'"),
    ("x.real", 1, "attribute access .real"),
    ("2 * print(x)", 5, "'print' is not a function"),
    ("exp(x) + __import__('os').system('touch PWNED')", 10, "function"),
    ("__import__('os')", 1, "'__import__' is not a function"),
    ("x if x else x", 1, "IfExp is not allowed"),
    ("'text'", 1, "not a number"),
    ("exp(x, base=2)", 1, "keyword"),
    ("  log(x - 2)", 3, "log of a non-positive"),
    ("[x]", 1, "List is not allowed"),
    ("lambda: 0", 1, "Lambda is not allowed"),
]


@pytest.mark.parametrize("expr,column,what", BAD)
def test_bad_expression_exits_with_one_line(capsys, tmp_path, monkeypatch, expr, column, what):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, expr, "x=2", "--out", "page.html")
    assert code != 0 and out == ""
    assert err.count("\n") == 1 and err.startswith(f"error: column {column}: ")
    assert what in err
    assert list(tmp_path.iterdir()) == []  # no page, and the os.system never ran


def test_bad_values_and_outputs(capsys):
    assert run(capsys, "x", "x=two")[0] == 2
    assert run(capsys, "x", "2x=1")[0] == 2
    assert run(capsys, "x", "exp=1")[0] == 2
    code, _, err = run(capsys, "x", "x=1", "--out", "page.txt")
    assert code == 2 and ".html, .svg or .png" in err


def test_parser_builds_a_graph_without_eval():
    y = parse_expression("-x ** 2 + +x / 4", {"x": 3.0})
    assert y.data == pytest.approx(-9 + 0.75)
    with pytest.raises(ExpressionError) as e:
        parse_expression("x + (", {"x": 1.0})
    assert e.value.column == 5  # the unclosed bracket
    assert parse_expression("-" * 400 + "x", {"x": 2.0}).data == 2.0
    with pytest.raises(ExpressionError, match="nested"):
        parse_expression("(" * 100_000 + "x" + ")" * 100_000, {"x": 2.0})


def test_module_runs_as_a_program(tmp_path):
    r = subprocess.run([sys.executable, "-m", "autograd", "x*y", "x=2", "y=5"], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "∂f/∂x = 5" in r.stdout
    r = subprocess.run([sys.executable, "-m", "autograd", "x.__class__", "x=2"], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and r.stderr.startswith("error: column 1: attribute access")


def test_open_hands_the_written_file_to_the_browser(capsys, tmp_path, monkeypatch):
    opened = []
    monkeypatch.setattr("webbrowser.open", opened.append)
    path = tmp_path / "page.html"
    assert run(capsys, "x*x", "x=3", "--out", str(path), "--open")[0] == 0
    assert opened == [path.resolve().as_uri()]


@pytest.mark.parametrize("expr", ["x", "+x", "  x", "+(+x)"])
def test_a_bare_variable_has_derivative_one(capsys, expr):
    code, out, err = run(capsys, expr, "x=2", "y=5")
    assert code == 0 and err == ""
    assert out.splitlines()[0] == f"f = {expr} = 2"
    assert printed(out, "∂f/∂x") == 1  # d x / d x, whatever the root is called
    assert printed(out, "∂f/∂y") == 0
    assert "∂f/∂x = 1: f is x itself." in out


def test_no_variable_name_is_reserved_for_the_output(capsys):
    code, out, _ = run(capsys, "f_out*f", "f=2", "f_out=3")
    assert code == 0
    assert out.splitlines()[0] == "f_out2 = f_out*f = 6"
    assert printed(out, "∂f_out2/∂f") == 3 and printed(out, "∂f_out2/∂f_out") == 2
    assert "∂f_out2/∂f by the chain rule" in out
    code, out, _ = run(capsys, "f*y", "f=2", "y=7")
    assert code == 0 and printed(out, "∂f_out/∂f") == 7 and printed(out, "∂f_out/∂y") == 2
    code, out, _ = run(capsys, "f", "f=2")
    assert code == 0 and printed(out, "∂f_out/∂f") == 1


@pytest.mark.parametrize("expr,args,root", [("x", ["x=2"], "x"),
                                             ("f_out*f", ["f=2", "f_out=3"], "f_out2")])
def test_the_page_names_its_root(capsys, tmp_path, expr, args, root):
    path = tmp_path / "page.html"
    assert run(capsys, expr, *args, "--out", str(path))[0] == 0
    assert f'"n":"{root}"'.encode() in path.read_bytes()


OP_ERRORS = [("dot(x, x)", "dot"), ("dot()", "dot"), ("dot(x, x, x, x)", "dot"),
             ("log(0-x)", "log"), ("x/0", "div"), ("exp(1000*x)", "exp"),
             ("1" + "0" * 400, "number")]


@pytest.mark.parametrize("expr,op", OP_ERRORS)
def test_an_op_that_rejects_its_inputs_is_one_line(capsys, tmp_path, monkeypatch, expr, op):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, expr, "x=1", "--out", "page.html")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("error: column 1: ") and op in err
    assert list(tmp_path.iterdir()) == []


def test_an_op_error_has_no_traceback_in_the_program():
    r = subprocess.run([sys.executable, "-m", "autograd", "dot(x, x)", "x=1"], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.startswith("error:") and r.stderr.count("\n") == 1
    assert "dot" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("digits", ["-5", "0", "18", "2.5", "six"])
def test_precision_out_of_range_is_an_argument_error(capsys, digits):
    with pytest.raises(SystemExit) as e:
        main(["x", "x=1", "--precision", digits])
    out, err = capsys.readouterr()
    assert e.value.code == 2 and out == ""
    assert f"argument --precision: expected 1 to 17 significant digits, got {digits!r}" in err
    assert "Traceback" not in err


def test_precision_bounds_are_allowed(capsys):
    assert printed(run(capsys, "x/3", "x=1", "--precision", "1")[1], "f = x/3") == 0.3
    shown = printed(run(capsys, "x/3", "x=1", "--precision", "17")[1], "f = x/3")
    assert shown == 1 / 3  # 17 digits bring the float back exactly


def test_out_into_a_missing_folder_fails_before_any_work(capsys, tmp_path):
    (tmp_path / "d.html").mkdir()
    for path in (tmp_path / "no" / "such" / "p.html", tmp_path / "d.html"):
        code, out, err = run(capsys, "x*x", "x=3", "--out", str(path))
        assert code == 2 and out == ""
        assert err.count("\n") == 1 and err.startswith(f"error: --out {path}: ")
    assert [p.name for p in tmp_path.iterdir()] == ["d.html"]


@pytest.mark.parametrize("suffix", [".html", ".svg"])
def test_out_that_cannot_be_written_is_one_line(capsys, tmp_path, suffix):
    path = tmp_path / ("a" * 300 + suffix)  # longer than any file system's name limit
    code, _, err = run(capsys, "x*x", "x=3", "--out", str(path))
    assert code == 2 and "wrote" not in err
    assert err.count("\n") == 1 and err.startswith(f"error: --out {path}: ")
    assert list(tmp_path.iterdir()) == []


# --out needs graphviz, the Python package and its dot program (the page's layout comes from it
# too). Without either, one error line before any output, as for the CLI's other errors (issue
# 27, item 8), rather than a traceback after the whole explanation.

@pytest.mark.parametrize("suffix", [".svg", ".png", ".html"])
def test_out_without_the_graphviz_package_is_one_line_before_any_output(
        capsys, tmp_path, monkeypatch, suffix):
    monkeypatch.setitem(sys.modules, "graphviz", None)   # import graphviz raises ImportError
    path = tmp_path / f"x{suffix}"
    code, out, err = run(capsys, "tanh(w*x + b)", "w=0.5", "x=1", "b=0.2", "--out", str(path))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith(f"error: --out {path}: ")
    assert "graphviz" in err and f"{sys.executable} -m pip install graphviz" in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("suffix", [".svg", ".png", ".html"])
def test_out_without_the_dot_program_is_one_line_before_any_output(
        capsys, tmp_path, monkeypatch, suffix):
    monkeypatch.setenv("PATH", str(tmp_path / "no-programs-here"))
    path = tmp_path / f"x{suffix}"
    code, out, err = run(capsys, "tanh(w*x + b)", "w=0.5", "x=1", "b=0.2", "--out", str(path))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith(f"error: --out {path}: ")
    assert "dot" in err and "apt-get install graphviz" in err
    assert list(tmp_path.iterdir()) == []


def test_the_program_without_dot_prints_no_traceback(tmp_path):
    env = {**os.environ, "PATH": str(tmp_path / "no-programs-here")}
    r = subprocess.run([sys.executable, "-m", "autograd", "tanh(w*x + b)", "w=0.5", "x=1",
                        "b=0.2", "--out", "x.svg"], cwd=tmp_path, env=env, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.startswith("error: --out x.svg: ") and r.stderr.count("\n") == 1
    assert "Traceback" not in r.stderr
