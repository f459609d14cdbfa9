"""Fused Triton kernels for the empirical characteristic function (ECF) sums and their VJP.

With knots ``t_j = j * dt`` for ``j = 1 .. J`` and projections ``u`` of shape ``(..., N, K)``:

* :func:`ecf_sums` returns ``(..., K, 2J)``: ``sum_n cos(t_j u_nk)`` in the first ``J`` columns,
  ``sum_n sin(t_j u_nk)`` in the last ``J``.
* :func:`ecf_sums_vjp` takes the cotangent of those sums, ``(..., K, 2J)``, and returns the
  gradient with respect to ``u``, ``(..., N, K)``:
  ``sum_j t_j (sin_bar_kj cos(t_j u_nk) - cos_bar_kj sin(t_j u_nk))``.

The recurrence in registers
---------------------------
Each thread owns one direction ``k`` and walks the rows of its program ``_ROWS`` at a time.
For each element it evaluates ``(cos, sin)(dt u)`` (the step) and, at the first knot of every
run of 16 knots, ``(cos, sin)(t_a u)`` (the anchor) directly; the knots in between follow by
angle addition, ``(c, s) <- (c c1 - s s1, s c1 + c s1)``: two multiplies and two fused
multiply-adds per knot instead of two libdevice calls (about 56 SASS instructions). As in
the Numba kernel (``numba_ecf``), re-anchoring every 16 knots bounds the drift of the
rotation to a few roundings for any ``J``, which keeps float32 at the accuracy of direct
evaluation (tests/backend/test_triton_ecf.py compares the two against float64).

The direct evaluations are this module's ``_sincos``: one Cody-Waite reduction by pi/2 shared
by cosine and sine, then minimax polynomials (cephes' for float32, fdlibm's for float64). In
float32 the product ``t u`` is carried as ``hi + lo`` (the rounding error of ``t_hi u`` by a
fused multiply-add, plus ``t_lo u`` for the part of ``t`` below float32), so the reduced
angle is that of the float64 knot. The reduction is accurate for ``|t u|`` below 105615
(float32, libdevice's own fast-path bound) or ``2**19`` (float64). A program that meets a
larger angle (or an infinity) anywhere in its rows computes its whole result again at the end
with libdevice's ``cos``/``sin`` (Payne-Hanek reduction) of each knot: a separate loop that
never runs on ordinary data. NaN propagates through both paths.

Layout and accumulation
-----------------------
The knot axis of the per-thread state lives in registers: the sums' accumulators and the
VJP's cotangents are ``[BLOCK_J, BLOCK_K]`` tensors whose knot index is a compile-time
constant in each register, so picking knot ``m`` (``tl.where(offs_j == m, acc, -0.0)``, summed
over the knot axis) folds to one register: ``x + (-0.0) == x`` exactly. ``BLOCK_K = 32 *
num_warps``: one direction per thread, so no reduction ever crosses threads. The rows of a
group of ``_ROWS`` are added in registers before they reach the running float32 total.

Launch
------
Sums: one program per (batch item, block of directions, block of knots, split of the rows);
the rows are split until the programs fill the device, counted from the compiled kernel's
registers per thread (occupancy) and the SM count. VJP: one program per (batch item, block of
directions, group of rows): each loops over its row group with the cotangents in registers
(loaded once when ``J <= BLOCK_J``, else once per block of knots and row group). ``N``, the
batch strides and the split counts are not specialised on (``do_not_specialize``): a sweep of
``N`` compiles one variant per dtype and block configuration. ``dt`` travels as the bits of
its float64 (an ``int64`` argument): a Python float argument would be rounded to float32.
No constant is copied from the host: the knots are made inside the kernels from ``dt``.
The direction stride of ``u`` and the knot stride of the cotangent are not specialised either:
knowing them to be 1 lets Triton vectorise loads along those axes, which moves the knot axis
across threads and breaks the register layout above (a 4x larger VJP, spills). The sums of a
split add at most 4096 rows in float32; torch adds the splits. Under the interpreter the row
groups are 64 rows tall instead of 4 (fewer NumPy calls); nothing else differs.

Both functions are ``torch.library`` custom ops (``sigreg::ecf_sums``, ``sigreg::ecf_sums_vjp``)
with fake implementations, so they work on ``meta`` tensors and inside
``torch.compile(fullgraph=True)``. They run on CUDA tensors, and on CPU tensors when
``TRITON_INTERPRET=1`` was set before this module was imported (Triton's interpreter).
"""

from __future__ import annotations

import contextlib
import math
import struct
from collections.abc import Callable, Iterator
from typing import Any

import torch
import triton
import triton.language as tl

from . import fallback, sincos

__all__ = ["ecf_sums", "ecf_sums_vjp"]

