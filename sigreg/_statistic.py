"""The Statistic protocol: what the slicing layer and the adapters need of a statistic.

A statistic tests the columns of projections ``u`` of shape (..., N, K) along
the sample axis ``-2`` against N(0, 1). It is a frozen, hashable object that
holds its options, validated once at construction, so that it can be a static
argument under ``jax.jit`` and a constant under ``torch.compile``.

Statistics that are functions of sums over samples (Epps-Pulley, moments) also
implement the sums interface of :class:`SumsStatistic`: the slicing layer then
all-reduces the sums for data-parallel training, and the JAX adapter puts its
custom VJP on the sums alone.
"""

from __future__ import annotations

from typing import Any, ClassVar, Protocol, runtime_checkable

from ._plan import DEFAULT, Plan

Array = Any


@runtime_checkable
class Statistic(Protocol):
    """A normality statistic of each column of ``u`` (..., N, K) along axis -2.

    Attributes
    ----------
    name : str
        The name it is registered under.
    has_sums : bool
        True when the statistic is a function of sums over samples and
        implements :class:`SumsStatistic`'s methods (needed for ``all_reduce``).
    """

    name: ClassVar[str]

    @property
    def has_sums(self) -> bool: ...

    def forward(self, u: Array, xp: Any, plan: Plan = DEFAULT) -> tuple[Array, tuple[Any, ...]]:
        """Values of shape (..., K) and the residuals that :meth:`backward` needs."""
        ...

    def backward(
        self, u: Array, residuals: tuple[Any, ...], cotangent: Array, xp: Any, plan: Plan = DEFAULT
    ) -> Array:
        """The gradient with respect to ``u`` given the cotangent (..., K) of the values."""
        ...


@runtime_checkable
class SumsStatistic(Statistic, Protocol):
    """A statistic that is a function of per-column sums over samples, shape (..., K, S)."""

    def local_sums(self, u: Array, xp: Any, plan: Plan = DEFAULT) -> Array:
        """The sums over the samples of ``u``, shape (..., K, S)."""
        ...

    def from_sums(self, sums: Array, n: Any, xp: Any) -> Array:
        """Values (..., K) from sums over ``n`` samples (``n`` an int or a 0-d array)."""
        ...

    def from_sums_vjp(self, sums: Array, n: Any, cotangent: Array, xp: Any) -> Array:
        """The gradient of :meth:`from_sums` with respect to the sums."""
        ...

    def local_sums_vjp(self, u: Array, sums_bar: Array, xp: Any, plan: Plan = DEFAULT) -> Array:
        """The gradient of :meth:`local_sums` with respect to ``u``, given the cotangent of the sums."""
        ...


class SumsMixin:
    """``forward`` and ``backward`` of a :class:`SumsStatistic`, written once from its sums methods."""

    has_sums: bool = True

    def forward(self: Any, u: Array, xp: Any, plan: Plan = DEFAULT) -> tuple[Array, tuple[Any, ...]]:
        sums = self.local_sums(u, xp, plan)
        n = u.shape[-2]
        return self.from_sums(sums, n, xp), (sums, n)

    def backward(
        self: Any, u: Array, residuals: tuple[Any, ...], cotangent: Array, xp: Any, plan: Plan = DEFAULT
    ) -> Array:
        sums, n = residuals
        return self.local_sums_vjp(u, self.from_sums_vjp(sums, n, cotangent, xp), xp, plan)
