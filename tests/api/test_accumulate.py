"""Exact gradient accumulation: M micro-batches give the value and gradient of one batch."""

from __future__ import annotations

import importlib.util
import itertools

import numpy as np
import pytest

import sigreg

from ..support import asarray, backend, has_float64, to_numpy

OPTS = dict(num_slices=12, seed=5)
SPLITS = {1: [37], 3: [13, 13, 11], 4: [10, 10, 10, 7]}  # unequal last micro-batch


def _case(seed=0, n=37, d=5, e=4, batch=()):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((*batch, n, d))
    w = rng.standard_normal((d, e)) * 0.7
    return x, w


def _chunks(x, sizes):
    return [x[..., a:b, :] for a, b in itertools.pairwise(np.cumsum([0, *sizes]))]


@pytest.mark.parametrize("m", [1, 3, 4])
@pytest.mark.parametrize("batch", [(), (2,)])
def test_explicit_gradient_equals_one_batch(xp, m, batch):
    """NumPy, CuPy, array-api-strict (and every backend) through ``value_and_grad``."""
    if not has_float64(xp):
        pytest.skip("the 1e-10 comparison needs float64 (JAX without x64 has none)")
    z, _ = _case(batch=batch)
    value, grad = sigreg.value_and_grad(z, **OPTS)
    acc = sigreg.Accumulator()
    chunks = [asarray(xp, c) for c in _chunks(z, SPLITS[m])]
    for c in chunks:
        sigreg.sigreg(c, all_reduce=acc.collect, **OPTS)
    parts = [sigreg.value_and_grad(c, all_reduce=acc.reduce, **OPTS) for c in chunks]
    for v, _ in parts:
        assert abs(float(v) - float(value)) <= 1e-10 * abs(float(value))
    got = np.concatenate([to_numpy(g) for _, g in parts], axis=-2)
    np.testing.assert_allclose(got, grad, rtol=1e-10, atol=1e-12)


def _torch_step(x, w, sizes, accumulate):
    import torch

    weight = torch.tensor(w, requires_grad=True)
    chunks = [torch.tensor(c) for c in _chunks(x, sizes)]
    if not accumulate:
        z = torch.cat(chunks, dim=-2) @ weight
        value = sigreg.sigreg(z, **OPTS)
        (value + torch.mean(z**2)).backward()  # a mean over samples rides along
        return float(value.detach()), weight.grad.numpy()
    acc = sigreg.Accumulator()
    with torch.no_grad():  # pass 1: sums only
        for c in chunks:
            sigreg.sigreg(c @ weight, all_reduce=acc.collect, **OPTS)
    values = []
    for c in chunks:  # pass 2: the global value, this micro-batch's share of the gradient
        value = sigreg.sigreg(c @ weight, all_reduce=acc.reduce, **OPTS)
        mean_term = acc.weight(c.shape[-2]) * torch.mean((c @ weight) ** 2)
        (value + mean_term).backward()  # accumulates into weight.grad: a sum, not an average
        values.append(float(value.detach()))
    return values, weight.grad.numpy()


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch is not installed")
@pytest.mark.parametrize("m", [1, 3, 4])
def test_torch_autograd_equals_one_batch(m):
    x, w = _case(seed=1, batch=(2,))
    value, grad = _torch_step(x, w, SPLITS[m], accumulate=False)
    values, acc_grad = _torch_step(x, w, SPLITS[m], accumulate=True)
    np.testing.assert_allclose(values, value, rtol=1e-10)
    np.testing.assert_allclose(acc_grad, grad, rtol=1e-10, atol=1e-12)


def _jax_loss(w, x, all_reduce=None):
    return sigreg.sigreg(x @ w, all_reduce=all_reduce, **OPTS)