# Knots per run between direct evaluations (kernels read globals only as constexprs).
_ANCHOR = 16
_ANCHOR_EVERY = tl.constexpr(_ANCHOR)
# Knots are skipped past J in groups of this many (one uniform branch per group).
_GROUP = tl.constexpr(4)
# Rows each thread takes per step of its row loop (added in registers before the total).
_ROWS = 4
# Under Triton's interpreter (CPU tensors) every operation is a NumPy call on the whole tile:
# taller row groups make far fewer of them. Only the constant differs from a CUDA launch.
_INTERPRETER_ROWS = 64
# Knot blocks: 16 when J <= 16, else 32 (one run of 16, or two).
_SMALL_BLOCK_J = 16
_BLOCK_J = 32
_MAX_WARPS = 4
# A split of the sample axis gets at least this many rows, so that writing its partial sums
# stays small next to the work it does.
_MIN_ROWS_PER_SPLIT = 64
# ... and at most this many, which bounds the rounding of its float32 running total.
_MAX_ROWS_PER_SPLIT = 4096
# Fallback occupancy (programs per SM) where the compiled kernel cannot be asked (interpreter).
_DEFAULT_PROGRAMS_PER_SM = 2
# Grid axis 0 holds at most 2**31 - 1 programs; larger launches are cut along the batch.
_MAX_GRID = 2**31 - 1
_FLOAT_DTYPES = (torch.float32, torch.float64)
# Compile options set explicitly (Triton 3.9 warns when fp fusion is left to its default):
# fused multiply-adds round once where a multiply and an add round twice. Without maxnreg,
# ptxas caps some float32 variants (32-knot blocks) at 128 registers and spills; with it they
# take about 150 and spill nothing (docs/data/kernels.md).
_OPTIONS: dict[str, Any] = {"enable_fp_fusion": True, "maxnreg": 255}

# Argument reduction by pi/2. float32: CUDA's three-part pi/2 for fused multiply-adds;
# float64: fdlibm's parts of 33 bits (exact products for |n| < 2**20, with or without fma).
_TWO_OVER_PI = tl.constexpr(sincos.TWO_OVER_PI)
_F32_PIO2 = (1.5707962512969971e00, 7.5497894158615964e-08, 5.3903029534742384e-15)
_F32_P1 = tl.constexpr(_F32_PIO2[0])
_F32_P2 = tl.constexpr(_F32_PIO2[1])
_F32_P3 = tl.constexpr(_F32_PIO2[2])
_F64_P1 = tl.constexpr(sincos.F64_PIO2[0])
_F64_P2 = tl.constexpr(sincos.F64_PIO2[1])
_F64_P3 = tl.constexpr(sincos.F64_PIO2[2])
# x + 1.5 * 2**23 (2**52) - the same rounds x to an integer in float32 (float64).
_F32_ROUND = tl.constexpr(12582912.0)
_F64_ROUND = tl.constexpr(6755399441055744.0)
# Largest |t u| the fast reduction takes; larger angles go to libdevice.
_F32_LIMIT = tl.constexpr(105615.0)
_F64_LIMIT = tl.constexpr(2.0**19)
# cephes sinf/cosf and fdlibm __kernel_sin/__kernel_cos on [-pi/4, pi/4] (sincos.py).
_F32_S1 = tl.constexpr(sincos.F32_SIN[0])
_F32_S2 = tl.constexpr(sincos.F32_SIN[1])
_F32_S3 = tl.constexpr(sincos.F32_SIN[2])
_F32_C1 = tl.constexpr(sincos.F32_COS[0])
_F32_C2 = tl.constexpr(sincos.F32_COS[1])
_F32_C3 = tl.constexpr(sincos.F32_COS[2])
_F64_S1 = tl.constexpr(sincos.F64_SIN[0])
_F64_S2 = tl.constexpr(sincos.F64_SIN[1])
_F64_S3 = tl.constexpr(sincos.F64_SIN[2])
_F64_S4 = tl.constexpr(sincos.F64_SIN[3])
_F64_S5 = tl.constexpr(sincos.F64_SIN[4])
_F64_S6 = tl.constexpr(sincos.F64_SIN[5])
_F64_C1 = tl.constexpr(sincos.F64_COS[0])
_F64_C2 = tl.constexpr(sincos.F64_COS[1])
_F64_C3 = tl.constexpr(sincos.F64_COS[2])
_F64_C4 = tl.constexpr(sincos.F64_COS[3])
_F64_C5 = tl.constexpr(sincos.F64_COS[4])
_F64_C6 = tl.constexpr(sincos.F64_COS[5])


@triton.jit
def _knot(index, dt):
    """``(t_hi, t_lo)`` of the knot ``index * dt`` (float64 scalar ``dt``): ``t_hi`` is the
    float32 rounding, ``t_lo`` the float32 rest (the float64 kernels use only ``t_hi``)."""
    t = dt * index
    hi = t.to(tl.float32)
    return t, hi, (t - hi.to(tl.float64)).to(tl.float32)


