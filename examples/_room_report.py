"""How both LeWorldModel examples print their results: a table for people, ``--json`` for machines."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import asdict

from _digits import NULL_DRAWS
from _room import Recipe

# What each metric means, and which way is better: printed beside its value.
MEANING = {
    "position probe R^2": "least-squares probe of the position from the latent, held-out frames (1 best)",
    "distance fidelity (near)": "Spearman: latent vs true distance to positions within 0.3 (1: same order)",
    "distance fidelity (all)": "the same over the whole room",
    "planning success (near)": "% of 50 held-out start/goal pairs 0.2-0.4 apart reached (CEM, latent space)",
    "planning time (near)": "seconds of planning per episode (6 plans of 4 CEM iterations)",
    "planning success (far)": "% of 50 pairs at least 0.5 apart reached",
    "planning time (far)": "seconds of planning per episode",
    "surprise AUROC": "largest one-step prediction error: teleport vs normal trajectories (0.5: chance)",
    "effective rank": "of the latents of 512 held-out frames (1: a line; up to D)",
    "latent std": "mean standard deviation of those latents (near 0: collapsed to a point)",
    "SIGReg": "of those latents, 1024 slices (N(0, I) data average 1.05)",
    "SIGReg p-value": f"share of {NULL_DRAWS} N(0, I) samples of the same size scoring at least as high",
}


def table(metrics: dict, recipe: Recipe) -> str:
    """The metrics as an aligned three-column table under the recipe, then the effective rank and
    p-value through training."""
    rows = [("metric", "value", "meaning")]
    rows += [
        (name, f"{value:.4g}", MEANING.get(name, "")) for name, value in metrics.items() if name != "history"
    ]
    width = [max(len(row[i]) for row in rows) for i in range(2)]
    lines = [f"{a.ljust(width[0])}  {b.rjust(width[1])}  {c}".rstrip() for a, b, c in rows]
    lines.insert(1, f"{'-' * width[0]}  {'-' * width[1]}  {'-' * 7}")
    history = ", ".join(
        f"step {h['step']}: rank {h['effective rank']:.1f}, p {h['SIGReg p-value']:.2g}"
        for h in metrics["history"]
    )
    setup = ", ".join(f"{key} {value}" for key, value in asdict(recipe).items())
    return f"Recipe: {setup}\n\n" + "\n".join(lines) + f"\n\nThrough training: {history}"


def main(run: Callable[[Recipe], dict], description: str | None) -> None:
    """Parse ``--lam``, ``--steps``, ``--detach-target`` and ``--json``, train, evaluate, print."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--lam", type=float, default=Recipe.lam, help="weight of SIGReg (>= 0)")
    parser.add_argument("--steps", type=int, default=Recipe.steps, help="training steps")
    parser.add_argument("--detach-target", action="store_true", help="no gradient through the target")
    parser.add_argument("--json", action="store_true", help="print the metrics as one JSON object")
    args = parser.parse_args()
    recipe = Recipe(lam=args.lam, steps=args.steps, detach_target=args.detach_target)
    metrics = run(recipe)
    print(json.dumps(metrics, indent=2) if args.json else table(metrics, recipe))
