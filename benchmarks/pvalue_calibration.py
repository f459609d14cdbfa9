"""Time and calibration of ``sigreg.test``'s p-values: the numbers docs/pvalues.md quotes.

    python benchmarks/pvalue_calibration.py [--quick] [--output docs/data/pvalue-calibration.md]

1. Time. ``sigreg.test(z)`` with its defaults (256 slices; Epps-Pulley's asymptotic laws, per
   slice and of the average) on a 512 x 64 float64 array, in a warm process, a fresh seed at every
   call (so no cache is hit): the median of ``--calls`` calls. Beside it, called in turn with it
   (interleaved, a fresh seed each), the Monte Carlo null of the average: 256 slices and 199
   draws, and the earlier defaults, 1024 slices and 999 draws. The load average is printed with
   the times: a loaded machine is slower, and the times say so.
2. Calibration under the null. For each size (N, D, K), ``--samples`` N(0, I) arrays, each with a
   seed of its own (its own directions, so its own law), as monitoring uses it: the
   Kolmogorov-Smirnov distance of the p-values from the uniform law and its p-value, and the
   rejection rates at 0.05, 0.01 and 0.001 with the range that 95% of the rates of a calibrated
   test fall in (binomial). Then one set of directions and five times as many arrays (the law
   given those directions, checked more sharply; the statistic of all arrays in one call).
3. The law of the average against the exact asymptotic law. For small (D, K) the eigenvalues of
   the whole 2PK x 2PK covariance matrix give the exact law (``sum lambda_i chi2_1``, by Imhof's
   integral): its tail at the quantiles of the shifted gamma that sigreg uses, for 0.05, 0.01
   and 0.001.

Not a test: it asserts nothing. ``--quick`` runs fewer samples (a smoke run).
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import array_api_compat.numpy as xp
import numpy as np
from scipy import stats

import sigreg
from sigreg._pvalues import asymptotic, average, sliced

ROOT = Path(__file__).resolve().parent.parent
KNOTS, WEIGHTS = (tuple(v.tolist()) for v in sigreg.stats.EppsPulley().null_quadrature(np))
LEVELS = (0.05, 0.01, 0.001)
SIZES = [(512, 64, 256), (32, 64, 256), (128, 8, 256), (512, 3, 64), (256, 512, 256)]
EXACT = [(3, 16), (64, 16), (8, 48), (64, 64)]


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (1 min), {five:.1f} (5 min) on {os.cpu_count()} cores"


def timings(calls: int, rounds: int) -> list[str]:
    rng = np.random.default_rng(0)
    z = rng.standard_normal((512, 64))
    sigreg.test(z, seed=10**6)  # warm: imports, kernels, the per-slice table
    sigreg.test(z, seed=10**6 + 1, num_slices=8, method="monte_carlo", n_resamples=9)
    seeds = iter(range(1, 10**6))
    cases = {
        "defaults: 256 slices, asymptotic laws": dict(),
        "256 slices, Monte Carlo null of 199 draws": dict(method="monte_carlo", n_resamples=199),
        "1024 slices, Monte Carlo null of 999 draws (the earlier defaults)": dict(
            num_slices=1024, method="monte_carlo", n_resamples=999
        ),
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    before = load()
    for r in range(max(calls, rounds)):
        for name, kwargs in cases.items():
            if r >= (calls if not kwargs else rounds):
                continue
            sliced._CACHE.clear()
            start = time.perf_counter()
            sigreg.test(z, seed=next(seeds), **kwargs)
            times[name].append(time.perf_counter() - start)
    lines = [
        "| call (512 x 64 float64, a fresh seed each) | calls | median (s) | fastest (s) |",
        "|---|---:|---:|---:|",
    ]
    for name, values in times.items():
        lines.append(f"| {name} | {len(values)} | {statistics.median(values):.3f} | {min(values):.3f} |")
    return [*lines, "", f"Before: {before}; after: {load()}."]


def _rates(p: np.ndarray) -> str:
    cells = []
    for level in LEVELS:
        half = 1.96 * math.sqrt(level * (1 - level) / p.size)
        cells.append(f"{np.mean(p <= level):.4f} [{max(0, level - half):.4f}, {level + half:.4f}]")
    return " | ".join(cells)


def calibration(samples: int) -> list[str]:
    head = "| N | D | K | arrays | KS distance | KS p-value | " + " | ".join(f"at {a}" for a in LEVELS) + " |"
    lines = [head, "|" + "---:|" * 6 + "---|" * len(LEVELS)]
    lines_fixed = [head.replace("arrays", "arrays (one set of directions)"), lines[1]]
    for n, dim, k in SIZES:
        p = np.array(
            [
                float(
                    sigreg.test(
                        np.random.default_rng(s).standard_normal((n, dim)), num_slices=k, seed=s
                    ).pvalue
                )
                for s in range(samples)
            ]
        )
        ks = stats.kstest(p, "uniform")
        lines.append(
            f"| {n} | {dim} | {k} | {samples} | {ks.statistic:.4f} | {ks.pvalue:.3f} | {_rates(p)} |"
        )
        # One set of directions, five times the arrays: the law given them, more sharply.
        directions = sigreg.directions(dim, k, seed=12345)
        law = sliced.average_law(sigreg.stats.EppsPulley(), directions, 12345, True)
        rng = np.random.default_rng(n * 1000 + dim)
        values = []
        for start in range(0, 5 * samples, 100):
            z = rng.standard_normal((min(100, 5 * samples - start), n, dim))
            values.append(np.mean(sigreg.sigreg(z, directions=directions, reduction="none"), axis=-1))
        p = asymptotic.survival(np.concatenate(values), law, xp)
        ks = stats.kstest(p, "uniform")
        lines_fixed.append(
            f"| {n} | {dim} | {k} | {p.size} | {ks.statistic:.4f} | {ks.pvalue:.3f} | {_rates(p)} |"
        )
    return [*lines, "", *lines_fixed]


def _exact_lambdas(directions: np.ndarray) -> np.ndarray:
    """The eigenvalues of the 2PK x 2PK matrix of the average's asymptotic law (closed-form blocks)."""
    t, w = np.asarray(KNOTS), np.asarray(WEIGHTS)
    a = np.sqrt(w) * np.exp(-0.5 * t * t)
    unit = average.unit_columns(directions)
    gram = unit.T @ unit
    k, p = gram.shape[0], t.size
    x = gram[:, None, :, None] * np.outer(t, t)[None, :, None, :]
    scale = a[None, :, None, None] * a[None, None, None, :] / k
    blocks = [scale * (np.cosh(x) - 1.0), scale * np.sinh(x)]
    lam = np.concatenate([np.linalg.eigvalsh(b.reshape(k * p, k * p)) for b in blocks])
    return np.sort(lam[lam > 1e-14 * lam.max()])[::-1]


