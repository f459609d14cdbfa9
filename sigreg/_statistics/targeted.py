"""A sums statistic bound to its target's CF per column: the per-call form of ``target=``.

A product target's projection onto ``a`` has the CF ``psi_a(t) = prod_d psi(a_d t)``, so the
statistic of a slice needs its direction; the statistic itself sees only the projections. The
regulariser computes the CF from the directions once per call (``statistic.constants``) and the
adapters bind it here, inside the call: the sums, their all-reduce and their VJP are the
statistic's own (the CF does not depend on ``z``), only ``from_sums`` compares with the CF.

It holds an array, so it is neither hashable nor a static argument: it is made inside each
traced call from the frozen statistic and the CF.
"""

from __future__ import annotations

from typing import Any

from .._core.plan import DEFAULT, Plan
from .._core.statistic import SumsStatistic

Array = Any


class WithTargetCF(SumsStatistic):
    """``statistic`` whose values compare each column's ECF with ``cf`` (..., K or 1, 2J)."""

    def __init__(self, statistic: Any, cf: Array) -> None:
        self.statistic = statistic
        self.cf = cf

    @property
    def name(self) -> str:  # type: ignore[override]  # the wrapped statistic's, per instance
        return str(self.statistic.name)

    def __repr__(self) -> str:
        return f"{self.statistic!r} (bound to its target's CF)"

    def local_sums(self, u: Array, xp: Any, plan: Plan = DEFAULT) -> Array:
        return self.statistic.local_sums(u, xp, plan)

    def local_sums_vjp(self, u: Array, sums_bar: Array, xp: Any, plan: Plan = DEFAULT) -> Array:
        return self.statistic.local_sums_vjp(u, sums_bar, xp, plan)

    def from_sums(self, sums: Array, n: Any, xp: Any) -> Array:
        return self.statistic.from_sums_with_cf(sums, n, self.cf, xp)

    def from_sums_vjp(self, sums: Array, n: Any, cotangent: Array, xp: Any) -> Array:
        return self.statistic.from_sums_vjp_with_cf(sums, n, cotangent, self.cf, xp)
