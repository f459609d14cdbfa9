"""Target laws other than N(0, I), for ``target=`` of the Epps-Pulley statistic.

Product targets have i.i.d. coordinates of unit variance (RDMReg's rectified law has the
parameters of its paper instead); :class:`Sphere` is the uniform law on the sphere of radius
``sqrt(D)``. Every target has a sampler (``target.sample(n, d, seed=...)``) that gives the same
numbers on every backend, and is accepted by name (``target="laplace"``).
"""

from __future__ import annotations

from ._core.public import rehome as _rehome
from ._statistics.targets import (
    TARGETS as _TARGETS,
)
from ._statistics.targets import (
    GeneralizedNormal,
    Laplace,
    Normal,
    ProductTarget,
    RectifiedGeneralizedNormal,
    Sphere,
    Target,
    Uniform,
)

__all__ = [
    "GeneralizedNormal",
    "Laplace",
    "Normal",
    "ProductTarget",
    "RectifiedGeneralizedNormal",
    "Sphere",
    "Target",
    "Uniform",
    "available",
]


def available() -> tuple[str, ...]:
    """The names ``target=`` accepts.

    Returns
    -------
    tuple of str
        One name per target class (``"generalized_normal"`` needs its shape, so it is given as
        ``GeneralizedNormal(beta)``).

    Examples
    --------
    >>> import sigreg.targets
    >>> sigreg.targets.available()[:3]
    ('normal', 'laplace', 'uniform')
    """
    return tuple(_TARGETS)


_rehome(globals(), __name__)
