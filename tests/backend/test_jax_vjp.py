"""JAX adapter: custom_vjp under jit, grad, value_and_grad and vmap."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("jax")

import sigreg

from ..support import backend


@pytest.fixture
def jnp64():
    with backend("jax_x64") as jnp:
        yield jnp


def _case(jnp, seed=0, n=40, d=5, k=7, dtype=None):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, d)) * 1.1 + 0.1
    a = rng.standard_normal((d, k))
    dtype = dtype or jnp.float64
    return jnp.asarray(z, dtype=dtype), jnp.asarray(a / np.linalg.norm(a, axis=0), dtype=dtype)


def naive_sigreg(jnp, z, a, t_max=3.0, num_points=17):
    t = jnp.linspace(-t_max, t_max, 2 * num_points - 1)
    phi = jnp.exp(-0.5 * t**2)
    xt = (z @ a)[..., None] * t
    err = (jnp.cos(xt).mean(0) - phi) ** 2 + jnp.sin(xt).mean(0) ** 2
    return (jnp.trapezoid(err * phi, t, axis=-1) * z.shape[0]).mean()


def test_check_grads(jnp64):
    from jax.test_util import check_grads

    z, a = _case(jnp64, n=12, d=3, k=4)
    for integration in ("trapezoid", "exact"):
        check_grads(
            lambda x, integration=integration: sigreg.sigreg(
                jnp64.asarray(x), directions=a, integration=integration
            ),
            (z,),
            order=1,
            modes=["rev"],
        )


def test_equals_autodiff_of_naive_formula(jnp64):
    import jax

    z, a = _case(jnp64)
    value, grad = jax.value_and_grad(lambda x: sigreg.sigreg(x, directions=a))(z)
    naive_value, naive_grad = jax.value_and_grad(lambda x: naive_sigreg(jnp64, x, a))(z)
    assert float(value) == pytest.approx(float(naive_value), rel=1e-12)
    rel = float(jnp64.max(jnp64.abs(grad - naive_grad)) / jnp64.max(jnp64.abs(naive_grad)))
    assert rel <= 1e-10, rel


def test_jit_grad_equals_eager_with_traced_seed(jnp64):
    import jax

    z, _ = _case(jnp64, seed=1)

    def loss(x, seed):
        return sigreg.sigreg(x, num_slices=24, seed=seed)

    eager = jax.grad(loss)(z, 3)
    jitted = jax.jit(jax.grad(loss))(z, jnp64.asarray(3))
    np.testing.assert_allclose(np.asarray(jitted), np.asarray(eager), rtol=1e-12, atol=1e-15)
    _, expected = sigreg.value_and_grad(np.asarray(z), num_slices=24, seed=3)
    np.testing.assert_allclose(np.asarray(eager), expected, rtol=1e-12, atol=1e-15)


def test_vmap_over_views(jnp64):
    import jax

    z, a = _case(jnp64, seed=2)
    views = jnp64.stack([z, 2 * z, z - 1])
    per_view = jax.vmap(lambda v: sigreg.sigreg(v, directions=a))(views)
    expected = sigreg.sigreg(views, directions=a, reduction="none").mean(axis=-1)
    np.testing.assert_allclose(np.asarray(per_view), np.asarray(expected), rtol=1e-12)
    grads = jax.vmap(jax.grad(lambda v: sigreg.sigreg(v, directions=a)))(views)
    _, g1 = sigreg.value_and_grad(np.asarray(views[1]), directions=np.asarray(a))
    np.testing.assert_allclose(np.asarray(grads[1]), g1, rtol=1e-12, atol=1e-15)


def test_float32_jit_matches_float64():
    import jax

    with backend("jax") as jnp:
        z, a = _case(jnp, seed=3, dtype=jnp.float32)
        value, grad = jax.jit(jax.value_and_grad(lambda x: sigreg.sigreg(x, directions=a)))(z)
        assert value.dtype == jnp.float32 and grad.dtype == jnp.float32
    ref_value, ref_grad = sigreg.value_and_grad(
        np.asarray(z, np.float64), directions=np.asarray(a, np.float64)
    )
    assert float(value) == pytest.approx(ref_value, rel=2e-5)
    assert np.max(np.abs(np.asarray(grad) - ref_grad)) <= 1e-4 * np.max(np.abs(ref_grad))


def test_no_n_by_k_by_p_intermediate_in_the_gradient(jnp64):
    """The traced gradient holds no array of N*K*(P-1) elements or more."""
    import jax

    n, d, k = 64, 8, 32
    z, a = _case(jnp64, n=n, d=d, k=k)
    jaxpr = jax.make_jaxpr(jax.grad(lambda x: sigreg.sigreg(x, directions=a)))(z)
    sizes = []

    def walk(jx):
        for eqn in jx.eqns:
            sizes.extend(math.prod(v.aval.shape) for v in eqn.outvars)
            for param in eqn.params.values():
                inner = getattr(param, "jaxpr", None)
                if inner is not None:
                    walk(getattr(inner, "jaxpr", inner))

    walk(jaxpr.jaxpr)
    assert sizes and max(sizes) <= n * k, max(sizes)


def test_bfloat16_input():
    import jax

    with backend("jax") as jnp:
        z, a = _case(jnp, seed=4, dtype=jnp.float32)
        zb = z.astype(jnp.bfloat16)
        value, grad = jax.value_and_grad(lambda x: sigreg.sigreg(x, directions=a))(zb)
        assert value.dtype == jnp.float32 and grad.dtype == jnp.bfloat16
        assert bool(jnp.all(jnp.isfinite(grad.astype(jnp.float32))))


@pytest.mark.parametrize("integration", ["trapezoid", "exact"])
def test_hessian_vector_products_equal_finite_differences(jnp64, integration):
    import jax

    z, a = _case(jnp64, n=10, d=3, k=4)

    def loss(x):
        return sigreg.sigreg(x, directions=a, integration=integration) ** 2

    v = jnp64.asarray(np.random.default_rng(1).standard_normal(z.shape))
    hvp = jax.jvp(jax.grad(loss), (z,), (v,))[1]
    h = 1e-6
    numeric = (jax.grad(loss)(z + h * v) - jax.grad(loss)(z - h * v)) / (2 * h)
    assert float(jnp64.max(jnp64.abs(hvp - numeric)) / jnp64.max(jnp64.abs(numeric))) <= 1e-7
