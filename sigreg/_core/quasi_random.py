"""Structured slice directions: orthogonal blocks and scrambled Sobol points on the sphere.

Both start from integer arithmetic that every backend reproduces (32-bit signed
ints, every shift masked, as in :mod:`sigreg._core.draws`):

- orthogonal: the counter-based Gaussian draw of :func:`sigreg._core.draws.from_keys`,
  cut into blocks of ``dim`` columns, each replaced by the Q of its QR
  decomposition with the signs fixed by R's diagonal (the unique QR with a
  positive diagonal, so every library's LAPACK gives the same Q up to rounding);
- sobol: a Sobol sequence (one point per slice) in ``2 * ceil(dim / 2)``
  coordinates, randomised by a digital shift (XOR) drawn from the seed, each pair
  of coordinates mapped to two normals by Box-Muller, each column normalised.
  Primitive polynomials come from a search over GF(2) and the initial direction
  numbers from a fixed hash (odd, below ``2**j``): a valid Sobol sequence for any
  dimension, not the Joe-Kuo table.
"""

from __future__ import annotations

import functools
import math
from typing import Any

from . import draws

Array = Any

BITS = 30  # bits of each Sobol coordinate: products and shifts stay inside int32


def orthogonalise(directions: Array, xp: Any) -> Array:
    """Blocks of ``dim`` columns of ``directions`` (dim, K) made orthonormal, the last block partial."""
    dim, k = directions.shape
    full = k // dim
    parts = []
    if full:
        blocks = xp.moveaxis(xp.reshape(directions[:, : full * dim], (dim, full, dim)), 1, 0)
        parts.append(xp.reshape(xp.moveaxis(_positive_qr(blocks, xp), 0, 1), (dim, full * dim)))
    if k > full * dim:
        parts.append(_positive_qr(directions[:, full * dim :], xp))
    return parts[0] if len(parts) == 1 else xp.concat(parts, axis=1)


def _positive_qr(a: Array, xp: Any) -> Array:
    q, r = xp.linalg.qr(a)
    diagonal = xp.linalg.diagonal(r)
    sign = 1.0 - 2.0 * xp.astype(diagonal < 0, q.dtype)  # a zero diagonal has probability 0
    return q * sign[..., None, :]


@functools.cache
def _primitive_polynomials(count: int) -> tuple[tuple[int, int], ...]:
    """The first ``count`` primitive polynomials over GF(2) as (degree, bits), degree >= 1."""
    found: list[tuple[int, int]] = []
    degree = 1
    while len(found) < count:
        order = (1 << degree) - 1
        factors = _prime_factors(order)
        for poly in range(1 << degree, 1 << (degree + 1)):
            if poly & 1 and _is_primitive(poly, degree, order, factors):
                found.append((degree, poly))
                if len(found) == count:
                    break
        degree += 1
    return tuple(found)


def _prime_factors(n: int) -> tuple[int, ...]:
    out, p = [], 2
    while p * p <= n:
        if n % p == 0:
            out.append(p)
            while n % p == 0:
                n //= p
        p += 1
    if n > 1:
        out.append(n)
    return tuple(out)


def _mulmod(a: int, b: int, poly: int, degree: int) -> int:
    out = 0
    while b:
        if b & 1:
            out ^= a
        b >>= 1
        a <<= 1
        if a >> degree & 1:
            a ^= poly
    return out


def _powmod(x: int, e: int, poly: int, degree: int) -> int:
    out = 1
    while e:
        if e & 1:
            out = _mulmod(out, x, poly, degree)
        x = _mulmod(x, x, poly, degree)
        e >>= 1
    return out


def _is_primitive(poly: int, degree: int, order: int, factors: tuple[int, ...]) -> bool:
    """x generates the multiplicative group of GF(2)[x] / poly (of order 2**degree - 1)."""
    if degree == 1:
        return poly == 0b11
    x = 0b10
    if _powmod(x, order, poly, degree) != 1:
        return False
    return all(_powmod(x, order // f, poly, degree) != 1 for f in factors)


@functools.cache
def direction_numbers(dims: int) -> tuple[tuple[int, ...], ...]:
    """``v[d][i]`` (BITS-bit ints) of Sobol coordinate d; the first is van der Corput's."""
    out = [tuple(1 << (BITS - 1 - i) for i in range(BITS))]
    for d, (degree, poly) in enumerate(_primitive_polynomials(dims - 1), start=1):
        m = []
        for j in range(1, min(degree, BITS) + 1):  # initial m_j: odd, below 2**j, from a fixed hash
            h = draws.fmix32(draws.signed32(d * 0x9E3779B1 + j), draws.signed32)
            m.append(((h & 0x7FFFFFFF) % (1 << j)) | 1)
        a = poly ^ (1 << degree) ^ 1  # the inner coefficients of the polynomial
        for j in range(degree, BITS):
            new = m[j - degree] ^ (m[j - degree] << degree)
            for i in range(1, degree):
                if a >> (degree - i) & 1:  # a_i, the coefficient of x**(degree - i)
                    new ^= m[j - i] << i
            m.append(new)
        out.append(tuple(m[i] << (BITS - 1 - i) for i in range(BITS)))
    return tuple(out)


def sobol(dim: int, num_slices: int, keys: list[Any], xp: Any, device: Any, dtype: Any) -> Array:
    """Unit columns (dim, num_slices) from scrambled Sobol points mapped to the sphere."""
    pairs = (dim + 1) // 2
    v = xp.asarray(direction_numbers(2 * pairs), dtype=xp.int32, device=device)  # (2P, BITS)
    index = xp.arange(num_slices, dtype=xp.int32, device=device)  # point 0 becomes the shift
    x = xp.zeros((2 * pairs, num_slices), dtype=xp.int32, device=device)
    for i in range(min(BITS, max(1, (num_slices - 1).bit_length()))):
        bit = (index >> i) & 1
        x = x ^ (bit[None, :] * v[:, i : i + 1])
    # Digital shift: one random BITS-bit word per coordinate, from the seed's keys.
    coordinate = xp.arange(2 * pairs, dtype=xp.int32, device=device)
    shift = (draws.hash32(coordinate, keys[0], keys[1]) >> 2) & ((1 << BITS) - 1)
    x = x ^ shift[:, None]
    # The top 23 bits, as (m + 1/2) / 2**23 in (0, 1): exact in float32 and float64.
    u = xp.astype((x >> (BITS - 23)) & 0x7FFFFF, dtype) * 2.0**-23 + 2.0**-24
    radius = xp.sqrt(-2.0 * xp.log(u[:pairs, :]))
    angle = (2.0 * math.pi) * u[pairs:, :]
    gauss = xp.concat([radius * xp.cos(angle), radius * xp.sin(angle)], axis=0)[:dim, :]
    return gauss / xp.sqrt(xp.sum(gauss * gauss, axis=0, keepdims=True))
