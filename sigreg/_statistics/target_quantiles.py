"""Wasserstein against a target other than N(0, 1): reference order statistics drawn per call.

A projection of a product target (or of the sphere) has no quantile function in closed form, so,
as RDMReg does, N points are drawn from the target with the counter-based generator (a stream of
the directions' seed, independent of them), projected onto the slices' unit directions and sorted:
the i-th order statistic of each slice is paired with the i-th of the reference. Reproducible per
seed and the same on every backend; a constant of ``z``, so the gradient is that of the plain form.
"""

from __future__ import annotations

from typing import Any

from .._core import draws
from .._core.arrays import device as _device
from .._core.plan import DEFAULT, Plan
from .._core.statistic import Statistic
from . import rank_based

Array = Any


def reference(target: Any, n: int, directions: Array, keys: list[Any], xp: Any) -> Array:
    """Sorted projections (N, K) of N draws of ``target`` onto the unit ``directions`` (D, K)."""
    a = directions / xp.sqrt(xp.sum(directions * directions, axis=0, keepdims=True))
    x = target.draw(n, directions.shape[0], draws.null_sample_keys(keys), xp, _device(a), a.dtype)
    return xp.sort(x @ a, axis=0)


class WassersteinAgainst(Statistic):
    """``statistic`` (a Wasserstein) pairing each slice's order statistics with ``reference``'s."""

    def __init__(self, statistic: Any, reference: Array) -> None:
        self.statistic = statistic
        self.reference = reference

    @property
    def name(self) -> str:  # type: ignore[override]  # the wrapped statistic's, per instance
        return str(self.statistic.name)

    def __repr__(self) -> str:
        return f"{self.statistic!r} (bound to its reference sample)"

    def forward(self, u: Array, xp: Any, plan: Plan = DEFAULT) -> tuple[Array, tuple[Any, ...]]:
        ref = xp.broadcast_to(xp.astype(self.reference, u.dtype), u.shape)
        gap = u - rank_based.from_sorted(ref, rank_based.ranks(u, xp), xp)
        return xp.mean(xp.abs(gap) ** self.statistic.p, axis=-2), (gap,)

    def backward(
        self, u: Array, residuals: tuple[Any, ...], cotangent: Array, xp: Any, plan: Plan = DEFAULT
    ) -> Array:
        return self.statistic.backward(u, residuals, cotangent, xp, plan)
