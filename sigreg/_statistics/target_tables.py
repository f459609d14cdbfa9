"""Host float64 maths of the targets (plain Python floats): characteristic functions by quadrature,
the sphere's Bessel CF, quantile tables. Computed once per target and cached.

Everything here is static, like the quadrature grids: it becomes a constant of a compiled graph.
"""

from __future__ import annotations

import cmath
import decimal
import functools
import math
import operator
from collections.abc import Callable
from dataclasses import dataclass

# The CFs of the generalised Gaussians are sums over Gauss-Legendre panels in a logarithmic
# variable. Each panel spans at most _CHANGE of log-magnitude plus phase of the integrand, measured
# _MARGIN panel widths beyond its start (Gauss-Legendre needs the integrand tame on an ellipse
# around the panel, not only on it: exp(-e^(p u) / p) changes much faster just past the panel for
# large p). Checked against 30-digit mpmath and scipy.integrate.quad: about 1e-15 absolute
# (tests/statistics/test_targets.py).
_GL_POINTS = 16
_CHANGE = 12.0
_MARGIN = 1.5
# Mass left out at either end of a rule.
_NEGLIGIBLE = 1e-17
_LOG_NEGLIGIBLE = math.log(_NEGLIGIBLE)
# A rule of more panels than this is refused: 4096 terms per knot, so that a table's first
# 515 knots stay within about TABLE_WORK (below). Enough for a phase range tau * reach of about
# 2000 radians at the top of tau's octave (the rule covers it whole): beta = 1 to t = 45.
MAX_PANELS = 256


class OutOfReach(ValueError):
    """The CF cannot be computed to its tolerance within the budget (the target names itself)."""


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


def _gn_constant(p: float) -> float:
    """``c`` such that ``c exp(-|s|^p / p)`` is a density on the real line."""
    return float(p ** (1.0 - 1.0 / p)) / (2.0 * math.gamma(1.0 / p))


def gn_unit_scale(p: float) -> float:
    """The scale sigma that gives the generalised Gaussian ``exp(-|s|^p / p)`` unit variance."""
    return 1.0 / math.sqrt(p ** (2.0 / p) * math.gamma(3.0 / p) / math.gamma(1.0 / p))


def gn_fourth_moment_root(p: float) -> float:
    """``E[S^4]^(1/4)`` for S of density ``c exp(-|s|^p / p)``: the width of the CF's peak at 0."""
    a = 1.0 / p
    return math.exp(a * math.log(p) + (math.lgamma(5.0 * a) - math.lgamma(a)) / 4.0)


def _gamma_tail(a: float, log_mass: float) -> float:
    """A point g beyond which the Gamma(a) law holds at most ``exp(log_mass)``.

    From ``Q(a, g) <= g^(a-1) e^(-g) / Gamma(a) * g / (g - max(a - 1, 0))`` (the tail's terms fall
    geometrically), solved for g by fixed-point iteration."""
    g = max(a, 1.0) - log_mass
    for _ in range(60):
        g = -log_mass + (a - 1.0) * math.log(g) - math.lgamma(a) + math.log(g / (g - max(a - 1.0, 0.0)))
    return max(g, a + 1.0)


def _grow(x: float) -> float:
    return math.exp(min(x, 700.0))


def _panels(u0: float, u1: float, rate: Callable[[float], float]) -> list[tuple[float, float]]:
    """Panels ``[u, u + w]`` covering ``[u0, u1]``, with ``w rate(u + _MARGIN w) <= _CHANGE``
    (``rate`` bounds the integrand's rate of change of log-magnitude plus phase; increasing)."""
    out = []
    u = u0
    while u < u1:
        width = _CHANGE / rate(u)
        while width * rate(u + _MARGIN * width) > _CHANGE:
            width *= 0.75
        end = min(u + width, u1)
        out.append((u, end))
        u = end
        if len(out) > MAX_PANELS:
            raise OutOfReach(f"its characteristic function needs more than {MAX_PANELS} quadrature panels")
    return out


# Terms summed so far (cos, sin or exp times a weight), for the budget of cf_table.
work = [0]


