"""Everything in the docs that is computed, computed by the library at build time.

    python docs/generate.py        (the Sphinx build runs it first)

Writes into ``docs/_generated/`` (not committed):

- ``figures/descent.png``: SIGReg against gradient steps (the demo of ``python -m sigreg``);
- ``figures/null.png``: the null distribution of the statistic for N(0, 1) samples;
- ``figures/benchmark.png``: time and peak memory against N, from the table in
  ``docs/data/benchmark.md`` (which ``python3 -m nox -s bench`` writes);
- ``grid_accuracy.md``: how close each quadrature grid comes to the closed form;
- ``pvalue_accuracy.md``, ``pvalue_levels.md``, ``power.md``, ``figures/calibration.png``: the
  p-values of ``sigreg.test`` against uniform, by N; their rejection rates at 0.01, 0.05 and 0.1
  under the null, by N; power against scipy's tests; a QQ plot;
- ``statistics.md``: every normality statistic of ``sigreg.stats``, its cost and
  its gradient norm at a Gaussian and at a collapsed cloud; ``statistics_names.md``: each
  registered name's quantity, its mean under N(0, 1) and scipy's counterpart;
- ``collapse.md``, ``collapse_null.md``, ``figures/collapse.png``: each regulariser's value and
  gradient norm as a Gaussian cloud shrinks towards a point, a line and a thin sheet, and its
  null mean and spread against N (docs/regularisers.md);
- ``extra/story/``: the visual story page and its data (``docs/story/make_data.py``).
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

import sigreg
from sigreg import demo
from sigreg.targets import RectifiedGeneralizedNormal

HERE = Path(__file__).parent
OUT = HERE / "_generated"
FIGURES = OUT / "figures"
EXTRA = OUT / "extra"
STORY_FILES = ("index.html", "story.css", "story.js")
# MathJax from PyPI (django-static-mathjax, the docs dependency group): its SVG output draws
# glyphs from paths in the script itself, so the site needs no font files and typesets
# offline, over http and from file:// alike. Copied to <site>/_static/mathjax.
MATHJAX_FILES = ("tex-svg.js", "input/tex/extensions")

NULL_N = 128  # samples per slice in the null figure
NULL_MEAN = math.sqrt(2 * math.pi) * (1 - 1 / math.sqrt(3))  # docs/numbers.md
GRIDS = [  # (t_max, num_points, what it is)
    (3.0, 17, "default (LeJEPA reference code)"),
    (5.0, 9, "paper, Algorithm 1 (`linspace(-5, 5, 17)`)"),
    (3.0, 9, "coarse"),
    (4.0, 17, ""),
    (5.0, 17, ""),
    (5.0, 33, ""),
    (8.0, 65, "wide and fine"),
]


# Legible on a phone: a page 390 px wide shows a figure 358 px wide, so a figure W inches wide with
# text of s points shows it at s * 358 / (72 W) px; every figure is at most PHONE_INCHES wide, with
# no text below 10 points (10.4 px), and says so in its PNG (SMALLEST_TEXT_KEY, checked by
# tests/project/test_site.py in a browser).
PHONE_INCHES = 4.8
SMALLEST_TEXT_KEY = "sigreg-smallest-text-px"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update(
        {
            "figure.dpi": 110,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "font.size": 10,
            "axes.titlesize": 10.5,
            "legend.fontsize": 10,
            "figure.titlesize": 10.5,
        }
    )
    return plt


def _save(fig, path: Path) -> None:
    """Save a figure, with the height in pixels of its smallest drawn text in the PNG's metadata."""
    import matplotlib.text

    fig.canvas.draw()
    box = fig.bbox
    sizes = [
        t.get_fontsize() * fig.dpi / 72
        for t in fig.findobj(matplotlib.text.Text)
        if t.get_visible() and t.get_text().strip() and t.get_window_extent().overlaps(box)
    ]
    fig.savefig(path, metadata={SMALLEST_TEXT_KEY: f"{min(sizes):.2f}"})


