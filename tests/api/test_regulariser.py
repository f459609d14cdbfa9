"""sigreg.sigreg and value_and_grad: every result right or a clear error before any work.

Dtypes, byte orders, seeds, overflow, memory; bad options, shapes, dtypes, libraries and devices
raise naming the argument; inputs are never modified.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sigreg

from .. import oracle
from ..support import asarray, device, has_float64, is_jax, to_numpy

# --- dtypes: float64 precision or more runs in float64 ---------------------------------


@pytest.mark.parametrize(
    "dtype", [">f8", "<f8", np.longdouble], ids=["big-endian", "little-endian", "longdouble"]
)
def test_float64_precision_or_more_runs_in_float64(dtype):
    z = np.random.default_rng(0).standard_normal((40, 3))
    a = sigreg.directions(3, 5, seed=1)
    value, grad = sigreg.value_and_grad(z.astype(dtype), directions=a)
    assert value.dtype == np.float64 and grad.dtype == np.dtype(dtype)
    assert float(value) == pytest.approx(oracle.sigreg(z, a).mean(), rel=1e-12)
    assert sigreg.stats.epps_pulley(z.astype(dtype)).dtype == np.float64


@settings(max_examples=25, deadline=None)
@given(
    dtype=st.sampled_from(["<f4", ">f4", "<f8", ">f8", "f2"]),
    shape=st.sampled_from([(7, 2), (2, 9, 3), (1, 1)]),
    log_scale=st.floats(-3, 3),
    num_points=st.integers(2, 40),
    t_max=st.floats(0.5, 6.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_property_dtypes_byte_orders_scales_options(dtype, shape, log_scale, num_points, t_max, seed):
    """Against the float64 oracle on the values the input dtype holds."""
    z = (np.random.default_rng(seed).standard_normal(shape) * 10.0**log_scale).astype(dtype)
    a = sigreg.directions(shape[-1], 3, seed=seed)
    out = sigreg.sigreg(z, directions=a, num_points=num_points, t_max=t_max, reduction="none")
    exact = np.dtype(dtype).itemsize == 8
    assert out.dtype == (np.float64 if exact else np.float32)
    expected = oracle.sigreg(
        z.astype(np.float64), a.astype(out.dtype).astype(np.float64), t_max=t_max, num_points=num_points
    )
    n = shape[-2]
    np.testing.assert_allclose(
        out, expected, rtol=1e-10 if exact else 2e-4, atol=1e-12 if exact else 2e-5 * n
    )


# --- NumPy subclasses, namespaces, options ------------------------------------------------


@pytest.mark.filterwarnings("ignore:the matrix subclass:PendingDeprecationWarning")
@pytest.mark.parametrize("make", [np.asmatrix, np.ma.masked_array], ids=["matrix", "masked"])
def test_numpy_subclasses_are_rejected(make):
    z = make(np.ones((5, 3)))
    with pytest.raises(TypeError, match="z must be a plain NumPy array"):
        sigreg.sigreg(z)
    with pytest.raises(TypeError, match="views must be a plain NumPy array"):
        sigreg.lejepa_loss(z)


@pytest.mark.parametrize("xp", ["numpy", np.float64, 3])
def test_xp_must_be_a_namespace(xp):
    with pytest.raises(TypeError, match="xp must be an array namespace"):
        sigreg.directions(4, 4, xp=xp)


def test_options_are_checked_before_use():
    z = np.ones((5, 3))
    with pytest.raises(ValueError, match="reduction must be one of"):
        sigreg.sigreg(z, reduction=np.array(["mean"]))
    with pytest.raises(ValueError, match="num_points must be <= 65536"):
        sigreg.sigreg(z, num_points=10**9)
    with pytest.raises(TypeError, match="dtype must be a real floating dtype"):
        sigreg.directions(3, 2, dtype="float32")


def test_lejepa_loss_errors_name_views():
    with pytest.raises(ValueError, match="views must have at least one sample"):
        sigreg.lejepa_loss(np.ones((2, 0, 3)))
    with pytest.raises(TypeError, match="views must have a real floating-point dtype"):
        sigreg.lejepa_loss(np.ones((2, 4, 3), dtype=np.int32))
    with pytest.raises(ValueError, match=r"must have shape \(D, K\) = \(3, K\) .* global_views of shape"):
        sigreg.lejepa_loss(np.ones((2, 4, 3)), directions=np.ones((2, 2)))


# --- seeds of every integer dtype: modulo 2**64, like the Python int --------------------


def _integer_dtypes(xp):
    names = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"]
    found = [getattr(xp, n) for n in names if hasattr(xp, n)]
    if not has_float64(xp):  # JAX without x64 has no 64-bit integers
        found = [d for d in found if xp.iinfo(d).bits < 64]
    return found


def test_array_seeds_of_every_integer_dtype(xp):
    for dtype in _integer_dtypes(xp):
        info = xp.iinfo(dtype)
        for value in {5, info.max, info.min, -3 if info.min < 0 else 0}:
            seed = xp.asarray(value, dtype=dtype, device=device(xp))
            out = to_numpy(sigreg.directions(3, 2, seed=seed, xp=xp, device=device(xp)))
            expected = sigreg.directions(3, 2, seed=int(value) % 2**64)
            np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-6, err_msg=f"{dtype} {value}")


# --- float32 overflow: finite, never NaN --------------------------------------------------


def test_float32_entries_near_the_largest_float_give_a_finite_result(xp):
    z = np.clip(np.random.default_rng(2).standard_normal((30, 4)) * 3.3e38, -3.3e38, 3.3e38)
    zx = asarray(xp, z, xp.float32)
    value, grad = sigreg.value_and_grad(zx, num_slices=8)
    assert np.isfinite(float(to_numpy(value))) and np.all(np.isfinite(to_numpy(grad)))
    assert np.all(np.isfinite(to_numpy(sigreg.stats.epps_pulley(zx))))
    nan = np.array(z)
    nan[0, 0] = np.nan  # non-finite input stays non-finite
    assert not np.isfinite(float(to_numpy(sigreg.sigreg(asarray(xp, nan, xp.float32), num_slices=8))))


# --- epps_pulley under autodiff: O(N*M + M*P) memory ------------------------------------


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch is not installed")
def test_epps_pulley_autograd_saves_nothing_of_size_n_m_p():
    import torch

    n, m = 60, 5
    x = torch.randn(n, m, dtype=torch.float64, requires_grad=True)
    saved = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t.numel()) or t, lambda t: t):
        sigreg.stats.epps_pulley(x).sum().backward()
    assert saved and max(saved) <= n * m, saved
    expected = oracle.numerical_grad(lambda v: oracle.epps_pulley(v).sum(), x.detach().numpy())
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-6, atol=1e-8)


def test_epps_pulley_jax_gradient_holds_nothing_of_size_n_m_p(xp):
    if not is_jax(xp):
        pytest.skip("JAX only")
    import jax

    n, m = 400, 8
    x = asarray(xp, np.random.default_rng(3).standard_normal((n, m)))
    jaxpr = jax.make_jaxpr(jax.grad(lambda v: sigreg.stats.epps_pulley(v).sum()))(x)
    sizes = []

    def walk(jx):
        for eqn in jx.eqns:
            sizes.extend(int(np.prod(v.aval.shape)) for v in eqn.outvars)
            for param in eqn.params.values():
                inner = getattr(param, "jaxpr", None)
                if inner is not None:
                    walk(getattr(inner, "jaxpr", inner))

    walk(jaxpr.jaxpr)
    assert sizes and max(sizes) <= n * m * 2, max(sizes)  # complex: two floats per element


# --- bad input raises a clear exception before any work; inputs are never modified ------

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
