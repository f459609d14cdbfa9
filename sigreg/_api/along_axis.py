"""Statistics of samples along an axis: the shared argument checks, Epps-Pulley and the ECF.

The other families' functions are in :mod:`sigreg._api.normality`; :mod:`sigreg.stats`
re-exports both.
"""

from __future__ import annotations

from typing import Any

from .._backend import dispatch
from .._core import checks, dtypes, slicing
from .._core.statistic import Statistic
from .._statistics import ecf as ecf_module
from .._statistics.epps_pulley import NUM_POINTS, T_MAX, EppsPulley
from .._statistics.targets import ProductTarget

Array = Any


def samples_along(  # numpydoc ignore=PR01,RT01,EX01
    name: str, x: Array, axis: Any
) -> tuple[Any, Array]:
    """(xp, u): the samples along ``axis`` of ``x`` as columns ``u`` (..., N, 1), checked."""
    xp = checks.namespace(name, x)
    if x.ndim == 0:
        raise ValueError(f"{name} must have at least one dimension (the samples)")
    axis = checks.integer("axis", axis, -x.ndim)
    if axis >= x.ndim:
        raise ValueError(f"axis must be in [-{x.ndim}, {x.ndim}), got {axis}")
    if x.shape[axis] == 0:
        raise ValueError(
            f"{name} must have at least one sample along axis {axis}, got shape {tuple(x.shape)}"
        )
    checks.real_floating(name, x, xp)
    # permute_dims, not moveaxis: torch's moveaxis has no torch.func.vmap batching rule.
    order = (*(i for i in range(x.ndim) if i != axis % x.ndim), axis % x.ndim)
    u = xp.permute_dims(dtypes.as_compute_dtype(x, xp), order)[..., None]
    return xp, slicing.clamp_to_projectable(u, xp)


def along_axis(  # numpydoc ignore=PR01,RT01,EX01
    statistic: Statistic, x: Array, axis: Any, name: str = "x"
) -> Array:
    """``statistic`` of the samples along ``axis`` of ``x``, one value per index of the other axes."""
    xp, u = samples_along(name, x, axis)
    checks.samples(statistic, u.shape[-2], name)
    return dispatch.column_statistics(u, statistic, dispatch.plan(u, xp), None, xp)[..., 0]


def epps_pulley(
    x: Array,
    /,
    *,
    axis: int = 0,
    t_max: float = T_MAX,
    num_points: int = NUM_POINTS,
    integration: str = "trapezoid",
    unbiased: bool = False,
    target: Any = "normal",
) -> Array:
    """The Epps-Pulley statistic of the samples along ``axis`` against N(0, 1) (or ``target``).

    ``EP = N * integral |ecf(t) - exp(-t^2/2)|^2 exp(-t^2/2) dt`` over
    ``[-t_max, t_max]``, by the trapezoid rule on ``num_points`` knots of the
    half line (``integration="trapezoid"``), or over the whole real line in
    closed form (``integration="exact"``: O(N^2) work, for validation and small
    N). Under the null (samples exactly N(0, 1)) the exact statistic has mean
    ``sqrt(2 pi) (1 - 1/sqrt(3)) = 1.0594`` for every N.

    Parameters
    ----------
    x : array
        Real floating samples along ``axis``.
    axis : int, default 0
        The sample axis.
    t_max : float, default 3.0
        The quadrature covers ``[-t_max, t_max]``.
    num_points : int, default 17
        Knots on the half line (odd for Simpson), or Gauss-Hermite nodes.
    integration : {"trapezoid", "simpson", "gauss_hermite", "exact"}, default "trapezoid"
        The quadrature rule (see :class:`EppsPulley`); ``"exact"``: the closed form
        over the whole real line.
    unbiased : bool, default False
        The U-statistic form without the ``i = j`` pairs: mean exactly 0 under N(0, 1)
        at every N (see :class:`EppsPulley`); needs at least 2 samples.
    target : str or sigreg.targets.Target, default "normal"
        The 1-D law tested against, by its characteristic function ``psi``:
        ``N * integral |ecf(t) - psi(t)|^2 exp(-t^2/2) dt`` (a product target of
        :mod:`sigreg.targets`; not ``"sphere"``, a law of whole embeddings).

    Returns
    -------
    array
        One value per index of the remaining axes, in ``x``'s library and on its
        device; float64 stays float64, other floating dtypes give float32.
        Differentiable like :func:`sigreg.sigreg`, with O(N + P) memory per column.
        Non-finite samples give a non-finite result (nothing is checked on the device).

    Raises
    ------
    TypeError
        If ``x`` is not a real floating array or an option has the wrong type.
    ValueError
        If ``x`` is 0-d, ``axis`` is out of range, there is no sample, or an
        option is out of range.

    Examples
    --------
    >>> import numpy as np
    >>> from sigreg.stats import epps_pulley
    >>> x = np.random.default_rng(0).standard_normal((2000, 3))
    >>> ep = epps_pulley(x)  # one value per column
    >>> ep.shape, bool(np.all(ep < 5))
    ((3,), True)
    >>> bool(epps_pulley(x + 1.0)[0] > 50)  # a shifted sample is far from N(0, 1)
    True
    """
    statistic = EppsPulley(
        t_max=t_max, num_points=num_points, integration=integration, unbiased=unbiased, target=target
    )
    if not isinstance(statistic.target, ProductTarget):
        raise ValueError(
            f"target={statistic.target!r} is a law of whole embeddings (its projections' CF depends on "
            "the dimension): test it with sigreg.sigreg(z, target=...), not along an axis"
        )
    return along_axis(statistic, x, axis)


def ecf(x: Array, t: Any, /, *, axis: int = 0) -> tuple[Array, Array]:
    """The empirical characteristic function of the samples along ``axis`` at knots ``t``.

    Parameters
    ----------
    x : array
        Real floating samples along ``axis``.
    t : sequence of float
        The knots (Python numbers, or a 1-D NumPy array), evaluated directly.
    axis : int, default 0
        The sample axis.

    Returns
    -------
    real : array
        ``mean(cos(t_j x))`` over the samples, of shape ``x.shape`` without
        ``axis`` plus ``(len(t),)``.
    imag : array
        ``mean(sin(t_j x))``, of the same shape.

    Raises
    ------
    TypeError
        If ``x`` is not a real floating array or ``t`` holds no real numbers.
    ValueError
        If ``x`` has no sample along ``axis`` or ``t`` is empty or not finite.

    Examples
    --------
    >>> import numpy as np
    >>> from sigreg.stats import ecf
    >>> real, imag = ecf(np.array([0.0, np.pi]), [0.0, 1.0])
    >>> np.round(real, 12), np.round(imag, 12)
    (array([1., 0.]), array([0., 0.]))
    """
    knots = checks.finite_reals("t", t)
    xp, u = samples_along("x", x, axis)
    real, imag = ecf_module.direct_ecf(u, knots, xp)
    return real[..., 0, :], imag[..., 0, :]