def descent_figure(path: Path) -> None:
    steps, values = [], []
    for step, value, _ in demo.unfold(demo.collapsed_cloud(), every=1):
        steps.append(step)
        values.append(value)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(PHONE_INCHES, 3.4))
    ax.semilogy(steps, values, color="#e4572e", lw=2, label="SIGReg of the points")
    level = demo.null_mean()  # the demo's statistic: the default grid
    ax.axhline(level, color="#1f77b4", ls="--", lw=1, label=f"N(0, I) data: about {level:.2f}")
    ax.set(xlabel="gradient step", ylabel="SIGReg (log scale)")
    ax.set_title(f"A collapsed line of {demo.NUM_POINTS} points in 3-D unfolds\n(python -m sigreg)")
    ax.legend()
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)


def null_samples(n: int = NULL_N, slices: int = 20000, seed: int = 0) -> dict[str, np.ndarray]:
    x = np.random.default_rng(seed).standard_normal((n, slices))
    return {
        "exact": np.asarray(sigreg.epps_pulley(x, integration="exact")),
        "default grid": np.asarray(sigreg.epps_pulley(x)),
    }


def null_figure(path: Path, samples: dict[str, np.ndarray]) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(PHONE_INCHES, 3.6))
    bins = np.linspace(0, 6, 61)
    for (name, values), color in zip(samples.items(), ("#1f77b4", "#e4572e"), strict=True):
        ax.hist(values, bins=bins, density=True, histtype="step", lw=1.8, color=color, label=name)
    ax.axvline(NULL_MEAN, color="k", ls="--", lw=1, label=f"exact null mean {NULL_MEAN:.4f}")
    for q, level in ((2.95, "95%"), (4.58, "99%")):
        ax.axvline(q, color="gray", ls=":", lw=1)
        ax.text(q, ax.get_ylim()[1] * 0.9, f" {level} (limit law)", color="gray")
    ax.set(xlabel="Epps-Pulley statistic", ylabel="density")
    ax.set_title(f"Null distribution: {len(values)} slices\nof N = {NULL_N} samples from N(0, 1)")
    ax.legend()
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)


def benchmark_rows(table: Path) -> list[dict[str, float | str]]:
    """The rows of the main markdown table in docs/data/benchmark.md, read by column name."""
    rows = []
    header: list[str] = []
    for line in table.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells[:3] == ["framework", "N", "K"]:
            header = cells
        elif header and len(cells) == len(header) and re.fullmatch(r"\d+", cells[1]):
            row = dict(zip(header, cells, strict=True))
            rows.append(
                {
                    "framework": row["framework"],
                    "N": int(row["N"]),
                    "K": int(row["K"]),
                    "sigreg_ms": float(row["sigreg [ms]"]),
                    "naive_ms": float(row["naive [ms]"]),
                    "sigreg_mib": float(row["sigreg peak [MiB]"]),
                    "naive_mib": float(row["naive peak [MiB]"]),
                }
            )
    if not rows:
        raise ValueError(f"no benchmark rows found in {table}")
    return rows


def benchmark_figure(path: Path, rows: list[dict], k: int = 1024) -> None:
    plt = _pyplot()
    fig, (ax_t, ax_m) = plt.subplots(2, 1, figsize=(PHONE_INCHES, 7.6))
    colors = {"torch": "#e4572e", "jax": "#1f77b4", "numpy": "#4c9f38"}
    for fw, color in colors.items():
        sel = sorted((r for r in rows if r["framework"] == fw and r["K"] == k), key=lambda r: r["N"])
        if not sel:
            continue
        n = [r["N"] for r in sel]
        for impl, style in (("sigreg", "-o"), ("naive", "--s")):
            ax_t.loglog(n, [r[f"{impl}_ms"] for r in sel], style, color=color, label=f"{fw} {impl}")
            # A growth below 1 MiB (memory the first call freed, reused) has no place on a log axis.
            grown = [(x, r[f"{impl}_mib"]) for x, r in zip(n, sel, strict=True) if r[f"{impl}_mib"] >= 1]
            if grown:
                ax_m.loglog(*zip(*grown, strict=True), style, color=color, label=f"{fw} {impl}")
    ax_t.set(xlabel="N (samples)", ylabel="forward + backward [ms]", title=f"Time, K = {k}, D = 512, float32")
    ax_m.set(xlabel="N (samples)", ylabel="peak memory growth [MiB]", title="Peak memory")
    sizes = sorted({r["N"] for r in rows})
    for ax in (ax_t, ax_m):
        ax.set_xticks(sizes, labels=[str(n) for n in sizes])
        ax.minorticks_off()
    handles, labels = ax_t.get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncols=2)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    _save(fig, path)
    plt.close(fig)


