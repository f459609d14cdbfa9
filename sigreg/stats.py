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

from ._api.along_axis import ecf, epps_pulley, function_of
from ._api.normality import bhep, henze_zirkler
from ._core.public import rehome as _rehome
from ._core.statistic import EmbeddingStatistic, Statistic, SumsStatistic
from ._statistics import registry as _registry
from ._statistics.bhep import BHEP, HenzeZirkler
from ._statistics.edf import AndersonDarling, CramerVonMises, Watson
from ._statistics.epps_pulley import EppsPulley
from ._statistics.moments import JarqueBera, Moments
from ._statistics.order import Entropy, ShapiroWilk, Wasserstein

# The statistics along an axis, one per registered class: the same quantity as ``statistic=NAME``
# (function_of makes each from its class: signature, docstring, checks).
anderson_darling = function_of(AndersonDarling)
cramer_von_mises = function_of(CramerVonMises)
watson = function_of(Watson)
shapiro_wilk = function_of(ShapiroWilk)
jarque_bera = function_of(JarqueBera)
moments = function_of(Moments)
entropy = function_of(Entropy)
wasserstein = function_of(Wasserstein)

__all__ = [
    "BHEP",
    "AndersonDarling",
    "CramerVonMises",
    "EmbeddingStatistic",
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


_rehome(globals(), __name__)
