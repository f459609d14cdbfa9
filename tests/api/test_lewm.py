"""``lewm_loss`` and ``lewm_value_and_grad`` against an independent float64 NumPy formula, on every
backend: values, gradients (finite differences, and each framework's autodiff), layouts, errors."""

from __future__ import annotations

import array_api_compat
import numpy as np
import pytest

import sigreg

from .. import oracle
from ..support import asarray, has_float64, is_jax, to_numpy, xp_assert_close


def _clips(seed=0, b=12, t=4, d=3, k=5):
    """Batch-first predicted (B, T-1, D), embeddings (B, T, D), unit directions (D, K)."""
    rng = np.random.default_rng(seed)
    emb = rng.standard_normal((b, t, d)) * 1.2 + 0.1
    predicted = emb[:, 1:] + 0.3 * rng.standard_normal((b, t - 1, d))
    a = rng.standard_normal((d, k))
    return predicted, emb, a / np.linalg.norm(a, axis=0)


def _layer_norm(x):
    return (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5)


def _expected(predicted, target, emb, a, lam, normalize=False):
    """The paper's loss written out in NumPy float64, batch first: SIGReg of each time step's
    batch with the same directions, averaged over time steps and slices."""
    p, t = (_layer_norm(predicted), _layer_norm(target)) if normalize else (predicted, target)
    per_step = [oracle.sigreg(emb[:, i], a).mean() for i in range(emb.shape[1])]
    return np.mean((p - t) ** 2) + lam * np.mean(per_step)


def _rounded(x, xp):
    return x if has_float64(xp) else x.astype(np.float32).astype(np.float64)


@pytest.mark.parametrize("normalize", [False, True])
@pytest.mark.parametrize("time_axis", [1, 0])
def test_matches_float64_formula(xp, time_axis, normalize):
    predicted, emb, a = (_rounded(x, xp) for x in _clips())
    target = emb[:, 1:]
    lam = 0.3
    expected = _expected(predicted, target, emb, a, lam, normalize)
    args = (
        (predicted, target, emb)
        if time_axis == 1
        else (x.transpose(1, 0, 2) for x in (predicted, target, emb))
    )
    out = sigreg.lewm_loss(
        *(asarray(xp, x) for x in args),
        lam=lam,
        time_axis=time_axis,
        normalize=normalize,
        directions=asarray(xp, a),
    )
    xp_assert_close(out, expected, xp=xp, rtol=1e-12 if has_float64(xp) else 2e-5)


@pytest.mark.parametrize(("normalize", "detach_target"), [(False, False), (True, False), (False, True)])
def test_value_and_grad_match_finite_differences(xp, normalize, detach_target):
    predicted, emb, a = (_rounded(x, xp) for x in _clips(seed=1, b=6, t=3, d=3, k=4))
    target = emb[:, 1:] - 0.2
    lam = 0.7
    value, grads = sigreg.lewm_value_and_grad(
        *(asarray(xp, x) for x in (predicted, target, emb)),
        lam=lam,
        normalize=normalize,
        detach_target=detach_target,
        directions=asarray(xp, a),
    )
    float64 = has_float64(xp)
    xp_assert_close(
        value, _expected(predicted, target, emb, a, lam, normalize), xp=xp, rtol=1e-12 if float64 else 2e-5
    )
    numeric = [
        oracle.numerical_grad(lambda x: _expected(x, target, emb, a, lam, normalize), predicted),
        np.zeros_like(target)
        if detach_target
        else oracle.numerical_grad(lambda x: _expected(predicted, x, emb, a, lam, normalize), target),
        oracle.numerical_grad(lambda x: _expected(predicted, target, x, a, lam, normalize), emb),
    ]
    for grad, expected, x in zip(grads, numeric, (predicted, target, emb), strict=True):
        assert tuple(grad.shape) == x.shape
        np.testing.assert_allclose(
            to_numpy(grad), expected, rtol=1e-6 if float64 else 1e-3, atol=1e-9 if float64 else 1e-5
        )