def grid_accuracy(n: int = 256, slices: int = 1000, seed: int = 0) -> str:
    """Markdown table: each grid against the closed form on four kinds of shadows."""
    rng = np.random.default_rng(seed)
    shadows = {
        "N(0, 1)": rng.standard_normal((n, slices)),
        "N(0, 0.3²)": 0.3 * rng.standard_normal((n, slices)),
        "N(0, 3²)": 3.0 * rng.standard_normal((n, slices)),
        "N(1, 1)": 1.0 + rng.standard_normal((n, slices)),
    }
    exact = {name: np.asarray(sigreg.epps_pulley(u, integration="exact")) for name, u in shadows.items()}
    head = "| t_max | knots | dt | period 2π/dt | " + " | ".join(f"{s}" for s in shadows) + " | grid |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for t_max, knots, what in GRIDS:
        dt = t_max / (knots - 1)
        cells = []
        for name, u in shadows.items():
            rel = np.asarray(sigreg.epps_pulley(u, t_max=t_max, num_points=knots)) / exact[name] - 1
            cells.append(f"{np.mean(rel):+.1e}")
        grid = f"| {t_max:g} | {knots} | {dt:.4g} | {2 * math.pi / dt:.3g} | "
        lines.append(grid + " | ".join(cells) + f" | {what} |")
    mean_exact = {name: float(np.mean(v)) for name, v in exact.items()}
    lines += [
        "",
        f"Cells: mean relative deviation `EP_grid / EP_exact - 1` over {slices} slices of N = {n} samples"
        f" (seed {seed}). Mean of the exact statistic: "
        + ", ".join(f"{name}: {value:.4g}" for name, value in mean_exact.items())
        + f". The exact null mean is {NULL_MEAN:.4f}.",
    ]
    return "\n".join(lines) + "\n"


def pvalue_accuracy(sizes=(8, 16, 32, 64, 128, 256, 512), samples: int = 20000, seed: int = 0) -> str:
    """Markdown table: how far the asymptotic per-slice p-values are from uniform, by N."""
    import array_api_compat.numpy as xp

    from sigreg._pvalues import asymptotic

    statistic = sigreg.stats.EppsPulley()
    table = asymptotic.survival_table(tuple(asymptotic.chi2_weights(*statistic.null_quadrature(np)).tolist()))
    levels = np.linspace(0.001, 0.999, 999)
    noise = 1.36 / math.sqrt(samples)  # the KS distance that 95% of uniform samples stay below
    lines = ["| N | max over levels a of abs(P(p <= a) - a) | within 0.01 |", "|---|---|---|"]
    for n in sizes:
        x = np.random.default_rng(seed + n).standard_normal((n, samples))
        p = np.sort(asymptotic.survival(sigreg.stats.epps_pulley(x), table, xp))
        distance = float(np.max(np.abs(np.searchsorted(p, levels, side="right") / samples - levels)))
        lines.append(f"| {n} | {distance:.4f} | {'yes' if distance <= 0.01 else 'no'} |")
    lines += [
        "",
        f"{samples} independent N(0, 1) samples of each size N, default grid, seed {seed} + N. "
        f"Sampling noise alone gives distances up to about {noise:.4f}.",
    ]
    return "\n".join(lines) + "\n"


