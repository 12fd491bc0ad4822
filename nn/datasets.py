"""Small data sets: 2-D classification sets generated here (``(X, y)``, X rows [x1, x2], y
0/1), scikit-learn's handwritten digits (an optional extra), and a train/test split."""
from __future__ import annotations

import math
import numbers
import random


def _check(name: str, n_samples: int, noise: float) -> None:
    if not isinstance(n_samples, int) or isinstance(n_samples, bool) or n_samples < 2:
        raise ValueError(f"{name}: n_samples must be an int ≥ 2, got {n_samples!r}")
    _real(name, "noise", noise)
    if not noise >= 0:
        raise ValueError(f"{name}: noise must be ≥ 0, got {noise!r}")


def _real(name: str, what: str, value) -> None:
    """A finite real number: inf or nan would make every point inf or nan."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: {what} must be a number, got {type(value).__name__} {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name}: {what} must be finite, got {value!r}")


def _finish(points: list[tuple[float, float, int]], noise: float,
            rng: random.Random) -> tuple[list[list[float]], list[int]]:
    # Shuffle first, then add Gaussian noise, so the class order gives nothing away.
    rng.shuffle(points)
    X = [[a + rng.gauss(0.0, noise), b + rng.gauss(0.0, noise)] if noise else [a, b]
         for a, b, _ in points]
    return X, [c for _, _, c in points]


def _linspace(start: float, stop: float, n: int, endpoint: bool = True) -> list[float]:
    if n == 1:
        return [start]
    step = (stop - start) / (n - 1 if endpoint else n)
    return [start + i * step for i in range(n)]


def make_moons(n_samples: int = 100, noise: float = 0.1,
               seed: int | None = None) -> tuple[list[list[float]], list[int]]:
    """Two interleaving half circles (scikit-learn's layout): upper moon 0, lower moon 1."""
    _check("make_moons", n_samples, noise)
    rng = random.Random(seed)
    n_out = n_samples // 2
    n_in = n_samples - n_out
    pts = [(math.cos(t), math.sin(t), 0) for t in _linspace(0.0, math.pi, n_out)]
    pts += [(1.0 - math.cos(t), 0.5 - math.sin(t), 1) for t in _linspace(0.0, math.pi, n_in)]
    return _finish(pts, noise, rng)


def make_circles(n_samples: int = 100, noise: float = 0.05, seed: int | None = None,
                 factor: float = 0.5) -> tuple[list[list[float]], list[int]]:
    """A circle of radius 1 (class 0) around one of radius ``factor`` (class 1)."""
    _check("make_circles", n_samples, noise)
    if not 0.0 < factor < 1.0:
        raise ValueError(f"make_circles: factor must lie in (0, 1), got {factor!r}")
    rng = random.Random(seed)
    n_out = n_samples // 2
    n_in = n_samples - n_out
    pts = [(math.cos(t), math.sin(t), 0)
           for t in _linspace(0.0, 2 * math.pi, n_out, endpoint=False)]
    pts += [(factor * math.cos(t), factor * math.sin(t), 1)
            for t in _linspace(0.0, 2 * math.pi, n_in, endpoint=False)]
    return _finish(pts, noise, rng)


def make_spiral(n_samples: int = 100, noise: float = 0.1, seed: int | None = None,
                turns: float = 1.0) -> tuple[list[list[float]], list[int]]:
    """Two interleaved spiral arms, one per class, each winding ``turns`` times out to radius 1."""
    _check("make_spiral", n_samples, noise)
    _real("make_spiral", "turns", turns)
    rng = random.Random(seed)
    pts = []
    for cls, n in ((0, n_samples // 2), (1, n_samples - n_samples // 2)):
        for r in _linspace(0.1, 1.0, n):
            # The angle grows with the radius; class 1 is class 0 turned half a revolution.
            t = 2 * math.pi * turns * r + math.pi * cls
            pts.append((r * math.cos(t), r * math.sin(t), cls))
    return _finish(pts, noise, rng)


def xor(n_samples: int = 100, noise: float = 0.1,
        seed: int | None = None) -> tuple[list[list[float]], list[int]]:
    """Points around the four corners (±1, ±1); label 1 where the signs of x1 and x2 differ."""
    _check("xor", n_samples, noise)
    rng = random.Random(seed)
    corners = [(-1.0, -1.0, 0), (1.0, 1.0, 0), (-1.0, 1.0, 1), (1.0, -1.0, 1)]
    pts = [corners[i % 4] for i in range(n_samples)]
    return _finish(pts, noise, rng)


def load_digits() -> tuple[list[list[float]], list[int]]:
    """scikit-learn's 1,797 handwritten digits, 8×8 pixels (shipped inside its package, no
    download): X rows of 64 pixel values scaled from 0–16 to [0, 1], y the digit 0–9."""
    try:
        from sklearn.datasets import load_digits as load
    except ImportError:
        # scikit-learn is an optional extra: the rest of this module needs nothing.
        raise ImportError("load_digits needs scikit-learn; install it with "
                          "pip install 'autograd-scalar[digits]'") from None
    data = load()
    X = [[float(v) / 16.0 for v in row] for row in data.data.tolist()]
    return X, [int(t) for t in data.target.tolist()]


def split(X: list, y: list, test_fraction: float = 0.25,
          seed: int | None = None) -> tuple[list, list, list, list]:
    """Shuffle the examples and split them: (X_train, y_train, X_test, y_test)."""
    if len(X) != len(y):
        raise ValueError(f"split: {len(X)} examples but {len(y)} labels")
    _real("split", "test_fraction", test_fraction)
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"split: test_fraction must lie in (0, 1), got {test_fraction!r}")
    order = list(range(len(X)))
    random.Random(seed).shuffle(order)
    n_test = round(len(X) * test_fraction)
    test, train = order[:n_test], order[n_test:]
    return ([X[i] for i in train], [y[i] for i in train], [X[i] for i in test],
            [y[i] for i in test])
