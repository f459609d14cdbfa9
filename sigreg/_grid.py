"""The quadrature grids of the Epps-Pulley statistic (docs/numbers.md).

Everything here is plain Python floats: the grid is static, so it becomes a
compile-time constant under ``jax.jit`` and ``torch.compile``.

The integrand ``|ecf(t) - phi(t)|^2 exp(-t^2/2)`` is even in t, so every rule
on a grid symmetric about 0 is folded onto the half line: the knot ``t_j`` gets
the weights of ``+t_j`` and ``-t_j`` together. The paper's full grid
``linspace(-T, T, 2P - 1)`` is therefore exactly the half-line grid with
``t_max = T`` and ``P`` knots (``[-5, 5]`` with 17 knots: ``t_max=5, num_points=9``).
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

    dt: float  # the step of uniform knots (the recurrences and fused kernels need it); 0 if not uniform
    t: tuple[float, ...]  # knots t_1 .. t_{P-1}
    phi: tuple[float, ...]  # target characteristic function exp(-t^2 / 2)
    weight: tuple[float, ...]  # folded quadrature weight times the Gaussian window
    uniform: bool = True  # t_j = j * dt: otherwise the knots are evaluated directly


def trapezoid_grid(t_max: float, num_points: int) -> Grid:
    dt = t_max / (num_points - 1)
    t = tuple(j * dt for j in range(1, num_points))
    phi = tuple(math.exp(-0.5 * tj * tj) for tj in t)
    # Folding [-t_max, t_max] onto [0, t_max]: interior knots count twice, the
    # end knot once (its full-line weight dt/2 on each side).
    fold = tuple(dt if j == num_points - 1 else 2.0 * dt for j in range(1, num_points))
    weight = tuple(w * p for w, p in zip(fold, phi, strict=True))
    return Grid(dt=dt, t=t, phi=phi, weight=weight)


def simpson_grid(t_max: float, num_points: int) -> Grid:
    """Simpson's rule on ``[0, t_max]`` (``num_points`` odd), folded: the same as Simpson's rule
    on the symmetric grid of ``2 * num_points - 1`` knots, whose middle knot is of even index."""
    dt = t_max / (num_points - 1)
    t = tuple(j * dt for j in range(1, num_points))
    phi = tuple(math.exp(-0.5 * tj * tj) for tj in t)
    pattern = tuple(1.0 if j == num_points - 1 else (4.0 if j % 2 else 2.0) for j in range(1, num_points))
    weight = tuple(2.0 * dt / 3.0 * c * p for c, p in zip(pattern, phi, strict=True))
    return Grid(dt=dt, t=t, phi=phi, weight=weight)


def gauss_hermite_grid(num_points: int) -> Grid:
    """Gauss-Hermite nodes of the weight ``exp(-t^2/2)`` over the whole line, ``num_points`` of them.

    The Gaussian window of the statistic is the rule's own weight, so the weights
    are not multiplied by ``phi``; the symmetric nodes are folded onto the positive
    ones, and a node at 0 (odd ``num_points``) is dropped (its error term is 0).
    No truncation: ``t_max`` plays no part.
    """
    import numpy as np  # a dependency of sigreg, imported only when this rule is asked for

    nodes, weights = np.polynomial.hermite_e.hermegauss(num_points)
    positive = nodes > 0  # hermegauss symmetrises the nodes: a middle node is exactly 0
    t = tuple(float(x) for x in nodes[positive])
    phi = tuple(math.exp(-0.5 * tj * tj) for tj in t)
    weight = tuple(2.0 * float(w) for w in weights[positive])
    return Grid(dt=0.0, t=t, phi=phi, weight=weight, uniform=False)
