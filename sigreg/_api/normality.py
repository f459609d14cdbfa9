"""BHEP and Henze-Zirkler as functions of whole embeddings, on all D dimensions or on k-frames.

Re-exported by :mod:`sigreg.stats` (the statistics along an axis are made from their classes
there, by :func:`sigreg._api.along_axis.function_of`). Each function checks its arguments, then
evaluates its statistic class (:mod:`sigreg._statistics.bhep`) through the framework adapters,
so it is differentiable under PyTorch autograd and JAX by the class's analytic gradient.
"""

from __future__ import annotations

from typing import Any

from .._backend import dispatch
from .._core import arrays, checks, dtypes
from .._statistics.bhep import BHEP, HenzeZirkler, centred
from .regulariser import directions

# Frames of subspace_dim=k by default (bhep, henze_zirkler).
NUM_SUBSPACES = 64

Array = Any


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
    n = z.shape[-2]
    frames = _check_subspaces(subspace_dim, num_subspaces, z.shape[-1])
    if frames is None:
        statistic.check_sizes(n, z.shape[-1], "z")
    elif statistic.standardize and n <= frames[0]:
        raise ValueError(
            f"z must have more samples than subspace_dim to be standardized in each frame (the "
            f"projection's covariance is singular otherwise), got N={n}, subspace_dim={frames[0]}"
        )
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
    # The frames are drawn as ceil(count / (D // k)) blocks of D x D directions, one 32-bit counter.
    most = checks.MAX_COUNTER // (dim * dim) * (dim // k)
    if count > most:
        raise ValueError(
            f"num_subspaces must be at most {most} for subspace_dim={k} in D={dim} dimensions of "
            f"{name} (the frames are drawn from one 32-bit counter), got {count}"
        )
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


def _statistic_on_frames(statistic: BHEP, z: Array, frame_array: Array, xp: Any) -> Array:
    """The mean over frames of ``statistic`` of ``z @ frame`` (..., N, k): values of shape (...).

    The statistic sees the projections of the centred samples, which keep their differences in
    float32 at any location (those of ``z`` itself are rounded to the location's precision); the
    one term of BHEP without standardising that depends on the location, ``singles``, is moved
    from those to the projections of ``z``."""
    x = centred(z, xp)
    total = None
    for f in range(frame_array.shape[0]):
        frame = frame_array[f, ...]
        value = dispatch.embedding_statistic(x @ frame, statistic, xp)
        if not statistic.standardize:  # sample by sample: no cancellation of two sums of N terms
            moved = statistic.singles(z @ frame, xp) - statistic.singles(x @ frame, xp)
            value = value + xp.sum(moved, axis=-1)
        total = value if total is None else total + value
    return total / frame_array.shape[0]
