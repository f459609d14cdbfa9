"""Cross-backend agreement: every installed CPU backend in one process, compared
pairwise and against the float64 NumPy oracle, values and gradients."""

from __future__ import annotations

import importlib.util
import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sigreg

from .. import oracle
from ..support import BACKENDS, asarray, backend, float_dtypes, to_numpy

# Every installed CPU backend of the table.
NAMES = [name for name, row in BACKENDS.items() if not row.needs_gpu and importlib.util.find_spec(row.module)]
TOL = {"float64": 1e-12, "float32": 1e-4}


def _results(z: np.ndarray, a: np.ndarray, **options) -> dict[tuple[str, str], tuple[float, np.ndarray]]:
    """(backend, dtype) -> (value, gradient) for the same input and directions."""
    out = {}
    for name in NAMES:
        with backend(name) as xp:
            for dtype in float_dtypes(xp):
                key = "float64" if dtype == xp.float64 else "float32"
                value, grad = sigreg.value_and_grad(
                    asarray(xp, z, dtype), directions=asarray(xp, a, dtype), **options
                )
                out[(name, key)] = float(to_numpy(value)), to_numpy(grad).astype(np.float64)
    return out


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


@pytest.mark.parametrize("integration", ["trapezoid", "exact"])
def test_pairwise_and_against_oracle(integration):
    rng = np.random.default_rng(0)
    z = rng.standard_normal((2, 24, 4)) * 1.3
    a = rng.standard_normal((4, 6))
    a /= np.linalg.norm(a, axis=0)
    results = _results(z, a, integration=integration)
    per_slice = (
        oracle.sigreg(z, a)
        if integration == "trapezoid"
        else np.stack([oracle.exact_epps_pulley(v @ a) for v in z])
    )
    oracle_value = per_slice.mean()
    fd_grad = oracle.numerical_grad(
        lambda x: float(sigreg.sigreg(x, directions=a, integration=integration)), z
    )
    for (name, dtype), (value, grad) in results.items():
        assert abs(value - oracle_value) <= TOL[dtype] * 10 * abs(oracle_value), (name, dtype)
        assert _rel(grad, fd_grad) <= max(TOL[dtype], 1e-6), (name, dtype, _rel(grad, fd_grad))
    for (k1, (v1, g1)), (k2, (v2, g2)) in itertools.combinations(results.items(), 2):
        tol = max(TOL[k1[1]], TOL[k2[1]])
        assert abs(v1 - v2) <= tol * abs(v1), (k1, k2, v1, v2)
        assert _rel(g1, g2) <= tol, (k1, k2, _rel(g1, g2))


def test_seeded_directions_agree_across_backends():
    z = np.random.default_rng(1).standard_normal((50, 7))
    values = {}
    for name in NAMES:
        with backend(name) as xp:
            values[name] = float(to_numpy(sigreg.sigreg(asarray(xp, z, xp.float32), num_slices=40, seed=9)))
    ref = values["numpy"]
    for name, v in values.items():
        assert abs(v - ref) <= 1e-5 * ref, (name, v, ref)


@settings(max_examples=20, deadline=None)
@given(
    batch=st.sampled_from([(), (2,)]),
    n=st.integers(1, 40),
    d=st.integers(1, 5),
    k=st.integers(1, 6),
    log_scale=st.floats(-2, 2),
    shift=st.floats(-3, 3),
    seed=st.integers(0, 2**32 - 1),
)
def test_property_every_backend_matches_oracle(batch, n, d, k, log_scale, shift, seed):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((*batch, n, d)) * 10.0**log_scale + shift
    a = rng.standard_normal((d, k))
    a /= np.linalg.norm(a, axis=0)
    expected = oracle.sigreg(z, a)
    for name in NAMES:
        with backend(name) as xp:
            for dtype in float_dtypes(xp):
                if dtype == xp.float32:
                    zr = z.astype(np.float32).astype(np.float64)
                    ar = a.astype(np.float32).astype(np.float64)
                    ref, rtol, atol = oracle.sigreg(zr, ar), 1e-4, 1e-5 * max(n, 1)
                else:
                    zr, ar, ref, rtol, atol = z, a, expected, 1e-10, 1e-12
                out = to_numpy(
                    sigreg.sigreg(asarray(xp, zr, dtype), directions=asarray(xp, ar, dtype), reduction="none")
                )
                assert np.all(np.isfinite(out)) and np.all(out >= 0), (name, out)
                np.testing.assert_allclose(out, ref, rtol=rtol, atol=atol, err_msg=f"{name} {dtype}")