def _autodiff_grads(xp, f, *arrays):
    if array_api_compat.is_torch_namespace(xp):
        leaves = [x.detach().requires_grad_(True) for x in arrays]
        f(*leaves).backward()
        return [np.zeros(tuple(x.shape)) if x.grad is None else to_numpy(x.grad) for x in leaves]
    import jax

    return [np.asarray(g) for g in jax.grad(f, argnums=tuple(range(len(arrays))))(*arrays)]


@pytest.mark.parametrize("time_axis", [1, 0])
@pytest.mark.parametrize("detach_target", [False, True])
def test_autodiff_equals_the_explicit_gradient(xp, time_axis, detach_target):
    if not (array_api_compat.is_torch_namespace(xp) or is_jax(xp)):
        pytest.skip(
            "NumPy, CuPy and array-api-strict have no autodiff: lewm_value_and_grad is their gradient"
        )
    predicted, emb, a = (_rounded(x, xp) for x in _clips(seed=2, b=10, t=5, d=4, k=6))
    arrays = [predicted, emb[:, 1:] * 0.9, emb]
    if time_axis == 0:
        arrays = [x.transpose(1, 0, 2) for x in arrays]
    arrays = [asarray(xp, x) for x in arrays]
    options = {"lam": 0.2, "time_axis": time_axis, "normalize": True, "detach_target": detach_target}
    options["directions"] = asarray(xp, a)
    autodiff = _autodiff_grads(xp, lambda *x: sigreg.lewm_loss(*x, **options), *arrays)
    _, explicit = sigreg.lewm_value_and_grad(*arrays, **options)
    tol = 1e-12 if has_float64(xp) else 1e-5
    for got, expected in zip(autodiff, explicit, strict=True):
        np.testing.assert_allclose(got, to_numpy(expected), rtol=tol, atol=tol)
    if detach_target:
        assert not np.any(autodiff[1])


def test_sigreg_term_is_over_the_batch_for_each_time_step():
    """SIGReg of the (T, B, D) frames with the same seed: time steps are batches, the batch the samples."""
    _, emb, _ = _clips(seed=3, b=40, t=3, d=6)
    zero = np.zeros((40, 1, 6))
    loss = sigreg.lewm_loss(zero, zero, emb, lam=1.0, num_slices=64, seed=9)
    per_step = sigreg.sigreg(emb.transpose(1, 0, 2), num_slices=64, seed=9, reduction="none")
    assert per_step.shape == (3, 64)
    assert float(loss) == pytest.approx(float(per_step.mean()), rel=1e-13)
    over_time = sigreg.sigreg(emb, num_slices=64, seed=9)  # the silent mistake: samples = time steps
    assert float(loss) != pytest.approx(float(over_time), rel=1e-3)


def test_options_pass_through_to_sigreg():
    predicted, emb, a = _clips(seed=4)
    frames = emb.transpose(1, 0, 2)
    exact = sigreg.lewm_loss(predicted, predicted, emb, lam=1.0, directions=a, integration="exact")
    expected = np.mean([oracle.exact_epps_pulley(u).mean() for u in frames @ a])
    assert float(exact) == pytest.approx(expected, rel=1e-12)
    summed = sigreg.lewm_loss(predicted, predicted, emb, lam=1.0, directions=a, reduction="sum")
    assert float(summed) == pytest.approx(float(oracle.sigreg(frames, a).sum()), rel=1e-12)
    laplace = sigreg.targets.Laplace()
    against = sigreg.lewm_loss(predicted, predicted, emb, lam=1.0, num_slices=32, seed=3, target=laplace)
    assert float(against) == pytest.approx(
        float(sigreg.sigreg(frames, num_slices=32, seed=3, target=laplace))
    )
    # all_reduce on one worker (the sum over one worker is the identity): the same value and gradient
    plain = sigreg.lewm_value_and_grad(predicted, emb[:, 1:], emb, num_slices=16, seed=2)
    reduced = sigreg.lewm_value_and_grad(
        predicted, emb[:, 1:], emb, num_slices=16, seed=2, all_reduce=lambda x: x
    )
    assert float(reduced[0]) == pytest.approx(float(plain[0]), rel=1e-13)
    for g, h in zip(reduced[1], plain[1], strict=True):
        np.testing.assert_allclose(g, h, rtol=1e-12, atol=1e-15)


