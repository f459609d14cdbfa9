"""How both LeJEPA digits examples print their results: a table for people, ``--json`` for machines."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import asdict

from _digits import Recipe

# What each metric means, and which way is better: printed beside its value.
MEANING = {
    "linear probe": "% test accuracy, logistic regression on the representation (higher is better)",
    "5-NN": "% test accuracy, 5 nearest neighbours on the representation (higher is better)",
    "representation rank": "effective rank of the test representation (1: a line; up to its width)",
    "embedding rank": "effective rank of the test embeddings (1: a line; up to their width)",
    "embedding std": "mean standard deviation of the embeddings (near 0: collapsed to a point)",
    "SIGReg": "of the test embeddings, 1024 slices (about 1.05 for N(0, I) data; large: not Gaussian)",
}


def table(metrics: dict[str, float], recipe: Recipe) -> str:
    """The metrics as an aligned three-column table under a line stating the recipe."""
    rows = [("metric", "value", "meaning")]
    rows += [(name, f"{value:.4g}", MEANING.get(name, "")) for name, value in metrics.items()]
    width = [max(len(row[i]) for row in rows) for i in range(2)]
    lines = [f"{a.ljust(width[0])}  {b.rjust(width[1])}  {c}".rstrip() for a, b, c in rows]
    lines.insert(1, f"{'-' * width[0]}  {'-' * width[1]}  {'-' * 7}")
    setup = ", ".join(f"{key} {value}" for key, value in asdict(recipe).items())
    return f"Recipe: {setup}\n\n" + "\n".join(lines)


def main(run: Callable[[Recipe], dict[str, float]], description: str | None) -> None:
    """Parse ``--lam``, ``--steps`` and ``--json``, train, and print the results."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--lam", type=float, default=Recipe.lam, help="weight of SIGReg in [0, 1]")
    parser.add_argument("--steps", type=int, default=Recipe.steps, help="training steps")
    parser.add_argument("--json", action="store_true", help="print the metrics as one JSON object")
    args = parser.parse_args()
    recipe = Recipe(lam=args.lam, steps=args.steps)
    metrics = run(recipe)
    print(json.dumps(metrics, indent=2) if args.json else table(metrics, recipe))
