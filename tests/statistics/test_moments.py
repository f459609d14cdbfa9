"""Jarque-Bera on the reduced paths (``all_reduce``, the Accumulator, Dask) at any location and scale.

The reduced sums are taken about a shift and a scale that every worker agrees on (a first
round of reduction): float32 stays within 1e-4 relative of scipy's float64 value of the same
samples, float64 within 1e-10, for offsets up to 1e4 standard deviations and scales from
1e-30 to 1e30. The identity directions make the projections exact, so the oracle sees the
very samples the statistic sees. Raw power sums failed this by up to 5 orders of magnitude.
"""

from __future__ import annotations

import importlib.util
import threading
import warnings

import numpy as np
import pytest
import scipy.stats

import sigreg

from ..support import asarray, float_dtypes, has_float64, to_numpy

BASE = np.random.default_rng(21).standard_normal((60, 3))
# (offset in standard deviations, log10 of the scale): the corners and the middle of the range,
# where float32 holds the samples (projections are clamped near 5e33).
CASES = [(0.0, 0), (30.0, 0), (-1e3, -30), (1e4, 0), (1e4, 28), (7.5, 30), (-1e4, -30)]
SIZES = (25, 20, 15)  # unequal micro-batches (or workers)
JB = dict(statistic="jarque_bera", reduction="none")


def _dtypes(xp):
    return [
        (d, "float64" if has_float64(xp) and d == getattr(xp, "float64", None) else "float32")
        for d in float_dtypes(xp)
    ]


def _samples(offset, log_scale, dtype_name):
    x = ((BASE + offset) * 10.0**log_scale).astype(dtype_name)
    return x, scipy.stats.jarque_bera(x.astype(np.float64), axis=0).statistic


def _split(x):
    return np.split(x, np.cumsum(SIZES)[:-1])


def _rtol(dtype_name):
    return 1e-10 if dtype_name == "float64" else 1e-4


@pytest.mark.parametrize(("offset", "log_scale"), CASES)
def test_all_reduce_and_accumulator_equal_scipy(xp, offset, log_scale):
    for dtype, dtype_name in _dtypes(xp):
        x, expected = _samples(offset, log_scale, dtype_name)
        eye = asarray(xp, np.eye(3), dtype)
        # One worker: the reduced path (both rounds through the hook) on the whole batch.
        one = sigreg.sigreg(asarray(xp, x, dtype), directions=eye, all_reduce=lambda p: p, **JB)
        np.testing.assert_allclose(to_numpy(one), expected, rtol=_rtol(dtype_name))
        acc = sigreg.Accumulator()
        chunks = [asarray(xp, c, dtype) for c in _split(x)]
        for c in chunks:
            sigreg.sigreg(c, directions=eye, all_reduce=acc.collect, **JB)
        for c in chunks:
            got = sigreg.sigreg(c, directions=eye, all_reduce=acc.reduce, **JB)
            np.testing.assert_allclose(to_numpy(got), expected, rtol=_rtol(dtype_name))


class _ThreadedAllReduce:
    """Workers as threads of one process: each call returns the sum of every worker's array."""

    def __init__(self, world):
        self.barrier = threading.Barrier(world)
        self.slots = [None] * world

    def for_rank(self, rank):
        def all_reduce(packed):
            self.slots[rank] = packed
            self.barrier.wait()
            total = sum(self.slots[1:], self.slots[0])
            self.barrier.wait()  # every worker has read the slots before the next round fills them
            return total

        return all_reduce


