"""Bad input raises a clear exception before any work; inputs are never modified."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

import sigreg

from .support import asarray, to_numpy

Z = np.random.default_rng(0).standard_normal((10, 4))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(num_slices=0), ValueError, "num_slices must be >= 1"),
        (dict(num_slices=2.0), TypeError, "num_slices must be an integer"),
        (dict(num_slices=True), TypeError, "num_slices must be an integer"),
        (dict(num_points=1), ValueError, "num_points must be >= 2"),
        (dict(t_max=0.0), ValueError, "t_max must be positive and finite"),
        (dict(t_max=-1.0), ValueError, "t_max must be positive and finite"),
        (dict(t_max=float("inf")), ValueError, "t_max must be positive and finite"),
        (dict(t_max=float("nan")), ValueError, "t_max must be positive and finite"),
        (dict(t_max="3"), TypeError, "t_max must be a real number"),
        (dict(integration="simpsons"), ValueError, "integration must be one of"),
        (
            dict(integration="simpson", num_points=16),
            ValueError,
            "num_points must be odd for integration='simpson'",
        ),
        (dict(integration="gauss_hermite", num_points=129), ValueError, "num_points must be <= 128"),
        (dict(reduction="max"), ValueError, "reduction must be one of"),
        (dict(seed=-3), ValueError, "seed must be in"),
        (dict(seed="0"), TypeError, "seed must be"),
        (dict(all_reduce=3), TypeError, "all_reduce must be a callable"),
        (dict(integration="exact", all_reduce=lambda x: x), ValueError, "all_reduce needs a statistic"),
    ],
)
def test_bad_options(xp, kwargs, error, match):
    with pytest.raises(error, match=match):
        sigreg.sigreg(asarray(xp, Z), **kwargs)
    with pytest.raises(error, match=match):
        sigreg.value_and_grad(asarray(xp, Z), **kwargs)


@pytest.mark.parametrize(
    ("shape", "match"),
    [
        ((5,), "at least 2 dimensions"),
        ((0, 4), "at least one sample"),
        ((5, 0), "at least one sample"),
        ((0, 5, 4), "non-empty batch axes"),
    ],
)
def test_bad_shapes(xp, shape, match):
    with pytest.raises(ValueError, match=match):
        sigreg.sigreg(xp.zeros(shape))


def test_non_floating_dtypes(xp):
    for dtype in (xp.int32, xp.bool):
        with pytest.raises(TypeError, match="z must have a real floating-point dtype"):
            sigreg.sigreg(xp.zeros((4, 3), dtype=dtype))
    with pytest.raises(TypeError, match="z must have a real floating-point dtype"):
        sigreg.sigreg(xp.zeros((4, 3), dtype=xp.complex64))
    with pytest.raises(TypeError, match="x must have a real floating-point dtype"):
        sigreg.epps_pulley(xp.zeros((4,), dtype=xp.int32))


@pytest.mark.parametrize("bad", [[[1.0, 2.0], [3.0, 4.0]], 3.0, "z", None])
def test_non_arrays(bad):
    with pytest.raises(TypeError, match="z must be an array"):
        sigreg.sigreg(bad)
    with pytest.raises(TypeError, match="x must be an array"):
        sigreg.epps_pulley(bad)
    with pytest.raises(TypeError, match="views must be an array"):
        sigreg.lejepa_loss(bad)


def test_directions_argument(xp):
    z = asarray(xp, Z)
    with pytest.raises(ValueError, match=r"directions must have shape \(D, K\) = \(4, K\)"):
        sigreg.sigreg(z, directions=xp.ones((3, 5)))
    with pytest.raises(ValueError, match="directions must have shape"):
        sigreg.sigreg(z, directions=xp.ones((4,)))
    with pytest.raises(ValueError, match="directions must have shape"):
        sigreg.sigreg(z, directions=xp.ones((4, 0)))
    with pytest.raises(TypeError, match="directions must have a real floating-point dtype"):
        sigreg.sigreg(z, directions=xp.ones((4, 2), dtype=xp.int32))
    with pytest.raises(TypeError, match="directions must be an array"):
        sigreg.sigreg(z, directions=[[1.0]] * 4)


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch is not installed")
def test_mixed_libraries():
    import torch

    with pytest.raises(TypeError, match="z and directions must come from the same array library"):
        sigreg.sigreg(torch.zeros(5, 3), directions=np.ones((3, 2)))
    strict = pytest.importorskip("array_api_strict")
    with pytest.raises(TypeError, match="seed must be a Python int or an array of the same library"):
        sigreg.sigreg(torch.zeros(5, 3), seed=strict.asarray(1))


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch is not installed")
def test_mismatched_devices():
    import torch

    z = torch.zeros(5, 3, device="meta")
    with pytest.raises(ValueError, match="z and directions must be on the same device"):
        sigreg.sigreg(z, directions=torch.ones(3, 2))


def test_lejepa_loss_arguments(xp):
    views = xp.ones((2, 5, 3))
    for lam in (-0.1, 1.5):
        with pytest.raises(ValueError, match=r"lam must lie in \[0, 1\]"):
            sigreg.lejepa_loss(views, lam=lam)
    with pytest.raises(ValueError, match=r"views must have shape \(V, N, D\)"):
        sigreg.lejepa_loss(xp.ones((5, 3)))
    with pytest.raises(ValueError, match="reduction must be 'mean' or 'sum'"):
        sigreg.lejepa_loss(views, reduction="none")
    with pytest.raises(TypeError, match="unexpected keyword"):
        sigreg.lejepa_loss(views, num_slice=3)


def test_epps_pulley_arguments(xp):
    with pytest.raises(ValueError, match="axis must be in"):
        sigreg.epps_pulley(xp.ones((4, 3)), axis=2)
    with pytest.raises(ValueError, match="axis must be >= -2"):
        sigreg.epps_pulley(xp.ones((4, 3)), axis=-3)
    with pytest.raises(ValueError, match="at least one sample along axis 1"):
        sigreg.epps_pulley(xp.ones((4, 0)), axis=1)
    with pytest.raises(ValueError, match="at least one dimension"):
        sigreg.epps_pulley(xp.asarray(1.0))


def test_value_and_grad_needs_a_scalar(xp):
    with pytest.raises(ValueError, match="reduction must be 'mean' or 'sum' for a gradient"):
        sigreg.value_and_grad(asarray(xp, Z), reduction="none")


def test_options_are_keyword_only():
    with pytest.raises(TypeError):
        sigreg.sigreg(Z, 16)  # type: ignore[misc]


def test_inputs_not_modified(xp):
    z = asarray(xp, Z)
    a = asarray(xp, np.ones((4, 3)) / 2.0)
    before_z, before_a = to_numpy(z).copy(), to_numpy(a).copy()
    sigreg.sigreg(z, directions=a)
    sigreg.value_and_grad(z, directions=a)
    sigreg.lejepa_loss(xp.stack([z, z]), directions=a)
    np.testing.assert_array_equal(to_numpy(z), before_z)
    np.testing.assert_array_equal(to_numpy(a), before_a)
