"""Small 2-D classification data sets, generated here: ``(X, y)`` with X rows [x1, x2], y 0/1."""
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
