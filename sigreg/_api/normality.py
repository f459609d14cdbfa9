"""The normality statistics of the literature as functions of samples along an axis.

Re-exported by :mod:`sigreg.stats`. Each function checks its arguments, then
evaluates its statistic class (:mod:`sigreg._statistics.edf`, :mod:`sigreg._statistics.order`,
:mod:`sigreg._statistics.moments`,
:mod:`sigreg._statistics.bhep`) through the framework adapters, so it is differentiable
under PyTorch autograd and JAX by the class's analytic gradient.
"""

from __future__ import annotations

from typing import Any

from .._backend import dispatch
from .._core import arrays, checks, dtypes
from .._statistics import targets
from .._statistics.bhep import BHEP, HenzeZirkler
from .._statistics.edf import AndersonDarling, CramerVonMises, Watson
from .._statistics.moments import JarqueBera, Moments
from .._statistics.order import DifferentialEntropy, ShapiroWilk, Wasserstein
from .along_axis import along_axis
from .regulariser import directions

# Frames of subspace_dim=k by default (bhep, henze_zirkler).
NUM_SUBSPACES = 64

Array = Any


def anderson_darling(x: Array, /, *, axis: int = 0) -> Array:
    """Compute Anderson-Darling's A-squared of the samples along ``axis`` against N(0, 1).

    ``A^2 = -N - 1/N sum_i (2i - 1) [log Phi(x_(i)) + log(1 - Phi(x_(N+1-i)))]``
    with the known N(0, 1) CDF ``Phi``, computed in the log domain (finite for
    any finite sample). As ``scipy.stats.goodness_of_fit(norm, x, known_params=
    {"loc": 0, "scale": 1}, statistic="ad").statistic``.

    Parameters
    ----------
    x : array
        Real floating samples along ``axis``.
    axis : int, default 0
        The sample axis.

    Returns
    -------
    array
        One value per index of the other axes, in ``x``'s library and on its
        device (float64 stays float64, other dtypes give float32). Differentiable
        (almost everywhere) under PyTorch autograd and JAX.

    Raises
    ------
    TypeError
        If ``x`` is not a real floating array.
    ValueError
        If ``x`` is 0-d, ``axis`` is out of range, or there is no sample.

    Examples
    --------
    >>> import numpy as np
    >>> from sigreg.stats import anderson_darling
    >>> x = np.random.default_rng(0).standard_normal((500, 2))
    >>> bool(np.all(anderson_darling(x) < 3)), bool(anderson_darling(x + 1)[0] > 50)
    (True, True)
    """
    return along_axis(AndersonDarling(), x, axis)


def cramer_von_mises(x: Array, /, *, axis: int = 0) -> Array:
    """Compute Cramér-von Mises' W-squared of the samples along ``axis`` against N(0, 1).

    ``W^2 = 1/(12 N) + sum_i (Phi(x_(i)) - (2i - 1)/(2N))^2``, as
    ``scipy.stats.cramervonmises(x, "norm").statistic``.

    Parameters
    ----------
    x : array
        Real floating samples along ``axis``.
    axis : int, default 0
        The sample axis.

    Returns
    -------
    array
        One value per index of the other axes, in ``x``'s library and on its
        device (float64 stays float64, other dtypes give float32). Differentiable
        (almost everywhere) under PyTorch autograd and JAX.

    Raises
    ------
    TypeError
        If ``x`` is not a real floating array.
    ValueError
        If ``x`` is 0-d, ``axis`` is out of range, or there is no sample.

    Examples
    --------
    >>> import numpy as np
    >>> from sigreg.stats import cramer_von_mises
    >>> x = np.random.default_rng(0).standard_normal(500)
    >>> bool(cramer_von_mises(x) < 0.5), bool(cramer_von_mises(2 * x) > 2)
    (True, True)
    """
    return along_axis(CramerVonMises(), x, axis)


