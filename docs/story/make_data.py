"""Compute every number of the SIGReg visual story and write it to ``data.js``.

Usage: ``python docs/story/make_data.py [OUTDIR]`` (default: this script's folder).

The page is a static, offline file: it reads ``window.STORY_DATA`` from a
``<script src="data.js">`` tag (a fetch would fail under file://). Every score,
statistic and readout on the page comes from ``sigreg`` (NumPy backend) here;
the browser only draws. Seeds are fixed, so the output is deterministic.

Values that the browser test compares are written at full precision (Python's
shortest round-trip repr, which JavaScript parses to the same double); values
that are only drawn are rounded to keep the file small.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np

import sigreg
from sigreg import demo

HERE = Path(__file__).resolve().parent

# Seeds and sizes, documented here so that a test can rebuild every number.
HERO_SEED = 2025  # the non-Gaussian cloud of the hero scene
HERO_POINTS = 200
POOL_SEED = 3  # sigreg.directions(3, POOL_SIZE, seed=POOL_SEED): the slice pool
POOL_SIZE = 32
INITIAL_SLICES = 2
COLLAPSE_SEED = 0  # demo.collapsed_cloud(COLLAPSE_SEED)
FULL_SEED = 1  # the N(0, I_3) cloud of section 01
CLOUD_POINTS = 300
SIGREG_SEED = 0  # sigreg.sigreg(..., seed=SIGREG_SEED) with the default 1024 slices
CLOUD_SLICES = 1024  # the band of N(0, I_3) samples that sections 01 and 02 read values against
WHY_SEED = 11  # section 02: the Gaussian and the thin cloud
WHY_DIRECTIONS_SEED = 5
WHY_SLICES = 4
EP_SLICE = 0  # section 03 tests the shadow of the hero cloud on the first pool direction
SLIDER_T_MAX = 5.0  # slider knots: trapezoid_grid(5.0, 101) -> t = 0.05 .. 5.00
SLIDER_KNOTS = 101
TOY_SEED = 0  # section 04: demo.collapsed_cloud(TOY_SEED)[:TOY_POINTS], unfolded
TOY_POINTS = 200
TOY_STEPS = 120
LEJEPA_SEED = 21
LEJEPA_LAM = 0.05
REFERENCE_SEED = 7  # N(0, I_3) samples of the toy's size: the range that good clouds score in
REFERENCE_DRAWS = 100


def full(values) -> list:
    """Full precision: the test compares these numbers with the library's."""
    return np.asarray(values, dtype=np.float64).tolist()


def rounded(values, digits: int = 6) -> list:
    """Drawing data: ~6 significant digits are plenty for a canvas."""
    a = np.asarray(values, dtype=np.float64)
    out = np.vectorize(lambda v: float(f"{v:.{digits}g}"))(a) if a.size else a
    return np.asarray(out).tolist()


def fixed(values, decimals: int = 4) -> list:
    """Trajectory frames: 4 decimals (~1e-4 of the cloud's size) keep data.js small."""
    return np.round(np.asarray(values, dtype=np.float64), decimals).tolist()


# --- the clouds -------------------------------------------------------------------------


def hero_points() -> np.ndarray:
    """Anisotropic, skewed and slightly off-centre: slice scores differ visibly."""
    rng = np.random.default_rng(HERO_SEED)
    g = rng.standard_normal((HERO_POINTS, 3))
    skew = (rng.gamma(2.0, 1.0, HERO_POINTS) - 2.0) / np.sqrt(2.0)  # mean 0, variance 1, skewed
    cloud = np.stack([0.55 * g[:, 0] + 0.9 * skew, g[:, 1], 0.45 * g[:, 2]], axis=1)
    angle = 0.6
    turn = np.array([[np.cos(angle), -np.sin(angle), 0.0], [np.sin(angle), np.cos(angle), 0.0], [0, 0, 1]])
    return cloud @ turn.T + np.array([0.25, -0.1, 0.1])


