"""Accumulator misuse is refused before any work, naming what differs; correct use stays exact.

Pass 1's first micro-batch fixes the fingerprint (library, device, D, batch axes,
statistic and options, seed and num_slices or the directions); every later
micro-batch of either pass must match it.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

import sigreg

from ..support import asarray, has_float64, to_numpy

OPTS = dict(num_slices=6, seed=5)


def _batches(xp, n=(9, 7), d=4, batch=(), seed=0):
    rng = np.random.default_rng(seed)
    return [asarray(xp, rng.standard_normal((*batch, m, d))) for m in n]


def _collected(xp, **options):
    acc = sigreg.Accumulator()
    chunks = _batches(xp)
    for c in chunks:
        sigreg.sigreg(c, all_reduce=acc.collect, **{**OPTS, **options})
    return acc, chunks


# (what pass 2's first micro-batch, or pass 1's second, changes; the words the error names)
MISMATCHES = {
    "seed": (dict(seed=6), "directions .seed and num_slices"),
    "num_slices": (dict(num_slices=7), "directions .seed and num_slices"),
    "statistic": (dict(statistic="moments"), "statistic"),
    "option": (dict(t_max=2.0), "statistic .or its options"),
}


@pytest.mark.parametrize("phase", ["collect", "reduce"])
@pytest.mark.parametrize("case", sorted(MISMATCHES))
def test_other_draw_or_statistic_is_refused(xp, phase, case):
    options, words = MISMATCHES[case]
    acc = sigreg.Accumulator()
    first, second = _batches(xp)
    sigreg.sigreg(first, all_reduce=acc.collect, **OPTS)
    hook = acc.collect if phase == "collect" else acc.reduce
    with pytest.raises(ValueError, match=f"Accumulator.{phase}.*its {words}.* differs"):
        sigreg.sigreg(second, all_reduce=hook, **{**OPTS, **options})


@pytest.mark.parametrize("phase", ["collect", "reduce"])
def test_other_dimension_or_batch_axes_is_refused(xp, phase):
    acc = sigreg.Accumulator()
    sigreg.sigreg(_batches(xp)[0], all_reduce=acc.collect, **OPTS)
    hook = acc.collect if phase == "collect" else acc.reduce
    with pytest.raises(ValueError, match="its dimension D differs, 3 here against 4"):
        sigreg.sigreg(_batches(xp, d=3)[1], all_reduce=hook, **OPTS)
    with pytest.raises(ValueError, match=r"its batch axes differ|its batch axes differs"):
        sigreg.sigreg(_batches(xp, batch=(2,))[1], all_reduce=hook, **OPTS)


def test_the_same_micro_batch_twice_is_refused(xp):
    acc = sigreg.Accumulator()
    first, second = _batches(xp)
    sigreg.sigreg(first, all_reduce=acc.collect, **OPTS)
    with pytest.raises(ValueError, match=r"same array object.*already seen in pass 1"):
        sigreg.sigreg(first, all_reduce=acc.collect, **OPTS)
    sigreg.sigreg(second, all_reduce=acc.collect, **OPTS)  # the refused call left no trace
    sigreg.value_and_grad(first, all_reduce=acc.reduce, **OPTS)
    with pytest.raises(ValueError, match=r"same array object.*already seen in pass 2"):
        sigreg.value_and_grad(first, all_reduce=acc.reduce, **OPTS)


def test_more_micro_batches_or_other_sizes_in_pass_2_are_refused(xp):
    acc, (first, second) = _collected(xp)
    with pytest.raises(ValueError, match=r"a micro-batch of 5 samples in pass 2.*left: .7, 9."):
        sigreg.sigreg(_batches(xp, n=(5,))[0], all_reduce=acc.reduce, **OPTS)
    sigreg.sigreg(first, all_reduce=acc.reduce, **OPTS)
    sigreg.sigreg(second, all_reduce=acc.reduce, **OPTS)
    with pytest.raises(ValueError, match="more micro-batches in pass 2 than the 2 of pass 1"):
        sigreg.sigreg(_batches(xp, n=(7,), seed=1)[0], all_reduce=acc.reduce, **OPTS)


def test_order_of_the_passes_is_enforced(xp):
    acc = sigreg.Accumulator()
    first, second = _batches(xp)
    with pytest.raises(RuntimeError, match=r"reduce called before any Accumulator\.collect"):
        sigreg.sigreg(first, all_reduce=acc.reduce, **OPTS)
    sigreg.sigreg(first, all_reduce=acc.collect, **OPTS)
    sigreg.sigreg(first, all_reduce=acc.reduce, **OPTS)
    with pytest.raises(RuntimeError, match="after pass 2 started"):
        sigreg.sigreg(second, all_reduce=acc.collect, **OPTS)


def test_explicit_directions_by_identity_and_by_value(xp):
    """The same object, or an equal copy, is exact; other values are refused."""
    if not has_float64(xp):
        pytest.skip("the 1e-10 comparison needs float64 (JAX without x64 has none)")
    chunks = _batches(xp)
    a = np.random.default_rng(3).standard_normal((4, 5))
    directions = asarray(xp, a)
    whole = np.concatenate([to_numpy(c) for c in chunks], axis=-2)
    value, grad = sigreg.value_and_grad(whole, directions=a)
    acc = sigreg.Accumulator()
    sigreg.sigreg(chunks[0], all_reduce=acc.collect, directions=directions)
    sigreg.sigreg(chunks[1], all_reduce=acc.collect, directions=asarray(xp, a.copy()))  # equal copy
    parts = [
        sigreg.value_and_grad(chunks[0], all_reduce=acc.reduce, directions=directions),
        sigreg.value_and_grad(chunks[1], all_reduce=acc.reduce, directions=asarray(xp, a.copy())),
    ]
    for v, _ in parts:
        assert abs(float(v) - value) <= 1e-10 * abs(value)
    got = np.concatenate([to_numpy(g) for _, g in parts], axis=-2)
    np.testing.assert_allclose(got, grad, rtol=1e-10, atol=1e-12)

    acc = sigreg.Accumulator()
    sigreg.sigreg(chunks[0], all_reduce=acc.collect, directions=directions)
    other = a.copy()
    other[2, 1] += 1e-3
    with pytest.raises(ValueError, match="directions differ in value from pass 1's"):
        sigreg.sigreg(chunks[1], all_reduce=acc.collect, directions=asarray(xp, other))
    with pytest.raises(ValueError, match="directions of shape"):
        sigreg.sigreg(chunks[1], all_reduce=acc.reduce, directions=asarray(xp, a[:, :3]))
    with pytest.raises(ValueError, match=r"directions .seed and num_slices"):
        sigreg.sigreg(chunks[1], all_reduce=acc.collect, **OPTS)


def test_lejepa_loss_is_checked_too(xp):
    acc = sigreg.Accumulator()
    views = _batches(xp, n=(8,), batch=(2,))[0]
    sigreg.lejepa_loss(views, all_reduce=acc.collect, **OPTS)
    with pytest.raises(ValueError, match="seed and num_slices"):
        sigreg.lejepa_loss(views, all_reduce=acc.reduce, num_slices=3, seed=5)


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch is not installed")
def test_numpy_then_torch_is_a_type_error_naming_the_libraries():
    import torch

    acc = sigreg.Accumulator()
    z = np.random.default_rng(0).standard_normal((8, 3))
    sigreg.sigreg(z, all_reduce=acc.collect, **OPTS)
    with pytest.raises(TypeError, match=r"array library differs, 'array_api_compat.torch' here against"):
        sigreg.sigreg(torch.tensor(z), all_reduce=acc.reduce, **OPTS)


def test_array_seeds_are_not_compared_and_stay_exact():
    """A seed given as an array may be traced: it is not compared (documented), and equal seeds
    give the exact global value."""
    z = np.random.default_rng(1).standard_normal((2, 10, 3))
    value = sigreg.sigreg(np.concatenate(list(z)), num_slices=4, seed=9)
    acc = sigreg.Accumulator()
    for c in z:
        sigreg.sigreg(c, all_reduce=acc.collect, num_slices=4, seed=np.array(9, dtype=np.int64))
    for c in z:
        got = sigreg.sigreg(c, all_reduce=acc.reduce, num_slices=4, seed=np.array(9, dtype=np.int64))
        assert float(got) == pytest.approx(float(value), rel=1e-12)
