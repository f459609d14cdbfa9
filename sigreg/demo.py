"""The demo of ``python -m sigreg``: a collapsed cloud unfolds under SIGReg.

It replays section 04 of the SIGReg visual story: the points of a thin line in
3-D are moved by plain gradient steps on SIGReg (NumPy, analytic gradient, fresh
slice directions every step) until the cloud is round.
"""

from __future__ import annotations

import numpy as np

from ._api import value_and_grad

NUM_POINTS = 300
STEPS = 120
LEARNING_RATE = 1.0
NUM_SLICES = 64


def collapsed_cloud(seed: int = 0) -> np.ndarray:
    """A thin line in 3-D: one direction carries all the variance."""
    rng = np.random.default_rng(seed)
    line = np.array([1.0, 0.5, -0.3]) / np.linalg.norm([1.0, 0.5, -0.3])
    return rng.standard_normal((NUM_POINTS, 1)) * line + 0.02 * rng.standard_normal((NUM_POINTS, 3))


def spreads(z: np.ndarray) -> np.ndarray:
    """Standard deviations along the principal axes, largest first."""
    return np.sqrt(np.linalg.eigvalsh(np.cov(z.T)))[::-1]


def unfold(z: np.ndarray, steps: int = STEPS, every: int = 10):
    """Yield ``(step, SIGReg value, z)`` every ``every`` gradient steps."""
    for step in range(steps + 1):
        value, grad = value_and_grad(z, num_slices=NUM_SLICES, seed=step)
        if step % every == 0:
            yield step, float(value), z
        z = z - LEARNING_RATE * grad
