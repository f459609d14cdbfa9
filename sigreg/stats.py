"""Normality statistics of samples along an axis, and the Statistic registry.

Each statistic is a function of samples along ``axis`` (one value per index of
the other axes), and a class holding its options that :func:`sigreg.sigreg`
accepts as ``statistic=``. Every statistic works on NumPy, CuPy, PyTorch, JAX
and array-api-strict arrays, keeps float64, computes bfloat16/float16 in
float32, and is differentiable under PyTorch autograd and JAX through one
analytic gradient.
"""

from __future__ import annotations

from typing import Any

from . import _api, _ecf, _registry
from . import _validate as check
from ._bhep import BHEP, HenzeZirkler
from ._epps_pulley import NUM_POINTS, T_MAX, EppsPulley
from ._moments import JarqueBera, Moments
from ._normality import (
    anderson_darling,
    bhep,
    cramer_von_mises,
    entropy,
    henze_zirkler,
    jarque_bera,
    moments,
    shapiro_wilk,
    wasserstein,
    watson,
)
from ._order import AndersonDarling, CramerVonMises, Entropy, ShapiroWilk, Wasserstein, Watson
from ._statistic import Statistic, SumsStatistic

__all__ = [
    "BHEP",
    "AndersonDarling",
    "CramerVonMises",
    "Entropy",
    "EppsPulley",
    "HenzeZirkler",
    "JarqueBera",
    "Moments",
    "ShapiroWilk",
    "Statistic",
    "SumsStatistic",
    "Wasserstein",
    "Watson",
    "anderson_darling",
    "available",
    "bhep",
    "cramer_von_mises",
    "ecf",
    "entropy",
    "epps_pulley",
    "get",
    "henze_zirkler",
    "jarque_bera",
    "moments",
    "register",
    "shapiro_wilk",
    "wasserstein",
    "watson",
]

Array = Any


def available() -> tuple[str, ...]:
    """The names of the registered statistics.

    Returns
    -------
    tuple of str
        Every name that ``statistic=`` accepts.

    Examples
    --------
    >>> import sigreg.stats
    >>> "epps_pulley" in sigreg.stats.available()
    True
    """
    return _registry.names()


def get(name: str, /, **options: Any) -> Statistic:
    """The registered statistic ``name`` with ``options``, checked.

    Parameters
    ----------
    name : str
        A registered name (:func:`available`).
    **options
        The statistic's options.

    Returns
    -------
    Statistic
        A frozen, hashable statistic object.

    Raises
    ------
    ValueError
        If ``name`` is not registered or an option is out of range.
    TypeError
        If an option is unknown to the statistic or has the wrong type.

    Examples
    --------
    >>> import sigreg.stats
    >>> sigreg.stats.get("epps_pulley", t_max=5.0, num_points=9)
    EppsPulley(t_max=5.0, num_points=9, integration='trapezoid')
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, got {type(name).__name__}")
    return _registry.resolve(name, options)


def register(cls: type) -> type:
    """Register a statistic class under its ``name`` attribute (usable as a decorator).

    Parameters
    ----------
    cls : type
        A class implementing :class:`Statistic` (and :class:`SumsStatistic` for
        ``all_reduce``), with a class attribute ``name``.

    Returns
    -------
    type
        ``cls`` itself.

    Raises
    ------
    TypeError
        If ``cls`` has no string ``name`` or does not implement the protocol.

    Examples
    --------
    >>> import dataclasses
    >>> import sigreg.stats
    >>> @sigreg.stats.register
    ... @dataclasses.dataclass(frozen=True)
    ... class WideEppsPulley(sigreg.stats.EppsPulley):
    ...     name = "wide_epps_pulley"
    ...     t_max: float = 5.0
    >>> sigreg.stats.get("wide_epps_pulley").t_max
    5.0
    """
    return _registry.register(cls)


def epps_pulley(
    x: Array,
    /,
    *,
    axis: int = 0,
    t_max: float = T_MAX,
    num_points: int = NUM_POINTS,
    integration: str = "trapezoid",
) -> Array:
    """The Epps-Pulley statistic of the samples along ``axis`` against N(0, 1).

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
    statistic = EppsPulley(t_max=t_max, num_points=num_points, integration=integration)
    return _api._along_axis(statistic, x, axis)


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
    knots = check.finite_reals("t", t)
    xp, u = _api._samples_along("x", x, axis)
    real, imag = _ecf.direct_ecf(u, knots, xp)
    return real[..., 0, :], imag[..., 0, :]