def _workers(fn, shards):
    results, errors = [None] * len(shards), []
    hub = _ThreadedAllReduce(len(shards))

    def run(rank):
        try:
            results[rank] = fn(shards[rank], hub.for_rank(rank))
        except BaseException as err:  # reported by the test below
            errors.append(err)
            hub.barrier.abort()

    threads = [threading.Thread(target=run, args=(r,)) for r in range(len(shards))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    return results


@pytest.mark.parametrize(("offset", "log_scale"), [(1e4, 0), (-1e3, -30), (30.0, 28)])
@pytest.mark.parametrize("dtype_name", ["float32", "float64"])
def test_three_workers_equal_one_process(offset, log_scale, dtype_name):
    """Values against scipy; float64 gradients against one value_and_grad of the union."""
    x, expected = _samples(offset, log_scale, dtype_name)
    eye = np.eye(3, dtype=dtype_name)

    def worker(shard, all_reduce):
        return sigreg.value_and_grad(shard, directions=eye, statistic="jarque_bera", all_reduce=all_reduce)

    parts = _workers(worker, _split(x))
    per_slice = _workers(lambda s, r: sigreg.sigreg(s, directions=eye, all_reduce=r, **JB), _split(x))
    for values in per_slice:
        np.testing.assert_allclose(values, expected, rtol=_rtol(dtype_name))
    if dtype_name == "float64":
        value, grad = sigreg.value_and_grad(x, directions=eye, statistic="jarque_bera")
        for v, _ in parts:
            assert float(v) == pytest.approx(float(value), rel=1e-10)
        # Each worker's gradient is scaled by the worker count (DDP then averages).
        got = np.concatenate([g for _, g in parts]) / len(SIZES)
        np.testing.assert_allclose(got, grad, rtol=1e-8, atol=1e-10 * np.max(np.abs(grad)))


def test_accumulated_explicit_gradient_at_an_offset(xp):
    if not has_float64(xp):
        pytest.skip("the 1e-10 comparison needs float64 (JAX without x64 has none)")
    x = (BASE + 1e3) * 1e-3
    eye = asarray(xp, np.eye(3))
    value, grad = sigreg.value_and_grad(x, directions=np.eye(3), statistic="jarque_bera")
    acc = sigreg.Accumulator()
    chunks = [asarray(xp, c) for c in _split(x)]
    for c in chunks:
        sigreg.sigreg(c, directions=eye, statistic="jarque_bera", all_reduce=acc.collect)
    parts = [
        sigreg.value_and_grad(c, directions=eye, statistic="jarque_bera", all_reduce=acc.reduce)
        for c in chunks
    ]
    for v, _ in parts:
        assert float(v) == pytest.approx(float(value), rel=1e-10)
    got = np.concatenate([to_numpy(g) for _, g in parts])
    np.testing.assert_allclose(got, grad, rtol=1e-8, atol=1e-10 * np.max(np.abs(grad)))


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch is not installed")
def test_torch_autograd_through_the_frame():
    import torch

    x = (BASE + 300.0) * 1e5
    w = np.random.default_rng(2).standard_normal((3, 3)) * 0.5 + np.eye(3)
    opts = dict(statistic="jarque_bera", num_slices=5, seed=3)
    weight = torch.tensor(w, requires_grad=True)
    sigreg.sigreg(torch.tensor(x) @ weight, **opts).backward()
    expected = weight.grad.clone()
    weight.grad = None
    acc = sigreg.Accumulator()
    chunks = [torch.tensor(c) for c in _split(x)]
    with torch.no_grad():
        for c in chunks:
            sigreg.sigreg(c @ weight, all_reduce=acc.collect, **opts)
    for c in chunks:
        sigreg.sigreg(c @ weight, all_reduce=acc.reduce, **opts).backward()
    np.testing.assert_allclose(weight.grad.numpy(), expected.numpy(), rtol=1e-8, atol=1e-12)


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="jax is not installed")
def test_jax_grad_through_the_frame_under_jit():
    import jax

    from ..support import backend

    with backend("jax_x64"):
        jnp = jax.numpy
        x = jnp.asarray((BASE - 2e3) * 1e-20)
        w = jnp.asarray(np.random.default_rng(2).standard_normal((3, 3)) * 0.5 + np.eye(3))
        opts = dict(statistic="jarque_bera", num_slices=5, seed=3)

        def loss(w, z, all_reduce=None):
            return sigreg.sigreg(z @ w, all_reduce=all_reduce, **opts)

        expected = jax.grad(loss)(w, x)

        def accumulated(w, x):
            acc = sigreg.Accumulator()
            chunks = [x[:25], x[25:45], x[45:]]
            for c in chunks:
                loss(jax.lax.stop_gradient(w), c, acc.collect)
            return sum(jax.grad(loss)(w, c, acc.reduce) for c in chunks)

        for step in (jax.jit(accumulated),):  # traced: the frame is held as tracers between passes
            np.testing.assert_allclose(
                step(w, x), expected, rtol=1e-8, atol=1e-12 * float(jnp.max(jnp.abs(expected)))
            )


@pytest.mark.skipif(importlib.util.find_spec("dask") is None, reason="dask is not installed")
@pytest.mark.parametrize(("offset", "log_scale"), CASES)
@pytest.mark.parametrize("dtype_name", ["float32", "float64"])
def test_dask_equals_scipy(offset, log_scale, dtype_name):
    import dask.array as da

    x, expected = _samples(offset, log_scale, dtype_name)
    # Unequal chunks, one of them empty (as after a boolean selection).
    z = da.concatenate([da.from_array(x[:0]), da.from_array(x, chunks=(17, 3))])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow or invalid-value warnings either
        got = sigreg.sigreg(z, directions=np.eye(3, dtype=dtype_name), **JB).compute()
    np.testing.assert_allclose(got, expected, rtol=_rtol(dtype_name))
