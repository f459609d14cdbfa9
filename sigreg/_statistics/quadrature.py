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
    t, w = _hermite_nodes(num_points)
    phi = tuple(math.exp(-0.5 * tj * tj) for tj in t)
    weight = tuple(2.0 * wj for wj in w)  # the nodes -t_j carry the same weights
    return Grid(dt=0.0, t=t, phi=phi, weight=weight, uniform=False)


def _hermite_nodes(n: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The positive nodes (ascending) and weights of n-point Gauss-Hermite quadrature for the
    weight exp(-t^2/2), by Newton's method on the orthonormal Hermite recurrence (Numerical
    Recipes' ``gauher``, rescaled from exp(-x^2): t = sqrt(2) x, w = sqrt(2) w_x)."""
    nodes: list[float] = []
    weights: list[float] = []
    z = 0.0
    for i in range(n // 2):  # the largest root first; a middle root 0 (odd n) is left out
        if i == 0:
            z = math.sqrt(2 * n + 1) - 1.85575 * (2 * n + 1) ** -0.16667
        elif i == 1:
            z -= 1.14 * n**0.426 / z
        elif i == 2:
            z = 1.86 * z - 0.86 * nodes[0]
        elif i == 3:
            z = 1.91 * z - 0.91 * nodes[1]
        else:
            z = 2.0 * z - nodes[i - 2]
        for _ in range(100):
            p1, p2 = math.pi**-0.25, 0.0
            for j in range(1, n + 1):
                p1, p2 = z * math.sqrt(2.0 / j) * p1 - math.sqrt((j - 1) / j) * p2, p1
            derivative = math.sqrt(2.0 * n) * p2
            step = p1 / derivative
            z -= step
            if abs(step) <= 1e-15 * max(1.0, abs(z)):
                break
        p1, p2 = math.pi**-0.25, 0.0  # the weight at the converged root
        for j in range(1, n + 1):
            p1, p2 = z * math.sqrt(2.0 / j) * p1 - math.sqrt((j - 1) / j) * p2, p1
        nodes.append(z)
        weights.append(2.0 / (2.0 * n * p2 * p2))
    root2 = math.sqrt(2.0)
    return tuple(root2 * x for x in reversed(nodes)), tuple(root2 * w for w in reversed(weights))
