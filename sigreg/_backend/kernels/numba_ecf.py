"""Fused CPU kernels (Numba) for the empirical characteristic function (ECF) sums and their VJP.

With knots ``t_j = j * dt`` for ``j = 1 .. J`` and projections ``u`` of shape ``(..., N, K)``
(a NumPy array, float32 or float64, any strides, any leading batch axes):

* :func:`ecf_sums` returns ``(..., K, 2J)`` in the dtype of ``u``: ``sum_n cos(t_j u_nk)`` in
  the first ``J`` columns, ``sum_n sin(t_j u_nk)`` in the last ``J``.
* :func:`ecf_sums_vjp` takes the cotangent of those sums, ``(..., K, 2J)``, and returns the
  gradient with respect to ``u``, ``(..., N, K)``:
  ``sum_j t_j (sin_bar_kj cos(t_j u_nk) - cos_bar_kj sin(t_j u_nk))``.

The interface is that of ``sigreg._backend.kernels.triton_ecf``, on NumPy arrays.

Why fused
---------
The array-API path (``sigreg._statistics.ecf``) makes one pass over a block of rows per knot (a
complex multiply, a sum), so each knot moves the block through memory again: it is bound
by memory traffic. Here ``u`` is read once per block of 64 knots (once in all for the
default 16), and the cosines, the rotation from knot to knot and the partial sums stay in
a few kilobytes of scratch in the L1 cache. About 8x faster than the NumPy
array-API path for float32 at N=2048, K=1024, J=16 on two cores, 14x for float64.

Loop order and threading
------------------------
Work is cut into independent tasks. Sums: one task per (batch item, block of 128
directions, block of 64 knots, split of the rows); the row splits give small-``K`` problems
enough tasks, are chosen from the shape alone (never from the thread count, so results do
not depend on it) and are added in float64 at the end. VJP: one task per (batch item, block
of 128 directions, block of 64 rows); it needs only each sample's own row. Each task writes
only its own outputs.

The tasks run on sigreg's own threads (``cpu_threads``): the calling thread and
``NUMBA_NUM_THREADS - 1`` workers (by default one per CPU) claim chunks of them, each chunk a
call of a compiled function that releases the GIL. Idle workers sleep on a queue, never
spin; a worker taken off its core by other jobs holds up only its chunk. Numba's own
``parallel=True`` was left: its OpenMP layer spun its threads after every call (on a busy
machine they took the cores from PyTorch's, and PyTorch's from them), it may fail to load
(``NUMBA_THREADING_LAYER``), it kills a forked child that calls a kernel, and it was most of
the compile time.

Inside a task rows go four at a time, and every innermost loop runs over the contiguous
direction axis ``k``, which LLVM turns into SIMD code. For the sums the four rows are
unrolled inside the ``k`` loop, so that they are added in registers before they touch the
float64 totals; for the VJP the rows are an outer loop. A knot-innermost order cannot be
vectorised (the rotation is a recurrence along the knots) and measured 10x slower; eight
rows per group, or the sums' row loop outside ``k``, measured slower too. The state of a
group (running ``c, s``, step ``c1, s1``, partial sums) sits in one array at constant
offsets, allocated inside the task, which keeps LLVM's alias analysis simple enough to
vectorise.

Accuracy
--------
``cos(t_j u)`` and ``sin(t_j u)`` are evaluated directly at ``dt`` (the step) and at the
first knot of every run of 16 (the anchors), and the knots in between follow by the
angle-addition rotation ``(c, s) <- (c c1 - s s1, s c1 + c s1)`` in the dtype of ``u``.
Re-anchoring every 16 knots bounds the drift of the rotation (about one rounding per step)
to a few ulps for any ``J``, 4096 included, which keeps float32 at the accuracy of direct
evaluation. The direct evaluations are a vectorisable ``sincos``: the angle ``t * u`` in
float64 (so a float32 ``u`` loses nothing to a rounded product), Cody-Waite reduction by
pi/2 in three parts (exact for ``|t u| < 2**19`` even without fused multiply-add; larger
angles go to libm's ``cos`` and ``sin``), and fdlibm's polynomials on ``[-pi/4, pi/4]``:
about 1 ulp in float64, and for float32 fewer terms (truncation below 2e-9).

Sums are accumulated in float64 for both dtypes. A float32 ``u`` first adds its group of
four rows in float32 (three roundings, relative to the sum of their magnitudes), then adds
that into the float64 total: the accumulated error stays at a few float32 ulps of the sum
of magnitudes for any ``N``, where a float32 pairwise sum would lose ``log2 N`` ulps; it
costs one conversion per four rows instead of one per row. The VJP adds the terms of one
run of 16 knots in the dtype of ``u`` and the runs in float64.

``fastmath`` is limited to ``contract`` (fused multiply-add): it only removes roundings,
never reorders a sum, and keeps NaN and infinity semantics. Full ``fastmath`` may
reassociate the sums and drop NaN handling, and gained only a few percent.

Compilation
-----------
Numba is imported, and the kernels compiled, on the first call for each dtype: a few
seconds each (``benchmarks/bench.py --first-call-only`` measures it). The compiled kernels
are kept on disk (``numba_cache``: ``NUMBA_CACHE_DIR``, else ``~/.cache/sigreg/numba``), so
later processes load them instead (about 1 s, Numba's import included), also from a folder
they cannot write; ``sigreg.warmup`` compiles them ahead of time. Importing this module needs
neither; :func:`available` says whether Numba imports. The kernels are compiled for one array
type only (C-contiguous, aligned, writeable, native byte order); other inputs are copied into
it rather than compiled for again. Should a kernel fail to compile or run, the array-API code
computes the same sums (``fallback``: one ``sigreg.KernelWarning``).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

from . import cpu_threads, fallback

__all__ = ["available", "cached", "compile_ahead", "ecf_sums", "ecf_sums_vjp"]

# Knots per run between direct evaluations (anchors); the first anchor is the step itself.
_ANCHOR_EVERY = 16
# Knots per block: the sums task keeps (block, 2, _BLOCK_K) float64 totals (128 KiB), the
# VJP task that many coefficients; the step (cos, sin)(dt u) is recomputed once per block.
_KNOT_BLOCK = 4 * _ANCHOR_EVERY
# Directions per task: the stride of all scratch rows, a compile-time constant.
_BLOCK_K = 128
# Rows processed together (the unrolled inner loop).
_ROWS = 4
# VJP rows per task.
_VJP_ROWS = 64
# The sums split the rows until there are this many tasks, keeping at least _MIN_SPLIT_ROWS
# rows per split.
_MIN_TASKS = 32
_MIN_SPLIT_ROWS = 256
# |t u| below this reduces exactly by the three-part pi/2, with or without fused multiply-add
# (n * _PIO2_1 is exact for |n| < 2**20); larger angles go to libm.
_REDUCE_LIMIT = 2.0**19

_TWO_OVER_PI = 0.63661977236758134308
# pi/2 in three parts of 33 significant bits (fdlibm's pio2_1, pio2_2, pio2_3).
_PIO2_1 = 1.57079632673412561417e00
_PIO2_2 = 6.07710050630396597660e-11
_PIO2_3 = 2.02226624871116645580e-21
# fdlibm __kernel_sin and __kernel_cos: sin r = r + r^3 (S1 + z S2 + ...), z = r^2;
# cos r = 1 - z/2 + z^2 (C1 + z C2 + ...), |r| <= pi/4.
_S1, _S2, _S3, _S4, _S5, _S6 = (
    -1.66666666666666324348e-01,
    8.33333333332248946124e-03,
    -1.98412698298579493134e-04,
    2.75573137070700676789e-06,
    -2.50507602534068634195e-08,
    1.58969099521155010221e-10,
)
_C1, _C2, _C3, _C4, _C5, _C6 = (
    4.16666666666666019037e-02,
    -1.38888888888741095749e-03,
    2.48015872894767294178e-05,
    -2.75573143513906633035e-07,
    2.08757232129817482790e-09,
    -1.13596475577881948265e-11,
)

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_FASTMATH = {"contract"}

_F = TypeVar("_F", bound=Callable[..., Any])


def available() -> bool:
    """True when Numba can be imported (the kernels themselves compile on first use)."""
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


def _jit(**options: Any) -> Callable[[_F], _F]:
    """``numba.njit`` with this module's options, compiled lazily; the kernels that Python calls
    (``cache=True``) are kept on disk (``numba_cache``: every function they call is compiled
    into them, so only they are cached)."""
    from . import numba_cache

    return numba_cache.jit(fastmath=_FASTMATH, **options)


@functools.cache
def compiled_kernels(dtype: np.dtype[Any]) -> tuple[Any, Any]:
    """The sums and VJP kernels for ``dtype``, built (not compiled) on first request."""
    single = dtype == np.float32

    @_jit(inline="always")
    def sincos(x: float) -> tuple[float, float]:
        n = np.floor(x * _TWO_OVER_PI + 0.5)
        r = ((x - n * _PIO2_1) - n * _PIO2_2) - n * _PIO2_3
        z = r * r
        if single:
            sr = r + r * z * (_S1 + z * (_S2 + z * (_S3 + z * _S4)))
            cr = 1.0 - 0.5 * z + z * z * (_C1 + z * (_C2 + z * (_C3 + z * _C4)))
        else:
            sr = r + r * z * (_S1 + z * (_S2 + z * (_S3 + z * (_S4 + z * (_S5 + z * _S6)))))
            cr = 1.0 - 0.5 * z + z * z * (_C1 + z * (_C2 + z * (_C3 + z * (_C4 + z * (_C5 + z * _C6)))))
        q = n - 4.0 * np.floor(n * 0.25)  # quadrant 0..3 (NaN stays NaN and falls through)
        odd = (q == 1.0) | (q == 3.0)
        c = sr if odd else cr
        s = cr if odd else sr
        c = -c if (q == 1.0) | (q == 2.0) else c
        s = -s if q >= 2.0 else s
        return c, s

    @_jit()
    def direct(
        u: Any, b: int, r0: int, nr: int, k0: int, kw: int, t: float, st: Any, slot: int, copy: bool
    ) -> None:
        """``st[slot], st[slot + 1] = cos, sin(t u[b, r0 + r, k0 : k0 + kw])`` for a group of rows.

        Rows ``r >= nr`` (past the end) get zeros, which stay zero under the rotation and
        add nothing. ``copy`` also stores the result in ``st[0], st[1]`` (the running state).
        """
        for r in range(_ROWS):
            cr = st[slot, r]
            sr = st[slot + 1, r]
            if r < nr:
                row = u[b, r0 + r, k0 : k0 + kw]
                big = 0
                for kk in range(kw):
                    x = t * row[kk]
                    c, s = sincos(x)
                    cr[kk] = c
                    sr[kk] = s
                    big += abs(x) > _REDUCE_LIMIT
                if big:
                    for kk in range(kw):
                        x = t * row[kk]
                        if abs(x) > _REDUCE_LIMIT:
                            cr[kk] = math.cos(x)
                            sr[kk] = math.sin(x)
            else:
                for kk in range(kw):
                    cr[kk] = 0.0
                    sr[kk] = 0.0
            if copy:
                for kk in range(kw):
                    st[0, r, kk] = cr[kk]
                    st[1, r, kk] = sr[kk]

    @_jit(nogil=True, cache=True)
    def sums_kernel(
        u: Any, dt: float, num_knots: int, rows_per_split: int, out: Any, first: int, stop: int
    ) -> None:
        """``out[split, b, k, :]``: float64 sums over the rows of ``split``, tasks ``first .. stop - 1``.

        A task: (batch item, direction block, knot block, split of the rows).
        """
        # Scratch of a chunk of tasks, one allocation each (distinct objects for LLVM's alias
        # analysis): running (c, s) and step (c1, s1) at constant offsets, and the float64
        # totals of the block. The tasks are a loop here, not a function of their own: one
        # function less for Numba and LLVM to compile (a third of the cold compile).
        st = np.zeros((4, _ROWS, _BLOCK_K), u.dtype)
        acc = np.empty((_KNOT_BLOCK, 2, _BLOCK_K))
        zero = st[0, 0, 0]  # 0 in u's dtype: the sums of a group of rows start here
        n, k = u.shape[1], u.shape[2]
        splits = out.shape[0]
        k_blocks = (k + _BLOCK_K - 1) // _BLOCK_K
        j_blocks = (num_knots + _KNOT_BLOCK - 1) // _KNOT_BLOCK
        for task in range(first, stop):
            split = task % splits
            rest = task // splits
            jb = rest % j_blocks
            rest //= j_blocks
            kb = rest % k_blocks
            b = rest // k_blocks
            k0 = kb * _BLOCK_K
            kw = min(_BLOCK_K, k - k0)
            j_start = jb * _KNOT_BLOCK
            jn = min(num_knots - j_start, _KNOT_BLOCK)
            r_start = split * rows_per_split
            r_stop = min(n, r_start + rows_per_split)
            for j in range(jn):
                for kk in range(kw):
                    acc[j, 0, kk] = 0.0
                    acc[j, 1, kk] = 0.0
            for r0 in range(r_start, r_stop, _ROWS):
                nr = min(_ROWS, r_stop - r0)
                direct(u, b, r0, nr, k0, kw, dt, st, 2, j_start == 0)
                for a in range(0, jn, _ANCHOR_EVERY):
                    if j_start + a > 0:
                        direct(u, b, r0, nr, k0, kw, (j_start + a + 1) * dt, st, 0, False)
                    for kk in range(kw):
                        tc = zero
                        ts = zero
                        for r in range(_ROWS):
                            tc += st[0, r, kk]
                            ts += st[1, r, kk]
                        acc[a, 0, kk] += tc
                        acc[a, 1, kk] += ts
                    for j in range(a + 1, min(a + _ANCHOR_EVERY, jn)):
                        for kk in range(kw):
                            tc = zero
                            ts = zero
                            for r in range(_ROWS):
                                c = st[0, r, kk]
                                s = st[1, r, kk]
                                c1 = st[2, r, kk]
                                s1 = st[3, r, kk]
                                cn = c * c1 - s * s1
                                sn = s * c1 + c * s1
                                st[0, r, kk] = cn
                                st[1, r, kk] = sn
                                tc += cn
                                ts += sn
                            acc[j, 0, kk] += tc
                            acc[j, 1, kk] += ts
            for kk in range(kw):
                for j in range(jn):
                    out[split, b, k0 + kk, j_start + j] = acc[j, 0, kk]
                    out[split, b, k0 + kk, num_knots + j_start + j] = acc[j, 1, kk]

    @_jit(nogil=True, cache=True)
    def vjp_kernel(u: Any, coef: Any, dt: float, grad: Any, first: int, stop: int) -> None:
        """``grad[b, n, k] = sum_j coef[b, j, 0, k] cos(t_j u) - coef[b, j, 1, k] sin(t_j u)``, for
        tasks ``first .. stop - 1``; a task: (batch item, direction block, block of rows)."""
        # Running (c, s), step (c1, s1) and the partial sums of a run of knots in one array;
        # a block of coefficients; float64 totals of the task's rows.
        st = np.zeros((5, _ROWS, _BLOCK_K), u.dtype)
        cf = np.empty((_KNOT_BLOCK, 2, _BLOCK_K), u.dtype)
        total = np.empty((_VJP_ROWS, _BLOCK_K))
        n, k = u.shape[1], u.shape[2]
        num_knots = coef.shape[1]
        k_blocks = (k + _BLOCK_K - 1) // _BLOCK_K
        r_blocks = (n + _VJP_ROWS - 1) // _VJP_ROWS
        for task in range(first, stop):
            rb = task % r_blocks
            rest = task // r_blocks
            kb = rest % k_blocks
            b = rest // k_blocks
            k0 = kb * _BLOCK_K
            kw = min(_BLOCK_K, k - k0)
            r_start = rb * _VJP_ROWS
            r_stop = min(n, r_start + _VJP_ROWS)
            for r in range(_VJP_ROWS):
                for kk in range(kw):
                    total[r, kk] = 0.0
            for j_start in range(0, num_knots, _KNOT_BLOCK):
                jn = min(num_knots - j_start, _KNOT_BLOCK)
                for j in range(jn):
                    for kk in range(kw):
                        cf[j, 0, kk] = coef[b, j_start + j, 0, k0 + kk]
                        cf[j, 1, kk] = coef[b, j_start + j, 1, k0 + kk]
                for r0 in range(r_start, r_stop, _ROWS):
                    nr = min(_ROWS, r_stop - r0)
                    direct(u, b, r0, nr, k0, kw, dt, st, 2, j_start == 0)
                    for a in range(0, jn, _ANCHOR_EVERY):
                        if j_start + a > 0:
                            direct(u, b, r0, nr, k0, kw, (j_start + a + 1) * dt, st, 0, False)
                        for r in range(_ROWS):
                            for kk in range(kw):
                                st[4, r, kk] = cf[a, 0, kk] * st[0, r, kk] - cf[a, 1, kk] * st[1, r, kk]
                        for j in range(a + 1, min(a + _ANCHOR_EVERY, jn)):
                            for r in range(_ROWS):
                                for kk in range(kw):
                                    c = st[0, r, kk]
                                    s = st[1, r, kk]
                                    c1 = st[2, r, kk]
                                    s1 = st[3, r, kk]
                                    cn = c * c1 - s * s1
                                    sn = s * c1 + c * s1
                                    st[0, r, kk] = cn
                                    st[1, r, kk] = sn
                                    st[4, r, kk] += cf[j, 0, kk] * cn - cf[j, 1, kk] * sn
                        for r in range(nr):
                            for kk in range(kw):
                                total[r0 - r_start + r, kk] += st[4, r, kk]
            for r in range(r_stop - r_start):
                for kk in range(kw):
                    grad[b, r_start + r, k0 + kk] = total[r, kk]

    return sums_kernel, vjp_kernel


def _check(u: Any, num_knots: int, sums_bar: Any = None) -> None:
    if not isinstance(u, np.ndarray):
        raise TypeError(f"u must be a NumPy array, got {type(u).__name__}")
    if u.ndim < 2:
        raise ValueError(f"u must have shape (..., N, K), got {u.shape}")
    if u.dtype.newbyteorder("=") not in _FLOAT_DTYPES:
        raise TypeError(f"u must be float32 or float64, got {u.dtype}")
    if num_knots < 0:
        raise ValueError(f"num_knots must be non-negative, got {num_knots}")
    if sums_bar is None:
        return
    if not isinstance(sums_bar, np.ndarray):
        raise TypeError(f"sums_bar must be a NumPy array, got {type(sums_bar).__name__}")
    expected = (*u.shape[:-2], u.shape[-1], 2 * num_knots)
    if sums_bar.shape != expected:
        raise ValueError(f"sums_bar must have shape {expected}, got {sums_bar.shape}")
    if sums_bar.dtype.newbyteorder("=") != u.dtype.newbyteorder("="):
        raise TypeError(f"sums_bar has dtype {sums_bar.dtype}, u has {u.dtype}")


def _kernel_input(u: np.ndarray[Any, Any], batch: int, n: int, k: int) -> np.ndarray[Any, Any]:
    """``u`` as the one array type the kernels are compiled for: (B, N, K), C-contiguous,
    aligned, writeable, native byte order. Anything else is copied once (any strides, a
    read-only or byte-swapped array), rather than compiled for again."""
    native = np.require(u, dtype=u.dtype.newbyteorder("="), requirements=("C", "A", "W"))
    return native.reshape(batch, n, k)


def _row_splits(batch: int, n: int, k: int, num_knots: int) -> tuple[int, int]:
    """``(splits, rows_per_split)`` for the sums: from the shape only, never the thread count."""
    tasks = batch * -(-k // _BLOCK_K) * -(-num_knots // _KNOT_BLOCK)
    splits = max(1, min(-(-_MIN_TASKS // tasks), n // _MIN_SPLIT_ROWS))
    rows = -(-n // splits)
    return -(-n // rows), rows


def ecf_sums(u: np.ndarray[Any, Any], dt: float, num_knots: int) -> np.ndarray[Any, Any]:
    """Sums over the sample axis of ``cos(t_j u)`` and ``sin(t_j u)``, ``t_j = j * dt``, ``j = 1..J``.

    ``u`` has shape ``(..., N, K)``, float32 or float64. The result is a new array of shape
    ``(..., K, 2J)`` and the dtype of ``u``: the cosine sums in ``[..., :J]``, the sine sums
    in ``[..., J:]``. Should the kernels fail (``fallback``), the array-API code computes them.
    """
    num_knots = int(num_knots)
    _check(u, num_knots)
    *batch_shape, n, k = u.shape
    if math.prod(batch_shape) == 0 or k == 0 or num_knots == 0 or n == 0:
        return np.zeros((*batch_shape, k, 2 * num_knots), dtype=u.dtype.newbyteorder("="))
    return fallback.guard(
        "numba",
        lambda: _sums(u, float(dt), num_knots),
        lambda: np.ascontiguousarray(
            fallback.array_api_sums(_native(u), float(dt), num_knots, _numpy_namespace())
        ),
    )


@functools.cache
def _check_cpu() -> None:
    from . import numba_cache

    lacking = numba_cache.missing_features()
    if lacking:  # code for a CPU this one is not would stop the process (an illegal instruction)
        raise RuntimeError(f"NUMBA_CPU_NAME asks for CPU features this CPU lacks: {', '.join(lacking)}")


def _launch(kernel: Any, args: tuple[Any, ...], tasks: int) -> None:
    _check_cpu()
    cpu_threads.run(kernel, args, tasks)


def _sums(
    u: np.ndarray[Any, Any], dt: float, num_knots: int, launch: Callable[..., None] = _launch
) -> np.ndarray[Any, Any]:
    *batch_shape, n, k = u.shape
    batch = math.prod(batch_shape)
    dtype = u.dtype.newbyteorder("=")
    u3 = _kernel_input(u, batch, n, k)
    sums_kernel, _ = compiled_kernels(dtype)
    splits, rows = _row_splits(batch, n, k, num_knots)
    partial = np.empty((splits, batch, k, 2 * num_knots))
    tasks = splits * batch * -(-k // _BLOCK_K) * -(-num_knots // _KNOT_BLOCK)
    launch(sums_kernel, (u3, dt, num_knots, rows, partial), tasks)
    sums = partial[0] if splits == 1 else partial.sum(axis=0)
    result: np.ndarray[Any, Any] = sums.astype(dtype).reshape(*batch_shape, k, 2 * num_knots)
    return result


def ecf_sums_vjp(
    u: np.ndarray[Any, Any], sums_bar: np.ndarray[Any, Any], dt: float, num_knots: int
) -> np.ndarray[Any, Any]:
    """Gradient with respect to ``u`` of ``sum(sums_bar * ecf_sums(u, dt, num_knots))``.

    ``sums_bar`` has shape ``(..., K, 2J)`` and the dtype of ``u`` (cotangents of the cosine
    sums, then of the sine sums); the result is a new array with the shape and dtype of ``u``:
    ``sum_j t_j (sin_bar_kj cos(t_j u_nk) - cos_bar_kj sin(t_j u_nk))``. Should the kernels
    fail (``fallback``), the array-API code computes it.
    """
    num_knots = int(num_knots)
    _check(u, num_knots, sums_bar)
    *batch_shape, n, k = u.shape
    if math.prod(batch_shape) == 0 or k == 0 or n == 0 or num_knots == 0:
        return np.zeros(u.shape, dtype=u.dtype.newbyteorder("="))
    return fallback.guard(
        "numba",
        lambda: _sums_vjp(u, sums_bar, float(dt), num_knots),
        lambda: np.ascontiguousarray(
            fallback.array_api_sums_vjp(
                _native(u), _native(sums_bar), float(dt), num_knots, _numpy_namespace()
            )
        ),
    )


def _sums_vjp(
    u: np.ndarray[Any, Any],
    sums_bar: np.ndarray[Any, Any],
    dt: float,
    num_knots: int,
    launch: Callable[..., None] = _launch,
) -> np.ndarray[Any, Any]:
    *batch_shape, n, k = u.shape
    batch = math.prod(batch_shape)
    dtype = u.dtype.newbyteorder("=")
    u3 = _kernel_input(u, batch, n, k)
    _, vjp_kernel = compiled_kernels(dtype)
    bar = sums_bar.reshape(batch, k, 2, num_knots).astype(np.float64)
    # coef[b, j, 0, k] multiplies cos(t_j u), coef[b, j, 1, k] multiplies -sin(t_j u); t_j is
    # rounded once from float64 like an exact oracle would, then the product once to u's dtype.
    t = np.arange(1, num_knots + 1) * dt
    coef = np.ascontiguousarray((bar[:, :, ::-1, :] * t).transpose(0, 3, 2, 1), dtype=dtype)
    grad = np.empty((batch, n, k), dtype=dtype)
    tasks = batch * -(-k // _BLOCK_K) * -(-n // _VJP_ROWS)
    launch(vjp_kernel, (u3, coef, dt, grad), tasks)
    result: np.ndarray[Any, Any] = grad.reshape(u.shape)
    return result


def _signatures(dtype: Any, use: Callable[[Any, tuple[Any, ...]], None]) -> None:
    """``use(kernel, arguments)`` for both kernels, with the argument types of every call."""

    def launch(kernel: Any, args: tuple[Any, ...], tasks: int) -> None:
        use(kernel, (*args, 0, tasks))

    u = np.zeros((1, 1), dtype)
    _sums(u, 0.5, 1, launch=launch)
    _sums_vjp(u, np.zeros((1, 2), dtype), 0.5, 1, launch=launch)


def compile_ahead(dtype: Any) -> None:
    """Compile both kernels for ``dtype`` (or load them from the disk cache) without running them:
    a cache can be filled for a CPU that is not this one (``NUMBA_CPU_NAME``)."""
    import numba

    typeof: Any = numba.typeof  # untyped
    _signatures(dtype, lambda kernel, args: kernel.compile(tuple(typeof(a) for a in args)))


def cached(dtype: Any) -> bool:
    """Whether the disk cache holds both kernels for ``dtype`` and this CPU (nothing is compiled,
    loaded or written: ``python -m sigreg warmup --check``)."""
    from . import numba_cache

    held: list[bool] = []
    _signatures(dtype, lambda kernel, args: held.append(numba_cache.holds(kernel, args)))
    return all(held)


def _native(a: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """``a`` in native byte order (the array-API code's results then are too)."""
    return a.astype(a.dtype.newbyteorder("="), copy=False)


def _numpy_namespace() -> Any:
    import array_api_compat.numpy

    return array_api_compat.numpy
