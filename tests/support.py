"""What several test files share: the worked example and its PyTorch oracle, the DOT and SVG
readers, hostile user text, the op-sweep oracle table, a headless Chromium.

Importable from any test as ``import support`` (setup.cfg puts tests/ on pytest's path). Each
helper is written once here; the oracles never go through this project's engine.
"""
from __future__ import annotations

import html
import random
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
import signal
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch
from hypothesis import strategies as st

import autograd
from autograd import Value
from autograd.extend import OPS, primitive
from nn import worked_example

ROOT = Path(__file__).resolve().parent.parent  # the repository

# ------------------------------------------------------------------------- the worked example

# The worked example's published numbers (nine significant digits).
PUBLISHED = {"dE/dout_o1": 0.74136507, "dout_o1/dnet_o1": 0.186815602,
             "dnet_o1/dw5": 0.593269992, "dE/dw5": 0.082167041, "dE/dw1": 0.000438568}
WEIGHTS = [0.15, 0.20, 0.25, 0.30, 0.40, 0.45, 0.50, 0.55]
# Written out here rather than read from nn.worked_example, so the oracle does not share its input.
START = {"i1": 0.05, "i2": 0.10, "b1": 0.35, "b2": 0.60,
         **{f"w{k}": x for k, x in enumerate(WEIGHTS, 1)}}


def seed_network() -> tuple[Value, dict[str, Value]]:
    """The worked example as Values with its textbook labels: (E, name → node)."""
    net = worked_example.build()
    return net.E, net.as_dict()


def torch_network(weights: dict[str, float] | None = None) -> dict[str, torch.Tensor]:
    """The same network in PyTorch float64, every named tensor kept (the oracle).

    Every leaf requires grad; ``weights`` overrides some of w1 … w8.
    """
    t = {k: torch.tensor(x, dtype=torch.float64, requires_grad=True)
         for k, x in {**START, **(weights or {})}.items()}
    return torch_forward(t)


def torch_forward(t: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Add the network's named values to ``t``, which holds its twelve leaves (kept as given)."""
    t["net_h1"] = t["w1"] * t["i1"] + t["w2"] * t["i2"] + t["b1"]
    t["net_h2"] = t["w3"] * t["i1"] + t["w4"] * t["i2"] + t["b1"]
    t["out_h1"], t["out_h2"] = torch.sigmoid(t["net_h1"]), torch.sigmoid(t["net_h2"])
    t["net_o1"] = t["w5"] * t["out_h1"] + t["w6"] * t["out_h2"] + t["b2"]
    t["net_o2"] = t["w7"] * t["out_h1"] + t["w8"] * t["out_h2"] + t["b2"]
    t["out_o1"], t["out_o2"] = torch.sigmoid(t["net_o1"]), torch.sigmoid(t["net_o2"])
    t["E_o1"] = 0.5 * (0.01 - t["out_o1"]) ** 2
    t["E_o2"] = 0.5 * (0.99 - t["out_o2"]) ** 2
    t["E"] = t["E_o1"] + t["E_o2"]
    return t


def d(t: dict[str, torch.Tensor], top: str, bottom: str) -> float:
    """∂top/∂bottom from PyTorch, holding every other named value's inputs as they are."""
    (g,) = torch.autograd.grad(t[top], t[bottom], retain_graph=True, allow_unused=True)
    return 0.0 if g is None else g.item()


# ------------------------------------------------------------------------- DOT and SVG readers

def parse(source: str):
    """(value node id by label, lines of value nodes by id, edges as (tail, head, label, line))."""
    ids, lines, edges = {}, {}, []
    for line in source.splitlines():
        m = re.match(r"\s*(\S+) \[label=<<table.*?<td>(?:<b>(.*?)</b>|.*?<i>(.*?)</i>.*?)</td>",
                     line)
        if m:
            ids[m[2] or m[3]] = m[1]
            lines[m[1]] = line
            continue
        m = re.match(r"\s*(\S+) -> (\S+)(?: \[(?:label=<(.*)> )?(.*)\])?$", line)
        if m:
            edges.append((m[1], m[2], html.unescape(m[3] or ""), line))
    return ids, lines, edges


def edge(parsed, tail_label: str, head_label: str):
    """The one edge from the value labelled ``tail_label`` into the op of ``head_label``."""
    ids, _, edges = parsed
    found = [e for e in edges if e[0] == ids[tail_label] and e[1] == "op" + ids[head_label]]
    assert len(found) == 1, (tail_label, head_label, found)
    return found[0]


def svg_texts(svg: bytes) -> list[str]:
    """Every piece of text an SVG shows, in document order."""
    root = ET.fromstring(svg)
    return [t.text for t in root.iter("{http://www.w3.org/2000/svg}text") if t.text]


# ------------------------------------------------------------------------- hostile user text

PIECES = ['<<table href="javascript:alert(4)"><tr><td>L1</td></tr></table>>', "<b>", "</td>",
          "<script>alert(1)</script>", "<!--", "-->", "]]>", "&amp;", "&", '"', "'", "\\",
          "\\N", "\\G", "\\l", "\\\"", "{", "}", "{0}", "{out}", "{{", "%s", "$x$", "_", "^",
          "\x00", "\x1b[31m", "\n", "\r", "\t", "\x7f", "\u2028", "\ud800", "\udfff", "\ufeff",
          ".", "..", "L1.N2.", "[", "]", ";", "->", "=", "javascript:", "\U0001F600"]
labels = st.one_of(
    st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=4)), min_size=1,
             max_size=8).map("".join),
    st.sampled_from(PIECES).map(lambda p: p * 6000),  # far past any label limit
)
SVG_TAGS = {"svg", "g", "title", "text", "polygon", "polyline", "path", "ellipse"}


