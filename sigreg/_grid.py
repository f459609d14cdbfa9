"""The quadrature grid of the Epps-Pulley statistic (docs/numbers.md).

Everything here is plain Python floats: the grid is static, so it becomes a
compile-time constant under ``jax.jit`` and ``torch.compile``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Grid:
    """Knots ``t_j = j * dt`` for ``j = 1 .. P-1`` of the half-line trapezoid rule.

    The knot ``t_0 = 0`` is left out: there the empirical characteristic function
    is exactly 1 = phi(0), so its error term is exactly zero.
    """

    dt: float
    t: tuple[float, ...]  # knots t_1 .. t_{P-1}
    phi: tuple[float, ...]  # target characteristic function exp(-t^2 / 2)
    weight: tuple[float, ...]  # folded trapezoid weight times the Gaussian window


def trapezoid_grid(t_max: float, num_points: int) -> Grid:
    dt = t_max / (num_points - 1)
    t = tuple(j * dt for j in range(1, num_points))
    phi = tuple(math.exp(-0.5 * tj * tj) for tj in t)
    # Folding [-t_max, t_max] onto [0, t_max]: interior knots count twice, the
    # end knot once (its full-line weight dt/2 on each side).
    fold = tuple(dt if j == num_points - 1 else 2.0 * dt for j in range(1, num_points))
    weight = tuple(w * p for w, p in zip(fold, phi, strict=True))
    return Grid(dt=dt, t=t, phi=phi, weight=weight)
