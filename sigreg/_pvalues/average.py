"""The asymptotic null law of the Epps-Pulley statistic averaged over K slices, on the host.

The slices share the samples: for unit directions ``a_k``, ``a_l`` with ``rho = a_k . a_l`` the
projections of N(0, I) data are jointly Gaussian with correlation ``rho``, and the scaled deviations
``sqrt(N) (c_j - phi_j)``, ``sqrt(N) s_j`` of the two slices have cross-covariances

    Cov[cos tX, cos sY] = phi(t) phi(s) (cosh(rho t s) - 1),
    Cov[sin tX, sin sY] = phi(t) phi(s) sinh(rho t s),

cos and sin uncorrelated (``rho = 1`` gives one slice's covariances, :mod:`.asymptotic`). The average
is then asymptotically ``sum_i lambda_i chi2_1``, the ``lambda_i`` the eigenvalues of the 2PK x 2PK
matrix ``M = [W^1/2 C(rho_kl) W^1/2]_kl / K``: a law fixed by the directions' Gram matrix. Its
cumulants are ``kappa_r = 2^(r-1) (r-1)! tr(M^r)``:

- ``kappa_1`` is one slice's null mean (the diagonal blocks are one slice's);
- ``kappa_2`` sums ``|B(rho_kl)|_F^2`` over pairs of slices, ``B(rho) = W^1/2 C(rho) W^1/2``
  tabulated in ``rho`` (O(K^2));
- ``kappa_3`` sums ``tr(B(rho_kl) B(rho_lm) B(rho_mk))`` over triples: the triples with a repeated
  slice exactly (O(K^2)), those of three distinct slices in the span of the leading eigenvectors of
  ``B(1)`` (those above 3% of the largest: within 1e-3 of the whole), by one product of matrices
  of side ``r K``; above ``MAX_TRIPLE_SLICES`` slices, the term in ``rho_kl rho_lm rho_mk`` over
  all of them (from ``A A^T``) and the rest over that many slices spread evenly, scaled up.

The law used is the shifted gamma with these three cumulants (Pearson type III). Against the exact
law (the eigenvalues of ``M``) it is within a few percent of the level at 0.05 and 0.01, and within
about 15% at 0.001 (docs/pvalues.md; ``benchmarks/pvalue_calibration.py`` measures it).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from .asymptotic import SurvivalTable

GRID_POINTS = 4097  # of rho in [-1, 1]: linear interpolation within 1e-7 of the tabulated functions
KEPT_EIGENVALUES = 0.03  # of B(1), relative to its largest: the span of the triples of distinct slices
MAX_TRIPLE_SLICES = 256  # slices whose distinct triples are summed: (r * 256)^3 operations at most
TABLE_POINTS = 2048
SMALLEST_TABLED = 1e-12  # survival probabilities below this are extrapolated
_EPS = 1e-15  # relative size of the last term of the incomplete gamma's series or fraction
_MAX_TERMS = 100_000  # both need O(sqrt(a)) terms near x = a, far fewer elsewhere


@dataclass(frozen=True)
class _Kernel:
    """Functions of ``rho`` on ``GRID_POINTS`` knots of [-1, 1], for one quadrature (cos and sin blocks)."""

    mean: float  # tr B(1): one slice's null mean
    cube: float  # tr B(1)^3
    square: np.ndarray  # |B(rho)|_F^2
    repeated: np.ndarray  # tr(B(1) B(rho)^2)
    blocks: tuple[np.ndarray, ...]  # per block, U^T B(rho) U (grid, r, r) in B(1)'s leading eigenvectors U
    blocks_repeated: np.ndarray  # the same truncation's tr(Q(1) Q(rho)^2), summed over blocks
    linear: float  # |U^T b_1|^2 in the sin block, b_1 = sqrt(W) phi t: Q's term in rho^1


@functools.cache
def _kernel(knots: tuple[float, ...], weights: tuple[float, ...]) -> _Kernel:
    t, w = np.asarray(knots), np.asarray(weights)
    a = np.sqrt(w) * np.exp(-0.5 * t * t)
    rho = np.linspace(-1.0, 1.0, GRID_POINTS)
    x = rho[:, None, None] * np.outer(t, t)
    b_blocks = [np.outer(a, a) * f for f in (np.cosh(x) - 1.0, np.sinh(x))]  # (grid, P, P), symmetric
    spectra = [np.linalg.eigh(b[-1]) for b in b_blocks]  # of B(1)
    largest = max(float(np.max(values)) for values, _ in spectra)
    mean = cube = 0.0
    square = np.zeros(GRID_POINTS)
    repeated = np.zeros(GRID_POINTS)
    blocks_repeated = np.zeros(GRID_POINTS)
    blocks = []
    linear = 0.0
    for b, (values, vectors), odd in zip(b_blocks, spectra, (False, True), strict=True):
        one = b[-1]
        mean += float(np.sum(values))
        cube += float(np.sum(values**3))
        square += np.sum(b * b, axis=(1, 2))
        repeated += np.sum((one @ b) * b, axis=(1, 2))  # tr(B(1) B B), B symmetric
        kept = vectors[:, values > KEPT_EIGENVALUES * largest]
        q = kept.T @ b @ kept
        blocks.append(q)
        blocks_repeated += np.sum((q[-1] @ q) * q, axis=(1, 2))
        if odd:  # sinh(rho t s) = rho t s + O(rho^3)
            linear = float(np.sum((kept.T @ (a * t)) ** 2))
    return _Kernel(mean, cube, square, repeated, tuple(blocks), blocks_repeated, linear)


def _lerp(gram: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where the entries of ``gram`` fall on the grid of rho: index of the knot below, and fraction."""
    position = (np.clip(gram, -1.0, 1.0) + 1.0) * ((GRID_POINTS - 1) / 2.0)
    index = np.minimum(position.astype(np.intp), GRID_POINTS - 2)
    return index, position - index


