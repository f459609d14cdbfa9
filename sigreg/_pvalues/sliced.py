"""``sigreg.test``: p-values for the sliced statistic and for each slice.

Where the statistic has an asymptotic null law (Epps-Pulley) and N is large enough: per slice,
that law (:mod:`sigreg._pvalues.asymptotic`); for the average over the slices (dependent: they
share the samples), its asymptotic law given the directions' Gram matrix
(:mod:`sigreg._pvalues.average`), computed on the host from the directions (drawn again there
from the seed, or given; directions of another library are copied to the host, K x D numbers).
Otherwise a Monte Carlo null of N(0, I) draws of the same shape, with the same directions, drawn
on the input's device by the counter-based generator of the directions (a second stream of the
same seed), in batches that bound memory, with a progress bar on a terminal when it runs long.
Nulls are cached under everything they depend on: the statistic and its options, N, D, K, the
number of draws, the seed, the library, device and dtype, and the directions (drawn from the
seed, or given as a host NumPy array: then by their bytes; explicit directions of any other
library are not cached). A cache entry is written only once complete: an interrupted run
(KeyboardInterrupt) leaves the cache as it was.

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
from .progress import Progress

Array = Any

METHODS = ("auto", "asymptotic", "monte_carlo")
# From this many samples the asymptotic per-slice p-value is within 0.01 of a Monte
# Carlo one (docs/pvalues.md has the table); below it "auto" uses Monte Carlo.
MIN_SAMPLES_ASYMPTOTIC = 32
_BATCH_ELEMENTS = 1 << 22
_CACHE: collections.OrderedDict[tuple[Any, ...], Array] = collections.OrderedDict()
_CACHE_SIZE = 16
NUM_SLICES = 256  # the default of sigreg.test and of `sigreg test`
N_RESAMPLES = 999  # Monte Carlo draws, where there is no asymptotic law (or method="monte_carlo")


@dataclass(frozen=True, repr=False)
class TestResult:
    """The result of :func:`sigreg.test`, in scipy's style.

    Its repr is one line: the statistic, the p-value, how it was computed, N, the number of
    slices and the worst slice; the arrays are attributes.

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
        How ``pvalue`` was computed: ``"asymptotic"`` (the asymptotic law of the average given
        the directions, or of the one slice) or ``"monte_carlo"``.
    slice_method : str
        How ``slice_pvalues`` were computed: ``"asymptotic"`` or ``"monte_carlo"``.
    num_samples : int
        N, the samples tested.

    Examples
    --------
    >>> import numpy as np
    >>> import sigreg
    >>> result = sigreg.test(np.random.default_rng(1).standard_normal((64, 4)), num_slices=8)
    >>> result.slice_pvalues.shape, result.worst.shape
    ((8,), (8,))
    >>> result  # doctest: +ELLIPSIS
    TestResult(statistic=..., pvalue=..., method='asymptotic', num_samples=64, num_slices=8, worst_slice=...)
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
    num_samples: int

    @property
    def num_slices(self) -> int:
        """K, the number of slices.

        Returns
        -------
        int
            The length of ``slice_statistics``.

        Examples
        --------
        >>> import numpy as np
        >>> import sigreg
        >>> sigreg.test(np.random.default_rng(1).standard_normal((64, 4)), num_slices=8).num_slices
        8
        """
        return int(self.slice_statistics.shape[0])

    def __repr__(self) -> str:  # numpydoc ignore=GL08
        # Host numbers: a repr reads the device (the arrays stay where they are).
        worst = int(self.worst[0])
        return (
            f"TestResult(statistic={float(self.statistic):.4g}, pvalue={float(self.pvalue):.4g}, "
            f"method={self.method!r}, num_samples={self.num_samples}, num_slices={self.num_slices}, "
            f"worst_slice={worst} (statistic={float(self.slice_statistics[worst]):.4g}, "
            f"pvalue={float(self.slice_pvalues[worst]):.4g}, {self.slice_method}))"
        )