def pvalue_levels(sizes=(16, 32, 64, 128), draws: int = 40000, seed: int = 0) -> str:
    """Markdown table: how often the asymptotic per-slice p-value rejects N(0, 1) samples, by N."""
    import array_api_compat.numpy as xp

    from sigreg._pvalues import asymptotic

    levels = (0.01, 0.05, 0.1)
    lines = [
        "| N | statistic | " + " | ".join(f"level {a}" for a in levels) + " |",
        "|---|---|" + "---|" * len(levels),
    ]
    for unbiased in (False, True):
        statistic = sigreg.stats.EppsPulley(unbiased=unbiased)
        lambdas = asymptotic.chi2_weights(*statistic.null_quadrature(np))
        table = asymptotic.survival_table(tuple(lambdas.tolist()))
        offset = float(np.sum(lambdas)) if unbiased else 0.0  # as sigreg.test shifts the unbiased one
        for n in sizes:
            x = np.random.default_rng(seed + n).standard_normal((n, draws))
            p = asymptotic.survival(sigreg.stats.epps_pulley(x, unbiased=unbiased) + offset, table, xp)
            rates = " | ".join(f"{np.mean(p <= a):.4f}" for a in levels)
            lines.append(f"| {n} | {'unbiased' if unbiased else 'plain'} | {rates} |")
    errors = ", ".join(f"{2 * math.sqrt(a * (1 - a) / draws):.4f}" for a in levels)
    lines += [
        "",
        f"{draws} independent N(0, 1) samples of each size N, default grid, seed {seed} + N; two "
        f"Monte Carlo standard errors at the three levels: {errors}.",
    ]
    return "\n".join(lines) + "\n"


def calibration_figure(path: Path, seeds: int = 500) -> None:
    """QQ plot of p-values under the null: per slice and averaged (asymptotic laws), and averaged by
    a Monte Carlo null."""
    per_slice = [
        float(sigreg.test(np.random.default_rng(s).standard_normal((256, 1)), num_slices=1).pvalue)
        for s in range(seeds)
    ]
    averaged = [
        float(sigreg.test(np.random.default_rng(s).standard_normal((128, 8)), num_slices=64).pvalue)
        for s in range(seeds)
    ]
    monte_carlo = [
        float(
            sigreg.test(
                np.random.default_rng(s).standard_normal((128, 8)),
                num_slices=64,
                method="monte_carlo",
                n_resamples=199,
            ).pvalue
        )
        for s in range(seeds)
    ]
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(PHONE_INCHES, 4.4))
    uniform = (np.arange(1, seeds + 1) - 0.5) / seeds
    ax.plot(uniform, np.sort(per_slice), ".", ms=3, label="one slice, N = 256")
    ax.plot(uniform, np.sort(averaged), ".", ms=3, label="64 slices averaged, N = 128")
    ax.plot(uniform, np.sort(monte_carlo), ".", ms=3, label="the same, Monte Carlo (199 draws)")
    ax.plot([0, 1], [0, 1], "k-", lw=0.8)
    ax.set_xlabel("uniform quantile")
    ax.set_ylabel("p-value quantile")
    ax.set_title(f"p-values of {seeds} N(0, I) samples")
    ax.legend()
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)


def power_table(n: int = 512, trials: int = 100, seed: int = 0) -> str:
    """Markdown table: rejection rates at level 0.05 of sigreg.test and of scipy's tests."""
    from scipy import stats

    alternatives = {
        "N(0, 1) (the null)": lambda rng, size: rng.standard_normal(size),
        "Student-t(5), unit variance": lambda rng, size: rng.standard_t(5, size) / math.sqrt(5 / 3),
        "uniform(-sqrt 3, sqrt 3)": lambda rng, size: rng.uniform(-math.sqrt(3), math.sqrt(3), size),
        "mixture of N(-1.5, 0.5²) and N(1.5, 0.5²)": lambda rng, size: (
            rng.choice([-1.5, 1.5], size) + 0.5 * rng.standard_normal(size)
        ),
    }
    tests = {
        "Epps-Pulley (sigreg.test, asymptotic)": lambda x: float(
            sigreg.test(x[:, None], num_slices=1).pvalue
        ),
        "Shapiro-Wilk (scipy)": lambda x: stats.shapiro(x).pvalue,
        "Kolmogorov-Smirnov vs N(0, 1) (scipy)": lambda x: stats.kstest(x, "norm").pvalue,
        "Cramér-von Mises vs N(0, 1) (scipy)": lambda x: stats.cramervonmises(x, "norm").pvalue,
    }
    head = f"| data (N = {n}) | " + " | ".join(tests) + " |"
    lines = [head, "|" + "---|" * (len(tests) + 1)]
    for name, draw in alternatives.items():
        rng = np.random.default_rng(seed)
        samples = [draw(rng, n) for _ in range(trials)]
        rates = [np.mean([test(x) <= 0.05 for x in samples]) for test in tests.values()]
        lines.append(f"| {name} | " + " | ".join(f"{r:.2f}" for r in rates) + " |")
    lines += ["", f"Rejection rate at level 0.05 over {trials} samples of each law (seed {seed})."]
    return "\n".join(lines) + "\n"


