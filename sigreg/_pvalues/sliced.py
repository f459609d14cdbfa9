"""``sigreg.test``: p-values for the sliced statistic and for each slice.

Per slice, the statistic's asymptotic null law (:mod:`sigreg._pvalues.asymptotic`) where it has
one, else a Monte Carlo null; for the average over slices (dependent: the slices
share the samples) a Monte Carlo null of N(0, I) draws of the same shape, with the
same directions, drawn on the input's device by the counter-based generator of
the directions (a second stream of the same seed), in batches that bound memory.
Monte Carlo nulls are cached under everything they depend on: the statistic and its
options, N, D, K, the number of draws, the seed, the library, device and dtype, and the
directions (drawn from the seed, or given as a host NumPy array: then by their bytes;
explicit directions of any other library are not cached).

Non-finite input gives a NaN statistic, and its p-values are NaN (chosen by ``where`` on
the device: no host sync, no exception).
"""

from __future__ import annotations

import collections
import math
from dataclasses import dataclass
from typing import Any

from .._api import regulariser
from .._backend import dask_arrays, dispatch
from .._core import arrays, checks, draws, dtypes
from .._core.statistic import Statistic
from .._statistics import registry, targets

Array = Any

METHODS = ("auto", "asymptotic", "monte_carlo")
# From this many samples the asymptotic per-slice p-value is within 0.01 of a Monte
# Carlo one (docs/pvalues.md has the table); below it "auto" uses Monte Carlo.
MIN_SAMPLES_ASYMPTOTIC = 32
_BATCH_ELEMENTS = 1 << 22
_CACHE: collections.OrderedDict[tuple[Any, ...], Array] = collections.OrderedDict()
_CACHE_SIZE = 16


@dataclass(frozen=True)
class TestResult:
    """The result of :func:`sigreg.test`, in scipy's style.

    Attributes
    ----------
    statistic : array
        The statistic averaged over slices (0-d).
    pvalue : array
        Its p-value (0-d).
    slice_statistics : array of shape (K,)
        The statistic of each slice.
    slice_pvalues : array of shape (K,)
        The p-value of each slice on its own.
    directions : array of shape (D, K)
        The slice directions (unit columns).
    worst : array
        Indices of up to 10 slices with the smallest p-values, smallest first.
    method : str
        How ``pvalue`` was computed: ``"monte_carlo"``, or ``"asymptotic"`` for one slice.
    slice_method : str
        How ``slice_pvalues`` were computed: ``"asymptotic"`` or ``"monte_carlo"``.

    Examples
    --------
    >>> import numpy as np
    >>> import sigreg
    >>> result = sigreg.test(np.random.default_rng(1).standard_normal((64, 4)), num_slices=8, n_resamples=99)
    >>> result.slice_pvalues.shape, result.worst.shape
    ((8,), (8,))
    """

    __test__ = False  # not a pytest test class

    statistic: Array
    pvalue: Array
    slice_statistics: Array
    slice_pvalues: Array
    directions: Array
    worst: Array
    method: str
    slice_method: str


