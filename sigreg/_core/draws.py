"""Counter-based slice directions that every backend and device reproduces.

Each entry ``(d, k)`` of the ``(dim, num_slices)`` array is a pure function of
the seed and of its counter ``k * dim + d``: a keyed hash (two rounds of
MurmurHash3's 32-bit finaliser) gives two 23-bit uniforms, Box-Muller turns
them into a standard normal, and each column is divided by its norm. Only
32-bit signed integer arithmetic is used (JAX has no int64 by default, PyTorch
no arithmetic on uint32): products wrap modulo 2**32 on every backend, and
right shifts of negative values are arithmetic, so every shift is masked.

Because entries depend on their counter only, the first ``k`` columns of a
draw do not depend on ``num_slices``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

Array = Any

_MASK32 = 0xFFFFFFFF


def signed32(v: int) -> int:
    v &= _MASK32
    return v - (1 << 32) if v >= 1 << 31 else v


_GOLDEN = signed32(0x9E3779B9)
_FMIX_1 = signed32(0x85EBCA6B)
_FMIX_2 = signed32(0xC2B2AE35)


def fmix32(h: Any, wrap: Callable[[Any], Any]) -> Any:
    """MurmurHash3's finaliser on int32 arrays (``wrap`` = identity) or Python ints."""
    h = h ^ ((h >> 16) & 0xFFFF)
    h = wrap(h * _FMIX_1)
    h = h ^ ((h >> 13) & 0x7FFFF)
    h = wrap(h * _FMIX_2)
    return h ^ ((h >> 16) & 0xFFFF)


def _stream_keys(lo: Any, hi: Any, wrap: Callable[[Any], Any]) -> list[Any]:
    """Four 32-bit keys from the two 32-bit words of the seed."""
    k = fmix32(lo ^ fmix32(wrap(hi + _GOLDEN), wrap), wrap)
    keys = []
    for _ in range(4):
        k = fmix32(wrap(k + _GOLDEN), wrap)
        keys.append(k)
    return keys


def hash32(counter: Array, key_in: Any, key_out: Any) -> Array:
    def same(x: Any) -> Any:
        return x

    return fmix32(fmix32(counter ^ key_in, same) ^ key_out, same)


def _uniform(h: Array, xp: Any, dtype: Any) -> Array:
    """23 random bits to ``(m + 1/2) / 2**23`` in (0, 1): exact in float32 and float64."""
    m = xp.astype((h >> 9) & 0x7FFFFF, dtype)
    return m * 2.0**-23 + 2.0**-24


def seed_keys(seed: Any, xp: Any, device: Any) -> list[Any]:
    """Keys for a Python int seed (computed on the host) or a 0-d integer array seed.

    An array seed of any integer dtype counts modulo 2**64, like the Python int
    ``int(seed) % 2**64``: negative values are sign-extended to 64 bits.
    """
    if isinstance(seed, int):
        return _stream_keys(signed32(seed), signed32(seed >> 32), signed32)
    seed = xp.reshape(seed, (1,))  # 1-d: never a scalar type with overflow warnings
    info = xp.iinfo(seed.dtype)
    lo = xp.astype(seed, xp.int32)  # the low word, modulo 2**32
    if info.bits > 32:
        # unsigned 64-bit as int64 (same bits): PyTorch has no shifts on uint64
        wide = xp.astype(seed, xp.int64) if info.min == 0 else seed
        hi = xp.astype((wide >> 32) & _MASK32, xp.int32)
    elif info.min < 0:
        hi = lo >> 31  # sign extension: 0, or all ones for a negative seed
    else:
        hi = xp.zeros_like(lo)
    return _stream_keys(lo, hi, lambda x: x)


def standard_normal(
    rows: int, cols: int, keys: list[Any], xp: Any, device: Any, dtype: Any, first_col: int = 0
) -> Array:
    """Standard normals of shape ``(rows, cols)``; entry ``(r, c)`` depends on the keys and on
    the counter ``(first_col + c) * rows + r`` only (which must stay below 2**31)."""
    k1, k2, k3, k4 = keys
    r = xp.arange(rows, dtype=xp.int32, device=device)
    c = xp.arange(first_col, first_col + cols, dtype=xp.int32, device=device)
    counter = c[None, :] * rows + r[:, None]
    u1 = _uniform(hash32(counter, k1, k2), xp, dtype)
    u2 = _uniform(hash32(counter, k3, k4), xp, dtype)
    return xp.sqrt(-2.0 * xp.log(u1)) * xp.cos((2.0 * math.pi) * u2)


def from_keys(dim: int, num_slices: int, keys: list[Any], xp: Any, device: Any, dtype: Any) -> Array:
    """The ``(dim, num_slices)`` unit-column directions for the keys of a seed."""
    gauss = standard_normal(dim, num_slices, keys, xp, device, dtype)
    return gauss / xp.sqrt(xp.sum(gauss * gauss, axis=0, keepdims=True))


_NULL_STREAM = signed32(0x5EED5EED)


def null_sample_keys(keys: list[Any]) -> list[Any]:
    """Keys of a second stream from the same seed (Monte Carlo null samples), independent
    of the directions' stream."""
    return [fmix32(k ^ _NULL_STREAM, lambda x: x if not isinstance(x, int) else signed32(x)) for k in keys]
