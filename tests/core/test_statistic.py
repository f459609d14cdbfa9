"""The contract every registered statistic keeps, on every backend.

Parametrised over ``sigreg.stats.available()`` (with the option variants below)
and the ``xp`` fixture. A new statistic joins by registering; its own tests
against an independent oracle go in a file of its own.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import sigreg
import sigreg.stats

from .. import oracle
from ..support import asarray, float_dtypes, has_float64, is_jax, max_rel, to_numpy, xp_assert_close

# Option sets beyond each statistic's defaults that change its code path.
VARIANTS = {
    "epps_pulley": [{"integration": "exact"}, {"t_max": 5.0, "num_points": 9}],
    "moments": [{"order": 2}, {"order": 8}],
    "entropy": [{"window_length": 2}],
    "wasserstein": [{"p": 1.0}, {"p": 3.5}],
}
# The per-slice score as the documented function of the public statistic (identity if absent).
SCORE_OF_STATISTIC = {
    "shapiro_wilk": lambda w, x, options: 1.0 - w,
    "entropy": lambda h, x, options: np.mean(x**2, axis=0) / 2 + np.log(2 * np.pi) / 2 - h,
    "wasserstein": lambda w, x, options: w ** options["p"],
}


def _statistics():
    for name in sigreg.stats.available():
        for options in [{}, *VARIANTS.get(name, [])]:
            label = ",".join(f"{k}={v}" for k, v in options.items())
            yield pytest.param(sigreg.stats.get(name, **options), id=f"{name}[{label}]" if label else name)


STATISTICS = list(_statistics())


def _case(seed=0, batch=(), n=24, d=4, k=5):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((*batch, n, d)) * 1.2 + 0.2
    a = rng.standard_normal((d, k))
    return z, a / np.linalg.norm(a, axis=0)


@pytest.mark.parametrize("statistic", STATISTICS)
def test_is_frozen_hashable_and_equal_by_options(statistic):
    again = sigreg.stats.get(statistic.name, **_options(statistic))
    assert again == statistic and hash(again) == hash(statistic)
    with pytest.raises(AttributeError):
        statistic.name_of_nothing = 1  # frozen: no new attributes either
    assert isinstance(statistic, sigreg.stats.Statistic)
    if statistic.has_sums:
        assert isinstance(statistic, sigreg.stats.SumsStatistic)


def _options(statistic):
    import dataclasses

    return {f.name: getattr(statistic, f.name) for f in dataclasses.fields(statistic) if f.init}


@pytest.mark.parametrize("statistic", STATISTICS)
@pytest.mark.parametrize("batch", [(), (3,), (2, 2)])
def test_shapes_dtypes_and_batching(xp, statistic, batch):
    z, a = _case(batch=batch)
    for dtype in float_dtypes(xp):
        zx, ax = asarray(xp, z, dtype), asarray(xp, a, dtype)
        values = sigreg.sigreg(zx, directions=ax, statistic=statistic, reduction="none")
        assert values.dtype == dtype and tuple(values.shape) == (*batch, a.shape[1])
        flat = np.reshape(z, (-1, *z.shape[-2:]))
        expected = np.stack(
            [
                to_numpy(
                    sigreg.sigreg(asarray(xp, v, dtype), directions=ax, statistic=statistic, reduction="none")
                )
                for v in flat
            ]
        )
        # float32: the exact form loses about log10(N) digits to cancellation, in any order of sums
        rtol, atol = (1e-12, 1e-12) if dtype == getattr(xp, "float64", None) else (1e-4, 1e-5 * z.shape[-2])
        np.testing.assert_allclose(to_numpy(values).reshape(expected.shape), expected, rtol=rtol, atol=atol)
        assert np.all(np.isfinite(expected))


@pytest.mark.parametrize("statistic", STATISTICS)
def test_along_axis_equals_sliced_with_unit_directions(xp, statistic):
    """``sigreg(z, directions=I)`` tests the coordinates: the same as the statistic along axis 0."""
    z, _ = _case(seed=1)
    name = statistic.name
    options = _options(statistic)
    along = getattr(sigreg.stats, name)(asarray(xp, z), axis=0, **options)
    score = SCORE_OF_STATISTIC.get(name, lambda value, x, options: value)
    along = score(to_numpy(along).astype(np.float64), z, options)
    sliced = sigreg.sigreg(
        asarray(xp, z), directions=asarray(xp, np.eye(4)), statistic=statistic, reduction="none"
    )
    atol = 1e-12 if has_float64(xp) else 1e-5 * z.shape[0]  # float32 exact form: cancellation
    xp_assert_close(sliced, along, xp=xp, rtol=1e-6, atol=atol)


@pytest.mark.parametrize("statistic", STATISTICS)
def test_gradient_matches_finite_differences(xp, statistic):
    if not has_float64(xp):
        pytest.skip("needs float64 (JAX x64 is off)")
    z, a = _case(seed=2, batch=(2,), n=9, d=3, k=4)
    value, grad = sigreg.value_and_grad(asarray(xp, z), directions=asarray(xp, a), statistic=statistic)
    numeric = oracle.numerical_grad(lambda x: float(sigreg.sigreg(x, directions=a, statistic=statistic)), z)
    assert max_rel(grad, numeric) <= 1e-6
    assert float(to_numpy(value)) == pytest.approx(float(sigreg.sigreg(z, directions=a, statistic=statistic)))


@pytest.mark.parametrize("statistic", STATISTICS)
def test_framework_autodiff_equals_the_explicit_gradient(xp, statistic):
    z, a = _case(seed=3, n=16)
    zx, ax = asarray(xp, z), asarray(xp, a)
    _, expected = sigreg.value_and_grad(zx, directions=ax, statistic=statistic)
    rtol = 1e-10 if has_float64(xp) else 1e-5
    if is_jax(xp):
        import jax

        grad = jax.grad(lambda x: sigreg.sigreg(x, directions=ax, statistic=statistic))(zx)
        jitted = jax.jit(jax.grad(lambda x: sigreg.sigreg(x, directions=ax, statistic=statistic)))(zx)
        assert max_rel(jitted, to_numpy(expected)) <= rtol
    elif "torch" in xp.__name__:
        x = zx.clone().requires_grad_(True)
        sigreg.sigreg(x, directions=ax, statistic=statistic).backward()
        grad = x.grad
    else:
        pytest.skip(f"{xp.__name__} has no autodiff: value_and_grad is its gradient")
    assert max_rel(grad, to_numpy(expected)) <= rtol


@pytest.mark.slow
@pytest.mark.parametrize("statistic", STATISTICS)
def test_torch_compile_fullgraph(statistic):
    torch = pytest.importorskip("torch")
    torch._dynamo.reset()  # one code object per statistic would exceed the recompile limit
    z, a = _case(seed=4)
    zt, at = torch.asarray(z, dtype=torch.float32), torch.asarray(a, dtype=torch.float32)

    def loss(x):
        return sigreg.sigreg(x, directions=at, statistic=statistic)

    x1, x2 = zt.clone().requires_grad_(True), zt.clone().requires_grad_(True)
    eager = loss(x1)
    eager.backward()
    compiled = torch.compile(loss, fullgraph=True, backend="eager")(x2)
    compiled.backward()
    torch.testing.assert_close(compiled, eager, rtol=1e-6, atol=0)
    torch.testing.assert_close(x2.grad, x1.grad, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("statistic", [s for s in STATISTICS if s.values[0].has_sums])
def test_all_reduce_equals_the_concatenated_batch(xp, statistic):
    """Two workers emulated in one process: worker B's packed sums are added to worker A's.

    B's packed arrays are captured on NumPy (a JAX all_reduce runs under jit, where
    capturing would leak a tracer) and given to A's backend as constants, one per round
    of reduction (two for Jarque-Bera: its shift and scale, then its sums about them;
    B's second round needs the reduced first, so A's first round is captured first).
    """
    z, a = _case(seed=5, n=30)
    za, ax = asarray(xp, z[:13]), asarray(xp, a)

    def rounds(samples, others):
        captured = []

        def capture(packed):
            captured.append(packed)
            return packed + others[len(captured) - 1] if len(captured) <= len(others) else packed

        sigreg.sigreg(samples, directions=a, statistic=statistic, all_reduce=capture)
        return captured

    first_of_a = rounds(z[:13], [])[:1]
    others = [asarray(xp, packed, za.dtype) for packed in rounds(z[13:], first_of_a)]
    calls = []

    def two_workers(packed):
        calls.append(None)
        return packed + others[(len(calls) - 1) % len(others)]

    value = sigreg.sigreg(za, directions=ax, statistic=statistic, all_reduce=two_workers)
    full_value, full_grad = sigreg.value_and_grad(asarray(xp, z), directions=ax, statistic=statistic)
    rtol = 1e-12 if has_float64(xp) else 2e-5
    xp_assert_close(value, float(to_numpy(full_value)), xp=xp, rtol=rtol)
    _, grad_a = sigreg.value_and_grad(za, directions=ax, statistic=statistic, all_reduce=two_workers)
    # Each worker's gradient is scaled by the worker count (2): DDP's average is the full gradient.
    np.testing.assert_allclose(
        to_numpy(grad_a) / 2, to_numpy(full_grad)[:13], rtol=max(rtol, 1e-4), atol=1e-9
    )


@pytest.mark.parametrize("statistic", STATISTICS)
def test_bad_options_are_rejected(statistic):
    with pytest.raises(TypeError, match="unexpected keyword"):
        sigreg.stats.get(statistic.name, no_such_option=1)
    with pytest.raises(TypeError, match="can only be given with a statistic name"):
        sigreg.sigreg(np.ones((4, 2)), statistic=statistic, num_points=5)
    with pytest.raises(ValueError, match="statistic must be one of"):
        sigreg.sigreg(np.ones((4, 2)), statistic=statistic.name + "_nope")
    with pytest.raises(TypeError, match="statistic must be a registered name or a Statistic"):
        sigreg.sigreg(np.ones((4, 2)), statistic=type(statistic))


def test_every_statistic_has_a_public_function():
    for name in sigreg.stats.available():
        assert callable(getattr(sigreg.stats, name, None)), name
    assert math.isfinite(float(sigreg.stats.epps_pulley(np.arange(5.0))))


# The rule for degenerate samples, held by every registered statistic (and its variants):
# a collapsed, near-constant or rank-deficient cloud never scores at or below the null mean
# of the score, never -inf, and gives NaN in the same places on every backend. Statistics
# blind to scale (a ClassVar ``scale_free = True``, documented) are exempt from the
# rank-deficient case only: a line with a Gaussian profile is normal to them.
DEGENERATE_N, DEGENERATE_D, DEGENERATE_K = 32, 4, 8
_NULL_MEANS: dict = {}


def _null_mean(statistic, a):
    """The score's mean under the null: float64 NumPy, 16 N(0, I) draws (a Monte Carlo oracle)."""
    if statistic not in _NULL_MEANS:
        rng = np.random.default_rng(123)
        draws = rng.standard_normal((16, DEGENERATE_N, DEGENERATE_D))
        _NULL_MEANS[statistic] = float(sigreg.sigreg(draws, directions=a, statistic=statistic))
    return _NULL_MEANS[statistic]