def watson(x: Array, /, *, axis: int = 0) -> Array:
    """Compute Watson's U-squared of the samples along ``axis`` against N(0, 1).

    ``U^2 = W^2 - N (mean_i Phi(x_i) - 1/2)^2`` with Cramér-von Mises' ``W^2``:
    invariant to where the circle of probabilities is cut.

    Parameters
    ----------
    x : array
        Real floating samples along ``axis``.
    axis : int, default 0
        The sample axis.

    Returns
    -------
    array
        One value per index of the other axes, in ``x``'s library and on its
        device (float64 stays float64, other dtypes give float32). Differentiable
        (almost everywhere) under PyTorch autograd and JAX.

    Raises
    ------
    TypeError
        If ``x`` is not a real floating array.
    ValueError
        If ``x`` is 0-d, ``axis`` is out of range, or there is no sample.

    Examples
    --------
    >>> import numpy as np
    >>> from sigreg.stats import watson
    >>> x = np.random.default_rng(0).standard_normal(500)
    >>> bool(watson(x) < 0.5), bool(watson(3 * x) > 2)
    (True, True)
    """
    return along_axis(Watson(), x, axis)


def shapiro_wilk(x: Array, /, *, axis: int = 0) -> Array:
    """Compute Shapiro-Wilk's W of the samples along ``axis``, with Royston's coefficients.

    ``W = (sum_i a_i x_(i))^2 / sum_i (x_i - mean x)^2`` with the coefficients of
    Royston (1995, AS R94), as ``scipy.stats.shapiro(x).statistic``. W is at most
    1 and does not depend on location or scale. As a per-slice score of
    :func:`sigreg.sigreg` (``statistic="shapiro_wilk"``) it is ``1 - W``.

    Parameters
    ----------
    x : array
        Real floating samples along ``axis``, at least 3.
    axis : int, default 0
        The sample axis.

    Returns
    -------
    array
        One value per index of the other axes, in ``x``'s library and on its
        device (float64 stays float64, other dtypes give float32). Differentiable
        (almost everywhere) under PyTorch autograd and JAX.

    Raises
    ------
    TypeError
        If ``x`` is not a real floating array.
    ValueError
        If ``x`` is 0-d, ``axis`` is out of range, or there are fewer than 3 samples.

    Examples
    --------
    >>> import numpy as np
    >>> from sigreg.stats import shapiro_wilk
    >>> x = np.random.default_rng(0).standard_normal(500)
    >>> bool(shapiro_wilk(x) > 0.99), bool(shapiro_wilk(np.exp(x)) < 0.8)
    (True, True)
    """
    return 1.0 - along_axis(ShapiroWilk(), x, axis)


def jarque_bera(x: Array, /, *, axis: int = 0) -> Array:
    """Compute Jarque-Bera's statistic of the samples along ``axis``.

    ``JB = N/6 (S^2 + (K - 3)^2 / 4)`` with the biased sample skewness ``S`` and
    kurtosis ``K``, as ``scipy.stats.jarque_bera(x).statistic``. A function of
    sums over samples: usable with ``all_reduce`` in :func:`sigreg.sigreg`.

    Parameters
    ----------
    x : array
        Real floating samples along ``axis``, at least 2.
    axis : int, default 0
        The sample axis.

    Returns
    -------
    array
        One value per index of the other axes, in ``x``'s library and on its
        device (float64 stays float64, other dtypes give float32). Differentiable
        under PyTorch autograd and JAX.

    Raises
    ------
    TypeError
        If ``x`` is not a real floating array.
    ValueError
        If ``x`` is 0-d, ``axis`` is out of range, or there are fewer than 2 samples.

    Examples
    --------
    >>> import numpy as np
    >>> from sigreg.stats import jarque_bera
    >>> x = np.random.default_rng(0).standard_normal(500)
    >>> bool(jarque_bera(x) < 10), bool(jarque_bera(x**3) > 100)
    (True, True)
    """
    return along_axis(JarqueBera(), x, axis)


def moments(x: Array, /, *, axis: int = 0, order: int = 4) -> Array:
    """Compute the misfit of the first ``order`` raw sample moments from those of N(0, 1).

    ``N sum_{k=1..order} (m_k - mu_k)^2 / (mu_2k - mu_k^2)`` with ``m_k = mean(x^k)``
    and ``mu_k = E[X^k]`` (0 for odd k, ``(k-1)!!`` for even k). Each term is
    weighted by the inverse null variance of ``x^k``, so each has null mean 1 and
    the statistic has null mean ``order``. A function of sums over samples.

    Parameters
    ----------
    x : array
        Real floating samples along ``axis``.
    axis : int, default 0
        The sample axis.
    order : int, default 4
        How many moments, 2 to 8 (the first alone would not see the spread: a cloud
        collapsed to a point at the origin would score 0).

    Returns
    -------
    array
        One value per index of the other axes, in ``x``'s library and on its
        device (float64 stays float64, other dtypes give float32). Differentiable
        under PyTorch autograd and JAX.

    Raises
    ------
    TypeError
        If ``x`` is not a real floating array or ``order`` not an integer.
    ValueError
        If ``x`` is 0-d, ``axis`` is out of range, there is no sample, or
        ``order`` is not in 2..8.

    Examples
    --------
    >>> import numpy as np
    >>> from sigreg.stats import moments
    >>> x = np.random.default_rng(0).standard_normal(5000)
    >>> bool(moments(x, order=2) < 15), bool(moments(x + 0.5, order=2) > 1000)
    (True, True)
    """
    return along_axis(Moments(order=order), x, axis)


