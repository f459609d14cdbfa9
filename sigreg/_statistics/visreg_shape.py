"""VISReg's shape term per slice: the squared 2-Wasserstein distance to N(0, 1) at VISReg's quantiles.

The same order statistic as :class:`sigreg._statistics.order.Wasserstein` with ``p = 2``,
but each order statistic is paired with ``Phi^-1(i / (N + 1))`` (the quantiles of the
official VISReg code, HaiyuWu/visreg ``visreg/losses/visreg.py``) instead of the
mid-cell ``Phi^-1((i - 1/2) / N)``, so that :func:`sigreg.visreg` gives the paper's numbers.
Rank-based (:mod:`sigreg._statistics.rank_based`): no sums, no ``all_reduce``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from .._core import arrays, normal_cdf
from .._core.plan import DEFAULT, Plan
from . import rank_based

Array = Any

# Per-n tables as a plain dict: torch.compile traces dict lookups (and warns on lru_cache).
_QUANTILES: dict[int, tuple[float, ...]] = {}


def visreg_quantiles(n: int) -> tuple[float, ...]:
    """``Phi^-1(i / (n + 1))`` for ``i = 1..n``: the target each order statistic is paired with."""
    if n not in _QUANTILES:
        _QUANTILES[n] = normal_cdf.quantiles((i + 1) / (n + 1) for i in range(n))
    return _QUANTILES[n]


@dataclass(frozen=True)
class VISRegShape(rank_based.OrderStatistic):
    """``mean_i (x_(i) - Phi^-1(i / (N + 1)))^2`` per column: VISReg's sliced-Wasserstein term."""

    name: ClassVar[str] = "visreg_shape"

    def forward(  # numpydoc ignore=GL08
        self, u: Array, xp: Any, plan: Plan = DEFAULT
    ) -> tuple[Array, tuple[Any, ...]]:
        # The table is made once per device (no host-to-device copy, so no stream sync, per step).
        table = arrays.constant(visreg_quantiles(u.shape[-2]), u, xp)
        target = rank_based.at_ranks(table, rank_based.ranks(u, xp), xp)
        gap = u - target
        return xp.mean(gap * gap, axis=-2), (gap,)

    def backward(  # numpydoc ignore=GL08
        self, u: Array, residuals: tuple[Any, ...], cotangent: Array, xp: Any, plan: Plan = DEFAULT
    ) -> Array:
        (gap,) = residuals
        return rank_based.expand_cotangent(cotangent) * (2.0 / u.shape[-2]) * gap