@dataclass(frozen=True)
class Rule:
    """A quadrature rule of ``int g(x) exp(i tau x) dx`` as sums over nodes (parallel tuples).

    ``oscillating``: ``sum w_k exp(i tau x_k)``, real weights ``w`` (the real line);
    else ``sum w_k exp(-tau x_k)``, complex weights ``w + i w_im`` (the turned contour).
    """

    oscillating: bool
    x: tuple[float, ...]
    w: tuple[float, ...]
    w_im: tuple[float, ...]

    def at(self, tau: float) -> complex:
        # map pipelines: about three times as fast as a generator in CPython.
        work[0] += 2 * len(self.x)
        if self.oscillating:
            phases = tuple(map(tau.__mul__, self.x))
            return complex(
                sum(map(operator.mul, self.w, map(math.cos, phases))),
                sum(map(operator.mul, self.w, map(math.sin, phases))),
            )
        decay = tuple(map(math.exp, map((-tau).__mul__, self.x)))
        return complex(sum(map(operator.mul, self.w, decay)), sum(map(operator.mul, self.w_im, decay)))

    def real_at(self, tau: float) -> float:
        # The real part alone (a symmetric law's CF): half the work of ``at``.
        work[0] += len(self.x)
        if self.oscillating:
            return float(sum(map(operator.mul, self.w, map(math.cos, map(tau.__mul__, self.x)))))
        return float(sum(map(operator.mul, self.w, map(math.exp, map((-tau).__mul__, self.x)))))


@functools.cache
def _gn_reach(p: float) -> float:
    """The s beyond which ``c exp(-s^p / p)`` holds at most _NEGLIGIBLE of mass."""
    return float((p * _gamma_tail(1.0 / p, _LOG_NEGLIGIBLE)) ** (1.0 / p))


@functools.lru_cache(maxsize=512)
def _real_line_rule(p: float, end: float, tau_hi: float) -> Rule:
    """``int_0^end c exp(-s^p / p) exp(i tau s) ds`` for ``0 <= tau <= tau_hi``, in ``u = log s``.

    ``[0, s_min]`` is one panel in s, where the density is ``c (1 - s^p / p)`` to well below
    _NEGLIGIBLE (its singular part ``s^p`` integrates to ``c s_min^(1 + p) / p``) and the phase
    turns by at most _CHANGE."""
    c = _gn_constant(p)
    top = min(end, _gn_reach(p))
    s_min = min(top, (_NEGLIGIBLE * p / c) ** (1.0 / (1.0 + p)), _CHANGE / (1.0 + tau_hi))
    x, w = _legendre(_GL_POINTS)
    nodes = [s_min * xi for xi in x]
    weights = [s_min * wi for wi in w]
    if top > s_min:
        # d/du of log(s c exp(-s^p/p)) is 1 - s^p; of the phase tau s, tau s.
        rate = lambda u: 1.0 + _grow(p * u) + tau_hi * _grow(u)  # noqa: E731
        for lo, hi in _panels(math.log(s_min), math.log(top), rate):
            for xi, wi in zip(x, w, strict=True):
                s = math.exp(lo + (hi - lo) * xi)
                nodes.append(s)
                weights.append(wi * (hi - lo) * s)
    density = [wk * c * math.exp(-(s**p) / p) for s, wk in zip(nodes, weights, strict=True)]
    return Rule(True, tuple(nodes), tuple(density), ())