def test_inputs_are_not_modified():
    predicted, emb, _ = _clips(seed=5)
    copies = [x.copy() for x in (predicted, emb)]
    sigreg.lewm_value_and_grad(predicted, emb[:, 1:], emb, normalize=True, num_slices=8)
    for x, y in zip((predicted, emb), copies, strict=True):
        np.testing.assert_array_equal(x, y)


def test_bad_input_names_the_argument_and_the_layout(xp):
    p, e = xp.ones((4, 2, 3)), xp.ones((4, 3, 3))
    with pytest.raises(ValueError, match=r"predicted must have shape \(B, T, D\), got shape \(4, 3\)"):
        sigreg.lewm_loss(xp.ones((4, 3)), xp.ones((4, 3)), e)
    with pytest.raises(ValueError, match=r"predicted must have shape \(T, B, D\), got shape \(4, 3\)"):
        sigreg.lewm_loss(xp.ones((4, 3)), xp.ones((4, 3)), e, time_axis=0)
    with pytest.raises(ValueError, match=r"target must have predicted's shape \(B, T, D\) = \(4, 2, 3\)"):
        sigreg.lewm_loss(p, xp.ones((4, 3, 3)), e)
    with pytest.raises(ValueError, match=r"embeddings must have shape \(B, T, D\) = \(4, T, 3\) to match"):
        sigreg.lewm_loss(p, p, xp.ones((3, 4, 3)))  # (T, B, D) clips given as batch first
    with pytest.raises(ValueError, match=r"embeddings must have shape \(T, B, D\) = \(T, 2, 3\) to match"):
        sigreg.lewm_loss(p, p, e, time_axis=0)
    with pytest.raises(ValueError, match=r"embeddings must have non-empty axes \(B, T, D\)"):
        sigreg.lewm_loss(p, p, xp.ones((4, 0, 3)))
    with pytest.raises(TypeError, match="embeddings must have a real floating-point dtype"):
        sigreg.lewm_loss(p, p, xp.ones((4, 3, 3), dtype=xp.int32))
    with pytest.raises(ValueError, match=r"time_axis must be 1 .* or 0"):
        sigreg.lewm_loss(p, p, e, time_axis=2)
    with pytest.raises(ValueError, match=r"lam must be finite and >= 0, got -0\.1"):
        sigreg.lewm_loss(p, p, e, lam=-0.1)
    with pytest.raises(TypeError, match="lam must be a real number"):
        sigreg.lewm_loss(p, p, e, lam="0.1")
    with pytest.raises(TypeError, match="detach_target must be True or False"):
        sigreg.lewm_value_and_grad(p, p, e, detach_target=1)
    with pytest.raises(ValueError, match="reduction must be 'mean' or 'sum' in lewm_loss"):
        sigreg.lewm_loss(p, p, e, reduction="none")
    with pytest.raises(
        ValueError, match=r"directions must have shape \(D, K\) = \(3, K\) .* embeddings of shape \(4, 3, 3\)"
    ):
        sigreg.lewm_loss(p, p, e, directions=xp.ones((4, 2)))
    with pytest.raises(TypeError, match="embeddings must be an array"):
        sigreg.lewm_loss(p, p, None)
    with pytest.raises(TypeError, match=r"unexpected keyword argument\(s\) 'num_slice' for statistic"):
        sigreg.lewm_loss(p, p, e, num_slice=3)


def test_clips_of_another_library():
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match="predicted and embeddings must come from the same array library"):
        sigreg.lewm_loss(np.ones((2, 1, 3)), np.ones((2, 1, 3)), torch.ones(2, 2, 3))