@triton.jit
def _sincos(x, t64, t_hi, t_lo, IS_F64: tl.constexpr):
    """``(cos, sin)(t x)``, elementwise: one reduction by pi/2 and two polynomials."""
    if IS_F64:
        hi = x * t64
        n = (hi * tl.full((), _TWO_OVER_PI, tl.float64) + tl.full((), _F64_ROUND, tl.float64)) - tl.full(
            (), _F64_ROUND, tl.float64
        )
        r = hi - n * tl.full((), _F64_P1, tl.float64)
        r = r - n * tl.full((), _F64_P2, tl.float64)
        r = r - n * tl.full((), _F64_P3, tl.float64)
        z = r * r
        sp = tl.full((), _F64_S5, tl.float64) + z * tl.full((), _F64_S6, tl.float64)
        sp = tl.full((), _F64_S4, tl.float64) + z * sp
        sp = tl.full((), _F64_S3, tl.float64) + z * sp
        sp = tl.full((), _F64_S2, tl.float64) + z * sp
        sp = tl.full((), _F64_S1, tl.float64) + z * sp
        sp = r + (r * z) * sp
        cp = tl.full((), _F64_C5, tl.float64) + z * tl.full((), _F64_C6, tl.float64)
        cp = tl.full((), _F64_C4, tl.float64) + z * cp
        cp = tl.full((), _F64_C3, tl.float64) + z * cp
        cp = tl.full((), _F64_C2, tl.float64) + z * cp
        cp = tl.full((), _F64_C1, tl.float64) + z * cp
        cp = (1.0 - 0.5 * z) + (z * z) * cp
    else:
        hi = x * t_hi
        lo = tl.fma(x, t_hi, -hi) + x * t_lo
        n = (hi * _TWO_OVER_PI + _F32_ROUND) - _F32_ROUND
        r = tl.fma(-n, _F32_P1, hi)
        r = tl.fma(-n, _F32_P2, r)
        r = tl.fma(-n, _F32_P3, r) + lo
        z = r * r
        sp = _F32_S2 + z * _F32_S3
        sp = _F32_S1 + z * sp
        sp = r + (r * z) * sp
        cp = _F32_C2 + z * _F32_C3
        cp = _F32_C1 + z * cp
        cp = (1.0 - 0.5 * z) + (z * z) * cp
    q = n.to(tl.int32)
    odd = (q & 1) != 0
    c = tl.where(odd, sp, cp)
    s = tl.where(odd, cp, sp)
    c = tl.where(((q + 1) & 2) != 0, -c, c)
    s = tl.where((q & 2) != 0, -s, s)
    return c, s


@triton.jit
def _huge(largest, t_last, IS_F64: tl.constexpr):
    """True when some ``|t u|`` of the program, ``t <= t_last``, is beyond the fast reduction."""
    angle = tl.max(tl.max(largest, axis=1), axis=0).to(tl.float64) * t_last
    if IS_F64:
        huge = angle >= _F64_LIMIT
    else:
        huge = angle >= _F32_LIMIT
    return huge