def labelled_graph(text: str):
    """A small graph with ``text`` as every label, an op name and symbol: (output, input)."""
    op = autograd.extend.primitive(text, lambda a: 2 * a, lambda a, out: (2.0,), symbol=text)
    x = Value(0.5, label=text)
    w = Value(-1.5, label=text + ".w")
    h = op(x * w)
    h.label = text + "." + text + ".h"
    y = (h + 1.0).tanh()
    y.label = text
    return y, x


def check_svg(svg: bytes) -> None:
    """Only plain SVG drawing elements, no link, handler or script URL anywhere."""
    root = ET.fromstring(svg)
    for el in root.iter():
        tag = el.tag.rsplit("}", 1)[-1]
        assert tag in SVG_TAGS, tag
        for name, value in el.attrib.items():
            assert "href" not in name and not name.rsplit("}", 1)[-1].startswith("on"), name
            assert "javascript" not in value.lower(), (name, value)


def render(source: str) -> bytes:
    """DOT source to SVG with the system's ``dot``, which must not complain."""
    out = subprocess.run(["dot", "-Tsvg"], input=source.encode("utf-8"), capture_output=True,
                         timeout=60)
    assert out.returncode == 0 and b"rror" not in out.stderr, out.stderr[:500]
    return out.stdout


# ------------------------------------------------------------------------- the op sweep's oracles

