"""Modules: Neuron, Layer and MLP built from autograd Values, with save, load and to_torch."""
from __future__ import annotations

import inspect
import json
import math
import numbers
import os
import random
import re
import reprlib
import tempfile
from typing import Any, Sequence

from autograd import Value, dot

ACTIVATIONS = ("relu", "tanh", "sigmoid", "linear")

# Written into every saved file so that load() can tell our JSON from anyone else's.
FORMAT = "autograd-scalar.nn"
FORMAT_VERSION = 1


def _rng(seed: int | random.Random | None) -> random.Random:
    if isinstance(seed, random.Random):
        return seed
    if seed is None or (isinstance(seed, int) and not isinstance(seed, bool)):
        return random.Random(seed)
    raise TypeError(f"seed: expected an int or a random.Random, got {type(seed).__name__} {seed!r}")


def _check_activation(activation: str) -> str:
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation: expected one of {', '.join(ACTIVATIONS)}, "
                         f"got {activation!r}")
    return activation


def _check_size(what: str, n) -> int:
    if not isinstance(n, int) or isinstance(n, bool):
        raise TypeError(f"{what}: expected an int, got {type(n).__name__} {n!r}")
    if n < 1:
        raise ValueError(f"{what}: expected at least 1, got {n}")
    return n


def _check_name(owner: str, name) -> str:
    if not isinstance(name, str):
        raise TypeError(f"{owner} name: expected a str, got {type(name).__name__} {name!r}")
    return name


def _check_nouts(nouts) -> list[int]:
    if isinstance(nouts, (int, str)) or not isinstance(nouts, Sequence) or not nouts:
        raise TypeError(f"MLP nouts: expected a non-empty list of layer sizes, "
                        f"got {reprlib.repr(nouts)}")
    return [_check_size("MLP layer size", n) for n in nouts]


def _inputs(owner: str, x: Sequence, nin: int) -> list[Value]:
    """Validate one example and turn plain numbers into leaves labelled x1, x2, ..."""
    # A NumPy row (anything with __array__) is as good as a list.
    if isinstance(x, (Value, numbers.Real)) or not (isinstance(x, Sequence)
                                                    or hasattr(x, "__array__")):
        raise TypeError(f"{owner}: expected a sequence of {nin} numbers or Values, "
                        f"got {type(x).__name__} {x!r}")
    if len(x) != nin:
        raise ValueError(f"{owner}: expected {nin} inputs, got {len(x)}")
    out = []
    for i, xi in enumerate(x, 1):
        if isinstance(xi, Value):
            out.append(xi)
        elif isinstance(xi, numbers.Real) and not isinstance(xi, bool):
            out.append(Value(float(xi), label=f"x{i}"))
        else:
            raise TypeError(f"{owner}: input {i} must be a number or a Value, "
                            f"got {type(xi).__name__} {xi!r}")
    return out


class Module:
    """Base class: a bag of labelled parameters that can be zeroed, saved and loaded."""

    def parameters(self) -> list[Value]:
        """All trainable Values, in a fixed order."""
        return [p for _, p in self.named_parameters()]

    def named_parameters(self) -> list[tuple[str, Value]]:
        """(label, Value) pairs for every parameter; labels say where each one lives."""
        return []

    def zero_grad(self) -> None:
        """Set every parameter's grad to 0 before the next backward."""
        for p in self.parameters():
            p.grad = 0.0

    def config(self) -> dict[str, Any]:
        """The constructor arguments that rebuild this module's architecture."""
        raise NotImplementedError

    def __call__(self, x: Sequence) -> Value | list[Value]:
        raise NotImplementedError

    def num_parameters(self) -> int:
        return len(self.named_parameters())

    def save(self, path: str | os.PathLike) -> None:
        """Write architecture and parameters as JSON, atomically (temporary file, then rename)."""
        doc = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "module": type(self).__name__,
            "config": self.config(),
            "parameters": {name: p.data for name, p in self.named_parameters()},
        }
        try:
            text = json.dumps(doc, indent=1, allow_nan=False)
        except ValueError as e:
            raise ValueError(f"save: a parameter is not finite, refusing to write it "
                             f"({e})") from None
        path = os.fspath(path)
        folder = os.path.dirname(os.path.abspath(path))
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=folder)
        try:
            # mkstemp creates the file private to its owner; a saved model is an ordinary file.
            os.chmod(tmp, 0o644)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            # Whatever happened, the target is either the old file or the new one, never half.
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def to_torch(self):
        """The equivalent ``torch.nn.Sequential`` (float64) holding the same weights."""
        try:
            import torch
        except ImportError:
            raise ImportError("to_torch needs PyTorch; install it with "
                              "'pip install torch'") from None

        mods: list = []
        for activation, neurons in self._stages():
            lin = torch.nn.Linear(neurons[0].nin, len(neurons), dtype=torch.float64)
            with torch.no_grad():
                lin.weight.copy_(torch.tensor([[w.data for w in n.w] for n in neurons],
                                              dtype=torch.float64))
                lin.bias.copy_(torch.tensor([n.b.data for n in neurons], dtype=torch.float64))
            mods.append(lin)
            act = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh,
                   "sigmoid": torch.nn.Sigmoid}.get(activation)
            if act is not None:
                mods.append(act())
        return torch.nn.Sequential(*mods)

    def _stages(self) -> list[tuple[str, list[Neuron]]]:
        """(activation, neurons) for each layer, input side first."""
        raise NotImplementedError