@functools.lru_cache(maxsize=512)
def _contour_rule(p: float, tau_lo: float, tau_hi: float) -> Rule:
    """``int_0^inf c exp(-s^p / p) exp(i tau s) ds`` for ``tau_lo <= tau <= tau_hi``, ``p < 1``.

    On the imaginary axis ``s = i r`` (the density decays in the quarter plane between for
    p < 1, so the contour may turn there), then ``w = r^p``:
    ``i c a int_0^inf w^(a-1) exp(-(kappa + i lambda) w) exp(-tau w^a) dw`` with ``a = 1/p``,
    ``kappa + i lambda = exp(i p pi / 2) / p``. Nothing oscillates faster than ``lambda w``:
    the heavy tail whose phase ``tau s`` would need millions of nodes on the real line
    becomes the damping ``exp(-tau w^a)``. In ``u = log w``."""
    a = 1.0 / p
    c = _gn_constant(p)
    kappa, lam = math.cos(0.5 * math.pi * p) / p, math.sin(0.5 * math.pi * p) / p
    # The envelope's mass beyond w_max: c a Gamma(a) Q(a, kappa w) / kappa^a, at most _NEGLIGIBLE.
    w_max = _gamma_tail(a, _LOG_NEGLIGIBLE + a * math.log(p * kappa) + math.log(2.0)) / kappa
    if tau_lo > 0.0:
        w_max = min(w_max, (-_LOG_NEGLIGIBLE / tau_lo) ** p)  # exp(-tau w^a) below _NEGLIGIBLE
    w_min = min(w_max, (_NEGLIGIBLE / c) ** p)  # c w_min^a of mass in [0, w_min]
    x, gw = _legendre(_GL_POINTS)
    front, z = 1j * c * a, complex(-kappa, -lam)
    weights = [
        front * wi * w_min * (w_min * xi) ** (a - 1.0) * cmath.exp(z * w_min * xi)
        for xi, wi in zip(x, gw, strict=True)
    ]
    powers = [(w_min * xi) ** a for xi in x]
    # d/du: a - kappa w - a tau w^a of the log-magnitude, lambda w of the phase.
    rate = lambda u: a + (kappa + lam) * _grow(u) + a * tau_hi * _grow(a * u)  # noqa: E731
    for lo, hi in _panels(math.log(w_min), math.log(w_max), rate):
        for xi, wi in zip(x, gw, strict=True):
            u = lo + (hi - lo) * xi
            power = math.exp(a * u)
            weights.append(front * wi * (hi - lo) * power * cmath.exp(z * math.exp(u)))
            powers.append(power)
    return Rule(False, tuple(powers), tuple(w.real for w in weights), tuple(w.imag for w in weights))


_SMALLEST_BUCKET = 2.0**-30


def _half_line_rule(p: float, end: float, tau: float) -> Rule:
    """The rule of ``int_0^end c exp(-s^p / p) exp(i tau s) ds`` for ``tau >= 0``.

    It depends on tau only through its octave ``[2^(e-1), 2^e)`` (so a knot's value does not
    depend on which other knots are asked for), and is cached by it."""
    if tau < _SMALLEST_BUCKET:
        lo, hi = 0.0, _SMALLEST_BUCKET
    else:
        e = math.frexp(tau)[1]
        lo, hi = math.ldexp(0.5, e), math.ldexp(1.0, e)
    if p < 1.0 and end == math.inf:
        return _contour_rule(p, lo, hi)
    return _real_line_rule(p, end, hi)


def _half_line(p: float, end: float, tau: float) -> complex:
    return _half_line_rule(p, end, tau).at(tau)