TORCH = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "pow": lambda a, b: torch.pow(a, b),
    "neg": lambda a: -a,
    "abs": torch.abs,
    "exp": torch.exp,
    "log": torch.log,
    "sqrt": torch.sqrt,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "relu": torch.relu,
    "leaky_relu": lambda a, s: torch.where(a > 0, a, s * a),
    "softplus": torch.nn.functional.softplus,
    "sin": torch.sin,
    "cos": torch.cos,
    "sum": lambda *xs: torch.stack(xs).sum(),
    "dot": lambda *xs: torch.dot(torch.stack(xs[:len(xs) // 2]),
                                 torch.stack(xs[len(xs) // 2:-1])) + xs[-1],
}


def arities(op) -> list[int]:
    """The input counts an op is tested at (a few for the variadic ones)."""
    return [op.arity] if op.arity is not None else [3, 5, 7]


def cases():
    """One pytest param per (op, arity) of the op table."""
    for name, op in OPS.items():
        for n in arities(op):
            yield pytest.param(name, n, id=f"{name}/{n}")


def sample_points(op, n: int, count: int = 6, seed: int = 0) -> list[list[float]]:
    """Points inside the op's domain, kept away from kinks (|x| >= 0.2)."""
    rng = random.Random(f"{op.name}/{n}/{seed}")
    points = []
    while len(points) < count:
        xs = [rng.choice((-1, 1)) * rng.uniform(0.2, 2.0) for _ in range(n)]
        try:
            op.forward(*xs)
        except (ValueError, ZeroDivisionError):
            continue  # outside the domain: the domain checks themselves are tested elsewhere
        points.append(xs)
    return points


# ------------------------------------------------------------------------- headless Chromium

@contextmanager
def headless_chromium(profile: Path, window: str | None = None, logs: tuple[str, ...] = ()):
    """A selenium driver on the system's Chromium; skips the test when it is not installed.

    ``logs`` names the logs to keep ("browser", "performance") for ``driver.get_log``.
    """
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not binary or not driver_path:
        pytest.skip("Chromium and chromedriver are not installed (apt-get install chromium "
                    "chromium-driver); .ci/run installs them")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = binary
    args = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run",
            f"--user-data-dir={profile}"]
    if window:
        args.append(f"--window-size={window}")
    for arg in args:
        opts.add_argument(arg)
    if logs:
        opts.set_capability("goog:loggingPrefs", {name: "ALL" for name in logs})
    # The driver's path is given, so selenium never tries to download one.
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=opts)
    try:
        driver.set_page_load_timeout(30)
        yield driver
    finally:
        driver.quit()


# ---------------------------------------------------------------- random programs for replays
# A random graph is a list of instructions over the leaves and the nodes made so far; every op
# is kept inside its domain by construction, so any leaf values can be replayed. A user
# primitive is among them: replays call it back rather than trace it.

def close(a: float, b: float, rel: float = 1e-12) -> bool:
    """Equal to ``rel``, nan with nan, an infinity only with itself."""
    if a != a or b != b:
        return a != a and b != b
    if a in (float("inf"), float("-inf")) or b in (float("inf"), float("-inf")):
        return a == b
    return abs(a - b) <= rel * max(abs(a), abs(b)) + 1e-300


def eager(build, data):
    """Build the graph at ``data`` and return (root value, [∂root/∂leaf])."""
    xs = [Value(d) for d in data]
    out = build(xs)
    return out.data, autograd.grad(out, xs)


_cube = primitive("cube", lambda a: a * a * a, lambda a, out: (3.0 * a * a,), arity=1)
UNARY = {
    "tanh": lambda a: a.tanh(), "sigmoid": lambda a: a.sigmoid(), "relu": lambda a: a.relu(),
    "abs": abs, "neg": lambda a: -a, "leaky": lambda a: a.leaky_relu(0.1),
    "softplus": lambda a: a.softplus(), "sin": lambda a: a.sin(), "cos": lambda a: a.cos(),
    "exp": lambda a: a.tanh().exp(), "log": lambda a: (a * a + 1.0).log(),
    "sqrt": lambda a: (a * a + 1.0).sqrt(), "square": lambda a: a ** 2,
    "powpos": lambda a: (a * a + 0.5) ** 1.5, "cube": lambda a: _cube(a.tanh()),
}
BINARY = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
    "div": lambda a, b: a / (b * b + 1.0), "powvv": lambda a, b: (a * a + 1.0) ** b.tanh(),
    "sum": lambda a, b: autograd.sum([a, b, a * 0.5]),
    "dot": lambda a, b: autograd.dot([a, b], [b, 2.0], a),
    "leakyvv": lambda a, b: a.leaky_relu(b.sigmoid()),
}
instruction = st.one_of(
    st.tuples(st.sampled_from(sorted(UNARY)), st.integers(0, 10 ** 6)),
    st.tuples(st.sampled_from(sorted(BINARY)), st.integers(0, 10 ** 6), st.integers(0, 10 ** 6)),
)
points = st.lists(st.floats(-3, 3, allow_nan=False), min_size=3, max_size=3)


def program(instrs, mix: str = "sum"):
    """A function building the instructions' graph on given leaves. Every node is mixed into
    the root so no branch is dead: by one ``sum`` node, or (``mix="adds"``) by a chain of
    binary adds, which keeps the op sizes, and so a native library, the same for all graphs."""
    def build(xs):
        nodes = list(xs)
        for ins in instrs:
            if len(ins) == 2:
                nodes.append(UNARY[ins[0]](nodes[ins[1] % len(nodes)]))
            else:
                a, b = nodes[ins[1] % len(nodes)], nodes[ins[2] % len(nodes)]
                nodes.append(BINARY[ins[0]](a, b))
        made = nodes[len(xs):]
        if mix == "sum":
            return autograd.sum(made) if made else nodes[0] * 1.0
        total = nodes[0] * 1.0
        for node in made:
            total = total + node
        return total
    return build


@contextmanager
def time_limit(seconds: int):
    """Fail a browser test that hangs, instead of hanging the suite (SIGALRM, main thread)."""
    def fail(*_):
        raise TimeoutError(f"the browser test took more than {seconds} s")
    old = signal.signal(signal.SIGALRM, fail)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
