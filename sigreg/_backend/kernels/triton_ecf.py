"""Fused Triton kernels for the empirical characteristic function (ECF) sums and their VJP.

With knots ``t_j = j * dt`` for ``j = 1 .. J`` and projections ``u`` of shape ``(..., N, K)``:

* :func:`ecf_sums` returns ``(..., K, 2J)``: ``sum_n cos(t_j u_nk)`` in the first ``J`` columns,
  ``sum_n sin(t_j u_nk)`` in the last ``J``.
* :func:`ecf_sums_vjp` takes the cotangent of those sums, ``(..., K, 2J)``, and returns the
  gradient with respect to ``u``, ``(..., N, K)``:
  ``sum_j t_j (sin_bar_kj cos(t_j u_nk) - cos_bar_kj sin(t_j u_nk))``.

Every ``cos(t_j u)`` and ``sin(t_j u)`` is evaluated directly, in the dtype of ``u``, rather than
by the angle-addition recurrence of the array-API path (``sigreg._statistics.ecf``). Direct evaluation keeps
the knots independent of each other, so a block of knots is one broadcast in registers and
the knot axis can be spread over programs, and its error is that of a single ``cos`` call for
every knot, with no growth along ``j`` however many knots there are (4096 work as well as 16).

Block sizes: each program works on a ``[BLOCK_N, BLOCK_K, BLOCK_J]`` tile held in registers,
reduced over ``N`` for the sums and over ``J`` for the VJP. ``BLOCK_J = min(next_pow2(J), 64)``
and ``BLOCK_K = min(next_pow2(K), 32)``; ``BLOCK_N`` takes what is left of a budget of 4096
elements, ``BLOCK_N = min(next_pow2(N), max(1, 4096 // (BLOCK_K * BLOCK_J)))``, so it shrinks as
``J`` grows. Knots beyond ``BLOCK_J`` are covered by more programs (sums) or by a loop inside
the program (VJP). Nothing of size ``N x K x J`` is ever stored in memory.

The sums read the projections once per block of directions and knots. When that leaves too
few programs to fill a GPU (small ``K``), the sample axis is split over several programs that
write partial sums, which one ``torch.sum`` then adds: deterministic, no atomics.

Both functions are ``torch.library`` custom ops (``sigreg::ecf_sums``, ``sigreg::ecf_sums_vjp``)
with fake implementations, so they work on ``meta`` tensors and inside
``torch.compile(fullgraph=True)``. They run on CUDA tensors, and on CPU tensors when
``TRITON_INTERPRET=1`` was set before this module was imported (Triton's interpreter).
"""

from __future__ import annotations

import contextlib
import functools
import math
from collections.abc import Iterator
from typing import Any

import torch
import triton
import triton.language as tl

__all__ = ["ecf_sums", "ecf_sums_vjp"]

# 4096 elements of a 3-D tile over 128 threads (4 warps) are 32 per thread per live
# tensor; argument, cos and sin are live together, which stays clear of register spills.
_TILE_ELEMENTS = 4096
_MAX_BLOCK_J = 64
# 32 float32 directions are one 128-byte row segment: coalesced loads of u.
_MAX_BLOCK_K = 32
# A split of the sample axis gets at least this many row blocks, so that the cost of
# writing its partial sums stays small next to the tile work it does.
_MIN_BLOCKS_PER_SPLIT = 4
# Programs per streaming multiprocessor to aim for before splitting the sample axis.
_PROGRAMS_PER_SM = 4
# Grid axis 0 holds at most 2**31 - 1 programs; larger launches are cut along the batch.
_MAX_GRID = 2**31 - 1
_FLOAT_DTYPES = (torch.float32, torch.float64)