@triton.jit(
    do_not_specialize=[
        "dt_bits",
        "n",
        "j",
        "stride_ub",
        "stride_uk",
        "rows_per_split",
        "num_splits",
        "num_j_blocks",
    ]
)
def _ecf_sums_kernel(
    u_ptr,
    out_ptr,
    dt_bits,
    n,
    k,
    j,
    stride_ub,
    stride_un,
    stride_uk,
    stride_os,
    stride_ob,
    stride_ok,
    rows_per_split,
    num_k_blocks,
    num_splits,
    num_j_blocks,
    BLOCK_K: tl.constexpr,
    BLOCK_J: tl.constexpr,
    ROWS: tl.constexpr,
    ONE_J_BLOCK: tl.constexpr,
    IS_F64: tl.constexpr,
):
    # One flat grid axis: axes 1 and 2 are limited to 65535 programs on CUDA. The knot
    # block varies fastest so that neighbouring programs read the same rows of u.
    pid = tl.program_id(0)
    jb = pid % num_j_blocks
    rest = pid // num_j_blocks
    split = rest % num_splits
    rest = rest // num_splits
    kb = rest % num_k_blocks
    # 64-bit offsets: batch and row strides times indices can pass 2**31 elements.
    b = (rest // num_k_blocks).to(tl.int64)
    dt = dt_bits.to(tl.float64, bitcast=True)
    dtype = u_ptr.dtype.element_ty

    j_start = jb * BLOCK_J
    offs_k = kb * BLOCK_K + tl.arange(0, BLOCK_K)
    offs_j = tl.arange(0, BLOCK_J)
    offs_r = tl.arange(0, ROWS)
    mask_k = offs_k < k
    step64, step_hi, step_lo = _knot(1, dt)
    a0_64, a0_hi, a0_lo = _knot(j_start + 1, dt)
    a1_64, a1_hi, a1_lo = _knot(j_start + 1 + _ANCHOR_EVERY, dt)

    u_base = u_ptr + b * stride_ub + offs_k.to(tl.int64)[None, :] * stride_uk
    acc_c = tl.zeros([BLOCK_J, BLOCK_K], dtype=dtype)
    acc_s = tl.zeros([BLOCK_J, BLOCK_K], dtype=dtype)
    largest = tl.zeros([ROWS, BLOCK_K], dtype=dtype)
    start = split * rows_per_split
    end = tl.minimum(start + rows_per_split, n)
    for r0 in range(start, end, ROWS):
        rows = r0 + offs_r
        mask_r = rows < end
        x = tl.load(
            u_base + rows.to(tl.int64)[:, None] * stride_un, mask=mask_r[:, None] & mask_k[None, :], other=0.0
        )
        largest = tl.maximum(largest, tl.abs(x))
        # Padded rows get a zero step and zero anchors: they stay zero under the rotation.
        c1, s1 = _sincos(x, step64, step_hi, step_lo, IS_F64)
        c1 = tl.where(mask_r[:, None], c1, 0.0)
        s1 = tl.where(mask_r[:, None], s1, 0.0)
        c = c1
        s = s1
        for run in tl.static_range(BLOCK_J // _ANCHOR_EVERY):
            if j_start + run * _ANCHOR_EVERY < j:
                if run == 0:
                    # With one knot block the first anchor is always the step: no code for it.
                    if not ONE_J_BLOCK and jb > 0:
                        c, s = _sincos(x, a0_64, a0_hi, a0_lo, IS_F64)
                        c = tl.where(mask_r[:, None], c, 0.0)
                        s = tl.where(mask_r[:, None], s, 0.0)
                else:
                    c, s = _sincos(x, a1_64, a1_hi, a1_lo, IS_F64)
                    c = tl.where(mask_r[:, None], c, 0.0)
                    s = tl.where(mask_r[:, None], s, 0.0)
                acc_c = acc_c + tl.where(
                    offs_j[:, None] == run * _ANCHOR_EVERY, tl.sum(c, axis=0)[None, :], -0.0
                )
                acc_s = acc_s + tl.where(
                    offs_j[:, None] == run * _ANCHOR_EVERY, tl.sum(s, axis=0)[None, :], -0.0
                )
                for group in tl.static_range(_ANCHOR_EVERY // _GROUP):
                    first = run * _ANCHOR_EVERY + group * _GROUP
                    if j_start + first < j:
                        for i in tl.static_range(_GROUP):
                            if group + i > 0:
                                c, s = c * c1 - s * s1, s * c1 + c * s1
                                acc_c = acc_c + tl.where(
                                    offs_j[:, None] == first + i, tl.sum(c, axis=0)[None, :], -0.0
                                )
                                acc_s = acc_s + tl.where(
                                    offs_j[:, None] == first + i, tl.sum(s, axis=0)[None, :], -0.0
                                )

    if _huge(largest, dt * (j_start + BLOCK_J), IS_F64):
        # Huge angles (or infinities): every knot again, directly, with libdevice.
        acc_c = tl.zeros([BLOCK_J, BLOCK_K], dtype=dtype)
        acc_s = tl.zeros([BLOCK_J, BLOCK_K], dtype=dtype)
        for r0 in range(start, end, ROWS):
            rows = r0 + offs_r
            mask_r = rows < end
            x = tl.load(
                u_base + rows.to(tl.int64)[:, None] * stride_un, mask=mask_r[:, None] & mask_k[None, :]
            )
            for m in range(0, tl.minimum(BLOCK_J, j - j_start)):
                t = (dt * (j_start + m + 1)).to(dtype)
                arg = x * t
                cs = tl.sum(tl.where(mask_r[:, None], tl.cos(arg), 0.0), axis=0)
                sn = tl.sum(tl.where(mask_r[:, None], tl.sin(arg), 0.0), axis=0)
                acc_c += tl.where(offs_j[:, None] == m, cs[None, :], 0.0)
                acc_s += tl.where(offs_j[:, None] == m, sn[None, :], 0.0)

    out = out_ptr + split.to(tl.int64) * stride_os + b * stride_ob
    out += offs_k.to(tl.int64)[None, :] * stride_ok + (j_start + offs_j)[:, None]
    mask = mask_k[None, :] & (j_start + offs_j < j)[:, None]
    tl.store(out, acc_c, mask=mask)
    tl.store(out + j, acc_s, mask=mask)


@triton.jit
def _load_coefficients(bar_base, stride_bj, offs_j, mask_k, j, j_start, dt, dtype):
    """``(t sin_bar, t cos_bar)`` of the knots ``j_start + 1 ..``: ``[BLOCK_J, BLOCK_K]``."""
    knots = j_start + offs_j
    mask_j = knots < j
    mask = mask_j[:, None] & mask_k[None, :]
    t = ((knots + 1).to(tl.float64) * dt).to(dtype)
    # Padded knots and directions load zero cotangents: their terms vanish.
    cos_bar = tl.load(bar_base + knots[:, None] * stride_bj, mask=mask, other=0.0)
    sin_bar = tl.load(bar_base + (knots + j)[:, None] * stride_bj, mask=mask, other=0.0)
    return t[:, None] * sin_bar, t[:, None] * cos_bar


@triton.jit
def _vjp_block(
    x,
    mask_r,
    acc,
    cos_coef,
    sin_coef,
    offs_j,
    j,
    j_start,
    jb,
    dt,
    IS_F64: tl.constexpr,
    BLOCK_J: tl.constexpr,
):
    """``acc + sum_m cos_coef_m cos(t_m x) - sin_coef_m sin(t_m x)`` over one block of knots."""
    step64, step_hi, step_lo = _knot(1, dt)
    c1, s1 = _sincos(x, step64, step_hi, step_lo, IS_F64)
    c = c1
    s = s1
    for run in tl.static_range(BLOCK_J // _ANCHOR_EVERY):
        if j_start + run * _ANCHOR_EVERY < j:
            if run > 0 or jb > 0:
                a64, a_hi, a_lo = _knot(j_start + 1 + run * _ANCHOR_EVERY, dt)
                c, s = _sincos(x, a64, a_hi, a_lo, IS_F64)
            m0: tl.constexpr = run * _ANCHOR_EVERY
            acc += (
                tl.sum(tl.where(offs_j[:, None] == m0, cos_coef, -0.0), axis=0)[None, :] * c
                - tl.sum(tl.where(offs_j[:, None] == m0, sin_coef, -0.0), axis=0)[None, :] * s
            )
            for group in tl.static_range(_ANCHOR_EVERY // _GROUP):
                first = run * _ANCHOR_EVERY + group * _GROUP
                if j_start + first < j:
                    for i in tl.static_range(_GROUP):
                        if group + i > 0:
                            c, s = c * c1 - s * s1, s * c1 + c * s1
                            acc += (
                                tl.sum(tl.where(offs_j[:, None] == first + i, cos_coef, -0.0), axis=0)[
                                    None, :
                                ]
                                * c
                                - tl.sum(tl.where(offs_j[:, None] == first + i, sin_coef, -0.0), axis=0)[
                                    None, :
                                ]
                                * s
                            )
    return acc


@triton.jit(
    do_not_specialize=[
        "dt_bits",
        "n",
        "j",
        "stride_ub",
        "stride_uk",
        "stride_bj",
        "stride_gb",
        "rows_per_program",
        "num_row_groups",
    ]
)
def _ecf_sums_vjp_kernel(
    u_ptr,
    bar_ptr,
    grad_ptr,
    dt_bits,
    n,
    k,
    j,
    stride_ub,
    stride_un,
    stride_uk,
    stride_bb,
    stride_bk,
    stride_bj,
    stride_gb,
    stride_gn,
    rows_per_program,
    num_k_blocks,
    num_row_groups,
    BLOCK_K: tl.constexpr,
    BLOCK_J: tl.constexpr,
    ROWS: tl.constexpr,
    ONE_J_BLOCK: tl.constexpr,
    IS_F64: tl.constexpr,
):
    pid = tl.program_id(0)
    group = pid % num_row_groups
    rest = pid // num_row_groups
    kb = rest % num_k_blocks
    b = (rest // num_k_blocks).to(tl.int64)
    dt = dt_bits.to(tl.float64, bitcast=True)
    dtype = u_ptr.dtype.element_ty

    offs_k = kb * BLOCK_K + tl.arange(0, BLOCK_K)
    offs_j = tl.arange(0, BLOCK_J)
    offs_r = tl.arange(0, ROWS)
    mask_k = offs_k < k
    cols = offs_k.to(tl.int64)[None, :]
    u_base = u_ptr + b * stride_ub + cols * stride_uk
    g_base = grad_ptr + b * stride_gb + cols
    bar_base = bar_ptr + b * stride_bb + offs_k.to(tl.int64)[None, :] * stride_bk
    start = group * rows_per_program
    end = tl.minimum(start + rows_per_program, n)
    if ONE_J_BLOCK:
        cos_coef, sin_coef = _load_coefficients(bar_base, stride_bj, offs_j, mask_k, j, 0, dt, dtype)
    largest = tl.zeros([ROWS, BLOCK_K], dtype=dtype)
    for r0 in range(start, end, ROWS):
        rows = r0 + offs_r
        mask_r = rows < end
        mask = mask_r[:, None] & mask_k[None, :]
        x = tl.load(u_base + rows.to(tl.int64)[:, None] * stride_un, mask=mask, other=0.0)
        largest = tl.maximum(largest, tl.abs(x))
        g = tl.zeros([ROWS, BLOCK_K], dtype=dtype)
        if ONE_J_BLOCK:
            g = _vjp_block(x, mask_r, g, cos_coef, sin_coef, offs_j, j, 0, 0, dt, IS_F64, BLOCK_J)
        else:
            for jb in range(0, tl.cdiv(j, BLOCK_J)):
                block_cos, block_sin = _load_coefficients(
                    bar_base, stride_bj, offs_j, mask_k, j, jb * BLOCK_J, dt, dtype
                )
                g = _vjp_block(
                    x, mask_r, g, block_cos, block_sin, offs_j, j, jb * BLOCK_J, jb, dt, IS_F64, BLOCK_J
                )
        tl.store(g_base + rows.to(tl.int64)[:, None] * stride_gn, g, mask=mask)

    if _huge(largest, dt * j, IS_F64):
        # Huge angles (or infinities): every row again, each knot directly with libdevice.
        for r0 in range(start, end, ROWS):
            rows = r0 + offs_r
            mask = (rows < end)[:, None] & mask_k[None, :]
            x = tl.load(u_base + rows.to(tl.int64)[:, None] * stride_un, mask=mask, other=0.0)
            g = tl.zeros([ROWS, BLOCK_K], dtype=dtype)
            for m in range(0, j):
                t = (dt * (m + 1)).to(dtype)
                cos_bar = tl.load(bar_base + m * stride_bj, mask=mask_k[None, :], other=0.0)
                sin_bar = tl.load(bar_base + (m + j) * stride_bj, mask=mask_k[None, :], other=0.0)
                g += t * (sin_bar * tl.cos(x * t) - cos_bar * tl.sin(x * t))
            tl.store(g_base + rows.to(tl.int64)[:, None] * stride_gn, g, mask=mask)


def _num_warps(k: int) -> int:
    """Warps per program: one direction per thread, 32 to 128 directions per program."""
    return min(_MAX_WARPS, int(triton.next_power_of_2(max(1, triton.cdiv(k, 32)))))


def _block_j(num_knots: int) -> int:
    return _SMALL_BLOCK_J if num_knots <= _SMALL_BLOCK_J else _BLOCK_J


def _dt_bits(dt: float) -> int:
    """The bits of ``dt`` as a float64, as a signed 64-bit integer (the kernels' ``dt_bits``)."""
    bits: int = struct.unpack("<q", struct.pack("<d", float(dt)))[0]
    return bits


def _split_rows(n: int, programs: int, target: int, row_group: int = _ROWS) -> tuple[int, int]:
    """``(splits, rows_per_split)`` for the sample axis: enough programs to reach ``target``.

    ``rows_per_split`` is a multiple of ``row_group``, every split holds at least one row, a
    split holds at least ``_MIN_ROWS_PER_SPLIT`` rows unless there is only one (or the
    maximum forces more), and at most ``_MAX_ROWS_PER_SPLIT`` rounded up to ``row_group``.
    """
    splits = 1
    if programs < target:
        most = max(1, n // _MIN_ROWS_PER_SPLIT)
        splits = max(1, min(triton.cdiv(target, programs), most))
    # The float32 running total of a split adds at most _MAX_ROWS_PER_SPLIT / row_group
    # partial sums; the splits are then added pairwise by torch.sum.
    splits = max(splits, triton.cdiv(n, _MAX_ROWS_PER_SPLIT))
    rows = triton.cdiv(triton.cdiv(n, splits), row_group) * row_group
    return triton.cdiv(n, rows), rows


def _programs_per_sm(device: torch.device, regs: int, num_warps: int) -> int:
    """Programs that fit on one SM of ``device`` at once, from the registers per thread."""
    props = torch.cuda.get_device_properties(device)
    threads = 32 * num_warps
    # Registers are allocated per warp in units of 256 (8 per thread).
    regs_per_program = max(8, -(-regs // 8) * 8) * threads
    per_sm_regs = int(getattr(props, "regs_per_multiprocessor", 65536))
    max_threads = int(getattr(props, "max_threads_per_multi_processor", 2048))
    return max(1, min(per_sm_regs // regs_per_program, max_threads // threads, 32))


# Registers per thread and spilled bytes of each variant compiled in this process:
# (device index, kernel, constexprs...) -> (n_regs, n_spills).
_COMPILED_RESOURCES: dict[tuple[Any, ...], tuple[int, int]] = {}


def _target_programs(
    device: torch.device, kernel: Any, make_args: Callable[[], tuple[Any, ...]], constexprs: dict[str, Any]
) -> int:
    """Programs that fill ``device``: SMs times the programs per SM of the compiled kernel
    (``warmup`` compiles it, or finds it in Triton's cache, without launching it)."""
    if device.type != "cuda":
        # The interpreter runs programs one after the other: splitting gains nothing there.
        return 1
    key = (device.index, kernel.fn.__name__, *sorted(constexprs.items()))
    resources = _COMPILED_RESOURCES.get(key)
    if resources is None:
        try:
            compiled = kernel.warmup(*make_args(), grid=(1,), **constexprs, **_OPTIONS)
            init = getattr(compiled, "_init_handles", None)  # loads the module: fills n_regs
            if init is not None:
                init()
            resources = (int(getattr(compiled, "n_regs", 0)) or 255, int(getattr(compiled, "n_spills", 0)))
        except (AttributeError, TypeError):
            # A Triton whose warmup or CompiledKernel differs from 3.6-3.9: size the launch for
            # the worst case (255 registers); a compile error shows at the launch itself.
            resources = (255, 0)
        _COMPILED_RESOURCES[key] = resources
    regs = resources[0]
    sms = int(torch.cuda.get_device_properties(device).multi_processor_count)
    return sms * _programs_per_sm(device, regs, constexprs["num_warps"])


def _batch_chunks(batch: int, programs_per_item: int) -> Iterator[slice]:
    step = max(1, _MAX_GRID // max(1, programs_per_item))
    for start in range(0, batch, step):
        yield slice(start, min(start + step, batch))


def _check(u: torch.Tensor, num_knots: int, sums_bar: torch.Tensor | None = None) -> None:
    if u.dim() < 2:
        raise ValueError(f"u must have shape (..., N, K), got {tuple(u.shape)}")
    if u.dtype not in _FLOAT_DTYPES:
        raise TypeError(f"u must be float32 or float64, got {u.dtype}")
    if num_knots < 0:
        raise ValueError(f"num_knots must be non-negative, got {num_knots}")
    if sums_bar is None:
        return
    expected = (*u.shape[:-2], u.shape[-1], 2 * num_knots)
    if tuple(sums_bar.shape) != expected:
        raise ValueError(f"sums_bar must have shape {expected}, got {tuple(sums_bar.shape)}")
    if sums_bar.dtype != u.dtype:
        raise TypeError(f"sums_bar has dtype {sums_bar.dtype}, u has {u.dtype}")
    if sums_bar.device != u.device:
        raise ValueError(f"sums_bar is on {sums_bar.device}, u on {u.device}")


def _check_launchable(u: torch.Tensor) -> None:
    if u.device.type == "cpu" and isinstance(_ecf_sums_kernel, triton.runtime.JITFunction):
        raise RuntimeError(
            "sigreg Triton kernels run on CPU tensors only under Triton's interpreter: "
            "set TRITON_INTERPRET=1 before sigreg._backend.kernels.triton_ecf is imported"
        )


def _device_guard(u: torch.Tensor) -> contextlib.AbstractContextManager[Any]:
    # Triton launches on the current CUDA device, which need not be the device of u.
    return torch.cuda.device(u.device) if u.is_cuda else contextlib.nullcontext()


def _rows(device: torch.device | None, n: int) -> int:
    if device is None or device.type == "cuda":
        return _ROWS
    return max(_ROWS, min(_INTERPRETER_ROWS, int(triton.next_power_of_2(n))))


def sums_constexprs(
    dtype: torch.dtype, k: int, num_knots: int, device: torch.device | None = None, n: int = 0
) -> dict[str, Any]:
    """The compile-time configuration of the sums kernel for ``k`` directions and ``J`` knots
    (on CUDA, or with no ``device``; under the interpreter the row groups are taller)."""
    warps = _num_warps(k)
    return {
        "BLOCK_K": 32 * warps,
        "BLOCK_J": _block_j(num_knots),
        "ROWS": _rows(device, n),
        "ONE_J_BLOCK": num_knots <= _block_j(num_knots),
        "IS_F64": dtype == torch.float64,
        "num_warps": warps,
    }


def vjp_constexprs(
    dtype: torch.dtype, k: int, num_knots: int, device: torch.device | None = None, n: int = 0
) -> dict[str, Any]:
    """The compile-time configuration of the VJP kernel for ``k`` directions and ``J`` knots
    (on CUDA, or with no ``device``; under the interpreter the row groups are taller)."""
    warps = _num_warps(k)
    block_j = _block_j(num_knots)
    return {
        "BLOCK_K": 32 * warps,
        "BLOCK_J": block_j,
        "ROWS": _rows(device, n),
        "ONE_J_BLOCK": num_knots <= block_j,
        "IS_F64": dtype == torch.float64,
        "num_warps": warps,
    }


def _sums(u: torch.Tensor, dt: float, num_knots: int, splits: int | None = None) -> torch.Tensor:
    """The real implementation; ``splits`` overrides the split of the sample axis (tests)."""
    _check(u, num_knots)
    *batch_shape, n, k = u.shape
    j = num_knots
    batch = math.prod(batch_shape)
    if batch == 0 or k == 0 or j == 0 or n == 0:
        return u.new_zeros((*batch_shape, k, 2 * j))
    _check_launchable(u)
    u3 = u.reshape(batch, n, k)
    constexprs = sums_constexprs(u.dtype, k, j, u.device, n)
    row_group = constexprs["ROWS"]
    num_k_blocks = triton.cdiv(k, constexprs["BLOCK_K"])
    num_j_blocks = triton.cdiv(j, constexprs["BLOCK_J"])
    programs = batch * num_k_blocks * num_j_blocks

    def args(u_c: torch.Tensor, out_c: torch.Tensor, rows: int, num_splits: int) -> tuple[Any, ...]:
        return (
            u_c,
            out_c,
            _dt_bits(dt),
            n,
            k,
            j,
            u_c.stride(0),
            u_c.stride(1),
            u_c.stride(2),
            out_c.stride(0),
            out_c.stride(1),
            out_c.stride(2),
            rows,
            num_k_blocks,
            num_splits,
            num_j_blocks,
        )

    if splits is None:
        target = _target_programs(
            u.device, _ecf_sums_kernel, lambda: args(u3, u.new_empty((1, 1, k, 2 * j)), n, 1), constexprs
        )
        num_splits, rows = _split_rows(n, programs, target, row_group)
    else:
        rows = triton.cdiv(triton.cdiv(n, splits), row_group) * row_group
        num_splits = triton.cdiv(n, rows)
    partial = u.new_empty((num_splits, batch, k, 2 * j))

    per_item = num_k_blocks * num_splits * num_j_blocks
    with _device_guard(u):
        for chunk in _batch_chunks(batch, per_item):
            u_c, out_c = u3[chunk], partial[:, chunk]
            grid = (out_c.shape[1] * per_item,)
            _ecf_sums_kernel[grid](*args(u_c, out_c, rows, num_splits), **constexprs, **_OPTIONS)
    sums = partial[0] if num_splits == 1 else partial.sum(dim=0)
    return sums.reshape(*batch_shape, k, 2 * j)


def _sums_vjp(u: torch.Tensor, sums_bar: torch.Tensor, dt: float, num_knots: int) -> torch.Tensor:
    _check(u, num_knots, sums_bar)
    *batch_shape, n, k = u.shape
    j = num_knots
    batch = math.prod(batch_shape)
    if batch == 0 or k == 0 or n == 0 or j == 0:
        return torch.zeros_like(u, memory_format=torch.contiguous_format)
    _check_launchable(u)
    u3 = u.reshape(batch, n, k)
    bar3 = sums_bar.reshape(batch, k, 2 * j)
    grad = u.new_empty((batch, n, k))
    constexprs = vjp_constexprs(u.dtype, k, j, u.device, n)
    row_group = constexprs["ROWS"]
    num_k_blocks = triton.cdiv(k, constexprs["BLOCK_K"])

    def args(
        u_c: torch.Tensor, bar_c: torch.Tensor, grad_c: torch.Tensor, rows: int, groups: int
    ) -> tuple[Any, ...]:
        return (
            u_c,
            bar_c,
            grad_c,
            _dt_bits(dt),
            n,
            k,
            j,
            u_c.stride(0),
            u_c.stride(1),
            u_c.stride(2),
            bar_c.stride(0),
            bar_c.stride(1),
            bar_c.stride(2),
            grad_c.stride(0),
            grad_c.stride(1),
            rows,
            num_k_blocks,
            groups,
        )

    target = _target_programs(u.device, _ecf_sums_vjp_kernel, lambda: args(u3, bar3, grad, n, 1), constexprs)
    # Row groups: enough programs to fill the device, each a multiple of _ROWS rows.
    groups = max(1, min(triton.cdiv(n, row_group), triton.cdiv(target, batch * num_k_blocks)))
    rows = triton.cdiv(triton.cdiv(n, groups), row_group) * row_group
    groups = triton.cdiv(n, rows)
    per_item = num_k_blocks * groups
    with _device_guard(u):
        for chunk in _batch_chunks(batch, per_item):
            u_c, bar_c, grad_c = u3[chunk], bar3[chunk], grad[chunk]
            grid = (grad_c.shape[0] * per_item,)
            _ecf_sums_vjp_kernel[grid](*args(u_c, bar_c, grad_c, rows, groups), **constexprs, **_OPTIONS)
    return grad.reshape(u.shape)


def _namespace() -> Any:
    import array_api_compat.torch

    return array_api_compat.torch


def _launchable(u: torch.Tensor, num_knots: int) -> bool:
    """Checks that are the caller's (they raise); True when there is work for a kernel."""
    _check(u, num_knots)
    if u.numel() == 0 or num_knots == 0:
        return False
    _check_launchable(u)
    return True


# The custom ops' bodies run in Python at every call, eager or inside a torch.compile graph:
# a kernel that fails to compile or launch there is caught, whenever it happens (``fallback``).
@torch.library.custom_op("sigreg::ecf_sums", mutates_args=())
def _ecf_sums_op(u: torch.Tensor, dt: float, num_knots: int) -> torch.Tensor:
    if not _launchable(u, num_knots):
        return _sums(u, dt, num_knots)
    on_cpu = u.device.type == "cpu"
    sums: torch.Tensor = fallback.guard(
        "triton",
        lambda: _sums(u, dt, num_knots),
        lambda: fallback.array_api_sums(u, dt, num_knots, _namespace(), on_cpu=on_cpu).contiguous(),
    )
    return sums


@_ecf_sums_op.register_fake
def _(u: torch.Tensor, dt: float, num_knots: int) -> torch.Tensor:
    _check(u, num_knots)
    return u.new_empty((*u.shape[:-2], u.shape[-1], 2 * num_knots))


@torch.library.custom_op("sigreg::ecf_sums_vjp", mutates_args=())
def _ecf_sums_vjp_op(u: torch.Tensor, sums_bar: torch.Tensor, dt: float, num_knots: int) -> torch.Tensor:
    _check(u, num_knots, sums_bar)
    if not _launchable(u, num_knots):
        return _sums_vjp(u, sums_bar, dt, num_knots)
    on_cpu = u.device.type == "cpu"
    grad: torch.Tensor = fallback.guard(
        "triton",
        lambda: _sums_vjp(u, sums_bar, dt, num_knots),
        lambda: fallback.array_api_sums_vjp(
            u, sums_bar, dt, num_knots, _namespace(), on_cpu=on_cpu
        ).contiguous(),  # the layout the op's fake declares (torch.compile checks it)
    )
    return grad


@_ecf_sums_vjp_op.register_fake
def _(u: torch.Tensor, sums_bar: torch.Tensor, dt: float, num_knots: int) -> torch.Tensor:
    _check(u, num_knots, sums_bar)
    return u.new_empty(u.shape)


def ecf_sums(u: torch.Tensor, dt: float, num_knots: int) -> torch.Tensor:
    """Sums over the sample axis of ``cos(t_j u)`` and ``sin(t_j u)``, ``t_j = j * dt``, ``j = 1..J``.

    ``u`` has shape ``(..., N, K)``, float32 or float64. The result has shape ``(..., K, 2J)``
    and the dtype of ``u``: the cosine sums in ``[..., :J]``, the sine sums in ``[..., J:]``.
    """
    out: torch.Tensor = _ecf_sums_op(u, float(dt), int(num_knots))
    return out


def ecf_sums_vjp(u: torch.Tensor, sums_bar: torch.Tensor, dt: float, num_knots: int) -> torch.Tensor:
    """Gradient with respect to ``u`` of ``sum(sums_bar * ecf_sums(u, dt, num_knots))``.

    ``sums_bar`` has shape ``(..., K, 2J)`` (cotangents of the cosine sums, then of the sine
    sums); the result has the shape and dtype of ``u``:
    ``grad_nk = sum_j t_j (sin_bar_kj cos(t_j u_nk) - cos_bar_kj sin(t_j u_nk))``.
    """
    out: torch.Tensor = _ecf_sums_vjp_op(u, sums_bar, float(dt), int(num_knots))
    return out