def entropy(x: Array, /, *, axis: int = 0, window_length: int | None = None) -> Array:
    """Estimate the differential entropy of the samples along ``axis`` by Vasicek's spacings.

    ``H = 1/N sum_i log(N / (2m) (x_(i+m) - x_(i-m)))`` with order statistics
    clamped at the ends, as ``scipy.stats.differential_entropy(x,
    method="vasicek")``. N(0, 1) has the largest entropy of all laws of unit
    variance, ``log(2 pi e) / 2 = 1.4189``. As a per-slice score of
    :func:`sigreg.sigreg` (``statistic="entropy"``) it is ``mean(x^2)/2 +
    log(2 pi)/2 - H``, the estimated Kullback-Leibler divergence from N(0, 1).

    Parameters
    ----------
    x : array
        Real floating samples along ``axis``, at least 3.
    axis : int, default 0
        The sample axis.
    window_length : int, optional
        The spacing m, from 1 to below N/2; default ``floor(sqrt(N) + 1/2)``.

    Returns
    -------
    array
        One value per index of the other axes, in ``x``'s library and on its
        device (float64 stays float64, other dtypes give float32). Differentiable
        (almost everywhere) under PyTorch autograd and JAX. Tied samples spanning
        a whole window give ``-inf``.

    Raises
    ------
    TypeError
        If ``x`` is not a real floating array or ``window_length`` not an integer.
    ValueError
        If ``x`` is 0-d, ``axis`` is out of range, or ``window_length`` is not
        in 1 .. N/2 (exclusive).

    Examples
    --------
    >>> import numpy as np
    >>> from sigreg.stats import entropy
    >>> x = np.random.default_rng(0).standard_normal(5000)
    >>> round(float(entropy(x)), 1)
    1.4
    """
    return along_axis(DifferentialEntropy(window_length=window_length), x, axis)


def wasserstein(x: Array, /, *, axis: int = 0, p: float = 2.0, target: Any = "normal") -> Array:
    """Compute the p-Wasserstein distance between the samples along ``axis`` and N(0, 1).

    ``W_p = (1/N sum_i |x_(i) - Phi^-1((i - 1/2) / N)|^p)^(1/p)``: the i-th order
    statistic is paired with the normal quantile at the middle of its
    probability cell (the midpoint quantile rule), whose error against the exact
    coupling of the empirical law vanishes as N grows. As a per-slice score of
    :func:`sigreg.sigreg` (``statistic="wasserstein"``) it is ``W_p^p``, whose
    gradient does not vanish when the samples collapse.

    Parameters
    ----------
    x : array
        Real floating samples along ``axis``.
    axis : int, default 0
        The sample axis.
    p : float, default 2.0
        The order, at least 1.
    target : str or sigreg.targets.Target, default "normal"
        Only N(0, 1) along an axis: other targets pair the order statistics with draws from
        the target, seeded with the directions, in :func:`sigreg.sigreg` (``statistic=
        "wasserstein"``); given here, they raise a ValueError.

    Returns
    -------
    array
        One value per index of the other axes, in ``x``'s library and on its
        device (float64 stays float64, other dtypes give float32). Differentiable
        (almost everywhere) under PyTorch autograd and JAX.

    Raises
    ------
    TypeError
        If ``x`` is not a real floating array or ``p`` not a real number.
    ValueError
        If ``x`` is 0-d, ``axis`` is out of range, there is no sample, or ``p < 1``.

    Examples
    --------
    >>> import numpy as np
    >>> from sigreg.stats import wasserstein
    >>> x = np.random.default_rng(0).standard_normal(5000)
    >>> bool(wasserstein(x) < 0.05), round(float(wasserstein(x + 1.0)), 1)
    (True, 1.0)
    """
    statistic = Wasserstein(p=p, target=target)
    if not targets.is_normal(statistic.target):
        raise ValueError(
            f"target={statistic.target!r} is drawn from a seed per call: use "
            "sigreg.sigreg(z, statistic='wasserstein', target=...), not the statistic along an axis"
        )
    return along_axis(statistic, x, axis) ** (1.0 / statistic.p)