@triton.jit
def _ecf_sums_kernel(
    u_ptr,
    knots_ptr,
    out_ptr,
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
    BLOCK_N: tl.constexpr,
    BLOCK_K: tl.constexpr,
    BLOCK_J: tl.constexpr,
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

    offs_k = kb * BLOCK_K + tl.arange(0, BLOCK_K)
    offs_j = jb * BLOCK_J + tl.arange(0, BLOCK_J)
    mask_k = offs_k < k
    mask_j = offs_j < j
    t = tl.load(knots_ptr + offs_j, mask=mask_j, other=0.0)

    u_base = u_ptr + b * stride_ub
    cols = offs_k.to(tl.int64) * stride_uk
    acc_cos = tl.zeros([BLOCK_K, BLOCK_J], dtype=u_ptr.dtype.element_ty)
    acc_sin = tl.zeros([BLOCK_K, BLOCK_J], dtype=u_ptr.dtype.element_ty)
    start = split * rows_per_split
    end = tl.minimum(start + rows_per_split, n)
    for n0 in range(start, end, BLOCK_N):
        offs_n = n0 + tl.arange(0, BLOCK_N)
        mask_n = offs_n < end
        x = tl.load(
            u_base + offs_n.to(tl.int64)[:, None] * stride_un + cols[None, :],
            mask=mask_n[:, None] & mask_k[None, :],
            other=0.0,
        )
        arg = x[:, :, None] * t[None, None, :]
        # A padded row loads 0, whose cosine is 1: it must not count. Its sine is 0 already.
        # Padded directions and knots are never stored, so they need no mask here.
        acc_cos += tl.sum(tl.where(mask_n[:, None, None], tl.cos(arg), 0.0), axis=0)
        acc_sin += tl.sum(tl.sin(arg), axis=0)

    out = out_ptr + split.to(tl.int64) * stride_os + b * stride_ob
    out += offs_k.to(tl.int64)[:, None] * stride_ok + offs_j[None, :]
    mask = mask_k[:, None] & mask_j[None, :]
    tl.store(out, acc_cos, mask=mask)
    tl.store(out + j, acc_sin, mask=mask)


@triton.jit
def _ecf_sums_vjp_kernel(
    u_ptr,
    bar_ptr,
    knots_ptr,
    grad_ptr,
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
    num_k_blocks,
    num_n_blocks,
    BLOCK_N: tl.constexpr,
    BLOCK_K: tl.constexpr,
    BLOCK_J: tl.constexpr,
):
    pid = tl.program_id(0)
    nb = pid % num_n_blocks
    rest = pid // num_n_blocks
    kb = rest % num_k_blocks
    b = (rest // num_k_blocks).to(tl.int64)

    offs_n = nb * BLOCK_N + tl.arange(0, BLOCK_N)
    offs_k = kb * BLOCK_K + tl.arange(0, BLOCK_K)
    mask_n = offs_n < n
    mask_k = offs_k < k
    mask_nk = mask_n[:, None] & mask_k[None, :]
    rows = offs_n.to(tl.int64)[:, None]
    cols = offs_k.to(tl.int64)[None, :]
    x = tl.load(u_ptr + b * stride_ub + rows * stride_un + cols * stride_uk, mask=mask_nk, other=0.0)

    bar_base = bar_ptr + b * stride_bb + offs_k.to(tl.int64)[:, None] * stride_bk
    g = tl.zeros([BLOCK_N, BLOCK_K], dtype=u_ptr.dtype.element_ty)
    for j0 in range(0, j, BLOCK_J):
        offs_j = j0 + tl.arange(0, BLOCK_J)
        mask_j = offs_j < j
        mask_kj = mask_k[:, None] & mask_j[None, :]
        # Padded knots load t = 0 and zero cotangents, so their terms vanish in the sum over J.
        t = tl.load(knots_ptr + offs_j, mask=mask_j, other=0.0)
        cos_bar = tl.load(bar_base + offs_j[None, :] * stride_bj, mask=mask_kj, other=0.0)
        sin_bar = tl.load(bar_base + (offs_j + j)[None, :] * stride_bj, mask=mask_kj, other=0.0)
        cos_coef = t[None, :] * sin_bar
        sin_coef = t[None, :] * cos_bar
        arg = x[:, :, None] * t[None, None, :]
        g += tl.sum(cos_coef[None, :, :] * tl.cos(arg) - sin_coef[None, :, :] * tl.sin(arg), axis=2)

    tl.store(grad_ptr + b * stride_gb + rows * stride_gn + cols, g, mask=mask_nk)


def _blocks(n: int, k: int, j: int) -> tuple[int, int, int]:
    block_j = min(triton.next_power_of_2(j), _MAX_BLOCK_J)
    block_k = min(triton.next_power_of_2(k), _MAX_BLOCK_K)
    block_n = min(triton.next_power_of_2(n), max(1, _TILE_ELEMENTS // (block_k * block_j)))
    return block_n, block_k, block_j


def _num_warps(dtype: torch.dtype) -> int:
    # float64 values take two registers each: twice the threads keep the per-thread load.
    return 8 if dtype == torch.float64 else 4


def _split_rows(n: int, block_n: int, programs: int, target: int) -> tuple[int, int]:
    """``(splits, rows_per_split)`` for the sample axis: enough programs to reach ``target``.

    ``rows_per_split`` is a multiple of ``block_n`` and every split holds at least one row.
    """
    splits = 1
    if programs < target:
        most = triton.cdiv(n, _MIN_BLOCKS_PER_SPLIT * block_n)
        splits = max(1, min(triton.cdiv(target, programs), most))
    rows = triton.cdiv(triton.cdiv(n, splits), block_n) * block_n
    return triton.cdiv(n, rows), rows


@functools.cache
def _target_programs(device: torch.device) -> int:
    if device.type != "cuda":
        # The interpreter runs programs one after the other: splitting gains nothing there.
        return 1
    return _PROGRAMS_PER_SM * torch.cuda.get_device_properties(device).multi_processor_count


def _batch_chunks(batch: int, programs_per_item: int) -> Iterator[slice]:
    step = max(1, _MAX_GRID // max(1, programs_per_item))
    for start in range(0, batch, step):
        yield slice(start, min(start + step, batch))


def _knots(dt: float, num_knots: int, like: torch.Tensor) -> torch.Tensor:
    # t_j = j * dt rounded once from float64, as an exact oracle would round it; a Python
    # float kernel argument would be float32, too coarse for float64 inputs.
    t = torch.arange(1, num_knots + 1, dtype=torch.float64, device=like.device) * dt
    return t.to(like.dtype)


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

    block_n, block_k, block_j = _blocks(n, k, j)
    num_k_blocks = triton.cdiv(k, block_k)
    num_j_blocks = triton.cdiv(j, block_j)
    programs = batch * num_k_blocks * num_j_blocks
    if splits is None:
        num_splits, rows = _split_rows(n, block_n, programs, _target_programs(u.device))
    else:
        rows = triton.cdiv(triton.cdiv(n, splits), block_n) * block_n
        num_splits = triton.cdiv(n, rows)
    knots = _knots(dt, j, u)
    partial = u.new_empty((num_splits, batch, k, 2 * j))

    per_item = num_k_blocks * num_splits * num_j_blocks
    with _device_guard(u):
        for chunk in _batch_chunks(batch, per_item):
            u_c, out_c = u3[chunk], partial[:, chunk]
            grid = (out_c.shape[1] * per_item,)
            _ecf_sums_kernel[grid](
                u_c,
                knots,
                out_c,
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
                BLOCK_N=block_n,
                BLOCK_K=block_k,
                BLOCK_J=block_j,
                num_warps=_num_warps(u.dtype),
            )
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

    block_n, block_k, block_j = _blocks(n, k, j)
    num_k_blocks = triton.cdiv(k, block_k)
    num_n_blocks = triton.cdiv(n, block_n)
    per_item = num_k_blocks * num_n_blocks
    knots = _knots(dt, j, u)
    with _device_guard(u):
        for chunk in _batch_chunks(batch, per_item):
            u_c, bar_c, grad_c = u3[chunk], bar3[chunk], grad[chunk]
            grid = (grad_c.shape[0] * per_item,)
            _ecf_sums_vjp_kernel[grid](
                u_c,
                bar_c,
                knots,
                grad_c,
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
                num_k_blocks,
                num_n_blocks,
                BLOCK_N=block_n,
                BLOCK_K=block_k,
                BLOCK_J=block_j,
                num_warps=_num_warps(u.dtype),
            )
    return grad.reshape(u.shape)


@torch.library.custom_op("sigreg::ecf_sums", mutates_args=())
def _ecf_sums_op(u: torch.Tensor, dt: float, num_knots: int) -> torch.Tensor:
    return _sums(u, dt, num_knots)


@_ecf_sums_op.register_fake
def _(u: torch.Tensor, dt: float, num_knots: int) -> torch.Tensor:
    _check(u, num_knots)
    return u.new_empty((*u.shape[:-2], u.shape[-1], 2 * num_knots))


@torch.library.custom_op("sigreg::ecf_sums_vjp", mutates_args=())
def _ecf_sums_vjp_op(u: torch.Tensor, sums_bar: torch.Tensor, dt: float, num_knots: int) -> torch.Tensor:
    return _sums_vjp(u, sums_bar, dt, num_knots)


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
