"""``subspace_dim=k`` of BHEP and Henze-Zirkler: k-frames, k = 1 (sliced), k = D (the statistic)."""

from __future__ import annotations

import importlib.util
import math

import numpy as np
import pytest

import sigreg
from sigreg._statistics import bhep as bhep_module
from sigreg.stats import bhep, henze_zirkler

from .. import support
from ..oracle import numerical_grad

N, D = 30, 5


def _data(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((N, D)) * rng.uniform(0.4, 2.0, D) + rng.uniform(-0.5, 0.5, D)
    return z + 0.2 * z**2


def bhep_oracle(y: np.ndarray, beta: float, standardize: bool) -> float:
    """BHEP of y (N, k) in float64 with the full N x N distance matrix (Henze and Zirkler 1990)."""
    n, d = y.shape
    if standardize:
        x = y - y.mean(axis=0)
        s = np.cov(x, rowvar=False, bias=True).reshape(d, d)
        w = np.linalg.cholesky(np.linalg.inv(s))
        y = x @ w  # |y_j - y_k|^2 is the Mahalanobis distance
    b2 = beta**2
    pairs = np.sum(np.exp(-b2 / 2 * np.sum((y[:, None] - y[None]) ** 2, axis=-1)))
    single = np.sum(np.exp(-b2 / (2 * (1 + b2)) * np.sum(y**2, axis=-1)))
    return pairs / n - 2 * (1 + b2) ** (-d / 2) * single + n * (1 + 2 * b2) ** (-d / 2)


def hz_beta(n: int, d: int) -> float:
    return ((2 * d + 1) / 4) ** (1 / (d + 4)) * n ** (1 / (d + 4)) / math.sqrt(2)


def oracle_frames(k: int, count: int, seed: int) -> list[np.ndarray]:
    """Frames as the docs define them: whole k-column groups of orthogonal D x D blocks."""
    per_block = D // k
    blocks = -(-count // per_block)
    a = np.asarray(sigreg.directions(D, blocks * D, seed=seed, kind="orthogonal"), dtype=np.float64)
    out = [a[:, b * D + j * k : b * D + (j + 1) * k] for b in range(blocks) for j in range(per_block)]
    return out[:count]


def subspace_oracle(z, k, count, seed, beta=1.0, standardize=False, henze=False):
    values = [
        bhep_oracle(z @ f, hz_beta(z.shape[0], k) if henze else beta, standardize)
        for f in oracle_frames(k, count, seed)
    ]
    return float(np.mean(values))


def test_frames_are_orthonormal():
    for k in (1, 2, 5):
        for f in oracle_frames(k, 7, seed=4):
            np.testing.assert_allclose(f.T @ f, np.eye(k), atol=1e-12)


def test_full_dimension_one_frame_is_the_statistic(xp):
    z = _data()
    for dtype in support.float_dtypes(xp)[-1:]:  # the widest: float32 is covered by the oracle test
        zx = support.asarray(xp, z, dtype)
        rtol = 1e-10 if dtype == xp.float64 else 1e-4
        cases = [(henze_zirkler, {})]  # whitened, Henze-Zirkler's beta(N, k): every piece
        if xp.__name__ == "array_api_compat.numpy":  # the other options on one backend: CI time
            cases += [
                (bhep, {"beta": 0.7}),
                (bhep, {"standardize": True}),
                (henze_zirkler, {"standardize": False}),
            ]
        for function, options in cases:
            whole = support.to_numpy(function(zx, **options))
            framed = function(zx, subspace_dim=D, num_subspaces=1, seed=3, **options)
            support.xp_assert_close(framed, whole, xp=xp, rtol=rtol, dtype=dtype)


def test_one_dimension_is_the_sliced_form():
    """k = 1, beta = 1: BHEP of a line is the exact Epps-Pulley statistic over sqrt(2 pi)."""
    z = _data(seed=1)
    count = 8
    a = np.concatenate(oracle_frames(1, count, seed=2), axis=1)
    sliced = sigreg.sigreg(z, directions=a, statistic="epps_pulley", integration="exact")
    value = bhep(z, subspace_dim=1, num_subspaces=count, seed=2)
    assert float(value) == pytest.approx(float(sliced) / math.sqrt(2 * math.pi), rel=1e-12)


@pytest.mark.parametrize(
    ("k", "standardize", "henze"), [(2, False, False), (3, True, False), (2, True, True)]
)
def test_value_matches_the_float64_oracle(xp, k, standardize, henze):
    z = _data(seed=2)
    zx = support.asarray(xp, z)
    if henze:
        value = henze_zirkler(zx, subspace_dim=k, num_subspaces=5, seed=1, standardize=standardize)
    else:
        value = bhep(zx, beta=0.8, subspace_dim=k, num_subspaces=5, seed=1, standardize=standardize)
    expected = subspace_oracle(z, k, 5, 1, beta=0.8, standardize=standardize, henze=henze)
    rtol = 1e-10 if support.has_float64(xp) else 2e-4
    support.xp_assert_close(value, expected, xp=xp, rtol=rtol)


def test_batch_axes_and_blocked_memory(monkeypatch):
    z = np.stack([_data(seed=3), _data(seed=4)])
    whole = bhep(z, subspace_dim=2, num_subspaces=3, seed=5)
    assert whole.shape == (2,)
    for b in range(2):
        assert float(whole[b]) == pytest.approx(subspace_oracle(z[b], 2, 3, 5), rel=1e-12)
    monkeypatch.setattr(bhep_module, "BLOCK_ELEMENTS", 4 * N)  # blocks of 4 rows
    np.testing.assert_allclose(bhep(z, subspace_dim=2, num_subspaces=3, seed=5), whole, rtol=1e-12)


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch is not installed")
@pytest.mark.parametrize("standardize", [False, True])
def test_gradient_matches_finite_differences(standardize):
    import torch

    z = _data(seed=6)
    zt = torch.tensor(z, requires_grad=True)
    henze_zirkler(zt, subspace_dim=2, num_subspaces=3, seed=7, standardize=standardize).backward()
    fd = numerical_grad(lambda x: subspace_oracle(x, 2, 3, 7, standardize=standardize, henze=True), z)
    np.testing.assert_allclose(zt.grad.numpy(), fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"subspace_dim": 0}, ValueError, "subspace_dim"),
        ({"subspace_dim": D + 1}, ValueError, "subspace_dim must be at most the dimension D=5"),
        ({"subspace_dim": 1.5}, TypeError, "subspace_dim"),
        ({"subspace_dim": 2, "num_subspaces": 0}, ValueError, "num_subspaces"),
        ({"subspace_dim": 2, "seed": -1}, ValueError, "seed"),
        # The frames are drawn from one 32-bit counter: the message names the caller's arguments.
        (
            {"subspace_dim": 1, "num_subspaces": 10**9},
            ValueError,
            r"num_subspaces must be at most 429496725 for subspace_dim=1 in D=5 .*got 1000000000",
        ),
    ],
)
def test_bad_input_names_the_argument(options, error, match):
    for function in (bhep, henze_zirkler):
        with pytest.raises(error, match=match):
            function(_data(), **options)


def test_standardizing_needs_more_samples_than_the_subspace_dimension():
    z = _data()[:3]
    with pytest.raises(ValueError, match=r"more samples than subspace_dim.*got N=3, subspace_dim=3"):
        henze_zirkler(z, subspace_dim=3, num_subspaces=2)
    with pytest.raises(ValueError, match=r"more samples than dimensions.*got N=3, D=5"):
        henze_zirkler(z)
    assert np.isfinite(float(henze_zirkler(z, subspace_dim=2, num_subspaces=2)))  # N = 3 > k = 2