@functools.cache
def gn_cf(
    p: float, mu: float, sigma: float, rectified: bool, t: tuple[float, ...]
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Real and imaginary parts of the CF of ``mu + sigma S`` (rectified: of its positive part) at ``t``.

    S has density ``c exp(-|s|^p / p)``. Each knot on its own: exactly 1 at 0, else within about
    1e-15 of the integral. Cached: a statistic with a target evaluates it at its knots on every
    construction, i.e. on every call of ``sigreg.sigreg(z, target=...)``."""
    values = [_gn_cf_at(p, mu, sigma, rectified, tj) for tj in t]
    return tuple(v.real for v in values), tuple(v.imag for v in values)


def _gn_cf_at(p: float, mu: float, sigma: float, rectified: bool, t: float) -> complex:
    if t == 0.0:
        return 1.0 + 0.0j
    if t < 0.0:  # the CF of a real law: psi(-t) = conj(psi(t))
        return _gn_cf_at(p, mu, sigma, rectified, -t).conjugate()
    tau = t * sigma
    if not rectified:
        return complex(2.0 * _half_line_rule(p, math.inf, tau).real_at(tau))
    # ReLU(mu + sigma S): the mass P(S <= s0) at 0, s0 = -mu / sigma, and exp(i t mu) times
    # int_s0^inf c exp(-|s|^p / p) exp(i tau s) ds, from integrals over [0, end].
    s0 = -mu / sigma
    reach = _gn_reach(p)
    mass = _zero_mass(p, s0)
    if s0 >= reach:
        return complex(mass)
    whole = _half_line(p, math.inf, tau)
    if s0 <= -reach:
        continuous = complex(2.0 * whole.real)
    elif s0 < 0.0:  # [s0, 0] is [0, -s0] reflected: the conjugate
        continuous = whole + _half_line(p, -s0, tau).conjugate()
    else:
        continuous = whole - _half_line(p, s0, tau)
    return mass + cmath.exp(1j * t * mu) * continuous


@functools.cache
def _zero_mass(p: float, s0: float) -> float:
    """``P(S <= s0)`` for S of density ``c exp(-|s|^p / p)``."""
    tail = 0.5 * (1.0 - gamma_p(1.0 / p, abs(s0) ** p / p))  # P(S > |s0|)
    return tail if s0 <= 0.0 else 1.0 - tail


# The table of a CF for the array form: its values at t_k = scale * expm1(k h), k = 0 .. M + 2,
# cubic (four-point) interpolation in v = log1p(t / scale). The grading puts knots where a
# heavy-tailed law's CF has its sharp peak (scale: about 1 / E[X^4]^(1/4)). M starts at
# TABLE_POINTS and doubles until the interpolation error, estimated from the table's fourth
# differences, is within TABLE_TOLERANCE (at most 1/24 of a fourth difference, at the first
# interval; 0.0234 of one in the others).
TABLE_POINTS = 512
MAX_TABLE_POINTS = 8192
TABLE_TOLERANCE = 5e-10
# Terms (a cos, sin or exp times a weight) that one table may sum: about 0.5 s of CPython at
# the 250 ns a term, quadrature included, of a shared 2-core VM (benchmarks/target_tables.py).
TABLE_WORK = 2_000_000


def interpolate(values: tuple[float, ...], x: float) -> float:
    """The four-point Lagrange interpolation of ``values`` at the fractional index ``x``, as
    :meth:`sigreg.targets.ProductTarget` does it with array operations."""
    base = min(max(math.floor(x) - 1, 0), len(values) - 4)
    q = x - base
    weights = (
        -(q - 1.0) * (q - 2.0) * (q - 3.0) / 6.0,
        q * (q - 2.0) * (q - 3.0) / 2.0,
        -q * (q - 1.0) * (q - 3.0) / 2.0,
        q * (q - 1.0) * (q - 2.0) / 6.0,
    )
    return sum(w * values[base + k] for k, w in enumerate(weights))


def _interpolation_error(values: tuple[float, ...]) -> float:
    fourth = (
        values[k] - 4.0 * values[k + 1] + 6.0 * values[k + 2] - 4.0 * values[k + 3] + values[k + 4]
        for k in range(len(values) - 4)
    )
    return max(map(abs, fourth)) / 24.0


@functools.cache
def cf_table(
    cf: Callable[[tuple[float, ...]], tuple[tuple[float, ...], tuple[float, ...]]], bound: float, scale: float
) -> tuple[float, float, tuple[float, ...], tuple[float, ...]]:
    """``(scale, h, re, im)``: the CF at ``t_k = scale * expm1(k h)`` for ``k = 0 .. M + 2``, with
    ``M h = log1p(bound / scale)`` (two knots beyond ``bound``: a four-point stencil never
    leaves the table). Raises OutOfReach where MAX_TABLE_POINTS do not reach TABLE_TOLERANCE."""
    points = TABLE_POINTS
    span = math.log1p(bound / scale)
    start = work[0]
    re, im = cf(tuple(scale * math.expm1(k * span / points) for k in range(points + 3)))
    while True:
        error = max(_interpolation_error(re), _interpolation_error(im))
        if error <= TABLE_TOLERANCE:
            return scale, span / points, re, im
        # Doubling costs about as much as everything so far, and divides the error by about 16:
        # refused at once where even MAX_TABLE_POINTS would not do.
        hopeless = error > TABLE_TOLERANCE * 16.0 ** math.log2(MAX_TABLE_POINTS / points)
        if hopeless or points * 2 > MAX_TABLE_POINTS or 2 * (work[0] - start) > TABLE_WORK:
            raise OutOfReach(
                f"its characteristic function on [0, {bound}] cannot be tabulated to {TABLE_TOLERANCE} "
                f"within {min(points * 2, MAX_TABLE_POINTS)} points and the time budget (interpolation "
                f"error about {error:.1e} with {points})"
            )
        # Twice the points: the old knots are the even ones, the odd ones are new.
        points *= 2
        h = span / points
        odd_re, odd_im = cf(tuple(scale * math.expm1((2 * k + 1) * h) for k in range(points // 2 + 1)))
        half = points // 2
        re = (*(v for k in range(half + 1) for v in (re[k], odd_re[k])), re[half + 1])
        im = (*(v for k in range(half + 1) for v in (im[k], odd_im[k])), im[half + 1])


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