def test(
    z: Array,
    /,
    *,
    statistic: str | Statistic = "epps_pulley",
    num_slices: int = 1024,
    seed: int = 0,
    directions: Array | None = None,
    method: str = "auto",
    n_resamples: int = 999,
    **options: Any,
) -> TestResult:
    """Test whether embeddings ``z`` are N(0, I): p-values of SIGReg and of each slice.

    Parameters
    ----------
    z : array of shape (N, D)
        N samples of dimension D, real floating.
    statistic : str or Statistic, default "epps_pulley"
        As in :func:`sigreg.sigreg`.
    num_slices : int, default 1024
        Number of directions, drawn with ``seed``; ignored when ``directions`` is given.
    seed : int, default 0
        Seed of the directions and, in a second stream, of the Monte Carlo null draws.
        A fixed seed suits monitoring; a training loss (:func:`sigreg.sigreg`) must
        instead get a fresh seed at every step, or use :class:`sigreg.torch.SIGReg`.
    directions : array of shape (D, K), optional
        Explicit directions (their Monte Carlo null is not cached).
    method : {"auto", "asymptotic", "monte_carlo"}, default "auto"
        Per-slice p-values from the asymptotic null law (Epps-Pulley: a weighted sum of
        chi-square(1) variables, exact in the limit) or from ``n_resamples`` N(0, I)
        draws. The average of dependent slices always uses the Monte Carlo null, except
        for one slice. ``"auto"``: asymptotic per slice from N >= 32, else Monte Carlo.
    n_resamples : int, default 999
        Monte Carlo null draws of shape (N, D).
    **options
        Options of the statistic, as in :func:`sigreg.sigreg`.

    Returns
    -------
    TestResult
        ``statistic``, ``pvalue``, ``slice_statistics``, ``slice_pvalues``,
        ``directions``, ``worst``, ``method``, ``slice_method``; arrays of ``z``'s
        library on ``z``'s device.

    Raises
    ------
    TypeError
        If ``z`` is not a real floating array or an argument has the wrong type.
    ValueError
        If ``z`` is not 2-D or is empty, ``method`` is unknown, ``n_resamples`` is
        below 1, or ``method="asymptotic"`` is asked of a statistic without an
        asymptotic null, of fewer than 16 samples, or of the average of several slices;
        or the statistic has a target other than N(0, 1) (``target=``).

    Examples
    --------
    >>> import numpy as np
    >>> import sigreg
    >>> rng = np.random.default_rng(0)
    >>> result = sigreg.test(rng.standard_normal((256, 8)), num_slices=32, n_resamples=199)
    >>> bool(result.pvalue > 0.01), result.method, result.slice_method
    (True, 'monte_carlo', 'asymptotic')
    >>> skewed = rng.exponential(size=(256, 8))
    >>> bool(sigreg.test(skewed, num_slices=32, n_resamples=199).pvalue < 0.01)
    True
    """
    if dask_arrays.is_dask_array(z):
        raise TypeError(
            "z must be an in-memory array for sigreg.test, got a dask array: use the command "
            "`sigreg test PATH` for files, or sigreg.sigreg(z, reduction='none') for the slice statistics"
        )
    xp = checks.namespace("z", z)
    if z.ndim != 2:
        raise ValueError(f"z must have shape (N, D), got shape {tuple(z.shape)}")
    checks.embeddings("z", z, xp)
    method = checks.choice("method", method, METHODS)
    n_resamples = checks.integer("n_resamples", n_resamples, 1)
    stat = registry.resolve(statistic, options)
    target = stat.target
    if target is not None and not targets.is_normal(target):
        # The null laws here (asymptotic and Monte Carlo) are those of N(0, 1) samples.
        raise ValueError(
            f"sigreg.test computes p-values against N(0, I) only; {stat!r} has target={target!r} "
            "(use sigreg.sigreg for its value)"
        )
    n, dim = z.shape
    if method == "asymptotic" and not has_null_law(stat):
        raise ValueError(f"method='asymptotic' needs a statistic with an asymptotic null law, not {stat!r}")
    if method == "asymptotic" and n < 16:
        raise ValueError(f"method='asymptotic' needs at least 16 samples, got N = {n}: use 'monte_carlo'")
    per_slice = slice_method(stat, method, n)
    if directions is None:
        k = checks.integer("num_slices", num_slices, 1)
        seed = checks.seed(seed, None)
    else:
        checks.namespace("directions", directions)
        if directions.ndim != 2:
            raise ValueError(f"directions must have shape (D, K), got shape {tuple(directions.shape)}")
        k = directions.shape[1]
    if method == "asymptotic" and k > 1:
        raise ValueError(
            "method='asymptotic' gives no p-value for the average of several dependent slices: "
            "use method='auto' or 'monte_carlo' (or num_slices=1)"
        )
    checks.count_fits("n_resamples", n_resamples, n * dim, f"for z of shape (N, D) = ({n}, {dim})")

    z = dispatch.constant(z, xp)
    from_seed = directions is None
    if from_seed:
        dtype = dtypes.compute_dtype(z.dtype, xp)  # the dtype only: no cast of z
        directions = regulariser.directions(dim, k, seed=seed, xp=xp, device=arrays.device(z), dtype=dtype)
    values = regulariser.sigreg(z, statistic=stat, directions=directions, reduction="none")
    # 0, or NaN where z holds a non-finite entry: some statistics map an infinite sample to a
    # finite number (Phi(inf) = 1), but no such sample has a p-value.
    values = values + xp.astype(xp.sum(z - z), values.dtype)
    return pvalues(
        stat, values, n, directions, seed, per_slice, n_resamples, xp, directions_from_seed=from_seed
    )


test.__test__ = False  # type: ignore[attr-defined]  # a library function, not a pytest test


def slice_method(  # numpydoc ignore=PR01,RT01,EX01
    stat: Statistic, method: str, n: int
) -> str:
    """How the per-slice p-values of ``n`` samples are computed for ``method`` (checked).

    ``"auto"``: the asymptotic law where the statistic has one and N is large enough for it
    (``MIN_SAMPLES_ASYMPTOTIC``), else the Monte Carlo null.
    """
    if has_null_law(stat) and (method == "asymptotic" or (method == "auto" and n >= MIN_SAMPLES_ASYMPTOTIC)):
        return "asymptotic"
    return "monte_carlo"


def has_null_law(stat: Statistic) -> bool:  # numpydoc ignore=PR01,RT01,EX01
    """The statistic has an asymptotic null law (it gives its quadrature)."""
    import numpy as np  # host tables: `import sigreg` imports no array library

    return stat.null_quadrature(np) is not None


