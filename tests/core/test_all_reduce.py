"""The all-reduce protocol (``sigreg/_core/all_reduce.py``): a plain function enters once, wrapped."""

from __future__ import annotations

import numpy as np
import pytest

import sigreg
from sigreg._core.all_reduce import AllReduce, as_all_reduce


def test_a_plain_function_is_wrapped_with_the_defaults():
    calls = []

    def twice(x):
        calls.append(x.shape)
        return 2.0 * x

    wrapped = as_all_reduce(twice)
    assert isinstance(wrapped, AllReduce) and not wrapped.holds_arrays
    np.testing.assert_array_equal(wrapped(np.ones(3)), 2.0 * np.ones(3))
    np.testing.assert_array_equal(wrapped.agree(np.ones(2)), 2.0 * np.ones(2))  # the frame's round: a sum
    assert wrapped.observe(np.ones((4, 2)), np, None, 0, 8, None) is None
    assert calls == [(3,), (2,)]
    # Equal and hashed as the function: JAX's jit cache is hit by the same function wrapped again.
    assert wrapped == as_all_reduce(twice) and hash(wrapped) == hash(as_all_reduce(twice))
    assert as_all_reduce(wrapped) is wrapped and as_all_reduce(None) is None


def test_not_a_callable_is_refused_naming_the_argument():
    with pytest.raises(TypeError, match="all_reduce must be a callable or None, got int"):
        as_all_reduce(3)
    with pytest.raises(TypeError, match="all_reduce must be a callable or None, got str"):
        sigreg.sigreg(np.ones((4, 2)), all_reduce="sum")


def test_the_global_statistic_of_workers_that_see_the_same_batch():
    """Two workers holding the same samples: the sum over them doubles every sum and the count. The
    global batch has the same ECF and twice the samples, so twice the statistic (N times a function
    of the ECF); each worker's gradient is scaled by the 2 workers, so that DDP's average of the two
    is the single-process gradient of the 2N samples, which for each copy is the N-sample one."""
    z = np.random.default_rng(0).standard_normal((40, 3))
    a = sigreg.directions(3, 5, seed=1)
    value, grad = sigreg.value_and_grad(z, directions=a)
    reduced, reduced_grad = sigreg.value_and_grad(z, directions=a, all_reduce=lambda x: 2.0 * x)
    assert float(reduced) == pytest.approx(2.0 * float(value), rel=1e-12)
    np.testing.assert_allclose(reduced_grad / 2.0, grad, rtol=1e-10)