def bhep(
    z: Array,
    /,
    *,
    beta: float = 1.0,
    standardize: bool = False,
    subspace_dim: int | None = None,
    num_subspaces: int = NUM_SUBSPACES,
    seed: int | Array = 0,
) -> Array:
    """Compute the BHEP statistic of the samples ``z`` (..., N, D) against N(0, I).

    ``T = N integral |ecf(t) - exp(-|t|^2/2)|^2 phi_beta(t) dt`` over R^D, with
    the N(0, beta^2 I) density ``phi_beta`` as weight, in closed form over pairs
    of samples (Baringhaus and Henze 1988), evaluated in blocks of rows so that
    memory stays O(N * block). Not sliced: the multivariate characteristic
    function itself is compared.

    Parameters
    ----------
    z : array of shape (..., N, D)
        N samples of dimension D; leading axes are independent batches.
    beta : float, default 1.0
        The scale of the Gaussian weight, positive and finite.
    standardize : bool, default False
        Whiten ``z`` by its sample mean and (biased) covariance first: then a
        test of multivariate normality, not of N(0, I). Needs N > D.
    subspace_dim : int, optional
        Test k-dimensional projections instead (Sub-JEPA's subspace form, arXiv:2605.09241):
        ``z`` is projected onto ``num_subspaces`` random orthonormal k-frames (whole
        frames from :func:`sigreg.directions` ``(kind="orthogonal")``), the statistic is
        computed on each projection (N, k), with ``D = k`` in its constants (and
        standardising within the projection), and the values are averaged. 1 gives the
        sliced form; D with one frame gives the statistic of ``z`` itself (it is rotation
        invariant). Between 1 and D. Memory stays that of one k-dimensional statistic
        (the frames are visited one at a time).
    num_subspaces : int, default 64
        Number of frames (with ``subspace_dim``), at least 1.
    seed : int or array, default 0
        Seed of the frames (with ``subspace_dim``).

    Returns
    -------
    array of shape (...)
        In ``z``'s library and on its device (float64 stays float64, other dtypes
        give float32). Differentiable under PyTorch autograd and JAX.

    Raises
    ------
    TypeError
        If ``z`` is not a real floating array, or an option has the wrong type.
    ValueError
        If ``z`` has fewer than 2 dimensions or an empty axis, ``beta`` is not
        positive and finite, ``standardize`` with N <= D (N <= k with
        ``subspace_dim``), ``subspace_dim`` is not in [1, D], or ``num_subspaces`` < 1.

    Examples
    --------
    >>> import numpy as np
    >>> from sigreg.stats import bhep
    >>> z = np.random.default_rng(0).standard_normal((400, 3))
    >>> bool(bhep(z) < 3.0), bool(bhep(0.2 * z) > 100.0)
    (True, True)
    """
    return _multivariate(BHEP(beta=beta, standardize=standardize), z, subspace_dim, num_subspaces, seed)