# The statistics page: (name, definition, reference, time, memory, what it tests).
STATISTICS = [
    ("epps_pulley", "`N ∫ ‖ecf(t) − e^{−t²/2}‖² e^{−t²/2} dt`, trapezoid on `[−3, 3]`",
     "Epps and Pulley 1983", "N·P", "N + P", "N(0, 1)"),
    ("anderson_darling", "`−N − (1/N) Σ (2i−1)[log Φ(x₍ᵢ₎) + log(1 − Φ(x₍N+1−i₎))]`",
     "Anderson and Darling 1954", "N log N", "N", "N(0, 1)"),
    ("cramer_von_mises", "`1/(12N) + Σ (Φ(x₍ᵢ₎) − (2i−1)/(2N))²`",
     "Cramér 1928, von Mises 1931", "N log N", "N", "N(0, 1)"),
    ("watson", "`W² − N (mean Φ(x) − 1/2)²`", "Watson 1961", "N log N", "N", "N(0, 1)"),
    ("shapiro_wilk", "`1 − (Σ aᵢ x₍ᵢ₎)² / Σ (xᵢ − x̄)²`, Royston's `aᵢ`",
     "Shapiro and Wilk 1965, Royston 1995", "N log N", "N", "normality (any location, scale)"),
    ("jarque_bera", "`N/6 (S² + (K − 3)²/4)`", "Jarque and Bera 1980", "N", "1",
     "normality (any location, scale)"),
    ("moments", "`N Σₖ (mₖ − μₖ)² / (μ₂ₖ − μₖ²)`, k = 1..4", "this library", "N", "1", "N(0, 1)"),
    ("entropy", "`mean(x²)/2 + log(2π)/2 − H_Vasicek`", "Vasicek 1976", "N log N", "N", "N(0, 1)"),
    ("wasserstein", "`mean (x₍ᵢ₎ − Φ⁻¹((i − ½)/N))²`", "midpoint quantile rule", "N log N", "N",
     "N(0, 1)"),
]  # fmt: skip
MULTIVARIATE = [
    ("bhep", "BHEP, `β = 1`, closed form over pairs", "Baringhaus and Henze 1988", "N²·D", "N·block",
     "N(0, I)"),
    ("henze_zirkler", "BHEP with `β(N, D)` on whitened samples", "Henze and Zirkler 1990", "N²·D + N·D²",
     "N·block", "normality (any mean, covariance)"),
]  # fmt: skip


# Each registered name: the quantity that sigreg.stats.NAME(x) and statistic=NAME both compute, and
# scipy's counterpart (the same number, or the documented expression of it).
SCIPY_COUNTERPARTS = {
    "epps_pulley": 'none (closed form: `integration="exact"`)',
    "anderson_darling": '`goodness_of_fit(norm, x, known_params={loc: 0, scale: 1}, statistic="ad")`',
    "cramer_von_mises": '`cramervonmises(x, "norm").statistic`',
    "watson": "none (`W² − N (mean Φ(x) − 1/2)²` of scipy's `W²`)",
    "shapiro_wilk": "`1 − shapiro(x).statistic`",
    "jarque_bera": "`jarque_bera(x).statistic`",
    "moments": "none (`norm.moment(k)` for `μₖ`)",
    "entropy": '`mean(x²)/2 + log(2π)/2 − differential_entropy(x, method="vasicek")`',
    "wasserstein": "`wasserstein_distance(x, q)` for p = 1 (q: the midpoint quantiles)",
}


def names_table(n: int = 512, draws: int = 400, seed: int = 0) -> str:
    """Markdown table: each registered name, its quantity, its mean over N(0, 1) samples (Monte
    Carlo, computed here along an axis) and scipy's counterpart."""
    import sigreg.stats

    x = np.random.default_rng(seed).standard_normal((n, draws))
    lines = [
        f"| name | `sigreg.stats.NAME(x)` = `statistic=NAME` | mean under N(0, 1), N = {n} | scipy.stats |",
        "|---|---|---|---|",
    ]
    definitions = {name: definition for name, definition, *_ in STATISTICS}
    for name in sigreg.stats.available():
        values = np.asarray(getattr(sigreg.stats, name)(x))
        spread = np.std(values) / math.sqrt(draws)
        lines.append(
            f"| `{name}` | {definitions[name]} | {np.mean(values):.4g} ± {spread:.1g} | "
            f"{SCIPY_COUNTERPARTS[name]} |"
        )
    lines += ["", f"(± one standard error of the mean over {draws} samples; `docs/generate.py`.)", ""]
    return "\n".join(lines)