class Neuron(Module):
    """One neuron: net = w·x + b as a single dot node, then its activation node."""

    def __init__(self, nin: int, activation: str = "relu", *,
                 seed: int | random.Random | None = None, name: str = "N1") -> None:
        self.nin = _check_size("Neuron nin", nin)
        self.activation = _check_activation(activation)
        self.name = _check_name("Neuron", name)
        rng = _rng(seed)
        # Uniform in [−1, 1] with zero bias, micrograd's initialisation: the benchmark compares
        # the same network, and on two moons it trains more reliably than the ±1/√nin fan-in
        # scale did with the same learning rates (8 of 8 seeds at 100% against 2 of 5).
        self.w = [Value(rng.uniform(-1.0, 1.0), label=f"{name}.w{i}") for i in range(1, nin + 1)]
        self.b = Value(0.0, label=f"{name}.b")
        # Labels computed once, so a forward pass only assigns strings.
        self._net_label = f"{name}.net"
        self._out_label = f"{name}.out"

    def __call__(self, x: Sequence) -> Value:
        """The neuron's output on one example."""
        return self._forward(_inputs(self.name, x, self.nin))

    def _forward(self, x: list[Value]) -> Value:
        net = dot(self.w, x, self.b)
        net.label = self._net_label
        act = self.activation
        if act == "linear":
            # No separate node: the net input is the output.
            return net
        out = net.relu() if act == "relu" else net.tanh() if act == "tanh" else net.sigmoid()
        out.label = self._out_label
        return out

    def named_parameters(self) -> list[tuple[str, Value]]:
        return [(p.label, p) for p in (*self.w, self.b)]

    def config(self) -> dict[str, Any]:
        return {"nin": self.nin, "activation": self.activation, "name": self.name}

    def _stages(self) -> list[tuple[str, list[Neuron]]]:
        return [(self.activation, [self])]

    def __repr__(self) -> str:
        return f"Neuron({self.nin} inputs, {self.activation}, name={self.name!r})"


class Layer(Module):
    """``nout`` neurons reading the same ``nin`` inputs."""

    def __init__(self, nin: int, nout: int, activation: str = "relu", *,
                 seed: int | random.Random | None = None, name: str = "L1") -> None:
        self.nin = _check_size("Layer nin", nin)
        self.nout = _check_size("Layer nout", nout)
        self.activation = _check_activation(activation)
        self.name = _check_name("Layer", name)
        rng = _rng(seed)
        self.neurons = [Neuron(nin, activation, seed=rng, name=f"{name}.N{j}")
                        for j in range(1, nout + 1)]

    def __call__(self, x: Sequence) -> Value | list[Value]:
        """The layer's outputs on one example: a Value if it has one neuron, else a list."""
        out = self._forward(_inputs(self.name, x, self.nin))
        return out[0] if len(out) == 1 else out

    def _forward(self, x: list[Value]) -> list[Value]:
        return [n._forward(x) for n in self.neurons]

    def named_parameters(self) -> list[tuple[str, Value]]:
        return [pair for n in self.neurons for pair in n.named_parameters()]

    def config(self) -> dict[str, Any]:
        return {"nin": self.nin, "nout": self.nout, "activation": self.activation,
                "name": self.name}

    def _stages(self) -> list[tuple[str, list[Neuron]]]:
        return [(self.activation, self.neurons)]

    def __repr__(self) -> str:
        return f"Layer({self.nin} → {self.nout}, {self.activation}, name={self.name!r})"


