"""The playground's data sets, placed on one plane: points with an id, a class and a split."""
from __future__ import annotations

import math
import random
from dataclasses import dataclass

from nn import datasets

EXTENT = 1.6
"""The plane shows x1 and x2 in [−EXTENT, EXTENT]."""

# (generator, shift, scale): each set is moved and scaled to fill most of the plane.
_PLACES = {
    "moons": ((-0.5, -0.25), 1.0),
    "circles": ((0.0, 0.0), 1.3),
    "spiral": ((0.0, 0.0), 1.4),
    "xor": ((0.0, 0.0), 0.8),
    "spiral3": ((0.0, 0.0), 1.4),
}
DATASETS = tuple(_PLACES)


@dataclass
class Point:
    id: int
    x: float
    y: float
    label: int
    test: bool

    def as_json(self) -> dict:
        return {"id": self.id, "x": self.x, "y": self.y, "label": self.label, "test": self.test}


def spiral3(n_samples: int = 100, noise: float = 0.1,
            seed: int | None = None) -> tuple[list[list[float]], list[int]]:
    """Three interleaved spiral arms, one per class (labels 0, 1, 2), out to radius 1."""
    if not isinstance(n_samples, int) or n_samples < 3:
        raise ValueError(f"spiral3: n_samples must be an int ≥ 3, got {n_samples!r}")
    rng = random.Random(seed)
    pts = []
    for cls in range(3):
        n = n_samples // 3 + (cls < n_samples % 3)
        for k in range(n):
            r = 0.1 + 0.9 * k / max(n - 1, 1)
            t = 1.75 * math.pi * r + 2 * math.pi * cls / 3  # each arm a third of a turn apart
            pts.append((r * math.cos(t), r * math.sin(t), cls))
    rng.shuffle(pts)
    X = [[a + rng.gauss(0.0, noise), b + rng.gauss(0.0, noise)] for a, b, _ in pts]
    return X, [c for *_, c in pts]


def n_classes(name: str) -> int:
    return 3 if name == "spiral3" else 2


def generate(name: str, n: int, noise: float, test_fraction: float, seed: int) -> list[Point]:
    """``n`` points of data set ``name``; the last ``test_fraction`` of them (shuffled) are test."""
    make = {"moons": datasets.make_moons, "circles": datasets.make_circles,
            "spiral": datasets.make_spiral, "xor": datasets.xor, "spiral3": spiral3}[name]
    X, y = make(n_samples=n, noise=noise, seed=seed)
    (dx, dy), s = _PLACES[name]
    n_test = round(n * test_fraction)
    return [Point(i, _clip((a + dx) * s), _clip((b + dy) * s), int(c), i >= n - n_test)
            for i, ((a, b), c) in enumerate(zip(X, y))]


def _clip(v: float) -> float:
    # Noise can throw a point off the plane; keep it on the edge, where it can be seen and removed.
    return max(-EXTENT, min(EXTENT, v))
