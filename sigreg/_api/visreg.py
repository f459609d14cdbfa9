"""``sigreg.visreg`` and ``sigreg.visreg_value_and_grad``: VISReg (Wu, Balestriero, Levine 2026).

The variance (scale and centre) terms are array-API operations on the per-feature mean and
second moment, so the framework's autodiff differentiates them; the shape term is the
slicing layer's: projections ``u = z_hat @ A`` and a rank-based statistic
(:class:`sigreg._statistics.visreg_shape.VISRegShape`) through the adapters. With
``all_reduce`` the moments are of the global batch (sums reduced); see :func:`visreg`.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any, NamedTuple

from .._backend import dask_arrays, dispatch
from .._core import arrays, checks, dtypes, slicing
from .._core.all_reduce import as_all_reduce
from .._core.plan import Plan
from .._statistics.visreg_shape import VISRegShape

Array = Any

# The official code's defaults (HaiyuWu/visreg: configs/loss/visreg.yaml, visreg/losses/visreg.py).
NUM_SLICES = 4096
EPS = 1e-6
SHAPE = VISRegShape()


def _weight(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    number = float(value)
    if not (math.isfinite(number) and number >= 0.0):
        raise ValueError(f"{name} must be finite and >= 0, got {number}")
    return number


class _Parts(NamedTuple):
    xp: Any
    z: Array  # in the compute dtype
    n: Any  # global sample count (an int, or a 0-d array after an all-reduce)
    workers: Any  # 1, or a 0-d array
    mean: Array  # (..., 1, D)
    m2: Array  # (..., 1, D): mean squared deviation (biased, as the paper's sigma)
    sigma: Array  # sqrt(m2) + eps
    u: Array  # (..., N, K): (z - mean) / sigma @ A, mean and sigma held constant
    directions: Array
    plan: Plan
    weights: tuple[float, float, float]  # centre, scale, shape
    all_reduce: Callable[[Array], Array] | None
    jax_reduce: bool  # JAX differentiates psum itself; elsewhere the reduce is a constant


def _parts(
    z: Array,
    num_slices: Any,
    seed: Any,
    directions: Any,
    center_weight: Any,
    scale_weight: Any,
    shape_weight: Any,
    eps: Any,
    all_reduce: Any,
    name: str = "z",
) -> _Parts:
    """Check every argument (before any work), then the moments and the projections."""
    if dask_arrays.is_dask_array(z):
        raise TypeError(f"{name} must be an in-memory array for visreg, got a dask array (VISReg sorts)")
    xp = checks.namespace(name, z)
    checks.embeddings(name, z, xp)
    dim = z.shape[-1]
    SHAPE.check_samples(z.shape[-2], name)
    xp, num_slices, seed = checks.slicing(name, z, xp, directions, num_slices, seed)
    weights = (
        _weight("center_weight", center_weight),
        _weight("scale_weight", scale_weight),
        _weight("shape_weight", shape_weight),
    )
    eps = checks.positive_finite("eps", eps)
    all_reduce = as_all_reduce(all_reduce)

    jax_reduce = all_reduce is not None and dispatch.differentiates_all_reduce(xp)
    zc = dtypes.as_compute_dtype(z, xp)

    def const(x: Array) -> Array:
        return x if jax_reduce else dispatch.constant(x, xp)

    def reduced(local: Array) -> Array:
        # Elsewhere the all-reduce is not differentiable (torch.distributed): its result enters
        # as a constant offset, so the gradient is this worker's share (scaled by the workers below).
        assert all_reduce is not None
        total = xp.reshape(all_reduce(xp.reshape(const(local), (-1,))), local.shape)
        return total if jax_reduce else local + dispatch.constant(total - local, xp)

    if all_reduce is None:
        n: Any = z.shape[-2]
        workers: Any = 1
        mean = xp.mean(zc, axis=-2, keepdims=True)
    else:
        sum1 = xp.sum(zc, axis=-2)
        total1, n, workers = slicing.global_sums(const(sum1), z.shape[-2], all_reduce, xp)
        if not jax_reduce:
            total1 = sum1 + dispatch.constant(total1 - sum1, xp)
        mean = xp.expand_dims(total1 / n, axis=-2)
    deviation = zc - dispatch.constant(mean, xp)  # d m2 / d mean = 0: the deviations sum to 0
    squares = xp.sum(deviation * deviation, axis=-2, keepdims=True)
    m2 = (squares if all_reduce is None else reduced(squares)) / n
    positive = m2 > 0.0
    # sqrt with a zero (sub)gradient at 0, as torch.linalg.norm's, not 0 * inf = NaN.
    sigma = xp.where(positive, xp.sqrt(xp.where(positive, m2, xp.ones_like(m2))), xp.zeros_like(m2)) + eps

    if directions is None:
        directions = dispatch.directions(dim, num_slices, seed, xp, arrays.device(z), zc.dtype)
    elif directions.dtype != zc.dtype:
        directions = xp.astype(directions, zc.dtype)
    directions = dispatch.constant(directions, xp)
    u = (deviation / dispatch.constant(sigma, xp)) @ directions
    return _Parts(
        xp,
        zc,
        n,
        workers,
        mean,
        m2,
        sigma,
        u,
        directions,
        dispatch.plan(u, xp),
        weights,
        all_reduce,
        jax_reduce,
    )


def _variance_value(p: _Parts) -> Array:
    xp = p.xp
    center_w, scale_w, _ = p.weights
    gap = p.sigma - 1.0
    return center_w * xp.mean(p.mean * p.mean) + scale_w * xp.mean(gap * gap)


def _global_shape(p: _Parts, local: Array) -> Array:
    """The shape term averaged over workers (each worker's own samples; see :func:`visreg`)."""
    if p.all_reduce is None:
        return local
    xp = p.xp
    source = local if p.jax_reduce else dispatch.constant(local, xp)
    total = p.all_reduce(xp.reshape(source, (1,)))[0] / p.workers
    return total if p.jax_reduce else local + dispatch.constant(total - local, p.xp)


def visreg(
    z: Array,
    /,
    *,
    num_slices: int = NUM_SLICES,
    seed: int | Array = 0,
    directions: Array | None = None,
    center_weight: float = 1.0,
    scale_weight: float = 1.0,
    shape_weight: float = 1.0,
    eps: float = EPS,
    all_reduce: Callable[[Array], Array] | None = None,
) -> Array:
    r"""VISReg, Variance-Invariance-Sketching Regularization, of embeddings ``z``.

    The regulariser of Wu, Balestriero and Levine, "VISReg: Variance-Invariance-Sketching
    Regularization for JEPA training", arXiv:2606.02572 (2026): a variance term for the
    scale and a sliced-Wasserstein term for the shape, whose gradient does not vanish as
    the embeddings collapse. The formula is that of the authors' code (HaiyuWu/visreg,
    ``visreg/losses/visreg.py``, commit 074fb51; the paper's Algorithm 1 and the project
    page's :math:`\mathcal{L}_{scale}` agree with it). For each batch of N samples
    of dimension D, with :math:`\mu_d` and :math:`\sigma_d` the per-feature mean and
    (biased) standard deviation::

        sigma_d = sqrt(mean_i (z_id - mu_d)**2) + eps
        center  = mean_d mu_d**2
        scale   = mean_d (sigma_d - 1)**2
        z_hat   = (z - mu) / stop_gradient(sigma)
        shape   = mean_k mean_i ((z_hat @ A)_(i)k - Phi^-1(i / (N + 1)))**2
        visreg  = center_weight * center + scale_weight * scale + shape_weight * shape

    where ``(.)_(i)k`` is the i-th smallest projection on direction ``k`` (columns of ``A``
    unit vectors). The three weights are 1 in the paper's code; leading batch axes (views)
    are averaged, as there. One difference: ``mu`` in ``z_hat`` is also held constant;
    for a whole batch this changes no gradient (the shape term's derivative with respect to
    ``mu`` vanishes, because centred projections and the quantiles both sum to zero) and it
    makes the sharded gradient exact (below).

    Parameters
    ----------
    z : array of shape (..., N, D)
        N samples of dimension D; leading axes are independent batches (views), averaged.
        Real floating: float64 is computed in float64, other dtypes in float32.
    num_slices : int, default 4096
        Number of directions (the paper's configuration), ``directions(D, num_slices,
        seed=seed)`` on ``z``'s device. Ignored when ``directions`` is given.
    seed : int or array, default 0
        Seed of the directions; a training loop must pass a fresh seed at every step.
    directions : array of shape (D, K), optional
        Explicit directions, same library and device as ``z``; used as given, constants.
    center_weight : float, default 1.0
        Weight of the centre term, finite and >= 0.
    scale_weight : float, default 1.0
        Weight of the scale term, finite and >= 0.
    shape_weight : float, default 1.0
        Weight of the shape term, finite and >= 0.
    eps : float, default 1e-6
        Added to each standard deviation (the paper's code); positive, so that a collapsed
        feature (sigma = 0) still has a finite ``z_hat``.
    all_reduce : callable, optional
        Sum of an array over all workers (``sigreg.torch.all_reduce()``). The mean and
        standard deviation, so the centre and scale terms and the normalisation of the
        shape term, are then exactly those of the global batch (three reductions: sums,
        squared deviations, the shape value). The shape term is sort-based: each worker's
        is that of its own samples, and the value is their average over workers (the
        paper's code instead gathers all embeddings first). Each worker's gradient of the
        variance terms is scaled by the worker count, so that DDP's average is the exact
        gradient of this value on the concatenated batch. Under JAX, ``psum`` is
        differentiated by JAX itself.

    Returns
    -------
    array
        A scalar of ``z``'s library and device, float32 unless ``z`` is float64.
        Differentiable under PyTorch autograd and JAX; for NumPy and other libraries
        use :func:`visreg_value_and_grad`.

    Raises
    ------
    TypeError
        If ``z`` or ``directions`` is not an array of a supported library (or a dask array),
        a dtype is not real floating, or a weight, ``eps`` or ``num_slices`` has the wrong type.
    ValueError
        If a shape does not fit, an axis is empty, a weight is negative or not finite,
        ``eps`` is not positive and finite, or ``num_slices`` is below 1.

    See Also
    --------
    sigreg : The Epps-Pulley regulariser of LeJEPA (``statistic="wasserstein"``: a sliced
        Wasserstein distance without VISReg's variance term and normalisation).

    Examples
    --------
    >>> import numpy as np
    >>> import sigreg
    >>> z = np.random.default_rng(0).standard_normal((512, 32))
    >>> bool(sigreg.visreg(z, num_slices=256) < 0.05)  # Gaussian: near 0
    True
    >>> bool(sigreg.visreg(0.01 * z, num_slices=256) > 0.9)  # shrunk: the scale term is near 1
    True
    """
    p = _parts(z, num_slices, seed, directions, center_weight, scale_weight, shape_weight, eps, all_reduce)
    xp = p.xp
    variance = _variance_value(p)
    if p.all_reduce is not None and not p.jax_reduce:
        # value unchanged, gradient times the worker count (DDP then averages).
        variance = variance + (p.workers - 1.0) * (variance - dispatch.constant(variance, xp))
    shape = xp.mean(dispatch.column_statistics(p.u, SHAPE, p.plan, None, xp))
    return variance + p.weights[2] * _global_shape(p, shape)


def visreg_value_and_grad(
    z: Array,
    /,
    *,
    num_slices: int = NUM_SLICES,
    seed: int | Array = 0,
    directions: Array | None = None,
    center_weight: float = 1.0,
    scale_weight: float = 1.0,
    shape_weight: float = 1.0,
    eps: float = EPS,
    all_reduce: Callable[[Array], Array] | None = None,
) -> tuple[Array, Array]:
    """``(visreg(z, ...), d visreg / d z)`` on any backend, NumPy and CuPy included.

    Parameters
    ----------
    z : array of shape (..., N, D)
        As in :func:`visreg`.
    num_slices : int, default 4096
        As in :func:`visreg`.
    seed : int or array, default 0
        As in :func:`visreg`.
    directions : array of shape (D, K), optional
        As in :func:`visreg`.
    center_weight : float, default 1.0
        As in :func:`visreg`.
    scale_weight : float, default 1.0
        As in :func:`visreg`.
    shape_weight : float, default 1.0
        As in :func:`visreg`.
    eps : float, default 1e-6
        As in :func:`visreg`.
    all_reduce : callable, optional
        As in :func:`visreg`: the gradient is this worker's, scaled as there.

    Returns
    -------
    value : array
        As :func:`visreg` returns it.
    grad : array
        The gradient with respect to ``z`` (the analytic one, with ``mu`` and ``sigma`` held
        constant in ``z_hat`` as in :func:`visreg`): ``z``'s shape, dtype and device.

    Raises
    ------
    TypeError, ValueError
        As :func:`visreg`.

    Examples
    --------
    >>> import numpy as np
    >>> import sigreg
    >>> z = 0.1 * np.random.default_rng(0).standard_normal((256, 8))
    >>> value, grad = sigreg.visreg_value_and_grad(z, num_slices=64)
    >>> grad.shape
    (256, 8)
    >>> bool(sigreg.visreg(z - 10.0 * grad, num_slices=64) < value)  # a descent step
    True
    """
    xp = checks.namespace("z", z)
    z_const = dispatch.constant(z, xp)
    p = _parts(
        z_const, num_slices, seed, directions, center_weight, scale_weight, shape_weight, eps, all_reduce
    )
    center_w, scale_w, shape_w = p.weights
    per_term = 1.0 / math.prod(p.mean.shape)  # the means over batch axes and features
    # d center / d z_i = 2 mu / n; d scale / d z_i = 2 (sigma - 1) (z_i - mu) / (n sqrt(m2)),
    # 0 where m2 = 0 (the subgradient torch.linalg.norm takes); both per term of the means.
    positive = p.m2 > 0.0
    root = xp.sqrt(xp.where(positive, p.m2, xp.ones_like(p.m2)))
    scale_factor = xp.where(positive, (p.sigma - 1.0) / root, xp.zeros_like(root))
    grad_variance = (2.0 * per_term / p.n) * (center_w * p.mean + scale_w * scale_factor * (p.z - p.mean))
    shape, grad_u = dispatch.value_and_grad(p.u, SHAPE, p.plan, None, "mean", xp)
    grad_shape = (grad_u @ p.directions.T) / p.sigma
    value = _variance_value(p) + shape_w * _global_shape(p, shape)
    grad = p.workers * grad_variance + shape_w * grad_shape
    if grad.dtype != z.dtype:
        grad = xp.astype(grad, z.dtype)
    return value, grad
