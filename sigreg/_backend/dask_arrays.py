"""Dask arrays: statistics that are functions of sums, reduced chunk by chunk.

A dask array of embeddings (..., N, D) is chunked along the samples. Each chunk
is projected and summed on its own, in NumPy, by the statistic's
``local_sums`` (the sums of several chunks add up to those of their union, as the
sums of several workers do for ``all_reduce``); the per-chunk sums, K x S numbers
each, are added in a tree (``split_every``), and the statistic follows from the
total. No task concatenates chunks of samples or holds more than one chunk of
``z``, so the threaded scheduler and ``dask.distributed`` both evaluate data larger
than memory. The directions are drawn on the host, exactly as for NumPy.

Within a chunk, rows are projected a slab at a time, so that the projections
(rows x K) stay small even for large chunks and many slices. Fused CPU kernels
(Numba) serve the slabs only for evaluations of at least 2**26 projections: every
worker process compiles them once.

Sort-based and pairwise statistics need every sample of a slice at once: they
are refused with a message naming them.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import warnings
from typing import Any

from .._core import checks, dtypes, frame, slicing
from .._statistics import registry

Array = Any

# Elements of one slab of projections (rows x K) inside a chunk: a few MB.
SLAB_ELEMENTS = 1 << 19
# Per-chunk sums added per task of the tree reduction.
SPLIT_EVERY = 8
# Projections (N x K) from which fused kernels (Numba) serve the chunks: each worker process
# compiles them once (seconds), which smaller evaluations do not win back.
KERNEL_MIN_PROJECTIONS = 1 << 26


def is_dask_array(x: Any) -> bool:
    """Whether ``x`` is a ``dask.array.Array`` (without importing dask)."""
    return type(x).__module__.partition(".")[0] == "dask" and hasattr(x, "chunks")


def _dask_array() -> Any:
    # Typed Any: dask is untyped, and absent where mypy runs in CI.
    import dask.array

    return dask.array


def numpy_namespace() -> Any:
    import array_api_compat.numpy as xp

    return xp


def check_embeddings(name: str, z: Array) -> Array:
    """``z`` checked (shape, dtype, known chunks), with one chunk along the features.

    Chunks along the feature axis are merged (a UserWarning says so): a
    projection needs every feature of a sample.
    """
    checks.embeddings(name, z, numpy_namespace())  # reads only the shape and the (NumPy) dtype
    if any(math.isnan(c) for chunks in z.chunks for c in chunks):
        raise ValueError(
            f"{name} must have known chunk sizes, got unknown ones (NaN): call {name}.compute_chunk_sizes()"
        )
    if len(z.chunks[-1]) > 1:
        warnings.warn(
            f"{name} is chunked along its feature axis ({len(z.chunks[-1])} chunks of "
            f"{z.chunks[-1][0]} features); it is rechunked to one chunk of {z.shape[-1]} features, "
            "since a projection needs every feature of a sample: chunk along the samples only",
            UserWarning,
            stacklevel=4,  # the caller of sigreg.sigreg
        )
        z = z.rechunk({z.ndim - 1: -1})
    return z


def sums_statistic(statistic: Any, options: dict[str, Any], n: int, name: str) -> Any:
    """The resolved statistic, refused unless it is a function of sums over samples."""
    stat = registry.resolve(statistic, options)
    if not stat.has_sums:
        raise ValueError(
            f"statistic {stat.name!r} ({stat!r}) is not a function of sums over samples: it needs every "
            f"sample of a slice at once, so it cannot reduce a dask array chunk by chunk. Use a statistic "
            "with sums (epps_pulley with integration='trapezoid', moments, jarque_bera), or compute "
            f"{name} into memory first"
        )
    stat.check_samples(n, name)
    return stat


def host_directions(
    shape: tuple[int, ...], num_slices: Any, seed: Any, directions: Any, dtype: Any, name: str
) -> Any:
    """The (D, K) NumPy directions for embeddings ``name`` of ``shape`` (..., N, D): drawn as for
    NumPy, or the given ones (NumPy or dask) in ``dtype``."""
    import numpy as np

    from . import dispatch

    dim = shape[-1]
    if directions is None:
        num_slices = checks.integer("num_slices", num_slices, 1)
        checks.count_fits("num_slices", num_slices, dim, f"for {name} of dimension D={dim}")
        seed = checks.seed(seed, None)  # NumPy integers become Python ints
        if not isinstance(seed, int):
            raise TypeError(f"seed must be a Python int for a dask array, got {type(seed).__name__}")
        # As sigreg.sigreg draws them for a NumPy array of this dtype.
        return dispatch.directions(dim, num_slices, seed, numpy_namespace(), "cpu", dtype)
    if is_dask_array(directions):
        directions = directions.compute()
    if not isinstance(directions, np.ndarray):
        raise TypeError(
            f"directions must be a NumPy or dask array for a dask {name}, got {type(directions).__name__}"
        )
    if not np.issubdtype(directions.dtype, np.floating):
        raise TypeError(f"directions must have a real floating-point dtype, got {directions.dtype}")
    checks.directions_shape(name, shape, directions)
    return np.asarray(directions, dtype=dtype)


def _slabs(block: Array, directions: Array) -> Any:
    """The projections of one chunk (..., n, D), a slab of rows at a time (each (..., rows, K))."""
    import numpy as np

    xp = numpy_namespace()
    rows = max(1, SLAB_ELEMENTS // directions.shape[1])
    for start in range(0, block.shape[-2], rows):
        slab = np.asarray(block[..., start : start + rows, :], dtype=directions.dtype)
        yield slicing.clamp_to_projectable(slab, xp) @ directions


def chunk_frame_sums(block: Array, directions: Array) -> Array:
    """The frame sums (sigreg._core.frame) over one chunk, in two passes over its slabs: shape
    (..., 1, K, 2), float64; a chunk of no rows adds 0."""
    import numpy as np

    xp = numpy_namespace()
    n, k = block.shape[-2], directions.shape[1]
    sums = np.zeros((*block.shape[:-2], k), dtype=np.float64)
    spread = np.zeros_like(sums)
    with np.errstate(invalid="ignore", over="ignore"):
        for u in _slabs(block, directions):
            sums = sums + frame.column_sums(u, xp, dtype=np.float64)
        mean = (sums / max(n, 1)).astype(directions.dtype)[..., None, :]
        for u in _slabs(block, directions):
            spread = np.maximum(spread, frame.column_spread(u, mean, xp))
    return np.stack([sums, spread * n], axis=-1)[..., None, :, :]


def framed_chunk_sums(block: Array, agreed: Array, **options: Any) -> Array:
    """:func:`chunk_sums` with the frame block as a positional argument (as ``map_blocks`` gives it)."""
    return chunk_sums(block, agreed=agreed, **options)


def chunk_sums(
    block: Array, directions: Array, statistic: Any, kernels: bool, num_sums: int, agreed: Array | None = None
) -> Array:
    """The statistic's sums over the rows of one chunk (..., n, D): shape (..., 1, K, S), float64.

    Runs on a worker, in NumPy; slabs of rows keep the projections small. A chunk of
    no rows (dask makes them, e.g. after a boolean selection and
    ``compute_chunk_sizes()``) adds zero to every sum. With an ``agreed`` frame (..., 1, 2K) of
    shifts and scales (``needs_frame``: :func:`frame_of_sums`), the sums are of the moved columns.
    """
    import numpy as np

    from . import dispatch

    xp = numpy_namespace()
    n, k = block.shape[-2], directions.shape[1]
    total = np.zeros((*block.shape[:-2], k, num_sums), dtype=np.float64) if n == 0 else None
    if agreed is not None:
        shift = agreed[..., :k].astype(directions.dtype)
        scale = agreed[..., k:].astype(directions.dtype)
    # NaN and inf entries give a non-finite result by design (as for NumPy arrays), silently.
    with np.errstate(invalid="ignore", over="ignore"):
        for u in _slabs(block, directions):
            if agreed is not None:
                u = frame.move(u, shift, scale)
            plan = dispatch.plan(u, xp)
            if not kernels:
                plan = dataclasses.replace(plan, kernel=None)
            sums = np.asarray(statistic.local_sums(u, xp, plan), dtype=np.float64)
            total = sums if total is None else total + sums
    assert total is not None  # n >= 1 rows ran the loop
    return total[..., None, :, :]


def frame_of_sums(totals: Array, n: int) -> Array:
    """The shift and scale, shape (..., 1, 2K), from frame sums (..., K, 2) added over ``n`` rows."""
    import numpy as np

    shift, scale = frame.from_totals(totals, float(n), numpy_namespace())
    return np.concatenate([shift, scale], axis=-1)


def _frame(z: Array, directions: Array) -> Array:
    """The lazy first round of a statistic with ``needs_frame``: shifts and scales, (..., 1, 2K)."""
    import numpy as np

    da = _dask_array()
    k = directions.shape[1]
    blocks = da.map_blocks(
        functools.partial(chunk_frame_sums, directions=directions),
        z,
        chunks=(*z.chunks[:-2], (1,) * len(z.chunks[-2]), (k,), (2,)),
        new_axis=[z.ndim],
        dtype=np.float64,
        meta=np.empty((0,) * (z.ndim + 1), dtype=np.float64),
        token="sigreg-chunk-frame",
    )
    totals = da.sum(blocks, axis=z.ndim - 2, split_every=SPLIT_EVERY)  # (..., K, 2)
    return da.map_blocks(
        functools.partial(frame_of_sums, n=z.shape[-2]),
        totals.rechunk({z.ndim - 2: -1, z.ndim - 1: -1}),
        chunks=(*z.chunks[:-2], (1,), (2 * k,)),
        dtype=np.float64,
        meta=np.empty((0,) * z.ndim, dtype=np.float64),
        token="sigreg-frame",
    )


def values_from_sums(sums: Array, statistic: Any, n: int, dtype: Any) -> Array:
    import numpy as np

    return np.asarray(statistic.from_sums(sums, n, numpy_namespace()), dtype=dtype)


def column_statistics(z: Array, statistic: Any, directions: Array) -> Array:
    """The lazy per-slice values (..., K) of a checked dask ``z`` (one chunk along features)."""
    import numpy as np

    da = _dask_array()

    k = directions.shape[1]
    probe = statistic.local_sums(np.zeros((1, k), dtype=directions.dtype), numpy_namespace())
    s = probe.shape[-1]
    num_blocks = len(z.chunks[-2])
    batch = z.ndim - 2
    two_rounds = statistic.needs_frame  # Jarque-Bera: sums about an agreed shift and scale
    agreed = [_frame(z, directions)] if two_rounds else []
    blocks = da.map_blocks(
        functools.partial(
            framed_chunk_sums if two_rounds else chunk_sums,
            directions=directions,
            statistic=statistic,
            kernels=math.prod(z.shape[:-1]) * k >= KERNEL_MIN_PROJECTIONS,
            num_sums=s,
        ),
        z,
        *agreed,
        chunks=(*z.chunks[:-2], (1,) * num_blocks, (k,), (s,)),
        new_axis=[z.ndim],
        dtype=np.float64,
        meta=np.empty((0,) * (z.ndim + 1), dtype=np.float64),
        token="sigreg-chunk-sums",  # a prefix: dask adds a hash of the inputs (unique keys)
    )
    # A tree of partial sums: SPLIT_EVERY blocks of K x S numbers per task.
    sums = da.sum(blocks, axis=batch, split_every=SPLIT_EVERY)
    return da.map_blocks(
        functools.partial(values_from_sums, statistic=statistic, n=z.shape[-2], dtype=directions.dtype),
        sums,
        drop_axis=[sums.ndim - 1],
        dtype=directions.dtype,
        meta=np.empty((0,) * (sums.ndim - 1), dtype=directions.dtype),
        token="sigreg-values",
    )


def sigreg(
    z: Array,
    statistic: Any,
    num_slices: Any,
    seed: Any,
    directions: Any,
    reduction: Any,
    all_reduce: Any,
    options: dict[str, Any],
) -> Array:
    """:func:`sigreg.sigreg` of a dask array: a lazy dask array (0-d, or (..., K) for ``"none"``)."""
    da = _dask_array()
    z = check_embeddings("z", z)
    reduction = checks.choice("reduction", reduction, checks.REDUCTIONS)
    if all_reduce is not None:
        raise ValueError(
            "all_reduce must be None for a dask array: dask already reduces the sums over its chunks "
            "(and over the workers of dask.distributed)"
        )
    stat = sums_statistic(statistic, options, z.shape[-2], "z")
    import numpy as np

    a = host_directions(z.shape, num_slices, seed, directions, dtypes.compute_dtype(z.dtype, np), "z")
    # A target's CF per slice (target=): the chunks' sums are the statistic's own, the values compare with it.
    values = column_statistics(z, stat.bind(stat.constants(a, numpy_namespace(), z.shape[-2], seed)), a)
    if reduction == "mean":
        return da.mean(values)
    if reduction == "sum":
        return da.sum(values)
    return values