def pool() -> np.ndarray:
    return sigreg.directions(3, POOL_SIZE, seed=POOL_SEED)


def full_cloud() -> np.ndarray:
    return np.random.default_rng(FULL_SEED).standard_normal((CLOUD_POINTS, 3))


def why_clouds() -> tuple[np.ndarray, np.ndarray]:
    """A N(0, I_3) sample and a thin sheet stretched along one direction."""
    rng = np.random.default_rng(WHY_SEED)
    good = rng.standard_normal((CLOUD_POINTS, 3))
    sheet = rng.standard_normal((CLOUD_POINTS, 3)) * np.array([1.9, 0.45, 0.03])
    q, _ = np.linalg.qr(np.array([[1.0, 0.4, 0.2], [-0.3, 1.0, 0.5], [0.2, -0.6, 1.0]]))
    return good, sheet @ q.T


def slice_values() -> np.ndarray:
    """Section 03's shadow u: the hero cloud projected on the first pool direction."""
    return hero_points() @ pool()[:, EP_SLICE]


def toy_start() -> np.ndarray:
    return demo.collapsed_cloud(TOY_SEED)[:TOY_POINTS]


def toy_trajectory() -> tuple[list[float], list[np.ndarray]]:
    """``demo.unfold`` with every=1: plain gradient steps, fresh directions each step."""
    values, frames = [], []
    for _, value, z in demo.unfold(toy_start(), steps=TOY_STEPS, every=1):
        values.append(value)
        frames.append(z)
    return values, frames


def lejepa_views() -> dict[str, np.ndarray]:
    """Two views (V=2) of 200 samples in 3-D, three situations."""
    rng = np.random.default_rng(LEJEPA_SEED)
    base = rng.standard_normal((200, 3))
    line = rng.standard_normal((200, 1)) * np.array([[0.8, 0.5, -0.3]])
    jitter = 0.05 * rng.standard_normal((2, 200, 3))
    return {
        "collapsed": line[None] + 0.01 * jitter,
        "spread": base[None] + jitter,
        "disagree": rng.standard_normal((2, 200, 3)),
    }


# --- the sections -----------------------------------------------------------------------


def principal_axes(z: np.ndarray) -> dict:
    """Standard deviations (``demo.spreads``) and the matching unit axes, largest first."""
    _, vectors = np.linalg.eigh(np.cov(z.T))
    return {"sd": full(demo.spreads(z)), "axes": rounded(vectors[:, ::-1].T)}


def hero_section() -> dict:
    points, a = hero_points(), pool()
    return {
        "points": rounded(points),
        "directions": full(a.T),  # one row per slice, pool order
        "scores": full(sigreg.epps_pulley(points @ a, axis=0)),
        # sigreg of the first k pool directions, k = 1 .. POOL_SIZE
        "sigreg": full([sigreg.sigreg(points, directions=a[:, :k]) for k in range(1, POOL_SIZE + 1)]),
        "initial": INITIAL_SLICES,
    }


def cloud_range() -> tuple[float, float]:
    """5% and 95% quantiles of SIGReg (1024 slices) over N(0, I_3) samples of CLOUD_POINTS points."""
    return demo.null_range(
        CLOUD_POINTS, 3, draws=REFERENCE_DRAWS, seed=REFERENCE_SEED, num_slices=CLOUD_SLICES
    )


def collapse_section() -> dict:
    out: dict = {"range": full(cloud_range())}
    for name, z in (("line", demo.collapsed_cloud(COLLAPSE_SEED)), ("cloud", full_cloud())):
        out[name] = {
            "points": rounded(z),
            "sigreg": full(sigreg.sigreg(z, seed=SIGREG_SEED)),
            **principal_axes(z),
        }
    return out


