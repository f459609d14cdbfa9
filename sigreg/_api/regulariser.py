"""``sigreg.sigreg``, ``value_and_grad``, ``lejepa_loss`` and ``directions``: docstrings, argument checks, xp.

Each one checks its arguments before any work, then hands the arrays to the
slicing layer (:mod:`sigreg._core.slicing`) or, where autodiff is involved, to the
framework adapter (:mod:`sigreg._backend.dispatch`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from .._backend import dask_arrays, dispatch
from .._core import arrays, checks, draws, dtypes, quasi_random, slicing
from .._core.all_reduce import AllReduce, as_all_reduce
from .._core.plan import Plan
from .._core.statistic import Statistic
from .._statistics import registry
from . import visreg as visreg_api

Array = Any

DIRECTION_KINDS = ("random", "orthogonal", "sobol")


def directions(
    dim: int,
    num_slices: int,
    /,
    *,
    seed: int | Array = 0,
    kind: str = "random",
    xp: Any = None,
    device: Any = None,
    dtype: Any = None,
) -> Array:
    """Random unit directions, the same on every backend and device.

    Parameters
    ----------
    dim : int
        Dimension of the embeddings (rows of the result), at least 1.
    num_slices : int
        Number of directions (columns of the result), at least 1.
    seed : int or array, default 0
        A Python int in ``[0, 2**64)``, or a 0-d integer array. An array seed (of ``xp``'s library) may
        be traced under ``jax.jit`` or ``torch.compile``; it gives the same
        directions as the equal Python int. A training loop must pass a fresh
        seed at every step (e.g. the step number), or use
        :class:`sigreg.torch.SIGReg`: the default 0 gives the same directions forever.
    kind : {"random", "orthogonal", "sobol"}, default "random"
        ``"random"``: independent columns, uniform on the sphere. ``"orthogonal"``:
        the same draw, cut into blocks of ``dim`` columns, each made orthonormal by a
        QR decomposition (R's diagonal positive, so the blocks are Haar-distributed
        and every library gives the same Q up to rounding); the last block may be
        partial. ``"sobol"``: quasi-random columns, a Sobol sequence (one point per
        column) randomised by a digital shift from the seed, mapped to the sphere by
        Box-Muller and normalisation. Both are deterministic per seed.
    xp : array namespace, optional
        Library of the result (``numpy``, ``torch``, ``jax.numpy``, ...). Default:
        the library of an array ``seed``, else NumPy.
    device : optional
        Device of the result; the directions are generated there.
    dtype : optional
        A real floating dtype of ``xp``; default: ``xp``'s default float dtype.

    Returns
    -------
    array of shape (dim, num_slices)
        Each column is uniform on the unit sphere of ``R**dim``. For ``"random"``,
        entry ``(d, k)`` depends only on the seed and on ``k * dim + d``, so the first
        columns of a draw do not depend on ``num_slices`` (for ``"orthogonal"``, the
        whole blocks; for ``"sobol"``, every column). Backends agree up to float
        rounding (float32: about 1e-6 relative; orthogonal blocks about 1e-5).

    Raises
    ------
    TypeError
        If ``dim``, ``num_slices`` or ``seed`` is not an integer, ``xp`` is not an
        array namespace, or ``dtype`` is not a real floating dtype.
    ValueError
        If ``dim`` or ``num_slices`` is below 1, ``dim * num_slices`` reaches
        2**31 (the message names the largest ``num_slices``), ``seed`` is out of range, or
        ``kind`` is not one of the three.

    Examples
    --------
    >>> import numpy as np
    >>> import sigreg
    >>> a = sigreg.directions(3, 5, seed=1)
    >>> a.shape, a.dtype
    ((3, 5), dtype('float64'))
    >>> np.allclose(np.linalg.norm(a, axis=0), 1.0)
    True
    >>> np.array_equal(a, sigreg.directions(3, 8, seed=1)[:, :5])
    True
    """
    dim = checks.integer("dim", dim, 1)
    num_slices = checks.integer("num_slices", num_slices, 1)
    checks.count_fits("num_slices", num_slices, dim, f"for dim={dim}")
    xp, seed, dtype = checks.generator(seed, xp, device, dtype)
    kind = checks.choice("kind", kind, DIRECTION_KINDS)
    compute = dtypes.compute_dtype(dtype, xp)
    if kind == "sobol":
        keys = draws.seed_keys(seed, xp, device)
        out = quasi_random.sobol(dim, num_slices, keys, xp, device, compute)
    else:
        out = dispatch.directions(dim, num_slices, seed, xp, device, compute)
    if kind == "orthogonal":
        # QR of the unit columns: scaling columns by positive numbers leaves Q unchanged.
        out = quasi_random.orthogonalise(out, xp)
    return out if compute == dtype else xp.astype(out, dtype)


class _Sliced(NamedTuple):
    xp: Any
    u: Array  # projections z @ directions, in the compute dtype
    directions: Array
    statistic: Statistic
    plan: Plan
    reduction: str
    all_reduce: AllReduce | None
    constants: Array | None  # the statistic's constants for these slices (a target's), or None


def _slice(
    name: str,
    z: Array,
    statistic: Any,
    options: dict[str, Any],
    num_slices: Any,
    seed: Any,
    directions: Any,
    reduction: Any,
    all_reduce: Any,
    original: Any = None,
) -> _Sliced:
    """Check every argument, then draw the directions and project.

    The all-reduce observes the checked call first (``original``, the caller's array, else
    ``z``): :class:`sigreg.Accumulator`'s hooks refuse a micro-batch that does not fit the
    others there, before any work.
    """
    xp = checks.namespace(name, z)
    checks.embeddings(name, z, xp)
    dim = z.shape[-1]
    stat = registry.resolve(statistic, options)
    stat.check_samples(z.shape[-2], name)
    xp, num_slices, seed = checks.slicing(name, z, xp, directions, num_slices, seed)
    reduction = checks.choice("reduction", reduction, checks.REDUCTIONS)
    all_reduce = as_all_reduce(all_reduce)
    if all_reduce is not None and not stat.has_sums:
        raise ValueError(
            f"all_reduce needs a statistic that is a function of sums over samples; {stat!r} is not "
            "(sort-based and pairwise statistics see the whole batch)"
        )
    if all_reduce is not None:
        all_reduce.observe(z if original is None else original, xp, stat, seed, num_slices, directions)

    zc = slicing.clamp_to_projectable(dtypes.as_compute_dtype(z, xp), xp)
    if directions is None:
        directions = dispatch.directions(dim, num_slices, seed, xp, arrays.device(z), zc.dtype)
    elif directions.dtype != zc.dtype:
        directions = xp.astype(directions, zc.dtype)
    directions = dispatch.constant(directions, xp)  # constants: no gradient flows to them
    u = zc @ directions
    # A target's constants for these slices: Epps-Pulley's CF per slice, Wasserstein's reference
    # order statistics (drawn from a stream of the seed); None for N(0, 1), with no work.
    constants = stat.constants(directions, xp, z.shape[-2], seed)
    return _Sliced(xp, u, directions, stat, dispatch.plan(u, xp), reduction, all_reduce, constants)


def sigreg(
    z: Array,
    /,
    *,
    statistic: str | Statistic = "epps_pulley",
    num_slices: int = 1024,
    seed: int | Array = 0,
    directions: Array | None = None,
    reduction: str = "mean",
    all_reduce: Callable[[Array], Array] | None = None,
    **options: Any,
) -> Array:
    """Sketched Isotropic Gaussian Regularization of embeddings ``z``.

    Projects ``z`` onto ``num_slices`` random unit directions and tests each
    one-dimensional projection against N(0, 1) with ``statistic`` along the
    sample axis (by default the Epps-Pulley statistic,
    :func:`sigreg.stats.epps_pulley`), then averages.

    Parameters
    ----------
    z : array of shape (..., N, D)
        N samples of dimension D; leading axes are independent batches (e.g.
        views). Real floating: float64 is computed in float64; float32,
        bfloat16 and float16 in float32 (so the result is float32 for them).
        A ``dask.array`` chunked along the samples is reduced chunk by chunk
        (statistics that are functions of sums only); the result is then a lazy
        dask array, to be computed on any dask scheduler (docs: "Large
        embedding sets").
    statistic : str or Statistic, default "epps_pulley"
        A registered name (:func:`sigreg.stats.available`) or a statistic
        object such as :class:`sigreg.stats.EppsPulley`.
    num_slices : int, default 1024
        Number of directions, ``directions(D, num_slices, seed=seed)`` on ``z``'s
        device. Ignored when ``directions`` is given.
    seed : int or array, default 0
        Seed of the directions; a 0-d integer array may be traced. A training
        loop must pass a fresh seed at every step (e.g. the step number), or use
        :class:`sigreg.torch.SIGReg`, which does: the default 0 tests the same
        directions forever.
    directions : array of shape (D, K), optional
        Explicit directions, same library and device as ``z``. Used as given (not
        normalised) and treated as constants (no gradient flows to them).
    reduction : {"mean", "sum", "none"}, default "mean"
        Mean or sum over slices and batch axes, or ``"none"``: shape ``(..., K)``.
    all_reduce : callable, optional
        For data-parallel training: returns the elementwise sum of an array over
        all workers (``sigreg.torch.all_reduce()``, ``sigreg.jax.all_reduce(axis)``).
        The statistic is then that of the global batch (workers may hold different
        N), and each worker's gradient is scaled so that the usual gradient
        averaging gives the single-process gradient. Needs a statistic that is a
        function of sums over samples. Jarque-Bera calls it twice (a shift and a
        scale that every worker agrees on first, then its sums about them), which
        keeps it exact at any location and scale.
    **options
        Options of the statistic when it is given by name. Epps-Pulley:
        ``t_max=3.0``, ``num_points=17``, ``integration="trapezoid"``, ``unbiased=False``
        (see :class:`sigreg.stats.EppsPulley`).

    Returns
    -------
    array
        Of ``z``'s library, on ``z``'s device: a scalar, or shape ``(..., K)`` for
        ``reduction="none"``. Differentiable under PyTorch autograd and JAX
        transformations through one analytic gradient; for other libraries see
        :func:`value_and_grad`. Non-finite values in ``z`` give a non-finite
        result: nothing is checked on the device.

    Raises
    ------
    TypeError
        If ``z`` or ``directions`` is not an array of a supported library, they
        come from different libraries, a dtype is not real floating, or an
        option has the wrong type or is unknown to the statistic.
    ValueError
        If a shape does not fit, an axis is empty, ``z`` and ``directions`` are
        on different devices, or an option is out of range.

    Examples
    --------
    >>> import numpy as np
    >>> import sigreg
    >>> z = np.random.default_rng(0).standard_normal((512, 64))
    >>> value = sigreg.sigreg(z, num_slices=256, seed=0)  # Gaussian: near 1.05
    >>> bool(0.5 < value < 2.0)
    True
    >>> collapsed = np.ones((512, 1)) * z[:1]  # every sample the same point
    >>> bool(sigreg.sigreg(collapsed, num_slices=256) > 100 * value)
    True
    >>> sigreg.sigreg(z, num_slices=8, reduction="none").shape
    (8,)
    """
    if dask_arrays.is_dask_array(z):  # reduced chunk by chunk (sigreg._backend.dask_arrays), lazily
        return dask_arrays.sigreg(z, statistic, num_slices, seed, directions, reduction, all_reduce, options)
    s = _slice("z", z, statistic, options, num_slices, seed, directions, reduction, all_reduce)
    values = dispatch.column_statistics(s.u, s.statistic, s.plan, s.all_reduce, s.xp, s.constants)
    return slicing.reduce(values, s.reduction, s.xp)


def value_and_grad(
    z: Array,
    /,
    *,
    statistic: str | Statistic = "epps_pulley",
    num_slices: int = 1024,
    seed: int | Array = 0,
    directions: Array | None = None,
    reduction: str = "mean",
    all_reduce: Callable[[Array], Array] | None = None,
    **options: Any,
) -> tuple[Array, Array]:
    """``(sigreg(z, ...), d sigreg / d z)`` on any backend, NumPy and CuPy included.

    Parameters
    ----------
    z : array of shape (..., N, D)
        As in :func:`sigreg`.
    statistic : str or Statistic, default "epps_pulley"
        As in :func:`sigreg`.
    num_slices : int, default 1024
        As in :func:`sigreg`.
    seed : int or array, default 0
        As in :func:`sigreg`: a training loop must pass a fresh seed at every step
        (e.g. the step number); the default 0 gives the same directions forever.
    directions : array of shape (D, K), optional
        As in :func:`sigreg`.
    reduction : {"mean", "sum"}, default "mean"
        The gradient is that of a scalar.
    all_reduce : callable, optional
        As in :func:`sigreg`.
    **options
        As in :func:`sigreg`.

    Returns
    -------
    value : array
        As :func:`sigreg` returns it.
    grad : array
        The gradient with respect to ``z``: ``z``'s shape, dtype and device.
        Working memory is O(N*K + K*P).

    Raises
    ------
    TypeError, ValueError
        As :func:`sigreg`; ``reduction="none"`` is a ValueError.

    Examples
    --------
    >>> import numpy as np
    >>> import sigreg
    >>> z = np.random.default_rng(0).standard_normal((300, 3)) * [1.0, 0.1, 0.1]
    >>> value, grad = sigreg.value_and_grad(z, num_slices=64, seed=1)
    >>> grad.shape, grad.dtype
    ((300, 3), dtype('float64'))
    >>> bool(sigreg.sigreg(z - 0.5 * grad, num_slices=64, seed=1) < value)  # a descent step
    True
    """
    if isinstance(reduction, str) and reduction == "none":
        raise ValueError(f"reduction must be 'mean' or 'sum' for a gradient, got {reduction!r}")
    if dask_arrays.is_dask_array(z):
        raise TypeError(
            "z must be an in-memory array for value_and_grad, got a dask array: sigreg.sigreg evaluates "
            "dask arrays (chunk by chunk), but a gradient has z's size"
        )
    xp = checks.namespace("z", z)
    z_const = dispatch.constant(z, xp)
    s = _slice("z", z_const, statistic, options, num_slices, seed, directions, reduction, all_reduce, z)
    value, grad_u = dispatch.value_and_grad(
        s.u, s.statistic, s.plan, s.all_reduce, s.reduction, xp, s.constants
    )
    grad = grad_u @ s.directions.T
    if grad.dtype != z.dtype:
        grad = xp.astype(grad, z.dtype)
    return value, grad


SIGREG_ON = ("views", "all")
REGULARISERS = ("sigreg", "visreg")


def lejepa_loss(
    global_views: Array,
    local_views: Array | None = None,
    /,
    *,
    lam: float = 0.05,
    sigreg_on: str = "views",
    regulariser: str = "sigreg",
    **sigreg_options: Any,
) -> Array:
    """The LeJEPA objective of global views ``(Vg, N, D)`` and optional local views ``(Vl, N, D)``.

    As in the paper (eqs. 5-7) and the authors' ``MINIMAL.md``: the prediction
    targets (centers) are the mean of the *global* views of each sample, and
    *every* view, local ones included, is pulled to them; SIGReg keeps the
    embeddings of every view close to N(0, I)::

        centers    = mean_v(global_views)                        # (N, D)
        prediction = mean over all Vg + Vl views, samples and features of (centers - view)**2
        loss       = (1 - lam) * prediction + lam * SIGReg

    Lambda conventions differ between implementations: the paper, the authors'
    code (``MINIMAL.md``) and this function weigh the terms ``(1 - lam) *
    prediction + lam * SIGReg``; stable-pretraining uses ``prediction + lam *
    SIGReg``, which is this loss with ``lam' = lam / (1 + lam)``, times ``1 + lam``.

    Parameters
    ----------
    global_views : array of shape (Vg, N, D)
        Vg global views (large crops) of N samples, embedded in D dimensions.
    local_views : array of shape (Vl, N, D), optional
        Vl local views (small crops) of the same N samples, embedded in the same D
        dimensions; same library and device as ``global_views``. They are pulled
        to the centers but do not define them.
    lam : float, default 0.05
        Weight of SIGReg, in [0, 1] (the paper's default).
    sigreg_on : {"views", "all"}, default "views"
        ``"views"``: SIGReg of each view (N samples) with the same directions (the
        same seed), averaged over the views, as the paper and ``MINIMAL.md`` do.
        ``"all"``: SIGReg of all views flattened to ``((Vg + Vl) * N, D)``.
        With ``regulariser="visreg"`` the same choice applies to VISReg.
    regulariser : {"sigreg", "visreg"}, default "sigreg"
        ``"visreg"``: :func:`sigreg.visreg` in place of SIGReg (Wu, Balestriero, Levine
        2026), with its defaults (``num_slices=4096``); ``sigreg_options`` are then
        :func:`sigreg.visreg`'s (``num_slices``, ``seed``, ``directions``, ``all_reduce``,
        the weights, ``eps``; no ``statistic``, and ``reduction`` only ``"mean"``).
    **sigreg_options
        Passed to :func:`sigreg` (``statistic``, ``num_slices``, ``seed``,
        ``directions``, ``all_reduce``, statistic options such as ``t_max``);
        ``reduction`` must stay ``"mean"`` or ``"sum"``. A training loop must pass
        a fresh ``seed`` at every step (e.g. the step number), or use
        :class:`sigreg.torch.SIGReg`: the default 0 gives the same directions forever.

    Returns
    -------
    array
        A scalar of the views' library (float32 unless a view array is
        float64), differentiable like :func:`sigreg`. With ``local_views=None``
        and ``sigreg_on="views"`` it is ``(1 - lam) * mean((mean_v(views) - views)**2)
        + lam * mean_v(sigreg(view))``.

    Raises
    ------
    TypeError, ValueError
        As :func:`sigreg`, naming ``global_views`` or ``local_views``; views of a
        different N or D, ``global_views=None``, ``sigreg_on`` not among the
        choices, ``lam`` outside [0, 1] and ``reduction="none"`` are errors
        naming the argument.

    Examples
    --------
    >>> import numpy as np
    >>> import sigreg
    >>> rng = np.random.default_rng(0)
    >>> global_views = rng.standard_normal((2, 256, 16))
    >>> local_views = rng.standard_normal((4, 256, 16))
    >>> loss = sigreg.lejepa_loss(global_views, local_views, lam=0.05, num_slices=64)
    >>> loss.shape, bool(loss > 0)
    ((), True)
    """
    if global_views is None:
        raise TypeError(
            "global_views must be an array of shape (V, N, D): the centers come from the global "
            "views, so local_views alone cannot define the loss"
        )
    xp = checks.namespace("global_views", global_views)
    if global_views.ndim != 3:
        raise ValueError(f"global_views must have shape (V, N, D), got shape {tuple(global_views.shape)}")
    if local_views is not None:
        xp = checks.same_library(("global_views", "local_views"), global_views, local_views)
        checks.same_device(("global_views", "local_views"), global_views, local_views)
        checks.embeddings("local_views", local_views, xp)
        if local_views.ndim != 3 or tuple(local_views.shape[1:]) != tuple(global_views.shape[1:]):
            n, d = global_views.shape[1:]
            raise ValueError(
                f"local_views must have shape (V, N, D) = (V, {n}, {d}) to match global_views of shape "
                f"{tuple(global_views.shape)}, got shape {tuple(local_views.shape)}"
            )
    lam = checks.unit_interval("lam", lam)
    sigreg_on = checks.choice("sigreg_on", sigreg_on, SIGREG_ON)
    regulariser = checks.choice("regulariser", regulariser, REGULARISERS)
    reduction = sigreg_options.pop("reduction", "mean")
    if isinstance(reduction, str) and reduction == "none":
        raise ValueError("reduction must be 'mean' or 'sum' in lejepa_loss, got 'none'")
    if regulariser == "visreg":
        if "statistic" in sigreg_options:
            raise TypeError("statistic is an option of regulariser='sigreg'; VISReg's statistic is fixed")
        if not (isinstance(reduction, str) and reduction == "mean"):
            raise ValueError(f"reduction must be 'mean' with regulariser='visreg', got {reduction!r}")
        sigreg_options.setdefault("num_slices", visreg_api.NUM_SLICES)
    statistic = sigreg_options.pop("statistic", "epps_pulley")
    num_slices = sigreg_options.pop("num_slices", 1024)
    seed = sigreg_options.pop("seed", 0)
    directions = sigreg_options.pop("directions", None)
    all_reduce = sigreg_options.pop("all_reduce", None)

    checks.embeddings("global_views", global_views, xp)
    g = dtypes.as_compute_dtype(global_views, xp)
    if local_views is None:
        views, name = g, "global_views"
    else:
        local = dtypes.as_compute_dtype(local_views, xp)
        dtype = xp.result_type(g, local)  # float64 if either is: no precision is dropped
        g, local = dtypes.cast(g, dtype, xp), dtypes.cast(local, dtype, xp)
        views = xp.concat([g, local], axis=0)
        name = "views"  # both are checked above; what _slice checks next concerns their union
    if sigreg_on == "all":
        views_for_sigreg = xp.reshape(views, (-1, views.shape[-1]))
    else:
        views_for_sigreg = views
    if regulariser == "visreg":
        value = visreg_api.visreg(
            views_for_sigreg,
            num_slices=num_slices,
            seed=seed,
            directions=directions,
            all_reduce=all_reduce,
            **sigreg_options,
        )
    else:
        s = _slice(
            name,
            views_for_sigreg,
            statistic,
            sigreg_options,
            num_slices,
            seed,
            directions,
            reduction,
            all_reduce,
        )
        values = dispatch.column_statistics(s.u, s.statistic, s.plan, s.all_reduce, xp, s.constants)
        value = slicing.reduce(values, s.reduction, xp)
    centers = xp.mean(g, axis=0, keepdims=True)  # the global views only define the targets
    prediction = xp.mean((centers - views) ** 2)
    return lam * value + (1.0 - lam) * prediction
