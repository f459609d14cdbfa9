"""The public functions: docstrings, argument checks and namespace resolution.

Each one checks its arguments before any work and hands the arrays to the
array-agnostic core (``_core``) or, where autodiff is involved, to the
framework adapter (``_dispatch``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

from . import _core, _dispatch, _xp
from . import _validate as check

Array = Any

_MAX_COUNTER = 2**31 - 1


def _compute_dtype(dtype: Any, xp: Any) -> Any:
    """float64 stays float64; everything else (float32, bfloat16, float16) runs in float32."""
    return dtype if dtype == xp.float64 else xp.float32


def _as_compute_dtype(x: Array, xp: Any) -> Array:
    target = _compute_dtype(x.dtype, xp)
    return x if x.dtype == target else xp.astype(x, target)


def _grid_options(t_max: Any, num_points: Any, integration: Any) -> tuple[float, int, str]:
    return (
        check.positive_finite("t_max", t_max),
        check.integer("num_points", num_points, 2),
        check.choice("integration", integration, check.INTEGRATIONS),
    )


def directions(
    dim: int,
    num_slices: int,
    /,
    *,
    seed: int | Array = 0,
    xp: Any = None,
    device: Any = None,
    dtype: Any = None,
) -> Array:
    """Random unit directions, the same on every backend and device.

    Parameters
    ----------
    dim, num_slices : int
        The result has shape ``(dim, num_slices)``; each column is uniform on the
        unit sphere of ``R**dim``.
    seed : int or 0-d integer array, optional
        Non-negative. An array seed (of ``xp``'s library) may be traced under
        ``jax.jit`` or ``torch.compile``; it gives the same directions as the
        equal Python int.
    xp : array namespace, optional
        Library of the result. Default: the library of an array ``seed``, else NumPy.
    device : optional
        Device of the result; the directions are generated there.
    dtype : optional
        A real floating dtype of ``xp``; default: ``xp``'s default float dtype.

    Returns
    -------
    array of shape ``(dim, num_slices)``
        Entry ``(d, k)`` depends only on the seed and on ``k * dim + d``, so the
        first columns of a draw do not depend on ``num_slices``. Backends agree up
        to float rounding (float32: about 1e-6 relative).
    """
    dim = check.integer("dim", dim, 1)
    num_slices = check.integer("num_slices", num_slices, 1)
    if dim * num_slices > _MAX_COUNTER:
        raise ValueError(f"dim * num_slices must be below 2**31, got {dim} * {num_slices}")
    if xp is None and not isinstance(seed, int):
        xp = _xp.namespace(seed)
    if xp is None:
        import array_api_compat.numpy as xp
    else:
        xp = _xp.namespace(xp.empty(0))  # the array-API-compatible namespace
    seed = check.seed(seed, xp)
    if dtype is None:
        dtype = xp.__array_namespace_info__().default_dtypes(device=device)["real floating"]
    elif not xp.isdtype(dtype, "real floating"):
        raise TypeError(f"dtype must be a real floating dtype, got {dtype}")
    compute = _compute_dtype(dtype, xp)
    out = _dispatch.directions(dim, num_slices, seed, xp, device, compute)
    return out if compute == dtype else xp.astype(out, dtype)


def epps_pulley(
    x: Array,
    /,
    *,
    axis: int = 0,
    t_max: float = 3.0,
    num_points: int = 17,
    integration: str = "trapezoid",
) -> Array:
    """The Epps-Pulley statistic of the samples along ``axis`` against N(0, 1).

    ``EP = N * integral |ecf(t) - exp(-t^2/2)|^2 exp(-t^2/2) dt`` over
    ``[-t_max, t_max]``, by the trapezoid rule on ``num_points`` knots of the half
    line (``integration="trapezoid"``), or over the whole real line in closed form
    (``integration="exact"``: O(N^2) work, for validation and small N).

    Under the null (samples exactly N(0, 1)) the exact statistic has mean
    ``sqrt(2 pi) (1 - 1/sqrt(3)) = 1.0594`` for every N.

    Returns one value per index of the remaining axes, in ``x``'s library and on
    its device; float64 stays float64, other floating dtypes give float32.
    Non-finite samples give a non-finite result (nothing is checked on the device).
    """
    xp = check.namespace("x", x)
    if x.ndim == 0:
        raise ValueError("x must have at least one dimension (the samples)")
    axis = check.integer("axis", axis, -x.ndim)
    if axis >= x.ndim:
        raise ValueError(f"axis must be in [-{x.ndim}, {x.ndim}), got {axis}")
    if x.shape[axis] == 0:
        raise ValueError(f"x must have at least one sample along axis {axis}, got shape {tuple(x.shape)}")
    check.real_floating("x", x, xp)
    t_max, num_points, integration = _grid_options(t_max, num_points, integration)
    u = xp.moveaxis(_as_compute_dtype(x, xp), axis, -1)[..., None]
    opts = _core.Options(t_max, num_points, integration, None, _dispatch.block_rows(xp, 1))
    return _dispatch.statistics(u, opts, xp)[..., 0]


def check_options(
    t_max: Any, num_points: Any, integration: Any, reduction: Any, all_reduce: Any
) -> tuple[float, int, str, str, Any]:
    """The options of :func:`sigreg` that do not depend on the arrays, checked."""
    t_max, num_points, integration = _grid_options(t_max, num_points, integration)
    reduction = check.choice("reduction", reduction, check.REDUCTIONS)
    all_reduce = check.callable_or_none("all_reduce", all_reduce)
    if all_reduce is not None and integration == "exact":
        raise ValueError("integration='exact' does not support all_reduce (it needs all pairs of samples)")
    return t_max, num_points, integration, reduction, all_reduce


class _Prepared(NamedTuple):
    xp: Any
    z: Array  # in the compute dtype
    directions: Array
    opts: _core.Options
    reduction: str


def _prepare(
    z: Array,
    num_slices: Any,
    seed: Any,
    directions: Any,
    t_max: Any,
    num_points: Any,
    integration: Any,
    reduction: Any,
    all_reduce: Any,
) -> _Prepared:
    xp = check.namespace("z", z)
    check.embeddings("z", z, xp)
    dim = z.shape[-1]
    if directions is not None:
        check.namespace("directions", directions)
        xp = check.same_library(("z", "directions"), z, directions)
        check.same_device(("z", "directions"), z, directions)
        check.real_floating("directions", directions, xp)
        if directions.ndim != 2 or directions.shape[0] != dim or directions.shape[1] == 0:
            raise ValueError(
                f"directions must have shape (D, K) = ({dim}, K) with K >= 1 to match z of "
                f"shape {tuple(z.shape)}, got shape {tuple(directions.shape)}"
            )
    else:
        num_slices = check.integer("num_slices", num_slices, 1)
        if dim * num_slices > _MAX_COUNTER:
            raise ValueError(f"D * num_slices must be below 2**31, got {dim} * {num_slices}")
        seed = check.seed(seed, xp)
    t_max, num_points, integration, reduction, all_reduce = check_options(
        t_max, num_points, integration, reduction, all_reduce
    )

    zc = _as_compute_dtype(z, xp)
    if directions is None:
        device = _xp.device(z)
        directions = _dispatch.directions(dim, num_slices, seed, xp, device, zc.dtype)
    elif directions.dtype != zc.dtype:
        directions = xp.astype(directions, zc.dtype)
    block = _dispatch.block_rows(xp, directions.shape[1])
    opts = _core.Options(t_max, num_points, integration, all_reduce, block)
    return _Prepared(xp, zc, directions, opts, reduction)


def _reduce(ep: Array, reduction: str, xp: Any) -> Array:
    if reduction == "mean":
        return xp.mean(ep)
    if reduction == "sum":
        return xp.sum(ep)
    return ep


def sigreg(
    z: Array,
    /,
    *,
    num_slices: int = 1024,
    seed: int | Array = 0,
    directions: Array | None = None,
    t_max: float = 3.0,
    num_points: int = 17,
    integration: str = "trapezoid",
    reduction: str = "mean",
    all_reduce: Callable[[Array], Array] | None = None,
) -> Array:
    """Sketched Isotropic Gaussian Regularization of embeddings ``z``.

    Projects ``z`` of shape ``(..., N, D)`` (N samples of dimension D; leading
    axes are independent batches, e.g. views) onto ``num_slices`` random unit
    directions and tests each one-dimensional projection against N(0, 1) with
    the Epps-Pulley statistic (:func:`epps_pulley` along the sample axis).

    Parameters
    ----------
    z : array of shape (..., N, D)
        Real floating. float64 is computed in float64; float32, bfloat16 and
        float16 in float32 (so the result is float32 for them).
    num_slices, seed :
        The directions, ``directions(D, num_slices, seed=seed)`` on ``z``'s device.
        ``seed`` may be a 0-d integer array (traceable). Ignored when
        ``directions`` is given.
    directions : array of shape (D, K), optional
        Explicit directions, same library and device as ``z``. Used as given (not
        normalised) and treated as constants (no gradient flows to them).
    t_max, num_points, integration :
        The quadrature, as in :func:`epps_pulley`.
    reduction : {"mean", "sum", "none"}
        Mean or sum over slices and batch axes, or ``"none"``: shape ``(..., K)``.
    all_reduce : callable, optional
        For data-parallel training: returns the elementwise sum of an array over
        all workers (``sigreg.torch.all_reduce()``, ``sigreg.jax.all_reduce(axis)``).
        The statistic is then that of the global batch (workers may hold different
        N), and each worker's gradient is scaled by the number of workers so that
        the usual gradient averaging gives the single-process gradient.

    Returns
    -------
    array
        Of ``z``'s library, on ``z``'s device. Differentiable under PyTorch autograd
        and JAX transformations through one analytic gradient; for other libraries
        see :func:`value_and_grad`. Non-finite values in ``z`` give a non-finite
        result: nothing is checked on the device.
    """
    p = _prepare(z, num_slices, seed, directions, t_max, num_points, integration, reduction, all_reduce)
    ep = _dispatch.slice_statistics(p.z, p.directions, p.opts, p.xp)
    return _reduce(ep, p.reduction, p.xp)


def value_and_grad(
    z: Array,
    /,
    *,
    num_slices: int = 1024,
    seed: int | Array = 0,
    directions: Array | None = None,
    t_max: float = 3.0,
    num_points: int = 17,
    integration: str = "trapezoid",
    reduction: str = "mean",
    all_reduce: Callable[[Array], Array] | None = None,
) -> tuple[Array, Array]:
    """``(sigreg(z, **options), d sigreg / d z)`` on any backend, NumPy and CuPy included.

    Same options as :func:`sigreg`; ``reduction`` must be ``"mean"`` or ``"sum"``
    (the gradient of a scalar). The gradient has ``z``'s shape and dtype; the
    value follows :func:`sigreg`. Working memory is O(N*K + K*P).
    """
    if reduction == "none":
        raise ValueError(f"reduction must be 'mean' or 'sum' for a gradient, got {reduction!r}")
    p = _prepare(z, num_slices, seed, directions, t_max, num_points, integration, reduction, all_reduce)
    xp = p.xp
    ep, residuals = _core.forward(_dispatch.constant(p.z, xp), p.directions, p.opts, xp)
    weight = 1.0 / math.prod(ep.shape) if reduction == "mean" else 1.0
    ep_bar = xp.full(ep.shape, weight, dtype=ep.dtype, device=_xp.device(ep))
    grad = _core.backward(residuals, p.directions, ep_bar, p.opts, xp)
    if grad.dtype != z.dtype:
        grad = xp.astype(grad, z.dtype)
    return _reduce(ep, reduction, xp), grad


def lejepa_loss(views: Array, /, *, lam: float = 0.05, **sigreg_options: Any) -> Array:
    """The LeJEPA objective of ``views`` of shape ``(V, N, D)``.

    ``lam * sigreg(views) + (1 - lam) * mean((mean_v(views) - views)^2)``:
    the prediction term pulls every view to the mean of the views of the same
    sample; SIGReg (averaged over views and slices) keeps the embeddings close to
    N(0, I). ``sigreg_options`` are passed to :func:`sigreg` (``reduction`` must
    stay ``"mean"`` or ``"sum"``).
    """
    xp = check.namespace("views", views)
    if views.ndim != 3:
        raise ValueError(f"views must have shape (V, N, D), got shape {tuple(views.shape)}")
    lam = check.unit_interval("lam", lam)
    if sigreg_options.get("reduction", "mean") == "none":
        raise ValueError("reduction must be 'mean' or 'sum' in lejepa_loss, got 'none'")
    regulariser = sigreg(views, **sigreg_options)
    v = _as_compute_dtype(views, xp)
    centers = xp.mean(v, axis=0, keepdims=True)
    prediction = xp.mean((centers - v) ** 2)
    return lam * regulariser + (1.0 - lam) * prediction
