"""Independent float64 NumPy oracles, written the naive way.

They materialise the full N x K x T tensor, integrate on the full symmetric
grid with ``numpy.trapezoid`` and complex exponentials: nothing is shared with
the library's folded half-line rule, angle addition or blocking.
"""

from __future__ import annotations

import math

import numpy as np


def _trapezoid(y: np.ndarray, x: np.ndarray, axis: int = -1) -> np.ndarray:
    trapezoid = getattr(np, "trapezoid", None) or np.trapz  # noqa: NPY201 # NumPy < 2 has only trapz
    return trapezoid(y, x, axis=axis)


def epps_pulley(u: np.ndarray, t_max: float = 3.0, num_points: int = 17) -> np.ndarray:
    """EP of each column of ``u`` (N, K) on the full grid ``linspace(-t_max, t_max, 2P-1)``."""
    u = np.asarray(u, dtype=np.float64)
    t = np.linspace(-t_max, t_max, 2 * num_points - 1)
    phi = np.exp(-0.5 * t**2)
    ecf = np.exp(1j * u[:, :, None] * t).mean(axis=0)  # (K, T)
    err = np.abs(ecf - phi) ** 2 * phi
    return u.shape[0] * _trapezoid(err, t, axis=-1)


def paper_epps_pulley(u: np.ndarray) -> np.ndarray:
    """The paper's Algorithm 1 grid: ``linspace(-5, 5, 17)``, full trapezoid."""
    u = np.asarray(u, dtype=np.float64)
    t = np.linspace(-5, 5, 17)
    phi = np.exp(-0.5 * t**2)
    ecf = np.exp(1j * u[:, :, None] * t).mean(axis=0)
    return u.shape[0] * _trapezoid(np.abs(ecf - phi) ** 2 * phi, t, axis=-1)


def exact_epps_pulley(u: np.ndarray) -> np.ndarray:
    """The closed form (docs/numbers.md), pairwise, one column at a time."""
    u = np.asarray(u, dtype=np.float64)
    n = u.shape[0]
    out = []
    for x in u.T:
        d = x[:, None] - x[None, :]
        t = np.exp(-0.5 * d**2).sum() / n - math.sqrt(2) * np.exp(-0.25 * x**2).sum() + n / math.sqrt(3)
        out.append(math.sqrt(2 * math.pi) * t)
    return np.array(out)


def sigreg(z: np.ndarray, a: np.ndarray, **kw) -> np.ndarray:
    """Per-slice statistics of ``z`` (..., N, D) with directions ``a`` (D, K): (..., K)."""
    z = np.asarray(z, dtype=np.float64)
    u = z @ np.asarray(a, dtype=np.float64)
    flat = u.reshape(-1, *u.shape[-2:])
    return np.stack([epps_pulley(x, **kw) for x in flat]).reshape(*u.shape[:-2], u.shape[-1])


def numerical_grad(f, z: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Central finite differences of a scalar function of ``z``."""
    z = np.array(z, dtype=np.float64)
    g = np.zeros_like(z)
    for idx in np.ndindex(z.shape):
        zp, zm = z.copy(), z.copy()
        zp[idx] += h
        zm[idx] -= h
        g[idx] = (f(zp) - f(zm)) / (2 * h)
    return g