def statistics_table(n: int = 512, d: int = 16, k: int = 256, seed: int = 0) -> str:
    """Markdown table of the statistics, with gradient norms computed here (torch, float64)."""
    import torch

    import sigreg.stats

    z = torch.asarray(np.random.default_rng(seed).standard_normal((n, d)))
    clouds = {"gaussian": z, "collapsed": 1e-3 * z}

    def grad_norm(function, cloud):
        x = cloud.clone().requires_grad_(True)
        function(x).backward()
        return float(torch.linalg.vector_norm(x.grad))

    lines = [
        "| `statistic=` | per-slice score | reference | time per slice | memory per slice | tests "
        "| `all_reduce` | ‖grad‖ Gaussian | ‖grad‖ collapsed |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, definition, reference, time, memory, tests in STATISTICS:
        statistic = sigreg.stats.get(name)
        norms = [
            grad_norm(lambda x, s=statistic: sigreg.sigreg(x, statistic=s, num_slices=k, seed=seed), c)
            for c in clouds.values()
        ]
        lines.append(
            f"| `{name}` | {definition} | {reference} | O({time}) | O({memory}) | {tests} "
            f"| {'yes' if statistic.has_sums else 'no'} | {norms[0]:.3g} | {norms[1]:.3g} |"
        )
    lines += ["", "Not sliced (functions of `z` of shape (N, D), in `sigreg.stats`):", ""]
    header = lines[0].replace("`statistic=`", "function").replace(" per slice", "")
    lines += [header.replace("per-slice score", "statistic"), lines[1]]
    for name, definition, reference, time, memory, tests in MULTIVARIATE:
        function = getattr(sigreg.stats, name)
        norms = [grad_norm(function, c) for c in clouds.values()]
        lines.append(
            f"| `{name}` | {definition} | {reference} | O({time}) | O({memory}) | {tests} "
            f"| no | {norms[0]:.3g} | {norms[1]:.3g} |"
        )
    lines += [
        "",
        f"Gradient norms: ‖d value / d z‖ (Frobenius) of the mean over {k} slices (seed {seed}) for "
        f"z of shape ({n}, {d}) drawn from N(0, I) (Gaussian), and the same z times 0.001 "
        "(collapsed), computed by `docs/generate.py` with PyTorch in float64.",
    ]
    return "\n".join(lines) + "\n"


# docs/regularisers.md: how each regulariser scores, and pulls on, a collapsing cloud.
COLLAPSE_N, COLLAPSE_D, COLLAPSE_K = 256, 16, 128
COLLAPSE_SCALES = (1.0, 0.3, 0.1, 0.03, 0.01, 1e-3, 1e-4)
# Which axes shrink: all (a point), all but one (a line), one (a thin sheet of D - 1 dimensions).
COLLAPSE_KINDS = {"point": slice(0, None), "line": slice(1, None), "sheet": slice(0, 1)}


# RDMReg's target at its authors' defaults (p = 1, mu = 0, sigma_GN(1) = 1/sqrt(2): the
# rectified Laplace). Its rows start from a cloud drawn from the target instead of N(0, I).
RDMREG_TARGET = RectifiedGeneralizedNormal(p=1.0, mu=0.0)
RDMREG_ROWS = ("Epps-Pulley, RDMReg target", "Wasserstein, RDMReg target")


def regularisers(k: int | None = None) -> dict:
    """The regularisers of docs/regularisers.md, as functions of embeddings (N, D) of any library
    (``k`` slices, default COLLAPSE_K, read at the call)."""
    k = COLLAPSE_K if k is None else k
    rdmreg_ep, rdmreg_w = RDMREG_ROWS
    return {
        "Epps-Pulley (SIGReg)": lambda z: sigreg.sigreg(z, num_slices=k, seed=0),
        "Epps-Pulley, unbiased": lambda z: sigreg.sigreg(z, num_slices=k, seed=0, unbiased=True),
        "Wasserstein": lambda z: sigreg.sigreg(z, statistic="wasserstein", num_slices=k, seed=0),
        "VISReg": lambda z: sigreg.visreg(z, num_slices=k, seed=0),
        rdmreg_ep: lambda z: sigreg.sigreg(z, num_slices=k, seed=0, target=RDMREG_TARGET),
        rdmreg_w: lambda z: sigreg.sigreg(
            z, statistic="wasserstein", num_slices=k, seed=0, target=RDMREG_TARGET
        ),
    }


def target_cloud(name: str, n: int, seed: int) -> np.ndarray | None:
    """A draw of ``n`` points from the regulariser's own target, or None for N(0, I)."""
    if name not in RDMREG_ROWS:
        return None
    return np.asarray(RDMREG_TARGET.sample(n, COLLAPSE_D, seed=seed, dtype=np.float64))


def collapse_curves(seed: int = 0) -> dict:
    """``{(regulariser, kind): (values, gradient norms)}`` over COLLAPSE_SCALES (torch, float64)."""
    import torch

    gaussian = np.random.default_rng(seed).standard_normal((COLLAPSE_N, COLLAPSE_D))
    curves = {}
    for name, function in regularisers().items():
        own = target_cloud(name, COLLAPSE_N, seed)
        base = gaussian if own is None else own  # shrunk towards 0 as the Gaussian is
        for kind, axes in COLLAPSE_KINDS.items():
            values, norms = [], []
            for scale in COLLAPSE_SCALES:
                z = base.copy()
                z[:, axes] *= scale
                x = torch.asarray(z).requires_grad_(True)
                value = function(x)
                value.backward()
                values.append(float(value.detach()))
                norms.append(float(torch.linalg.vector_norm(x.grad)))
            curves[name, kind] = (values, norms)
    return curves


def collapse_table(curves: dict) -> str:
    """Markdown: value and gradient norm per regulariser, collapse kind and scale."""
    scales = " | ".join(f"{s:g}" for s in COLLAPSE_SCALES)
    lines = [f"| regulariser | collapse | | {scales} |", "|---|---|---|" + "---|" * len(COLLAPSE_SCALES)]
    for (name, kind), (values, norms) in curves.items():
        lines.append(f"| {name} | {kind} | value | " + " | ".join(f"{v:.3g}" for v in values) + " |")
        lines.append("| | | ‖grad‖ | " + " | ".join(f"{g:.3g}" for g in norms) + " |")
    return "\n".join(lines) + "\n"


def collapse_figure(path: Path, curves: dict) -> None:
    plt = _pyplot()
    # One row per kind of collapse, value and gradient side by side: two columns fit a phone.
    fig, axes = plt.subplots(len(COLLAPSE_KINDS), 2, figsize=(PHONE_INCHES, 9.6), sharex=True)
    for row, kind in enumerate(COLLAPSE_KINDS):
        for name in regularisers():
            values, norms = curves[name, kind]
            style = dict(marker="o", ms=3, label=name, ls="--" if name in RDMREG_ROWS else "-")
            axes[row, 0].plot(COLLAPSE_SCALES, np.abs(values), **style)
            axes[row, 1].plot(COLLAPSE_SCALES, norms, **style)
        axes[row, 0].set_ylabel(f"towards a {kind}")
        axes[row, 0].set_title("|value|")
        axes[row, 1].set_title("‖gradient‖")
    for ax in axes.flat:
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.xaxis.set_major_locator(matplotlib_ticker().LogLocator(numticks=3))
    for ax in axes[-1]:
        ax.set_xlabel("scale of the\nshrinking axes")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncols=1)
    fig.suptitle(
        f"N = {COLLAPSE_N}, D = {COLLAPSE_D}, K = {COLLAPSE_K} slices, float64;\nscale 1: N(0, I), or a draw"
        " from RDMReg's\ntarget for its rows (dashed)"
    )
    fig.tight_layout(rect=(0, 0.16, 1, 1))
    _save(fig, path)
    plt.close(fig)