def exact_law() -> list[str]:
    lines = [
        "| D | K | " + " | ".join(f"exact tail at the quantile for {a}" for a in LEVELS) + " |",
        "|---:|---:|" + "---:|" * len(LEVELS),
    ]
    for dim, k in EXACT:
        directions = sigreg.directions(dim, k, seed=1)
        cumulants = average.cumulants(average.unit_columns(directions), KNOTS, WEIGHTS)
        table = average.survival_table(*cumulants)
        quantiles = np.array([average.quantile(table, a) for a in LEVELS])
        exact = asymptotic.imhof_survival(quantiles, _exact_lambdas(directions))
        lines.append(f"| {dim} | {k} | " + " | ".join(f"{e:.5f}" for e in exact) + " |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples and calls: a smoke run")
    parser.add_argument("--samples", type=int, default=None, help="null arrays per size (default 1000)")
    parser.add_argument("--calls", type=int, default=None, help="timed calls of the defaults (default 20)")
    parser.add_argument("--output", type=Path, help="write the markdown tables here")
    args = parser.parse_args()
    samples = args.samples or (60 if args.quick else 1000)
    calls = args.calls or (3 if args.quick else 20)
    rounds = 1 if args.quick else 3
    command = " ".join(["python benchmarks/pvalue_calibration.py", *sys.argv[1:]])  # as it was run
    header = (
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"NumPy {np.__version__}. Command: `{command}`."
    )
    sections = [
        header,
        "",
        "Time:",
        "",
        *timings(calls, rounds),
        "",
        "Calibration: p-values of N(0, I) arrays (a seed each), then of one set of directions:",
        "",
        *calibration(samples),
        "",
        "The shifted gamma (sigreg's law of the average) against the exact asymptotic law:",
        "",
        *exact_law(),
    ]
    text = "\n".join(sections) + "\n"
    print(text)
    if args.output:
        args.output.write_text(text)


if __name__ == "__main__":
    main()
