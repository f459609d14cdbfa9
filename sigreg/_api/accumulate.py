"""Exact gradient accumulation: the global-batch statistic over micro-batches.

The statistics that are functions of sums over samples (Epps-Pulley, moments)
reach the slicing layer's ``all_reduce`` hook with one packed array per call:
the per-slice sums, the sample count and a worker count
(:func:`sigreg._core.slicing.global_sums`). Micro-batches are the same thing as
workers, spread over time instead of processes, so the same hook serves:
pass 1 collects each micro-batch's packed sums (no gradients), pass 2 hands
every micro-batch the total, while the gradient flows only through that
micro-batch's own sums.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._backend import dispatch
from .._core import arrays

Array = Any


class Accumulator:
    """Exact gradient accumulation of :func:`sigreg.sigreg` over micro-batches.

    Pass 1 runs the loss on each micro-batch without gradients, with
    ``all_reduce=acc.collect``; pass 2 runs it again on each micro-batch, with
    ``all_reduce=acc.reduce``, and back-propagates. Every pass-2 value is the
    statistic of the whole batch (all micro-batches, and all workers when
    ``all_reduce`` is given), and the gradients of the pass-2 values, summed
    over the micro-batches (not averaged), equal the gradient of one batch of
    them all. Micro-batches may hold different numbers of samples. Use one
    accumulator per training step; each micro-batch must see the same
    directions (the same ``seed``) and the same statistic.

    Parameters
    ----------
    all_reduce : callable, optional
        The data-parallel sum over workers (:func:`sigreg.torch.all_reduce`,
        :func:`sigreg.jax.all_reduce`), or None on one worker. Pass 1 calls it
        once, when pass 2 starts; under DDP, the usual gradient average over
        workers then gives the gradient of the global batch of every worker's
        micro-batches.

    Attributes
    ----------
    collect : callable
        The ``all_reduce=`` of pass 1: adds a micro-batch's sums to the running total.
    reduce : callable
        The ``all_reduce=`` of pass 2: the total of every micro-batch (and worker), with the
        gradient of this micro-batch's own sums.

    Examples
    --------
    >>> import numpy as np
    >>> import sigreg
    >>> z = np.random.default_rng(0).standard_normal((300, 8))
    >>> chunks = (z[:128], z[128:256], z[256:])
    >>> acc = sigreg.Accumulator()
    >>> for c in chunks:  # pass 1: sums only
    ...     _ = sigreg.sigreg(c, num_slices=32, all_reduce=acc.collect)
    >>> parts = [sigreg.value_and_grad(c, num_slices=32, all_reduce=acc.reduce) for c in chunks]
    >>> value, grad = sigreg.value_and_grad(z, num_slices=32)
    >>> bool(np.isclose(parts[0][0], value)), bool(np.allclose(np.concatenate([g for _, g in parts]), grad))
    (True, True)
    """

    def __init__(self, all_reduce: Callable[[Array], Array] | None = None) -> None:
        if all_reduce is not None and not callable(all_reduce):
            raise TypeError(f"all_reduce must be a callable or None, got {type(all_reduce).__name__}")
        self.all_reduce = all_reduce
        self._local: Array | None = None  # the sum of the collected packed arrays
        self._calls = 0
        self._total: Array | None = None  # the global packed sums, once pass 2 has started
        # Marks both callables for the JAX adapter: they hold arrays, so they must not be
        # static arguments of a cached jit (sigreg._backend.adapters.jax_vjp.column_statistics).
        self.collect = _Hook(self._collect)
        self.reduce = _Hook(self._reduce)

    def weight(self, num_samples: int) -> Array:
        """The weight of a mean over a micro-batch of ``num_samples`` samples, after pass 1.

        Other loss terms that are means over samples (LeJEPA's prediction term) are
        exact when each micro-batch's mean is multiplied by this weight: ``W * n / N``
        with W workers and N samples in all micro-batches of all workers, so that the
        sum over micro-batches and the average over workers give the global mean.

        Parameters
        ----------
        num_samples : int
            Samples in this micro-batch.

        Returns
        -------
        array
            A 0-d array of the collected sums' library, dtype and device.

        Raises
        ------
        RuntimeError
            Before pass 1 (no :attr:`collect` call yet).

        Examples
        --------
        >>> import numpy as np
        >>> import sigreg
        >>> acc = sigreg.Accumulator()
        >>> for n in (30, 10):
        ...     _ = sigreg.sigreg(np.ones((n, 4)), num_slices=8, all_reduce=acc.collect)
        >>> float(acc.weight(10))
        0.25
        """
        if self._local is None:
            raise RuntimeError("Accumulator.weight called before any Accumulator.collect (pass 1)")
        total = self._total_sums(arrays.namespace(self._local))
        return total[-1] * (float(num_samples) / total[-2])

    def _collect(self, packed: Array) -> Array:
        if self._total is not None:
            raise RuntimeError(
                "Accumulator.collect called after pass 2 started: use a new Accumulator per step"
            )
        xp = arrays.namespace(packed)
        packed = dispatch.constant(packed, xp)
        if self._local is not None and tuple(self._local.shape) != tuple(packed.shape):
            raise ValueError(
                "every micro-batch must have the same batch axes, slices and statistic: got sums of "
                f"{packed.shape[0] - 2} values after {self._local.shape[0] - 2}"
            )
        self._local = packed if self._local is None else self._local + packed
        self._calls += 1
        return packed

    def _total_sums(self, xp: Any) -> Array:
        if self._total is None:
            if self._local is None:
                raise RuntimeError("Accumulator.reduce called before any Accumulator.collect (pass 1)")
            # The last entry counts workers (sigreg._core.slicing.global_sums): one per process, not
            # one per micro-batch, so that the data-parallel scaling stays that of the workers.
            local = xp.concat([self._local[:-1], self._local[-1:] / self._calls])
            self._total = local if self.all_reduce is None else self.all_reduce(local)
        return self._total

    def _reduce(self, packed: Array) -> Array:
        xp: Any = arrays.namespace(packed)
        total = self._total_sums(xp)
        if tuple(total.shape) != tuple(packed.shape):
            raise ValueError(
                "Accumulator.reduce: this micro-batch has other slices or batch axes than pass 1"
            )
        if xp.__name__ != "jax.numpy":
            # PyTorch and the explicit gradient do not differentiate the all-reduce: the
            # slicing layer's backward takes the gradient of this micro-batch's own samples.
            return total
        # JAX differentiates the all-reduce itself: the value is the total, the derivative
        # that of this micro-batch's (reduced) sums.
        own = packed if self.all_reduce is None else self.all_reduce(packed)
        return total + (own - dispatch.constant(own, xp))


class _Hook:
    """A callable that holds arrays: never a static (cached) jit argument."""

    holds_arrays = True

    def __init__(self, fn: Callable[[Array], Array]) -> None:
        self._fn = fn

    def __call__(self, packed: Array) -> Array:
        return self._fn(packed)
