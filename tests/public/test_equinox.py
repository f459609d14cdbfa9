"""The Equinox module under jit: the numbers and gradients of sigreg.sigreg; bad input named."""

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
        return eqx.filter_value_and_grad(lambda z: m(z, step=step))(z)

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
            return self.regulariser(jax.vmap(self.linear)(x), step=step)

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
    ("step", "error", "words"),
    [
        (-1, ValueError, r"step must be in \[0, 2\*\*64\), got -1"),
        (2.5, TypeError, "step must be a Python int"),
    ],
)
def test_equinox_module_names_step(step, error, words):
    z = jax.numpy.ones((6, 3))
    with pytest.raises(error, match=words):
        sigreg.equinox.SIGReg(num_slices=4)(z, step=step)
    # A valid step still gives sigreg.sigreg's number.
    got = sigreg.equinox.SIGReg(num_slices=4)(z + jax.numpy.arange(6.0)[:, None], step=3)
    expected = sigreg.sigreg(np.ones((6, 3)) + np.arange(6.0)[:, None], num_slices=4, seed=3)
    assert float(got) == pytest.approx(float(expected), rel=1e-5)