def pvalues(  # numpydoc ignore=PR01,RT01,EX01
    stat: Statistic,
    values: Array,
    n: int,
    directions: Array,
    seed: Any,
    per_slice: str,
    n_resamples: int,
    xp: Any,
    directions_from_seed: bool = False,
) -> TestResult:
    """The p-values of slice statistics ``values`` (K,) of ``n`` samples (also used by ``sigreg test``).

    The Monte Carlo null draws ``n_resamples`` samples of ``n`` rows; ``sigreg test``
    passes fewer rows than its data holds, since the null law barely depends on N.
    ``directions_from_seed``: the directions are ``seed``'s (the cache key then holds the seed).
    A NaN value gets NaN p-values.
    """
    k = values.shape[0]
    average = xp.mean(values)
    null = None
    if per_slice == "monte_carlo" or k > 1:
        null = null_statistics(stat, n, values, directions, seed, n_resamples, xp, directions_from_seed)
    if per_slice == "asymptotic":
        import numpy as np  # host tables, built on first use: `import sigreg` imports no array library

        from . import asymptotic

        quadrature = stat.null_quadrature(np)
        assert quadrature is not None  # per_slice is "asymptotic" only for a statistic with a null law
        knots, weights = quadrature
        lambdas = asymptotic.chi2_weights(knots, weights)
        table = asymptotic.survival_table(tuple(lambdas.tolist()))
        # The unbiased statistic is the plain one less its null mean sum(lambdas), up to
        # O(1/sqrt(N)): shifted back, it follows the same weighted chi-square law.
        offset = float(np.sum(lambdas)) if stat.centred else 0.0
        slice_p = asymptotic.survival(values + offset, table, xp)
    else:
        slice_p = _exceedance(xp.reshape(null, (-1,)), values, xp)
    if k == 1 and per_slice == "asymptotic":
        pvalue, avg_method = slice_p[0], "asymptotic"
    else:
        pvalue, avg_method = (
            _exceedance(xp.mean(null, axis=-1), xp.reshape(average, (1,)), xp)[0],
            "monte_carlo",
        )
    # NaN statistics (non-finite input) get NaN p-values, whatever the tables or counts say.
    slice_p = xp.where(xp.isnan(values), xp.full_like(slice_p, math.nan), slice_p)
    pvalue = xp.where(xp.isnan(average), xp.full_like(pvalue, math.nan), pvalue)
    worst = xp.argsort(slice_p, stable=True)[: min(10, k)]
    return TestResult(average, pvalue, values, slice_p, directions, worst, avg_method, per_slice)


def _exceedance(null: Array, observed: Array, xp: Any) -> Array:
    """``(1 + #{null >= observed}) / (1 + #null)`` for each observed value (scipy's convention)."""
    ordered = xp.sort(null)
    below = xp.searchsorted(ordered, observed, side="left")
    count = null.shape[0] - xp.astype(below, observed.dtype)
    return (1.0 + count) / (1.0 + null.shape[0])


def _directions_key(directions: Array, seed: Any, from_seed: bool) -> Any:
    """What identifies the directions in the cache key, or None where they are not cached."""
    if from_seed:
        return ("seed", seed) if isinstance(seed, int) and not isinstance(seed, bool) else None
    if arrays.library(directions) == "numpy":  # on the host: their bytes, no device transfer
        import hashlib

        import numpy as np

        data = np.ascontiguousarray(directions)
        return ("bytes", str(data.dtype), hashlib.sha256(data.tobytes()).hexdigest())
    return None


def null_statistics(  # numpydoc ignore=PR01,RT01,EX01
    stat: Statistic,
    n: int,
    like: Array,
    directions: Array,
    seed: Any,
    n_resamples: int,
    xp: Any,
    from_seed: bool = False,
) -> Array:
    """Slice statistics of ``n_resamples`` N(0, I) draws of shape (N, D): (n_resamples, K)."""
    dim, k = directions.shape
    which = _directions_key(directions, seed, from_seed)
    cacheable = which is not None and isinstance(seed, int) and not isinstance(seed, bool)
    key = (stat, n, dim, k, seed, which, n_resamples, xp.__name__, str(arrays.device(like)), str(like.dtype))
    if cacheable and key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    keys = draws.null_sample_keys(draws.seed_keys(seed, xp, arrays.device(like)))
    batch = max(1, _BATCH_ELEMENTS // (n * max(dim, k)))
    parts = []
    for start in range(0, n_resamples, batch):
        size = min(batch, n_resamples - start)
        gauss = draws.standard_normal(dim, size * n, keys, xp, arrays.device(like), like.dtype, start * n)
        samples = xp.reshape(xp.matrix_transpose(gauss), (size, n, dim))
        parts.append(regulariser.sigreg(samples, statistic=stat, directions=directions, reduction="none"))
    null = parts[0] if len(parts) == 1 else xp.concat(parts, axis=0)
    if cacheable:
        _CACHE[key] = null
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return null
