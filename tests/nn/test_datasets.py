"""Data sets: shapes, labels, determinism, and the geometry each generator promises."""
import math

import pytest
from hypothesis import given, settings, strategies as st

from nn import datasets

GENERATORS = [datasets.make_moons, datasets.make_circles, datasets.make_spiral, datasets.xor]


@pytest.mark.parametrize("make", GENERATORS)
@given(n=st.integers(2, 300), noise=st.floats(0.0, 0.5), seed=st.integers(0, 2**32))
@settings(max_examples=25, deadline=None)
def test_shapes_and_labels(make, n, noise, seed):
    X, y = make(n_samples=n, noise=noise, seed=seed)
    assert len(X) == len(y) == n
    assert all(len(row) == 2 and all(isinstance(v, float) for v in row) for row in X)
    assert set(y) <= {0, 1} and all(type(t) is int for t in y)
    # Classes are balanced to within one point.
    assert abs(sum(y) - (n - sum(y))) <= (2 if make is datasets.xor else 1)


@pytest.mark.parametrize("make", GENERATORS)
def test_seed_reproduces_and_differs(make):
    assert make(50, 0.1, seed=3) == make(50, 0.1, seed=3)
    assert make(50, 0.1, seed=3) != make(50, 0.1, seed=4)


def test_moons_geometry_without_noise():
    X, y = datasets.make_moons(n_samples=101, noise=0.0, seed=0)
    for (a, b), t in zip(X, y):
        if t == 0:   # upper half of the unit circle about the origin
            assert math.hypot(a, b) == pytest.approx(1.0) and b >= -1e-12
        else:        # lower half of the unit circle about (1, 0.5)
            assert math.hypot(a - 1, b - 0.5) == pytest.approx(1.0) and b <= 0.5 + 1e-12
    assert sum(y) == 51  # scikit-learn gives the odd point to the inner moon


def test_circles_geometry_without_noise():
    X, y = datasets.make_circles(n_samples=40, noise=0.0, seed=0, factor=0.3)
    for (a, b), t in zip(X, y):
        assert math.hypot(a, b) == pytest.approx(1.0 if t == 0 else 0.3)


def test_spiral_arms_are_point_reflections():
    X, y = datasets.make_spiral(n_samples=60, noise=0.0, seed=0)
    arm0 = sorted((round(a, 9), round(b, 9)) for (a, b), t in zip(X, y) if t == 0)
    arm1 = sorted((round(-a, 9) + 0.0, round(-b, 9) + 0.0) for (a, b), t in zip(X, y) if t == 1)
    assert arm0 == arm1
    radii = [math.hypot(a, b) for a, b in X]
    assert min(radii) == pytest.approx(0.1) and max(radii) == pytest.approx(1.0)


def test_xor_labels_follow_signs():
    X, y = datasets.xor(n_samples=80, noise=0.0, seed=0)
    for (a, b), t in zip(X, y):
        assert t == int((a > 0) != (b > 0))


def test_noise_moves_points_by_about_its_size():
    clean, _ = datasets.make_moons(400, 0.0, seed=9)
    noisy, _ = datasets.make_moons(400, 0.2, seed=9)
    # Same seed, same shuffle: the noise is the difference, Gaussian with σ = 0.2 per axis.
    d = [n - c for rn, rc in zip(noisy, clean) for n, c in zip(rn, rc)]
    sd = math.sqrt(sum(v * v for v in d) / len(d))
    assert 0.17 < sd < 0.23


@pytest.mark.parametrize("make", GENERATORS)
def test_bad_arguments(make):
    with pytest.raises(ValueError):
        make(n_samples=1)
    with pytest.raises(ValueError):
        make(n_samples=10, noise=-0.1)


@pytest.mark.parametrize("make", GENERATORS)
def test_non_finite_noise_is_refused(make):
    for noise in (math.inf, math.nan):
        with pytest.raises(ValueError, match=f"{make.__name__}: noise .*{noise}"):
            make(n_samples=10, noise=noise)
    with pytest.raises(TypeError, match=f"{make.__name__}: noise"):
        make(n_samples=10, noise="0.1")


def test_spiral_turns_must_be_finite():
    with pytest.raises(ValueError, match="make_spiral: turns .*inf"):
        datasets.make_spiral(n_samples=10, turns=math.inf)
