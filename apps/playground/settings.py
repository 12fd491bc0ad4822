"""The playground's settings and the checks that refuse bad ones with a readable message."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace

from .data import DATASETS, n_classes

ACTIVATIONS = ("relu", "tanh", "sigmoid")
LOSSES = ("cross-entropy", "hinge", "squared")
OPTIMIZERS = ("sgd", "adam")
MAX_LAYERS = 6
MAX_NEURONS = 8
SPEEDS = (1.0, 1000.0)
"""The slowest and fastest paced speed, in steps per second; no pace (None) is full speed."""


class CommandError(ValueError):
    """A command or setting the playground refuses; the message is shown on the page."""


def shown(v, limit: int = 40) -> str:
    """``repr(v)`` for an error message, cut to ``limit`` characters (a message is one line)."""
    text = repr(v)
    return text if len(text) <= limit else text[:limit] + "…"


def real(v) -> bool:
    """Whether ``v`` is a finite int or float; bools are not numbers here."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return False
    # An int of any size is finite; math.isfinite would overflow converting a huge one.
    return isinstance(v, int) or math.isfinite(v)


@dataclass(frozen=True)
class Settings:
    dataset: str = "moons"
    points: int = 200
    noise: float = 0.1
    test_fraction: float = 0.5
    hidden: tuple[int, ...] = (8, 8)
    activation: str = "tanh"
    loss: str = "cross-entropy"
    optimizer: str = "sgd"
    lr: float = 0.1
    l2: float = 0.0
    batch: int = 10_000  # larger than the training set means full batch
    seed: int = 1
    data_seed: int = 1
    speed: float | None = None  # steps per second while playing; None: as fast as it goes

    def as_json(self) -> dict:
        d = asdict(self)
        d["hidden"] = list(self.hidden)
        return d

    @property
    def classes(self) -> int:
        return n_classes(self.dataset)


def _number(name: str, v, lo: float, hi: float, *, lo_open: bool = False) -> float:
    if not real(v):
        raise CommandError(f"{name} must be a finite number, got {shown(v)}")
    if v < lo or v > hi or (lo_open and v == lo):
        low = f"greater than {lo:g}" if lo_open else f"at least {lo:g}"
        raise CommandError(f"{name} must be {low} and at most {hi:g}, got {shown(v)}")
    return float(v)


def _integer(name: str, v, lo: int, hi: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise CommandError(f"{name} must be a whole number, got {shown(v)}")
    if not lo <= v <= hi:
        raise CommandError(f"{name} must be between {lo} and {hi}, got {shown(v)}")
    return v


def _choice(name: str, v, options: tuple[str, ...]) -> str:
    if v not in options:
        raise CommandError(f"{name} must be one of {', '.join(options)}, got {shown(v)}")
    return v


def _hidden(v) -> tuple[int, ...]:
    if not isinstance(v, list) or len(v) > MAX_LAYERS:
        raise CommandError(f"hidden must be a list of at most {MAX_LAYERS} layer sizes, "
                           f"got {shown(v)}")
    return tuple(_integer(f"hidden layer {i + 1} size", n, 1, MAX_NEURONS)
                 for i, n in enumerate(v))


def _speed(v) -> float | None:
    if v is None:
        return None
    if not real(v) or not SPEEDS[0] <= v <= SPEEDS[1]:
        raise CommandError(f"speed must be a number of steps per second from {SPEEDS[0]:g} to "
                           f"{SPEEDS[1]:g}, or null for full speed, got {shown(v)}")
    return float(v)


_CHECKS = {
    "dataset": lambda v: _choice("dataset", v, DATASETS),
    "points": lambda v: _integer("points", v, 10, 1000),
    "noise": lambda v: _number("noise", v, 0.0, 0.5),
    "test_fraction": lambda v: _number("test fraction", v, 0.0, 0.9),
    "hidden": _hidden,
    "activation": lambda v: _choice("activation", v, ACTIVATIONS),
    "loss": lambda v: _choice("loss", v, LOSSES),
    "optimizer": lambda v: _choice("optimizer", v, OPTIMIZERS),
    "lr": lambda v: _number("learning rate", v, 0.0, 10.0, lo_open=True),
    "l2": lambda v: _number("L2", v, 0.0, 1.0),
    "batch": lambda v: _integer("batch size", v, 1, 10_000),
    "seed": lambda v: _integer("seed", v, 0, 2**31 - 1),
    "data_seed": lambda v: _integer("data seed", v, 0, 2**31 - 1),
    "speed": _speed,
}


def updated(old: Settings, changes) -> Settings:
    """``old`` with ``changes`` applied, every changed value checked; unknown names refused."""
    if not isinstance(changes, dict):
        raise CommandError(f"settings must be an object of name: value, got {shown(changes)}")
    known = {f.name for f in fields(Settings)}
    unknown = sorted(set(map(str, changes)) - known)
    if unknown:
        raise CommandError(f"unknown setting {unknown[0]!r}; known: {', '.join(sorted(known))}")
    new = replace(old, **{k: _CHECKS[k](v) for k, v in changes.items()})
    if new.classes == 3 and new.loss != "cross-entropy":
        raise CommandError(f"the {new.loss} loss needs two classes; the 3-class spiral "
                           "trains with cross-entropy (softmax)")
    return new