def test(
    z: Array,
    /,
    *,
    statistic: str | Statistic = "epps_pulley",
    num_slices: int = NUM_SLICES,
    seed: int = 0,
    directions: Array | None = None,
    method: str = "auto",
    n_resamples: int = N_RESAMPLES,
    **options: Any,
) -> TestResult:
    """Test whether embeddings ``z`` are N(0, I): p-values of SIGReg and of each slice.

    Parameters
    ----------
    z : array of shape (N, D)
        N samples of dimension D, real floating.
    statistic : str or Statistic, default "epps_pulley"
        As in :func:`sigreg.sigreg`.
    num_slices : int, default 256
        Number of directions, drawn with ``seed``; ignored when ``directions`` is given.
    seed : int, default 0
        Seed of the directions and, in a second stream, of the Monte Carlo null draws.
        A fixed seed suits monitoring; a training loss (:func:`sigreg.sigreg`) must
        instead get a fresh seed at every step, or use :class:`sigreg.torch.SIGReg`.
    directions : array of shape (D, K), optional
        Explicit directions (their Monte Carlo null is not cached).
    method : {"auto", "asymptotic", "monte_carlo"}, default "auto"
        P-values from the asymptotic null laws (Epps-Pulley: per slice a weighted sum of
        chi-square(1) variables, exact in the limit; for the average of the dependent slices
        the law given the directions' Gram matrix, by its first three cumulants), or from
        ``n_resamples`` N(0, I) draws. ``"auto"``: asymptotic from N >= 32, else Monte Carlo
        (and Monte Carlo for statistics without an asymptotic law).
    n_resamples : int, default 999
        Monte Carlo null draws of shape (N, D), where the Monte Carlo null is used. A run
        of more than a few seconds shows a progress bar on a terminal (with tqdm installed);
        KeyboardInterrupt stops it and leaves no partial null cached.
    **options
        Options of the statistic, as in :func:`sigreg.sigreg`.

    Returns
    -------
    TestResult
        ``statistic``, ``pvalue``, ``slice_statistics``, ``slice_pvalues``,
        ``directions``, ``worst``, ``method``, ``slice_method``, ``num_samples``; arrays of
        ``z``'s library on ``z``'s device. Its repr is one line.

    Raises
    ------
    TypeError
        If ``z`` is not a real floating array or an argument has the wrong type.
    ValueError
        If ``z`` is not 2-D or is empty, ``method`` is unknown, ``n_resamples`` is
        below 1, or ``method="asymptotic"`` is asked of a statistic without an
        asymptotic null or of fewer than 16 samples; or the statistic has a target other
        than N(0, 1) (``target=``).

    Examples
    --------
    >>> import numpy as np
    >>> import sigreg
    >>> rng = np.random.default_rng(0)
    >>> result = sigreg.test(rng.standard_normal((256, 8)), num_slices=32)
    >>> bool(result.pvalue > 0.01), result.method, result.slice_method
    (True, 'asymptotic', 'asymptotic')
    >>> skewed = rng.exponential(size=(256, 8))
    >>> bool(sigreg.test(skewed, num_slices=32).pvalue < 0.01)
    True
    >>> sigreg.test(skewed, num_slices=32, method="monte_carlo", n_resamples=199).method
    'monte_carlo'
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
    progress: bool = True,
) -> TestResult:
    """The p-values of slice statistics ``values`` (K,) of ``n`` samples (also used by ``sigreg test``).

    ``per_slice == "asymptotic"``: the asymptotic laws, per slice and of the average; else the
    Monte Carlo null of ``n_resamples`` draws of ``n`` rows (``sigreg test`` may pass fewer rows
    than its data holds: the null law of a statistic of sums barely depends on N).
    ``directions_from_seed``: the directions are ``seed``'s (the cache key then holds the seed).
    A NaN value gets NaN p-values.
    """
    k = values.shape[0]
    average = xp.mean(values)
    if per_slice == "asymptotic":
        from . import asymptotic

        table, offset = slice_law(stat)
        slice_p = asymptotic.survival(values + offset, table, xp)
        if k == 1:
            pvalue = slice_p[0]
        else:
            law = average_law(stat, directions, seed, directions_from_seed)
            pvalue = asymptotic.survival(xp.reshape(average + offset, (1,)), law, xp)[0]
        avg_method = "asymptotic"
    else:
        null = null_statistics(
            stat, n, values, directions, seed, n_resamples, xp, directions_from_seed, progress
        )
        slice_p = _exceedance(xp.reshape(null, (-1,)), values, xp)
        pvalue = _exceedance(xp.mean(null, axis=-1), xp.reshape(average, (1,)), xp)[0]
        avg_method = "monte_carlo"
    # NaN statistics (non-finite input) get NaN p-values, whatever the tables or counts say.
    slice_p = xp.where(xp.isnan(values), xp.full_like(slice_p, math.nan), slice_p)
    pvalue = xp.where(xp.isnan(average), xp.full_like(pvalue, math.nan), pvalue)
    worst = xp.argsort(slice_p, stable=True)[: min(10, k)]
    return TestResult(average, pvalue, values, slice_p, directions, worst, avg_method, per_slice, n)


def slice_law(stat: Statistic) -> tuple[Any, float]:  # numpydoc ignore=PR01,RT01,EX01,SS06,GL02
    """The survival table of one slice's asymptotic null law, and the offset that puts the
    statistic on it (its null mean, for a centred statistic; else 0)."""
    import numpy as np  # host tables, built on first use: `import sigreg` imports no array library

    from . import asymptotic

    quadrature = stat.null_quadrature(np)
    assert quadrature is not None  # called only for a statistic with a null law
    lambdas = asymptotic.chi2_weights(*quadrature)
    # The unbiased statistic is the plain one less its null mean sum(lambdas), up to
    # O(1/sqrt(N)): shifted back, it follows the same weighted chi-square law.
    offset = float(np.sum(lambdas)) if stat.centred else 0.0
    return asymptotic.survival_table(tuple(lambdas.tolist())), offset


def average_law(  # numpydoc ignore=PR01,RT01,EX01,SS06,GL02
    stat: Statistic, directions: Array, seed: Any, from_seed: bool
) -> Any:
    """The survival table of the asymptotic law of the average over the slices of ``directions``
    (:mod:`sigreg._pvalues.average`; one slice's law for one slice), cached as the Monte Carlo
    nulls are. The statistic goes on it shifted as on :func:`slice_law`'s."""
    import numpy as np

    from . import average

    dim, k = directions.shape
    if k == 1:
        return slice_law(stat)[0]
    which = _directions_key(directions, seed, from_seed)
    key = ("average", stat, dim, k, which)
    if which is not None and key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    if from_seed and which is not None:  # drawn again on the host: no copy from the device
        host = np.asarray(regulariser.directions(dim, k, seed=seed, dtype=np.float64))
    else:
        host = _to_host(directions)
    quadrature = stat.null_quadrature(np)
    assert quadrature is not None  # called only for a statistic with a null law
    knots, weights = quadrature
    kernel = (tuple(np.asarray(knots).tolist()), tuple(np.asarray(weights).tolist()))
    table = average.survival_table(*average.cumulants(average.unit_columns(host), *kernel))
    if which is not None:
        _store(key, table)
    return table


def _to_host(x: Array) -> Any:
    """A NumPy copy of an array of any library and device."""
    import numpy as np

    library = arrays.library(x)
    if library == "cupy":
        return x.get()
    if library == "torch":
        return x.detach().cpu().numpy()
    if library == "numpy" or library.startswith("jax"):
        return np.asarray(x)
    return np.from_dlpack(x)  # array-api-strict and other CPU arrays


def _store(key: tuple[Any, ...], value: Any) -> None:
    _CACHE[key] = value
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)


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
    progress: bool = True,
) -> Array:
    """Slice statistics of ``n_resamples`` N(0, I) draws of shape (N, D): (n_resamples, K).

    In batches, with a progress bar on a terminal once it has run a few seconds; cached only
    once every batch is done (KeyboardInterrupt leaves the cache as it was).
    """
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
    with Progress(n_resamples, "sigreg.test: Monte Carlo null", "draw", progress) as bar:
        for start in range(0, n_resamples, batch):
            size = min(batch, n_resamples - start)
            gauss = draws.standard_normal(dim, size * n, keys, xp, arrays.device(like), like.dtype, start * n)
            samples = xp.reshape(xp.matrix_transpose(gauss), (size, n, dim))
            parts.append(regulariser.sigreg(samples, statistic=stat, directions=directions, reduction="none"))
            bar.update(size)
    null = parts[0] if len(parts) == 1 else xp.concat(parts, axis=0)
    if cacheable:
        _store(key, null)
    return null
