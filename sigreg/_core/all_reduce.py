"""The all-reduce protocol: what the layers ask of an ``all_reduce=`` argument.

A plain function enters once, through :func:`as_all_reduce` (the public functions' argument
checks); the layers below call the declared methods, never ask which an object has.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from .statistic import Statistic

Array = Any


class AllReduce:
    """What the layers ask of an ``all_reduce``: the sum over workers, and two optional hooks.

    A plain function given as ``all_reduce`` is wrapped once, by :func:`as_all_reduce`, where it
    enters; the defaults below then serve. :class:`sigreg.Accumulator`'s hooks override them.
    """

    # An all-reduce that holds arrays (the Accumulator's) is never a static jit argument: it would
    # be baked in as a constant, or leak an outer trace's values.
    holds_arrays: ClassVar[bool] = False

    def __call__(self, x: Array) -> Array:
        raise NotImplementedError

    def agree(self, x: Array) -> Array:
        """The first round of a statistic with ``needs_frame``: the frame sums, summed over workers."""
        return self(x)

    def observe(
        self, z: Array, xp: Any, statistic: Statistic, seed: Any, num_slices: Any, directions: Any
    ) -> None:
        """Called once a call's arguments are checked, before any work (the Accumulator refuses a
        micro-batch that does not fit the others here)."""


class _Function(AllReduce):
    """A plain function as an :class:`AllReduce`: equal (and hashed) as the function, so JAX's jit
    cache is hit by the same function wrapped again."""

    def __init__(self, function: Callable[[Array], Array]) -> None:
        self.function = function

    def __call__(self, x: Array) -> Array:
        return self.function(x)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Function) and other.function == self.function

    def __hash__(self) -> int:
        return hash((_Function, self.function))

    def __repr__(self) -> str:
        return repr(self.function)


def as_all_reduce(all_reduce: Any) -> AllReduce | None:
    """``all_reduce`` as an :class:`AllReduce` (None stays None), checked: a callable."""
    if all_reduce is None or isinstance(all_reduce, AllReduce):
        return all_reduce
    if not callable(all_reduce):
        raise TypeError(f"all_reduce must be a callable or None, got {type(all_reduce).__name__}")
    return _Function(all_reduce)