def _at(table: np.ndarray, index: np.ndarray, frac: np.ndarray) -> np.ndarray:
    below = table[index]
    frac = frac.reshape(frac.shape + (1,) * (table.ndim - 1))
    out: np.ndarray = below + frac * (table[index + 1] - below)
    return out


def unit_columns(directions: np.ndarray) -> np.ndarray:
    """The directions (D, K) in float64 with each column made unit (explicit ones may not be)."""
    a = np.asarray(directions, dtype=np.float64)
    unit: np.ndarray = a / np.linalg.norm(a, axis=0)
    return unit


def cumulants(
    directions: np.ndarray, knots: tuple[float, ...], weights: tuple[float, ...]
) -> tuple[float, float, float]:
    """The first three cumulants of the asymptotic null law of the average over the slices of the
    unit ``directions`` (D, K)."""
    kernel = _kernel(knots, weights)
    gram = directions.T @ directions
    np.fill_diagonal(gram, 1.0)
    k = gram.shape[0]
    index, frac = _lerp(gram)
    off = ~np.eye(k, dtype=bool)
    trace2 = float(np.sum(_at(kernel.square, index, frac)))
    repeated = float(np.sum(_at(kernel.repeated, index, frac)[off]))
    trace3 = k * kernel.cube + 3.0 * repeated + _distinct_triples(directions, gram, kernel)
    return kernel.mean, 2.0 * trace2 / k**2, 8.0 * trace3 / k**3


def _triangles(a: np.ndarray) -> float:
    """``sum rho_kl rho_lm rho_mk`` over distinct k, l, m, from the D x D matrix ``a a^T``: ``tr(E^3)``
    for ``E = a^T a - I``."""
    g = a @ a.T
    return float(np.trace(g @ g @ g) - 3.0 * np.sum(g * g) + 2.0 * a.shape[1])


def _distinct_triples(directions: np.ndarray, gram: np.ndarray, kernel: _Kernel) -> float:
    """``sum tr(B(rho_kl) B(rho_lm) B(rho_mk))`` over triples of distinct slices.

    Over at most ``MAX_TRIPLE_SLICES`` slices spread evenly, scaled up; the term in
    ``rho_kl rho_lm rho_mk`` (most of the sum) is summed over every slice (from the D x D matrix
    of the directions) and only the rest is scaled up from the subset.
    """
    k = gram.shape[0]
    if k < 3:
        return 0.0
    s = min(k, MAX_TRIPLE_SLICES)
    picked = np.unique(np.linspace(0, k - 1, s).round().astype(np.intp))
    s = picked.size
    sub = gram[np.ix_(picked, picked)]
    index, frac = _lerp(sub)
    total = 0.0
    for q in kernel.blocks:
        r = q.shape[-1]
        x = _at(q, index, frac)  # (s, s, r, r)
        m = x.transpose(0, 2, 1, 3).reshape(s * r, s * r)  # symmetric: Q(rho) is, and rho_kl = rho_lk
        total += float(np.sum((m @ m) * m))
    off = ~np.eye(s, dtype=bool)
    cube = sum(float(np.trace(np.linalg.matrix_power(q[-1], 3))) for q in kernel.blocks)
    repeated = float(np.sum(_at(kernel.blocks_repeated, index, frac)[off]))
    linear = kernel.linear * kernel.linear * kernel.linear
    rest = total - s * cube - 3.0 * repeated - linear * _triangles(directions[:, picked])
    scale = (k * (k - 1) * (k - 2)) / (s * (s - 1) * (s - 2))
    return float(linear * _triangles(directions) + rest * scale)