def _degenerate_clouds():
    rng = np.random.default_rng(7)
    n, d = DEGENERATE_N, DEGENERATE_D
    point = rng.standard_normal(d)
    clouds = {
        "origin": np.zeros((n, d)),
        "point": np.broadcast_to(point, (n, d)).copy(),
        "far point": np.full((n, d), 40.0),
    }
    nudged = clouds["point"].copy()
    nudged[5] += 1e-3 * np.abs(point)  # constant but for one sample: near-constant
    clouds["near-constant"] = nudged
    line = rng.standard_normal((n, 1)) * rng.standard_normal((1, d)) / math.sqrt(d)  # rank 1
    clouds["line"] = line
    return clouds


DEGENERATE = _degenerate_clouds()


@pytest.mark.parametrize("statistic", STATISTICS)
@pytest.mark.parametrize("cloud", list(DEGENERATE))
def test_degenerate_samples_never_score_best(xp, statistic, cloud):
    z = DEGENERATE[cloud]
    a = sigreg.directions(DEGENERATE_D, DEGENERATE_K, seed=3)
    null_mean = _null_mean(statistic, a)
    reference = to_numpy(sigreg.sigreg(z, directions=a, statistic=statistic, reduction="none"))
    scale_free = getattr(type(statistic), "scale_free", False)
    for dtype in float_dtypes(xp):
        values = to_numpy(
            sigreg.sigreg(
                asarray(xp, z, dtype), directions=asarray(xp, a, dtype), statistic=statistic, reduction="none"
            )
        ).astype(np.float64)
        assert not np.any(values == -np.inf), values
        # NaN in the same slices as float64 NumPy (float32 may resolve the nudged sample
        # differently, so only the exactly constant clouds are compared slice by slice).
        if cloud in ("origin", "point", "far point"):
            np.testing.assert_array_equal(np.isnan(values), np.isnan(reference))
        loss = float(np.mean(values))
        if cloud == "line" and scale_free:
            assert np.isnan(loss) or loss >= 0.0
            continue
        assert np.isnan(loss) or loss > null_mean, (cloud, loss, null_mean)
        finite = values[~np.isnan(values)]
        assert np.all(finite >= 0.0), finite