class MLP(Module):
    """A multilayer perceptron: hidden layers use ``activation``, the last layer is linear."""

    def __init__(self, nin: int, nouts: Sequence[int], activation: str = "relu", *,
                 seed: int | random.Random | None = None) -> None:
        self.nin = _check_size("MLP nin", nin)
        self.nouts = _check_nouts(nouts)
        self.activation = _check_activation(activation)
        rng = _rng(seed)
        sizes = [nin, *self.nouts]
        last = len(self.nouts)
        self.layers = [Layer(sizes[i], sizes[i + 1], activation if i + 1 < last else "linear",
                             seed=rng, name=f"L{i + 1}") for i in range(last)]

    def __call__(self, x: Sequence) -> Value | list[Value]:
        """The network's output on one example: a Value if the last layer has one neuron."""
        h = _inputs("MLP", x, self.nin)
        for layer in self.layers:
            h = layer._forward(h)
        return h[0] if len(h) == 1 else h

    def named_parameters(self) -> list[tuple[str, Value]]:
        return [pair for layer in self.layers for pair in layer.named_parameters()]

    def config(self) -> dict[str, Any]:
        return {"nin": self.nin, "nouts": list(self.nouts), "activation": self.activation}

    def _stages(self) -> list[tuple[str, list[Neuron]]]:
        return [(layer.activation, layer.neurons) for layer in self.layers]

    def __repr__(self) -> str:
        parts = [str(self.nin)] + [f"{layer.nout} {layer.activation}" for layer in self.layers]
        return f"MLP({' → '.join(parts)}; {self.num_parameters()} parameters)"


_MODULES = {"Neuron": Neuron, "Layer": Layer, "MLP": MLP}

# load() reads at most this much. A saved parameter takes about 38 bytes, so 16 MiB holds some
# 400,000 parameters (loaded in under 2 s): far more than a scalar engine trains. The demo's MLP
# has 337, about 12 kB.
MAX_LOAD_BYTES = 16 * 2 ** 20

# load() refuses text nested deeper than this before parsing it. A saved model is 3 levels deep
# (the document, its config, an MLP's list of layer sizes); 32 leaves room for a few more
# versions of the format. The bound is far below where the parser's recursion gives out: on
# CPython that is a RecursionError, but under Pyodide it overflows the WebAssembly stack, which
# kills the interpreter instead of raising.
MAX_LOAD_DEPTH = 32

# A JSON string, escapes and all, or a bracket outside one. A string missing its closing quote
# runs to the end of the text, so each character is read once whatever the input.
_STRING_OR_BRACKET = re.compile(r'"(?:[^"\\]|\\.)*"?|[\[\]{}]', re.DOTALL)


def load(path: str | os.PathLike, *, max_bytes: int = MAX_LOAD_BYTES) -> Module:
    """Read a module written by ``Module.save``; a damaged or foreign file is a ValueError.

    Nothing is built until the number of parameters in the file fits the size its config
    declares, and reading stops at ``max_bytes``: a longer file (or an endless device) is refused.
    """
    path = os.fspath(path)
    doc = _parse(path, _read_capped(path, _check_size("load max_bytes", max_bytes)))
    cls, config, params = _header(path, doc)
    declared = _declared_count(path, cls, config)
    # Building costs time and memory in proportion to the declared size; allow only what the
    # file itself could pay for. A near miss is built, so the error can name the parameters.
    if declared > 2 * len(params) + 100:
        raise ValueError(f"load: {path}: its {cls.__name__} config declares "
                         f"{_count_text(declared)} parameters but the file holds {len(params)}")
    try:
        module = cls(**config)
    except (TypeError, ValueError) as e:  # e.g. a bad seed, which the count does not read
        raise ValueError(f"load: {path} has an invalid {cls.__name__} config: {e}") from None
    _fill(path, module, params)
    return module