def why_section() -> dict:
    good, bad = why_clouds()
    a = sigreg.directions(3, WHY_SLICES, seed=WHY_DIRECTIONS_SEED)
    clouds = {}
    for name, z in (("good", good), ("bad", bad)):
        clouds[name] = {
            "points": rounded(z),
            "scores": full(sigreg.epps_pulley(z @ a, axis=0)),
            "sigreg": full(sigreg.sigreg(z, seed=SIGREG_SEED)),
        }
    return {"directions": full(a.T), **clouds}


def slider_knots() -> tuple[float, ...]:
    """The slider's positive knots: those of the trapezoid rule on [0, 5] with 101 points."""
    return sigreg.stats.EppsPulley(t_max=SLIDER_T_MAX, num_points=SLIDER_KNOTS).knots


def ecf_section() -> dict:
    """The slider table: library ECF means at t = 0, 0.05, .., 5 (negative t by symmetry in JS)."""
    u = slice_values()
    knots = slider_knots()
    cos_mean, sin_mean = sigreg.stats.ecf(u, knots)  # shapes (100,)
    return {
        "u": full(u),
        "dt": knots[0],
        "t": full((0.0, *knots)),
        "cos": full(np.concatenate([[1.0], cos_mean])),
        "sin": full(np.concatenate([[0.0], sin_mean])),
        "phi": full((1.0, *(math.exp(-0.5 * t * t) for t in knots))),
        "ep_paper": float(sigreg.epps_pulley(u, t_max=5.0, num_points=9)),
        "ep_default": float(sigreg.epps_pulley(u)),
        "ep_exact": float(sigreg.epps_pulley(u, integration="exact")),
    }


def toy_range() -> tuple[float, float]:
    """5% and 95% quantiles of SIGReg over REFERENCE_DRAWS N(0, I_3) samples of TOY_POINTS points."""
    return demo.null_range(TOY_POINTS, 3, draws=REFERENCE_DRAWS, seed=REFERENCE_SEED)


def null_section() -> dict:
    """What a good value is: the mean of each statistic for exact N(0, I) samples (every N and K)."""
    return {
        "default": demo.null_mean(),
        "paper": demo.null_mean(t_max=5.0, num_points=9),
        "exact": demo.null_mean(integration="exact"),
    }


def toy_section() -> dict:
    values, frames = toy_trajectory()
    return {
        "range": full(toy_range()),
        "values": full(values),
        "frames": [fixed(z) for z in frames],
        "sd": [rounded(demo.spreads(z)) for z in frames],
        "lr": demo.LEARNING_RATE,
        "slices": demo.NUM_SLICES,
    }


def lejepa_section() -> dict:
    rows = {}
    for name, views in lejepa_views().items():
        centers = views.mean(axis=0, keepdims=True)
        rows[name] = {
            "sigreg": float(sigreg.sigreg(views, seed=SIGREG_SEED)),
            "prediction": float(np.mean((centers - views) ** 2)),
            "loss": float(sigreg.lejepa_loss(views, lam=LEJEPA_LAM, seed=SIGREG_SEED)),
        }
    return {"lam": LEJEPA_LAM, "rows": rows}


def build() -> dict:
    return {
        "version": sigreg.__version__,
        "hero": hero_section(),
        "collapse": collapse_section(),
        "why": why_section(),
        "ecf": ecf_section(),
        "toy": toy_section(),
        "lejepa": lejepa_section(),
        "null": null_section(),
    }


def write(outdir: Path) -> Path:
    outdir.mkdir(parents=True, exist_ok=True)
    path = outdir / "data.js"
    body = json.dumps(build(), separators=(",", ":"), allow_nan=False)
    path.write_text(
        f"// Generated by make_data.py from sigreg {sigreg.__version__}; do not edit.\n"
        f"window.STORY_DATA = {body};\n"
    )
    return path


if __name__ == "__main__":
    target = write(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
    print(f"wrote {target} ({target.stat().st_size / 1024:.0f} KiB)")