def log_gamma_sf(a: float, x: np.ndarray) -> np.ndarray:
    """``log Q(a, x)``, the regularised upper incomplete gamma function, for ``x`` >= 0 (an array).

    Numerical Recipes' rule: the series of ``P = 1 - Q`` below ``x = a + 1``, the continued
    fraction of ``Q`` (modified Lentz) above it, each run until every entry has converged.
    """
    x = np.asarray(x, dtype=np.float64)
    out = np.zeros_like(x)
    safe = np.maximum(x, 1e-300)
    front = a * np.log(safe) - safe - math.lgamma(a)  # log(x^a e^-x / Gamma(a))
    low = (x > 0) & (x < a + 1)
    if np.any(low):
        xs = x[low]
        term = np.full_like(xs, 1.0 / a)
        total = term.copy()
        for n in range(1, _MAX_TERMS):
            term = term * xs / (a + n)
            total += term
            if np.all(term < total * _EPS):
                break
        out[low] = np.log1p(-np.minimum(np.exp(front[low]) * total, 1.0))
    high = x >= a + 1
    if np.any(high):
        xs = x[high]
        tiny = 1e-300
        b = xs + 1.0 - a
        c = np.full_like(xs, 1.0 / tiny)
        d = 1.0 / b
        h = d.copy()
        for i in range(1, _MAX_TERMS):
            an = -i * (i - a)
            b = b + 2.0
            d = an * d + b
            d = np.where(np.abs(d) < tiny, tiny, d)
            c = b + an / c
            c = np.where(np.abs(c) < tiny, tiny, c)
            d = 1.0 / d
            step = d * c
            h = h * step
            if np.all(np.abs(step - 1.0) < _EPS):
                break
        out[high] = front[high] + np.log(h)
    return out


def survival_table(kappa1: float, kappa2: float, kappa3: float) -> SurvivalTable:
    """``log P(X > q)`` on a grid of ``q`` from 0, X the shifted gamma with these cumulants."""
    shape = 4.0 * kappa2**3 / kappa3**2
    scale = kappa3 / (2.0 * kappa2)
    loc = kappa1 - shape * scale
    # Beyond q_max the survival is below SMALLEST_TABLED: x_max from the tail P ~ x^(a-1) e^-x / Gamma(a).
    x_max = shape + 10.0 * math.sqrt(shape) - math.log(SMALLEST_TABLED) + 10.0
    q_max = max(loc + scale * x_max, 1e-6)
    q = np.linspace(0.0, q_max, TABLE_POINTS)
    log_sf = log_gamma_sf(shape, np.maximum(q - loc, 0.0) / scale)
    last = int(np.nonzero(log_sf > math.log(SMALLEST_TABLED))[0][-1])
    log_sf = log_sf[: max(last, 1) + 1]
    step = float(q[1])
    # Beyond the table, the slope of its last step or the limit -1/scale, whichever is less steep:
    # the larger p-value (the log-survival of a gamma law is concave for shape >= 1, convex below).
    slope = float(log_sf[-1] - log_sf[-2]) / step
    return SurvivalTable(step, tuple(log_sf.tolist()), max(slope, -1.0 / scale))


def quantile(table: SurvivalTable, survival: float) -> float:
    """The ``q`` with ``P(X > q) = survival`` on a survival table (its inverse, by interpolation)."""
    log_sf = np.asarray(table.log_sf)
    target = math.log(survival)
    if target <= log_sf[-1]:
        return float((len(log_sf) - 1) * table.step + (target - log_sf[-1]) / table.tail_slope)
    q = np.arange(len(log_sf)) * table.step
    return float(np.interp(-target, -log_sf, q))