def _read_capped(path: str, max_bytes: int) -> bytes:
    with open(path, "rb") as f:
        # Ask for one byte more than allowed: that tells "exactly at the cap" from "over it"
        # without trusting st_size, which devices and pipes do not report.
        raw = f.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise ValueError(f"load: {path} is larger than {max_bytes} bytes, more than any saved "
                         f"model this nn reads; pass max_bytes= to raise the cap")
    return raw


def _parse(path: str, raw: bytes) -> Any:
    try:
        text = raw.decode("utf-8")
        _check_depth(path, text)
        return json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"load: {path} is not valid JSON (truncated or not a saved model?): "
                         f"{e}") from None
    except ValueError as e:
        # Python refuses to parse integers of more than 4300 digits.
        raise ValueError(f"load: {path} holds a number too long to read: {e}") from None


def _check_depth(path: str, text: str) -> None:
    """Refuse text nested more than MAX_LOAD_DEPTH levels of [ and {, counted in one pass."""
    depth = 0
    for token in _STRING_OR_BRACKET.finditer(text):
        c = token[0]
        if c == "[" or c == "{":
            depth += 1
            if depth > MAX_LOAD_DEPTH:
                raise ValueError(f"load: {path} is nested too deeply to be a saved model: more "
                                 f"than {MAX_LOAD_DEPTH} levels of [ and {{")
        elif c == "]" or c == "}":
            # One bracket too many ends the text's first value (or is a syntax error); the
            # parser stops there, so a count below zero never hides nesting it would read.
            depth -= 1


def _header(path: str, doc: Any) -> tuple[type[Module], dict, dict]:
    """The module class, its config and its parameters, each checked for type."""
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ValueError(f"load: {path} is not a saved nn module (no \"format\": {FORMAT!r})")
    version = doc.get("version")
    if version != FORMAT_VERSION or isinstance(version, bool):
        raise ValueError(f"load: {path} has format version {reprlib.repr(version)}; "
                         f"this nn reads version {FORMAT_VERSION}")
    name = doc.get("module")
    cls = _MODULES.get(name) if isinstance(name, str) else None
    if cls is None:
        raise ValueError(f"load: {path} holds an unknown module type {reprlib.repr(name)}")
    config, params = doc.get("config"), doc.get("parameters")
    if not isinstance(config, dict) or not isinstance(params, dict):
        raise ValueError(f"load: {path} lacks a \"config\" or \"parameters\" object")
    return cls, config, params


def _declared_count(path: str, cls: type[Module], config: dict) -> int:
    """How many parameters ``cls(**config)`` would have, found without building it."""
    try:
        # The constructor's own signature decides which keys a config may have.
        args = inspect.signature(cls).bind(**config).arguments
        if cls is MLP:
            return _mlp_count(args)
        nin = _check_size(f"{cls.__name__} nin", args["nin"])
        nout = _check_size("Layer nout", args["nout"]) if cls is Layer else 1
        _check_activation(args.get("activation", "relu"))
        _check_name(cls.__name__, args.get("name", "N1"))
        return nout * (nin + 1)
    except (TypeError, ValueError) as e:
        raise ValueError(f"load: {path} has an invalid {cls.__name__} config "
                         f"{reprlib.repr(config)}: {e}") from None


def _mlp_count(args: dict) -> int:
    sizes = [_check_size("MLP nin", args["nin"]), *_check_nouts(args["nouts"])]
    _check_activation(args.get("activation", "relu"))
    return sum(b * (a + 1) for a, b in zip(sizes, sizes[1:]))


def _count_text(n: int) -> str:
    # Declared sizes can be thousands of digits long; no use printing them.
    return f"{n:,}" if n < 10 ** 15 else "more than 10^15"


def _fill(path: str, module: Module, params: dict) -> None:
    """Copy the file's numbers into the module's parameters, names and values checked."""
    named = module.named_parameters()
    expected = {name for name, _ in named}
    if set(params) != expected:
        missing = sorted(expected - set(params))
        extra = sorted(set(params) - expected)
        raise ValueError(f"load: {path} parameters do not match the architecture "
                         f"(missing {missing[:5]}, unexpected {extra[:5]})")
    for name, p in named:
        p.data = _finite(path, name, params[name])


def _finite(path: str, name: str, v: Any) -> float:
    try:
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
            return float(v)
    except OverflowError:
        pass  # an integer too large for a float
    raise ValueError(f"load: {path} parameter {name} is not a finite number: "
                     f"{reprlib.repr(v)}")
