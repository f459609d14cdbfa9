"""The Equinox modules under jit: the numbers and gradients of sigreg.sigreg and sigreg.lewm_loss; bad input
named."""

from __future__ import annotations

import numpy as np
import pytest

jax = pytest.importorskip("jax")
eqx = pytest.importorskip("equinox")

import sigreg  # noqa: E402
import sigreg.equinox  # noqa: E402


def test_module_under_jit_matches_sigreg():
    module = sigreg.equinox.SIGReg(num_slices=32, t_max=4.0)
    z = jax.random.normal(jax.random.key(0), (96, 8)) * 1.3

    @eqx.filter_jit
    def loss_and_grad(m, z, step):
        return eqx.filter_value_and_grad(lambda z: m(z, seed=step))(z)

    for step in (0, 5):
        value, grad = loss_and_grad(module, z, jax.numpy.asarray(step))
        ref_value, ref_grad = jax.value_and_grad(
            lambda z, step=step: sigreg.sigreg(z, num_slices=32, seed=step, t_max=4.0)
        )(z)
        np.testing.assert_allclose(value, ref_value, rtol=1e-6)
        np.testing.assert_allclose(grad, ref_grad, rtol=1e-5, atol=1e-7)
    assert float(loss_and_grad(module, z, 0)[0]) != float(loss_and_grad(module, z, 1)[0])  # fresh directions


def test_module_inside_a_model_pytree():
    """A field of a larger module: no array leaves, so filter_grad sees only the weights."""

    class Model(eqx.Module):
        linear: eqx.nn.Linear
        regulariser: sigreg.equinox.SIGReg

        def __call__(self, x, step):
            return self.regulariser(jax.vmap(self.linear)(x), seed=step)

    model = Model(eqx.nn.Linear(6, 4, key=jax.random.key(1)), sigreg.equinox.SIGReg(num_slices=16))
    x = jax.random.normal(jax.random.key(2), (64, 6))
    grads = eqx.filter_jit(eqx.filter_grad(lambda m: m(x, 3)))(model)
    assert grads.linear.weight.shape == (4, 6) and bool(
        jax.numpy.all(jax.numpy.isfinite(grads.linear.weight))
    )
    expected = jax.grad(lambda w: sigreg.sigreg(x @ w.T + model.linear.bias, num_slices=16, seed=3))(
        model.linear.weight
    )
    np.testing.assert_allclose(grads.linear.weight, expected, rtol=1e-5, atol=1e-7)


def test_bad_options():
    with pytest.raises(ValueError, match="num_slices must be >= 1"):
        sigreg.equinox.SIGReg(num_slices=0)
    with pytest.raises(ValueError, match="reduction must be one of"):
        sigreg.equinox.SIGReg(reduction="max")


@pytest.mark.parametrize(
    ("seed", "error", "words"),
    [
        (-1, ValueError, r"seed must be in \[0, 2\*\*64\), got -1"),
        (2.5, TypeError, "seed must be a Python int"),
    ],
)
def test_equinox_module_names_seed(seed, error, words):
    z = jax.numpy.ones((6, 3))
    with pytest.raises(error, match=words):
        sigreg.equinox.SIGReg(num_slices=4)(z, seed=seed)
    # A valid seed still gives sigreg.sigreg's number.
    got = sigreg.equinox.SIGReg(num_slices=4)(z + jax.numpy.arange(6.0)[:, None], seed=3)
    expected = sigreg.sigreg(np.ones((6, 3)) + np.arange(6.0)[:, None], num_slices=4, seed=3)
    assert float(got) == pytest.approx(float(expected), rel=1e-5)


def _lewm_clips(seed=0, b=24, t=4, d=6):
    rng = np.random.default_rng(seed)
    emb = rng.standard_normal((b, t, d)).astype(np.float32)
    return emb[:, :-1] + 0.2 * rng.standard_normal((b, t - 1, d)).astype(np.float32), emb


def test_equinox_module_under_jit_matches_the_function():
    predicted, emb = (jax.numpy.asarray(x) for x in _lewm_clips(seed=2))
    criterion = sigreg.equinox.LeWMLoss(lam=0.2, num_slices=32, normalize=True)

    @eqx.filter_jit
    def value_and_grads(m, p, e, step):
        return jax.value_and_grad(lambda p, e: m(p, e[:, 1:], e, seed=step), argnums=(0, 1))(p, e)

    for step in (0, 5):
        value, grads = value_and_grads(criterion, predicted, emb, jax.numpy.asarray(step))
        ref_value, ref_grads = jax.value_and_grad(
            lambda p, e, step=step: sigreg.lewm_loss(
                p, e[:, 1:], e, lam=0.2, num_slices=32, normalize=True, seed=step
            ),
            argnums=(0, 1),
        )(predicted, emb)
        np.testing.assert_allclose(value, ref_value, rtol=1e-6)
        for got, expected in zip(grads, ref_grads, strict=True):
            np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)
    first = value_and_grads(criterion, predicted, emb, 0)[0]
    assert float(first) != float(value_and_grads(criterion, predicted, emb, 1)[0])  # fresh directions
    with pytest.raises(TypeError, match="seed must be a Python int"):
        criterion(predicted, emb[:, 1:], emb, seed=1.5)
