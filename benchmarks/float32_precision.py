"""How far float32 stays from float64 on the same rounded samples, for the statistics of sigreg.stats.

    python benchmarks/float32_precision.py [--sizes 64 256 1024 4096] [--seed 0]

Each value is compared with the float64 value of the same float32 numbers (NumPy; the other
libraries agree with NumPy to rounding, tests/statistics/test_properties.py).

Part 1, along an axis: N = 1000 N(0, 1) samples, moved by an offset (in standard deviations) and
multiplied by a scale, rounded to float32. For each statistic: the largest relative difference
over offsets 0, 1e2, 1e4 by scales 1e-30, 1, 1e30 (for Vasicek's entropy misfit, a log, absolute
below 1);
the largest offset at scale 1, among 0, 1, 10, 1e2, 1e3, 1e4, up to which every difference is
within 1e-4; and the scales at offset 0, among the powers of ten from 1e-30 to 1e30, within which
they are. A float64 value beyond float32's range counts as a miss.

Part 2, BHEP and Henze-Zirkler of N samples in D = 4 dimensions, correlated: the largest relative
difference over the same grid, by N. Their closed form adds terms of size N that cancel to a value
of size 1 (summed pair by pair, sigreg/_statistics/bhep.py), so the error grows with N.
"""

from __future__ import annotations

import argparse
import math
import warnings

import numpy as np

import sigreg
import sigreg.stats

ALONG_AXIS = (
    "epps_pulley",
    "moments",
    "anderson_darling",
    "cramer_von_mises",
    "watson",
    "entropy",
    "wasserstein",
    "jarque_bera",
    "shapiro_wilk",
)
GRID_OFFSETS = (0.0, 1e2, 1e4)
GRID_SCALES = (1e-30, 1.0, 1e30)
OFFSETS = (0.0, 1.0, 10.0, 1e2, 1e3, 1e4)
LOG_SCALES = range(-30, 31)
TOLERANCE = 1e-4


def _difference(name: str, actual: float, expected: float) -> float:
    if not (math.isfinite(expected) and abs(expected) < float(np.finfo(np.float32).max)):
        return math.inf  # float32 cannot hold the value at all
    if not math.isfinite(actual):
        return math.inf
    # Vasicek's H is a log, its error absolute: the entropy misfit's is relative above 1 only.
    return abs(actual - expected) / max(abs(expected), 1.0 if name == "entropy" else 1e-300)


def _along_axis(name: str, base: np.ndarray, offset: float, scale: float) -> float:
    function = getattr(sigreg.stats, name)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        x32 = ((base + offset) * scale).astype(np.float32)
        return _difference(name, float(function(x32)), float(function(x32.astype(np.float64))))


def along_axis_table(seed: int) -> str:
    base = np.random.default_rng(seed).standard_normal(1000)
    lines = [
        "| statistic | largest difference on the grid | offsets within 1e-4 (scale 1) "
        "| scales within 1e-4 (offset 0) |",
        "|---|---|---|---|",
    ]
    for name in ALONG_AXIS:
        worst = max(_along_axis(name, base, o, s) for o in GRID_OFFSETS for s in GRID_SCALES)
        offsets = [o for o in OFFSETS if _along_axis(name, base, o, 1.0) <= TOLERANCE]
        largest = 0.0
        for o in OFFSETS:  # contiguous from 0
            if o not in offsets:
                break
            largest = o
        passing = [k for k in LOG_SCALES if _along_axis(name, base, 0.0, 10.0**k) <= TOLERANCE]
        low = high = 0
        while low - 1 in passing:
            low -= 1
        while high + 1 in passing:
            high += 1
        shown = "inf" if math.isinf(worst) else f"{worst:.1e}"
        lines.append(f"| {name} | {shown} | up to {largest:g} | 1e{low} to 1e{high} |")
    return "\n".join(lines) + "\n"


MULTIVARIATE = {
    "bhep": lambda z: sigreg.stats.bhep(z),
    "bhep, standardize=True": lambda z: sigreg.stats.bhep(z, standardize=True),
    "henze_zirkler": lambda z: sigreg.stats.henze_zirkler(z),
    "bhep, subspace_dim=2": lambda z: sigreg.stats.bhep(z, subspace_dim=2, num_subspaces=4),
    "henze_zirkler, subspace_dim=2": lambda z: sigreg.stats.henze_zirkler(z, subspace_dim=2, num_subspaces=4),
}


def multivariate_table(sizes: list[int], seed: int) -> str:
    mixing = np.array(
        [[1.0, 0.4, 0.0, 0.1], [0.0, 0.8, 0.3, 0.0], [0.0, 0.0, 0.5, 0.2], [0.0, 0.0, 0.0, 1.2]]
    )
    lines = ["| statistic | " + " | ".join(f"N = {n}" for n in sizes) + " |", "|---|" + "---|" * len(sizes)]
    for name, function in MULTIVARIATE.items():
        cells = []
        for n in sizes:
            base = np.random.default_rng(seed + n).standard_normal((n, 4)) @ mixing
            worst = 0.0
            for offset in GRID_OFFSETS:
                for scale in GRID_SCALES:
                    z32 = ((base + offset) * scale).astype(np.float32)
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        actual, expected = float(function(z32)), float(function(z32.astype(np.float64)))
                    worst = max(worst, _difference(name, actual, expected))
            cells.append(f"{worst:.1e}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[64, 256, 1024, 4096])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"sigreg {sigreg.__version__}, NumPy {np.__version__}\n")
    print("Along an axis, N = 1000:\n")
    print(along_axis_table(args.seed))
    if args.sizes:
        print("BHEP and Henze-Zirkler, D = 4, largest relative difference over the grid:\n")
        print(multivariate_table(args.sizes, args.seed))


if __name__ == "__main__":
    main()
