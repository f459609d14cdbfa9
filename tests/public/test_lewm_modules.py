"""``sigreg.torch.LeWMLoss`` and ``sigreg.equinox.LeWMLoss``: the numbers and gradients of
``sigreg.lewm_loss`` with the step as the seed, options checked at construction."""

from __future__ import annotations

import numpy as np
import pytest


def _clips(seed=0, b=24, t=4, d=6):
    rng = np.random.default_rng(seed)
    emb = rng.standard_normal((b, t, d)).astype(np.float32)
    return emb[:, :-1] + 0.2 * rng.standard_normal((b, t - 1, d)).astype(np.float32), emb


def test_torch_module_matches_the_function_step_by_step():
    torch = pytest.importorskip("torch")
    import sigreg.torch

    predicted, emb = (torch.from_numpy(x) for x in _clips())
    criterion = sigreg.torch.LeWMLoss(lam=0.3, num_slices=32, normalize=True, detach_target=True, t_max=4.0)
    options = {"lam": 0.3, "num_slices": 32, "normalize": True, "detach_target": True, "t_max": 4.0}
    for step in range(2):
        leaves = [x.clone().requires_grad_(True) for x in (predicted, emb)]
        value = criterion(leaves[0], leaves[1][:, 1:], leaves[1])
        value.backward()
        ref_leaves = [x.clone().requires_grad_(True) for x in (predicted, emb)]
        ref = sigreg.lewm_loss(ref_leaves[0], ref_leaves[1][:, 1:], ref_leaves[1], seed=step, **options)
        ref.backward()
        assert value.item() == ref.item()
        for got, expected in zip(leaves, ref_leaves, strict=True):
            torch.testing.assert_close(got.grad, expected.grad, rtol=0, atol=0)
        assert int(criterion.step) == step + 1
    criterion.eval()
    first = criterion(predicted, emb[:, 1:], emb)
    assert float(first) == float(criterion(predicted, emb[:, 1:], emb)) and int(criterion.step) == 2
    assert "lam=0.3" in repr(criterion) and "detach_target=True" in repr(criterion)


def test_torch_module_time_axis_and_checks_at_construction():
    torch = pytest.importorskip("torch")
    import sigreg.torch

    predicted, emb = (torch.from_numpy(x) for x in _clips(seed=1))
    batch_first = sigreg.torch.LeWMLoss(num_slices=16).eval()
    time_first = sigreg.torch.LeWMLoss(num_slices=16, time_axis=0).eval()
    a = batch_first(predicted, emb[:, 1:], emb)
    b = time_first(*(x.transpose(0, 1) for x in (predicted, emb[:, 1:], emb)))
    torch.testing.assert_close(a, b, rtol=1e-6, atol=0)
    with pytest.raises(ValueError, match="lam must be finite and >= 0"):
        sigreg.torch.LeWMLoss(lam=float("nan"))
    with pytest.raises(ValueError, match="time_axis must be 1"):
        sigreg.torch.LeWMLoss(time_axis=-1)
    with pytest.raises(TypeError, match="unexpected keyword argument"):
        sigreg.torch.LeWMLoss(tmax=3.0)


def test_equinox_module_under_jit_matches_the_function():
    jax = pytest.importorskip("jax")
    eqx = pytest.importorskip("equinox")
    import sigreg.equinox

    predicted, emb = (jax.numpy.asarray(x) for x in _clips(seed=2))
    criterion = sigreg.equinox.LeWMLoss(lam=0.2, num_slices=32, normalize=True)

    @eqx.filter_jit
    def value_and_grads(m, p, e, step):
        return jax.value_and_grad(lambda p, e: m(p, e[:, 1:], e, step=step), argnums=(0, 1))(p, e)

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
    with pytest.raises(TypeError, match="step must be a Python int"):
        criterion(predicted, emb[:, 1:], emb, step=1.5)