EMBEDDING_STATISTICS = [
    pytest.param(lambda z: sigreg.stats.henze_zirkler(z), id="henze_zirkler"),
    pytest.param(lambda z: sigreg.stats.bhep(z, standardize=True), id="bhep[standardize]"),
]


@pytest.mark.parametrize("function", EMBEDDING_STATISTICS)
def test_standardised_embedding_statistics_give_nan_for_a_singular_covariance(xp, function):
    rng = np.random.default_rng(8)
    z = rng.standard_normal((40, 3))
    collinear = z.copy()
    collinear[:, 2] = z[:, 0] - 2.0 * z[:, 1]
    for dtype in float_dtypes(xp):
        for cloud in (collinear, np.ones((40, 3)), np.zeros((40, 3))):
            assert np.isnan(float(to_numpy(function(asarray(xp, cloud, dtype)))))
        assert np.isfinite(float(to_numpy(function(asarray(xp, z, dtype)))))
    zx = asarray(xp, collinear)
    if is_jax(xp):
        import jax

        grad = jax.grad(function)(zx)
    elif "torch" in xp.__name__:
        x = zx.clone().requires_grad_(True)
        function(x).backward()
        grad = x.grad
    else:
        return
    assert np.all(np.isnan(to_numpy(grad)))  # NaN, never a meaningless direction