def matplotlib_ticker():
    import matplotlib.ticker

    return matplotlib.ticker


def rdmreg_null_mean(k: int | None = None) -> float:
    """The exact null mean of Epps-Pulley against RDMReg's target on the page's ``k`` directions
    (default COLLAPSE_K): ``mean over slices of sum_j W_j (1 - |psi_a(t_j)|^2)``, for every N."""
    k = COLLAPSE_K if k is None else k
    import array_api_compat.numpy as npx

    import sigreg.stats

    statistic = sigreg.stats.EppsPulley(target=RDMREG_TARGET)
    cf = np.asarray(statistic.constants(sigreg.directions(COLLAPSE_D, k, seed=0), npx, 1, 0))
    j = len(statistic.knots)
    modulus2 = cf[..., :j] ** 2 + cf[..., j:] ** 2
    return float(np.mean(np.sum(np.array(statistic.grid.weight) * (1.0 - modulus2), axis=-1)))


def collapse_null(
    sizes=(16, 64, 256, 1024), draws: int = 100, seed: int = 0, target_draws: int | None = None
) -> str:
    """Markdown: each regulariser's mean and standard deviation over samples of its target (N(0, I),
    or RDMReg's, drawn with ``target.sample``; ``target_draws`` of them, default a quarter of
    ``draws``: with a target the statistic costs more), by N (NumPy)."""
    rng = np.random.default_rng(seed)
    target_draws = max(2, draws // 4) if target_draws is None else target_draws
    lines = ["| regulariser | " + " | ".join(f"N = {n}" for n in sizes) + " |", "|---|" + "---|" * len(sizes)]
    samples = {n: [rng.standard_normal((n, COLLAPSE_D)) for _ in range(draws)] for n in sizes}
    for name, function in regularisers().items():
        cells = []
        for n in sizes:
            own = [target_cloud(name, n, seed=1 + seed * draws + i) for i in range(target_draws)]
            clouds = samples[n] if own[0] is None else own
            values = np.array([float(function(z)) for z in clouds])
            cells.append(f"{values.mean():.4f} ± {values.std(ddof=1):.4f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return (
        "\n".join(lines)
        + f"\n\nMean ± standard deviation over {draws} draws of N(0, I) ({target_draws} of RDMReg's"
        + " target for its rows). The exact null mean of Epps-Pulley against RDMReg's target on"
        + f" these {COLLAPSE_K} directions is {rdmreg_null_mean():.4f} at every N.\n"
    )


def story(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name in STORY_FILES:
        shutil.copy2(HERE / "story" / name, out / name)
    subprocess.run([sys.executable, str(HERE / "story" / "make_data.py"), str(out)], check=True)


def mathjax(out: Path) -> None:
    """Copy MathJax's TeX-to-SVG bundle (and the TeX extensions it may autoload) into ``out``."""
    import importlib.util

    spec = importlib.util.find_spec("mathjax")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "MathJax is missing: pip install django-static-mathjax (the docs dependency group)"
        )
    es5 = Path(next(iter(spec.submodule_search_locations))) / "static" / "mathjax" / "es5"
    for name in MATHJAX_FILES:
        source, target = es5 / name, out / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, dirs_exist_ok=True)
        else:
            shutil.copy2(source, target)


def main() -> None:
    FIGURES.mkdir(parents=True, exist_ok=True)
    descent_figure(FIGURES / "descent.png")
    null_figure(FIGURES / "null.png", null_samples())
    benchmark_figure(FIGURES / "benchmark.png", benchmark_rows(HERE / "data" / "benchmark.md"))
    (OUT / "grid_accuracy.md").write_text(grid_accuracy())
    (OUT / "pvalue_accuracy.md").write_text(pvalue_accuracy())
    (OUT / "pvalue_levels.md").write_text(pvalue_levels())
    (OUT / "power.md").write_text(power_table())
    (OUT / "statistics.md").write_text(statistics_table())
    (OUT / "statistics_names.md").write_text(names_table())
    calibration_figure(FIGURES / "calibration.png")
    curves = collapse_curves()
    (OUT / "collapse.md").write_text(collapse_table(curves))
    collapse_figure(FIGURES / "collapse.png", curves)
    (OUT / "collapse_null.md").write_text(collapse_null())
    story(EXTRA / "story")
    mathjax(EXTRA / "_static" / "mathjax")


if __name__ == "__main__":
    main()
