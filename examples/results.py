"""The results table of the LeJEPA digits examples.

    python examples/results.py [--output docs/data/examples.md]


For each framework: LeJEPA (default lam) with SIGReg, its unbiased form and VISReg in its
place (also at lam = 0.9, its authors' weight), lam = 0 (no SIGReg), and the randomly
initialised encoder (0 steps); and PCA of the pixels with the same number of
components as the representation.
"""

from __future__ import annotations

import argparse
import dataclasses
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import lejepa_digits_jax
import lejepa_digits_torch
from _digits import Recipe, pca_baseline


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--output")
    args = parser.parse_args()
    recipe = Recipe()
    rows = []
    for name, module in (("PyTorch", lejepa_digits_torch), ("JAX", lejepa_digits_jax)):
        for label, r in (
            (f"LeJEPA, lam = {recipe.lam}", recipe),
            ("LeJEPA, unbiased SIGReg", dataclasses.replace(recipe, unbiased=True)),
            ("LeJEPA, VISReg", dataclasses.replace(recipe, regulariser="visreg")),
            # VISReg's authors weigh it 0.9 (HaiyuWu/visreg, configs/default.yaml: lamb 0.9)
            ("LeJEPA, VISReg, lam = 0.9", dataclasses.replace(recipe, regulariser="visreg", lam=0.9)),
            ("lam = 0 (no SIGReg)", dataclasses.replace(recipe, lam=0.0)),
            ("random encoder", dataclasses.replace(recipe, steps=0)),
        ):
            start = time.perf_counter()
            metrics = module.run(r, progress=False)
            rows.append((name, label, metrics, time.perf_counter() - start))
            print(name, label, metrics, f"{rows[-1][3]:.0f} s", flush=True)
    rows.append(("-", f"PCA of the pixels, {recipe.representation} components", pca_baseline(recipe), 0.0))
    lines = [
        f"Recipe: {recipe}",
        f"Machine: {platform.machine()}, Python {platform.python_version()}. "
        "Command: `python examples/results.py --output docs/data/examples.md`.",
        "",
        "| framework | encoder | linear probe [%] | 5-NN [%] | effective rank (representation) "
        "| effective rank (embedding) | embedding std | SIGReg (test) | train time [s] |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, label, m, seconds in rows:
        lines.append(
            f"| {name} | {label} | {m['linear probe']:.1f} | {m['5-NN']:.1f} "
            f"| {m['representation rank']:.2f} | {m['embedding rank']:.2f} "
            f"| {m['embedding std']:.3g} | {m['SIGReg']:.2f} | {seconds:.0f} |"
        )
    text = "\n".join(lines)
    print(text)
    if args.output:
        Path(args.output).write_text(text + "\n")


if __name__ == "__main__":
    main()
