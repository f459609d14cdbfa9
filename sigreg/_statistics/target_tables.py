"""Host float64 maths of the targets (plain Python floats): characteristic functions by quadrature,
the sphere's Bessel CF, quantile tables. Computed once per target and cached.

Everything here is static, like the quadrature grids: it becomes a constant of a compiled graph.
"""

from __future__ import annotations

import decimal
import functools
import math
from collections.abc import Callable

# Gauss-Legendre points per panel of the composite rules.
_GL_POINTS = 8
# The density of a generalised Gaussian is cut where exp(-|s|^p / p) < exp(-_TAIL).
_TAIL = 50.0


@functools.cache
def _legendre(n: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Nodes and weights of n-point Gauss-Legendre on [0, 1] (Newton on the Legendre recurrence)."""
    nodes, weights = [], []
    for i in range(n):
        x = math.cos(math.pi * (i + 0.75) / (n + 0.5))
        for _ in range(100):
            p0, p1 = 1.0, x
            for k in range(2, n + 1):
                p0, p1 = p1, ((2 * k - 1) * x * p1 - (k - 1) * p0) / k
            dp = n * (x * p1 - p0) / (x * x - 1.0)
            step = p1 / dp
            x -= step
            if abs(step) < 1e-16:
                break
        nodes.append(0.5 * (1.0 - x))
        weights.append(1.0 / ((1.0 - x * x) * dp * dp))
    return tuple(nodes), tuple(weights)


def _panels(a: float, b: float, count: int, grade: float) -> list[tuple[float, float]]:
    """(node, weight) of a composite Gauss-Legendre rule on [a, b], nodes graded towards ``a`` by
    ``s = a + (b - a) w^grade`` (a density that is not smooth at ``a`` then integrates accurately)."""
    x, w = _legendre(_GL_POINTS)
    out = []
    for i in range(count):
        for xi, wi in zip(x, w, strict=True):
            v = (i + xi) / count
            out.append((a + (b - a) * v**grade, (b - a) * grade * v ** (grade - 1.0) * wi / count))
    return out


def _gn_constant(p: float) -> float:
    """``c`` such that ``c exp(-|s|^p / p)`` is a density on the real line."""
    return float(p ** (1.0 - 1.0 / p)) / (2.0 * math.gamma(1.0 / p))


def gn_unit_scale(p: float) -> float:
    """The scale sigma that gives the generalised Gaussian ``exp(-|s|^p / p)`` unit variance."""
    return 1.0 / math.sqrt(p ** (2.0 / p) * math.gamma(3.0 / p) / math.gamma(1.0 / p))


@functools.cache
def _gn_rule(p: float, mu: float, sigma: float, rectified: bool, t_max: float) -> list[tuple[float, float]]:
    """(x, weight * density) pairs on the continuous part of ``mu + sigma * S``, S of density
    ``c exp(-|s|^p/p)``, cut to ``x > 0`` when ``rectified``: the CF's quadrature rule up to ``t_max``."""
    c = _gn_constant(p)
    reach = (_TAIL * p) ** (1.0 / p)
    lower = max(-reach, -mu / sigma) if rectified else -reach
    pieces: list[tuple[float, float, float]] = []  # (start, end, grade): graded at the start
    if lower < 0.0:
        pieces.append((0.0, lower, 1.0))
    pieces.append((max(lower, 0.0), reach, 1.0))
    rule = []
    for start, end, _ in pieces:
        span = abs(end - start)
        if span == 0.0:
            continue
        # Near the kink at 0 a graded rule on [0, 1]; beyond it panels of at most 3 rad of phase.
        near = min(span, 1.0)
        direction = 1.0 if end > start else -1.0
        for s, w in _panels(0.0, near, 24, max(1.0, 4.0 / p)):
            rule.append((start + direction * s, w))
        if span > near:
            count = 16 + math.ceil(t_max * sigma * (span - near) / 3.0)
            for s, w in _panels(near, span, count, 1.0):
                rule.append((start + direction * s, w))
    return [(mu + sigma * s, w * c * math.exp(-(abs(s) ** p) / p)) for s, w in rule]


@functools.cache
def gn_cf(
    p: float, mu: float, sigma: float, rectified: bool, t: tuple[float, ...]
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Real and imaginary parts of the CF of ``mu + sigma S`` (rectified: of its positive part) at ``t``.

    Cached: a statistic with a target evaluates it at its knots on every construction, i.e. on every
    call of ``sigreg.sigreg(z, target=...)`` (about 50 ms of host quadrature each, uncached)."""
    t_max = max((abs(tj) for tj in t), default=0.0)
    rule = _gn_rule(p, mu, sigma, rectified, _bucket(t_max))
    mass_at_zero = 1.0 - math.fsum(w for _, w in rule) if rectified else 0.0
    re = tuple(mass_at_zero + math.fsum(w * math.cos(tj * x) for x, w in rule) for tj in t)
    im = tuple(math.fsum(w * math.sin(tj * x) for x, w in rule) for tj in t)
    return re, im


def _bucket(t_max: float) -> float:
    # The rule depends on t_max only through its panel count: round up so that the cache is reused.
    return float(2.0 ** math.ceil(math.log2(max(t_max, 1.0))))


# Table of the CF for the array form: TABLE_POINTS + 1 values on [0, t_max], cubic interpolation.
TABLE_POINTS = 512


@functools.cache
def cf_table(
    cf: Callable[[tuple[float, ...]], tuple[tuple[float, ...], tuple[float, ...]]], t_max: float
) -> tuple[float, tuple[float, ...], tuple[float, ...]]:
    """``(h, re, im)``: the CF at ``k h`` for ``k = 0 .. TABLE_POINTS + 2`` (two beyond ``t_max`` so
    that a four-point stencil never leaves the table)."""
    h = t_max / TABLE_POINTS
    re, im = cf(tuple(k * h for k in range(TABLE_POINTS + 3)))
    return h, re, im


def sphere_cf(dim: int, t: tuple[float, ...]) -> tuple[float, ...]:
    """CF of the projection onto a unit vector of a uniform point on the sphere of radius sqrt(dim).

    ``E exp(i t X) = Gamma(nu + 1) (2/r)^nu J_nu(r)``, ``r = t sqrt(dim)``, ``nu = dim/2 - 1``; by its
    power series ``sum_m (-r^2/4)^m / (m! (nu + 1)_m)`` in decimal arithmetic with enough digits for
    the cancellation (the terms' sum is at most about ``exp(r)``).
    """
    return tuple(_sphere_cf_at(dim, abs(tj)) for tj in t)


def _sphere_cf_at(dim: int, t: float) -> float:
    if t <= 4.0:
        # (nu + 1)_m >= (D/2)^m, so the terms sum to at most exp(t^2/2) <= e^8 whatever D: float64
        # loses at most 4 digits. Plain float arithmetic: torch.compile traces it (a first call
        # under a trace computes it there).
        x = -0.25 * t * t * dim
        nu1 = 0.5 * dim
        term = total = 1.0
        m = 0
        # The ratio of successive terms falls with m: they grow, then fall below any tolerance.
        while abs(term) > 1e-18:
            m += 1
            term = term * x / (m * (nu1 + m - 1))
            total += term
        return total
    return _sphere_cf_decimal(dim, t)


@functools.cache
def _sphere_cf_decimal(dim: int, t: float) -> float:
    r2 = t * t * dim
    digits = 30 + int(math.sqrt(r2) / math.log(10.0))
    with decimal.localcontext() as ctx:
        ctx.prec = digits
        x = -decimal.Decimal(r2) / 4
        nu1 = decimal.Decimal(dim) / 2  # nu + 1
        term = decimal.Decimal(1)
        total = term
        eps = decimal.Decimal(10) ** (-25)
        m = 0
        while True:
            m += 1
            term = term * x / (m * (nu1 + m - 1))
            total += term
            if abs(term) < eps and m > math.sqrt(r2):
                break
        return float(total)


def gamma_p(a: float, x: float) -> float:
    """The regularised lower incomplete gamma function P(a, x) (series, or continued fraction)."""
    if x <= 0.0:
        return 0.0
    log_front = a * math.log(x) - x - math.lgamma(a)
    if x < a + 1.0:
        term = total = 1.0 / a
        ap = a
        for _ in range(1000):
            ap += 1.0
            term *= x / ap
            total += term
            if abs(term) < abs(total) * 1e-17:
                break
        return total * math.exp(log_front)
    # Lentz's continued fraction for Q(a, x).
    b = x + 1.0 - a
    c = 1e300
    d = 1.0 / b
    h = d
    for i in range(1, 1000):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        d = 1e-300 if abs(d) < 1e-300 else d
        c = b + an / c
        c = 1e-300 if abs(c) < 1e-300 else c
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-16:
            break
    return 1.0 - math.exp(log_front) * h


# Quantile table of |S| in the coordinate v = -log(1 - u), on [0, QUANTILE_V_MAX]: u < 1 - 2**-24.
QUANTILE_POINTS = 2048
QUANTILE_V_MAX = 24.0 * math.log(2.0) + 0.1


@functools.cache
def gn_magnitude_quantiles(p: float) -> tuple[float, ...]:
    """|S| for S of density ``c exp(-|s|^p/p)`` at ``P(|S| <= s) = 1 - exp(-v)``, ``v = k dv``.

    ``|S|^p / p`` is Gamma(1/p, 1): each v is solved by Newton's method on ``-log Q(1/p, g)``,
    started from the previous table point.
    """
    a = 1.0 / p
    dv = QUANTILE_V_MAX / QUANTILE_POINTS
    out = [0.0]
    g = 0.0
    for k in range(1, QUANTILE_POINTS + 1):
        v = k * dv
        if g == 0.0:
            g = (math.gamma(a + 1.0) * v) ** p  # P(a, g) ~ g^a / Gamma(a + 1) near 0
        for _ in range(60):
            q = 1.0 - gamma_p(a, g)
            f = -math.log(q) - v if q > 0.0 else 50.0
            dens = math.exp((a - 1.0) * math.log(g) - g - math.lgamma(a))
            step = f / (dens / q)
            g_new = g - step
            g = g_new if g_new > 0.0 else 0.5 * g
            if abs(step) < 1e-14 * max(g, 1e-300):
                break
        out.append((p * g) ** (1.0 / p))
    return tuple(out)
