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

import collections
import weakref
from collections.abc import Callable
from typing import Any, NamedTuple

from .._backend import dispatch
from .._core import arrays
from .._core.all_reduce import AllReduce, as_all_reduce

Array = Any


class _Fingerprint(NamedTuple):
    """What every micro-batch of one accumulation must share, read from metadata only."""

    library: str
    device: str
    features: int  # D
    batch_axes: tuple[int, ...]
    statistic: Any  # a frozen dataclass: equal options compare equal
    draw: tuple[Any, ...]  # ("seed", seed, num_slices) or ("directions", shape)


# Field names as the error messages say them, in the order they are compared.
_FIELDS = {
    "library": "array library",
    "device": "device",
    "features": "dimension D",
    "batch_axes": "batch axes",
    "statistic": "statistic (or its options)",
    "draw": "directions (seed and num_slices, or the directions given)",
}


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

    Pass 1 records a fingerprint of its first micro-batch: the array library, the
    device, D, the batch axes, the statistic with its options, and the seed and
    ``num_slices`` (or the directions given). Every later micro-batch of either
    pass is compared with it, from metadata only (no host sync): a mismatch, the
    same array object collected twice in one pass, more micro-batches (or other
    sample counts) in pass 2 than in pass 1, a reduce before any collect, or a
    collect after pass 2 started raises before any work. Two exceptions keep the
    hot path free of syncs: a seed given as an array is not compared (its value
    may be traced), and explicit ``directions`` are compared by identity, and by
    value (one host sync) only when another array object is passed (once per
    object; never for JAX tracers).

    Parameters
    ----------
    all_reduce : callable, optional
        The data-parallel sum over workers (:func:`sigreg.torch.all_reduce`,
        :func:`sigreg.jax.all_reduce`), or None on one worker. Pass 1 calls it
        once, when pass 2 starts; under DDP, the usual gradient average over
        workers then gives the gradient of the global batch of every worker's
        micro-batches. Jarque-Bera calls it once more, at pass 1's first
        micro-batch: the shift and scale its sums are taken about, agreed by
        every worker (so every worker must run that micro-batch).

    Attributes
    ----------
    collect : callable
        The ``all_reduce=`` of pass 1: adds a micro-batch's sums to the running total.
    reduce : callable
        The ``all_reduce=`` of pass 2: the total of every micro-batch (and worker), with the
        gradient of this micro-batch's own sums.

    Raises
    ------
    TypeError
        In :func:`sigreg.sigreg` and the other entry points: a micro-batch of another
        array library than pass 1's first.
    ValueError
        In the same places: another device, D, batch axes, statistic, option, seed,
        ``num_slices`` or directions than pass 1's first micro-batch, a micro-batch
        collected twice, or pass 2 with more micro-batches or other sample counts.
    RuntimeError
        A reduce before any collect, or a collect after pass 2 started.

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
        self.all_reduce = as_all_reduce(all_reduce)
        self._local: Array | None = None  # the sum of the collected packed arrays
        self._calls = 0
        self._total: Array | None = None  # the global packed sums, once pass 2 has started
        # Marks both callables for the JAX adapter: they hold arrays, so they must not be
        # static arguments of a cached jit (sigreg._backend.adapters.jax_vjp.column_statistics).
        self.collect = _Hook(self._collect, lambda *call: self._observe(1, *call), self._agree)
        self.reduce = _Hook(self._reduce, lambda *call: self._observe(2, *call), self._agree)
        self._frame: Array | None = None  # the shift and scale of a two-round statistic (Jarque-Bera)
        self._fingerprint: _Fingerprint | None = None
        self._directions: Array | None = None  # pass 1's explicit directions, if any
        self._checked_directions: list[weakref.ref[Any]] = []  # other objects found equal to them
        self._seen: dict[int, list[weakref.ref[Any]]] = {1: [], 2: []}  # micro-batches per pass
        self._unused_sizes: collections.Counter[int] = collections.Counter()  # pass 1's N, not yet in pass 2
        self._micro_batches = {1: 0, 2: 0}

    def _observe(
        self, phase: int, z: Array, xp: Any, statistic: Any, seed: Any, num_slices: Any, directions: Any
    ) -> None:
        """Check one micro-batch of ``phase`` (1 or 2) against pass 1's fingerprint, before any work."""
        hook = "collect" if phase == 1 else "reduce"
        if phase == 1 and (self._total is not None or self._micro_batches[2]):
            raise RuntimeError(
                "Accumulator.collect called after pass 2 started: use a new Accumulator per step"
            )
        if phase == 2 and self._fingerprint is None:
            raise RuntimeError("Accumulator.reduce called before any Accumulator.collect (pass 1)")
        if directions is None:
            # An array seed may be traced: comparing its value would synchronise (not compared).
            draw: tuple[Any, ...] = ("seed", seed if isinstance(seed, int) else "an array", num_slices)
        else:
            draw = ("directions of shape", tuple(directions.shape))
        fingerprint = _Fingerprint(
            library=xp.__name__,
            device=str(arrays.device(z)),
            features=int(z.shape[-1]),
            batch_axes=tuple(z.shape[:-2]),
            statistic=statistic,
            draw=draw,
        )
        if self._fingerprint is None:
            self._fingerprint = fingerprint
            self._directions = directions
        else:
            self._compare(hook, fingerprint)
            if directions is not None:
                self._compare_directions(hook, directions, xp)
        self._check_new_micro_batch(phase, z)

    def _compare(self, hook: str, fingerprint: _Fingerprint) -> None:
        recorded = self._fingerprint
        assert recorded is not None
        for field, what in _FIELDS.items():
            ours, theirs = getattr(fingerprint, field), getattr(recorded, field)
            if field == "device" and "None" in (ours, theirs):
                continue  # a traced JAX array has no device to compare
            if ours != theirs:
                error = TypeError if field == "library" else ValueError
                raise error(f"{_mismatch(hook)}: its {what} differs, {ours!r} here against {theirs!r}")

    def _compare_directions(self, hook: str, directions: Array, xp: Any) -> None:
        recorded: Any = self._directions
        if directions is recorded or any(r() is directions for r in self._checked_directions):
            return
        if recorded is None or "Tracer" in type(directions).__name__:
            return  # a JAX tracer has no value to compare (documented)
        # Another object than pass 1's: compared once by value (one host sync per object).
        same = bool(xp.all(xp.astype(directions, recorded.dtype) == recorded))
        if not same:
            raise ValueError(f"{_mismatch(hook)}: its directions differ in value from pass 1's")
        try:
            self._checked_directions.append(weakref.ref(directions))
        except TypeError:  # an array type without weak references: compared again next time
            pass

    def _check_new_micro_batch(self, phase: int, z: Array) -> None:
        pass_name = f"pass {phase}"
        hook = "collect" if phase == 1 else "reduce"
        seen = self._seen[phase]
        if any(r() is z for r in seen):
            raise ValueError(
                f"Accumulator.{hook}: this micro-batch (the same array object) was already seen in "
                f"{pass_name}: each micro-batch must be collected once in pass 1 and reduced once in pass 2"
            )
        n = int(z.shape[-2])
        if phase == 2:
            if self._micro_batches[2] >= self._micro_batches[1]:
                raise ValueError(
                    f"Accumulator.reduce: more micro-batches in pass 2 than the {self._micro_batches[1]} "
                    "of pass 1: each micro-batch must be collected once in pass 1 and reduced once in pass 2"
                )
            if self._unused_sizes[n] == 0:
                raise ValueError(
                    f"Accumulator.reduce: a micro-batch of {n} samples in pass 2, but pass 1 left none of "
                    f"that size (left: {sorted(self._unused_sizes.elements())}): pass 2 must see pass 1's "
                    "micro-batches"
                )
            self._unused_sizes[n] -= 1
        else:
            self._unused_sizes[n] += 1
        self._micro_batches[phase] += 1
        try:
            seen.append(weakref.ref(z))  # weak: a freed micro-batch's id may be reused by the next one
        except TypeError:  # an array type without weak references: duplicates are not detected
            pass

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

    def _agree(self, packed: Array) -> Array:
        """The frame sums of the first round (sigreg._backend.dispatch.agreed_frame): pass 1's
        first micro-batch's (reduced over workers when ``all_reduce`` is given, at once), then
        the same for every micro-batch of both passes, so that all their sums share one shift."""
        if self._frame is None:
            packed = dispatch.constant(packed, arrays.namespace(packed))
            self._frame = packed if self.all_reduce is None else self.all_reduce(packed)
        elif tuple(self._frame.shape) != tuple(packed.shape):
            raise ValueError("every micro-batch must have the same batch axes, slices and statistic")
        return self._frame

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
        if not dispatch.differentiates_all_reduce(xp):
            # PyTorch and the explicit gradient do not differentiate the all-reduce: the
            # slicing layer's backward takes the gradient of this micro-batch's own samples.
            return total
        # JAX differentiates the all-reduce itself: the value is the total, the derivative
        # that of this micro-batch's (reduced) sums.
        own = packed if self.all_reduce is None else self.all_reduce(packed)
        return total + (own - dispatch.constant(own, xp))


def _mismatch(hook: str) -> str:
    if hook == "collect":
        return (
            "Accumulator.collect: every micro-batch must have the same batch axes, slices and statistic "
            "as pass 1's first"
        )
    return "Accumulator.reduce: this micro-batch has other slices or batch axes than pass 1 (or statistic)"


class _Hook(AllReduce):
    """An all-reduce of the Accumulator: it holds arrays, so it is never a static (cached) jit argument."""

    holds_arrays = True

    def __init__(
        self, fn: Callable[[Array], Array], observe: Callable[..., None], agree: Callable[[Array], Array]
    ) -> None:
        self._fn, self._observe, self._agree = fn, observe, agree

    def __call__(self, packed: Array) -> Array:
        return self._fn(packed)

    def agree(self, packed: Array) -> Array:
        return self._agree(packed)

    def observe(self, z: Array, xp: Any, statistic: Any, seed: Any, num_slices: Any, directions: Any) -> None:
        self._observe(z, xp, statistic, seed, num_slices, directions)