def henze_zirkler(
    z: Array,
    /,
    *,
    standardize: bool = True,
    subspace_dim: int | None = None,
    num_subspaces: int = NUM_SUBSPACES,
    seed: int | Array = 0,
) -> Array:
    """Compute Henze and Zirkler's statistic of the samples ``z`` (..., N, D).

    BHEP (:func:`bhep`) with ``beta = ((2D + 1) / 4)^(1/(D+4)) N^(1/(D+4)) / sqrt(2)``
    on ``z`` whitened by its sample mean and (biased) covariance, as
    ``pingouin.multivariate_normality`` and R's MVN compute it.

    Parameters
    ----------
    z : array of shape (..., N, D)
        N samples of dimension D; leading axes are independent batches.
    standardize : bool, default True
        False: test N(0, I) itself, with no whitening.
    subspace_dim : int, optional
        Test k-dimensional projections instead (Sub-JEPA's subspace form, arXiv:2605.09241):
        ``z`` is projected onto ``num_subspaces`` random orthonormal k-frames (whole
        frames from :func:`sigreg.directions` ``(kind="orthogonal")``), the statistic is
        computed on each projection (N, k), with ``D = k`` in its constants (and
        standardising within the projection), and the values are averaged. 1 gives the
        sliced form; D with one frame gives the statistic of ``z`` itself (it is rotation
        invariant). Between 1 and D. Memory stays that of one k-dimensional statistic
        (the frames are visited one at a time).
    num_subspaces : int, default 64
        Number of frames (with ``subspace_dim``), at least 1.
    seed : int or array, default 0
        Seed of the frames (with ``subspace_dim``).

    Returns
    -------
    array of shape (...)
        In ``z``'s library and on its device (float64 stays float64, other dtypes
        give float32). Differentiable under PyTorch autograd and JAX.

    Raises
    ------
    TypeError
        If ``z`` is not a real floating array or ``standardize`` not a bool.
    ValueError
        If ``z`` has fewer than 2 dimensions or an empty axis,
        ``standardize`` with N <= D (a singular covariance; N <= k with
        ``subspace_dim``), ``subspace_dim`` is not in [1, D], or ``num_subspaces`` < 1.

    Examples
    --------
    >>> import numpy as np
    >>> from sigreg.stats import henze_zirkler
    >>> z = np.random.default_rng(0).standard_normal((400, 3)) @ np.diag([1.0, 5.0, 0.1])
    >>> bool(henze_zirkler(z) < 1.0), bool(henze_zirkler(np.exp(z)) > 5.0)
    (True, True)
    """
    return _multivariate(HenzeZirkler(standardize=standardize), z, subspace_dim, num_subspaces, seed)


def _multivariate(
    statistic: BHEP, z: Array, subspace_dim: Any = None, num_subspaces: Any = 1, seed: Any = 0
) -> Array:
    xp = checks.namespace("z", z)
    checks.embeddings("z", z, xp)
    frames = _check_subspaces(subspace_dim, num_subspaces, z.shape[-1])
    statistic.check_sizes(z.shape[-2], z.shape[-1] if frames is None else frames[0], "z")
    if frames is not None:
        seed = checks.seed(seed, xp)
    zc = dtypes.as_compute_dtype(z, xp)
    if frames is None:
        return dispatch.embedding_statistic(zc, statistic, xp)
    k, count = frames
    return _statistic_on_frames(statistic, zc, _frames(z.shape[-1], k, count, seed, xp, zc), xp)


# subspace_dim=k (Sub-JEPA, arXiv:2605.09241): the statistic on random orthonormal k-frames. The
# frames are whole k-column groups of sigreg.directions(kind="orthogonal")'s D x D blocks (D // k
# per block), so each frame is orthonormal; they go through the statistic one at a time, so memory
# stays that of one k-dimensional statistic (its pairs are blocked).


def _check_subspaces(
    subspace_dim: Any, num_subspaces: Any, dim: int, name: str = "z"
) -> tuple[int, int] | None:
    """``(k, num_subspaces)`` checked against the dimension ``dim`` of ``name``, or None (no subspaces)."""
    if subspace_dim is None:
        return None
    k = checks.integer("subspace_dim", subspace_dim, 1)
    if k > dim:
        raise ValueError(f"subspace_dim must be at most the dimension D={dim} of {name}, got {k}")
    count = checks.integer("num_subspaces", num_subspaces, 1)
    return k, count


def _frames(dim: int, k: int, count: int, seed: Any, xp: Any, like: Array) -> Array:
    """``count`` orthonormal k-frames of R^dim, shape (count, dim, k), constants of ``like``'s kind."""
    per_block = dim // k
    blocks = -(-count // per_block)
    device = arrays.device(like)
    a = directions(dim, blocks * dim, seed=seed, kind="orthogonal", xp=xp, device=device, dtype=like.dtype)
    # Block b's columns [b*dim, (b+1)*dim); frame j of the block: its columns [j*k, (j+1)*k).
    cut = xp.reshape(a, (dim, blocks, dim))[:, :, : per_block * k]
    framed = xp.reshape(cut, (dim, blocks * per_block, k))[:, :count, :]
    return dispatch.constant(xp.permute_dims(framed, (1, 0, 2)), xp)


def _statistic_on_frames(statistic: Any, z: Array, frame_array: Array, xp: Any) -> Array:
    """The mean over frames of ``statistic`` of ``z @ frame`` (..., N, k): values of shape (...)."""
    total = None
    for f in range(frame_array.shape[0]):
        value = dispatch.embedding_statistic(z @ frame_array[f, ...], statistic, xp)
        total = value if total is None else total + value
    return total / frame_array.shape[0]
