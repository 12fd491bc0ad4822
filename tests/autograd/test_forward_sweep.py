"""Forward mode swept over every entry of the op table, against torch.func float64.

The PyTorch counterpart of each op and the sample points come from the reverse-mode sweep
(test_ops_sweep), so a new op in the table is checked in both modes once it has an oracle there.
Forward mode reads each op's ``partials``: a partial that is off by a little must fail here,
which the perturbation test shows for every input of every op.
"""
from __future__ import annotations
import dataclasses
import random

import pytest

import autograd
from autograd.extend import OPS
from oracle import TORCH
from programs import cases, sample_points
from oracle import torch



def tangents(name: str, n: int, k: int) -> list[float]:
    rng = random.Random(f"tangent/{name}/{n}/{k}")
    return [rng.choice((-1, 1)) * rng.uniform(0.5, 1.5) for _ in range(n)]


def by_name(name: str):
    # Look the entry up at call time, so a monkeypatched entry is the one that runs.
    return lambda *xs: autograd.extend.apply(OPS[name], xs)


def check_jvp(name: str, n: int) -> None:
    """jvp of the op at each sample point, along a random tangent, equals torch.func.jvp."""
    for k, xs in enumerate(sample_points(OPS[name], n)):
        v = tangents(name, n, k)
        value, tangent = autograd.jvp(by_name(name), xs, v)
        tvalue, ttangent = torch.func.jvp(TORCH[name], tuple(map(torch.tensor, xs)),
                                          tuple(map(torch.tensor, v)))
        assert value == pytest.approx(tvalue.item(), rel=1e-9, abs=1e-12), (name, xs)
        assert tangent == pytest.approx(ttangent.item(), rel=1e-9, abs=1e-12), (name, xs, v)


@pytest.mark.parametrize("name,n", list(cases()))
def test_jvp_matches_torch_func(name, n):
    check_jvp(name, n)


@pytest.mark.parametrize("name,n", list(cases()))
def test_jvp_matches_finite_differences(name, n):
    op, h = OPS[name], 1e-6
    for k, xs in enumerate(sample_points(op, n)):
        v = tangents(name, n, k)
        _, tangent = autograd.jvp(by_name(name), xs, v)
        up = op.forward(*[x + h * d for x, d in zip(xs, v)])
        down = op.forward(*[x - h * d for x, d in zip(xs, v)])
        # Central differences in float64 at h = 1e-6 are good to about 1e-8 here, no better.
        assert tangent == pytest.approx((up - down) / (2 * h), rel=1e-6, abs=1e-8), (name, xs)


@pytest.mark.parametrize("name,n", list(cases()))
def test_hessian_matches_torch_func(name, n):
    for xs in sample_points(OPS[name], n, count=3):
        ours = autograd.hessian(by_name(name))(*xs)
        theirs = torch.func.hessian(lambda x: TORCH[name](*x.unbind()))(torch.tensor(xs))
        for row, expected in zip(ours, theirs.tolist()):
            assert row == pytest.approx(expected, rel=1e-9, abs=1e-12), (name, xs)


def perturbed(partials, i: int):
    """The same partials with the one for input ``i`` nudged by about a millionth."""
    def nudged(*args, **g):
        local = list(partials(*args, **g))
        local[i] = local[i] + 1e-6 * (1 + abs(local[i]))
        return tuple(local)
    return nudged


@pytest.mark.parametrize("name,n", list(cases()))
def test_a_perturbed_partial_fails_the_sweep(name, n, monkeypatch):
    op = OPS[name]
    for i in range(n):
        with monkeypatch.context() as patch:
            patch.setitem(OPS, name, dataclasses.replace(op, partials=perturbed(op.partials, i)))
            # the nodes carry the nudged op
            assert autograd.extend.apply(OPS[name], [0.5] * n).operation is OPS[name]
            with pytest.raises(AssertionError):
                check_jvp(name, n)
    check_jvp(name, n)  # and the real entry passes again