def _jax_accumulated(w, chunks, all_reduce=None):
    import jax

    acc = sigreg.Accumulator(all_reduce)
    for c in chunks:  # pass 1
        _jax_loss(jax.lax.stop_gradient(w), c, acc.collect)
    grads = [jax.value_and_grad(_jax_loss)(w, c, acc.reduce) for c in chunks]  # pass 2
    return [v for v, _ in grads], sum(g for _, g in grads)


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="jax is not installed")
@pytest.mark.parametrize("m", [1, 3, 4])
def test_jax_grad_equals_one_batch_eager_and_jit(m):
    import jax

    with backend("jax_x64"):
        x, w = _case(seed=2)
        chunks = [jax.numpy.asarray(c) for c in _chunks(x, SPLITS[m])]
        value, grad = jax.value_and_grad(_jax_loss)(jax.numpy.asarray(w), jax.numpy.asarray(x))
        for step in (_jax_accumulated, jax.jit(_jax_accumulated)):
            values, acc_grad = step(jax.numpy.asarray(w), chunks)
            np.testing.assert_allclose(np.array(values), float(value), rtol=1e-10)
            np.testing.assert_allclose(acc_grad, grad, rtol=1e-10, atol=1e-12)


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="jax is not installed")
def test_jax_named_axis_composes():
    """Two workers on a named ``vmap`` axis, three micro-batches each: ``pmean`` of the summed
    micro-batch gradients equals the gradient of one batch of everything."""
    import jax
    import jax.numpy as jnp

    import sigreg.jax

    with backend("jax_x64"):
        x, w = _case(seed=3, n=2 * 15)
        w = jnp.asarray(w)
        shards = jnp.asarray(x).reshape(2, 15, x.shape[-1])  # worker, sample, feature
        _, grad = jax.value_and_grad(_jax_loss)(w, jnp.asarray(x))

        def worker(xs):
            chunks = [xs[:6], xs[6:12], xs[12:]]
            values, g = _jax_accumulated(w, chunks, sigreg.jax.all_reduce("workers"))
            return jnp.stack(values), jax.lax.pmean(g, "workers")

        values, grads = jax.jit(jax.vmap(worker, axis_name="workers"))(shards)
        value = float(_jax_loss(w, jnp.asarray(x)))
        np.testing.assert_allclose(np.asarray(values), value, rtol=1e-10)
        for g in grads:
            np.testing.assert_allclose(g, grad, rtol=1e-10, atol=1e-12)


def test_lejepa_loss_sigreg_term_accumulates():
    """Batch axes (views) and ``lejepa_loss``'s pass-through of ``all_reduce``, lam = 1."""
    views, _ = _case(seed=4, batch=(3,))
    whole = sigreg.lejepa_loss(views[:2], views[2:], lam=1.0, **OPTS)
    acc = sigreg.Accumulator()
    for c in _chunks(views, [20, 17]):
        sigreg.lejepa_loss(c[:2], c[2:], lam=1.0, all_reduce=acc.collect, **OPTS)
    for c in _chunks(views, [20, 17]):
        part = sigreg.lejepa_loss(c[:2], c[2:], lam=1.0, all_reduce=acc.reduce, **OPTS)
        assert float(part) == pytest.approx(float(whole), rel=1e-12)


def test_misuse_is_reported():
    z, _ = _case()
    with pytest.raises(TypeError, match="all_reduce must be a callable or None"):
        sigreg.Accumulator(all_reduce=3)
    acc = sigreg.Accumulator()
    with pytest.raises(RuntimeError, match=r"before any Accumulator\.collect"):
        sigreg.sigreg(z, all_reduce=acc.reduce, **OPTS)
    with pytest.raises(RuntimeError, match=r"weight called before any Accumulator\.collect"):
        acc.weight(3)
    sigreg.sigreg(z, all_reduce=acc.collect, **OPTS)
    with pytest.raises(ValueError, match="same batch axes, slices and statistic"):
        sigreg.sigreg(z, all_reduce=acc.collect, num_slices=3)
    sigreg.sigreg(z, all_reduce=acc.reduce, **OPTS)
    with pytest.raises(RuntimeError, match="after pass 2 started"):
        sigreg.sigreg(z, all_reduce=acc.collect, **OPTS)
    with pytest.raises(ValueError, match="other slices or batch axes than pass 1"):
        sigreg.sigreg(z, all_reduce=acc.reduce, num_slices=3)
