"""How both LeJEPA digits examples print their results: a table for people, ``--json`` for machines."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import asdict

import _digits
from _digits import NULL_DRAWS, Recipe

# What each metric means, and which way is better: printed beside its value.
MEANING = {
    "linear probe": "% test accuracy, logistic regression on the representation (higher is better)",
    "5-NN": "% test accuracy, 5 nearest neighbours on the representation (higher is better)",
    "representation rank": "effective rank of the test representation (1: a line; up to its width)",
    "embedding rank": "effective rank of the test embeddings (1: a line; up to their width)",
    "embedding std": "mean standard deviation of the embeddings (near 0: collapsed to a point)",
    "SIGReg": f"of the test embeddings, {_digits.EVAL_SLICES} slices (N(0, I) data average 1.05, at any N)",
    "SIGReg p-value": f"share of {NULL_DRAWS} N(0, I) samples of the same size scoring at least as high",
    "SIGReg (target)": f"of the test embeddings against the recipe's target, {_digits.EVAL_SLICES} slices",
    "sparsity": "fraction of exact zeros of the test embeddings (RDMReg's target: 0.5 at mu = 0)",
}
SIGNIFICANT = 0.05


def reading(metrics: dict[str, float], recipe: Recipe) -> str:
    """A sentence that reads the SIGReg value against its p-value, for this recipe."""
    value, p = metrics["SIGReg"], metrics["SIGReg p-value"]
    draws = _digits.NULL_DRAWS
    floor = 1.0 / (draws + 1)
    ptext = f"p = {p:.2g}" + (f", the smallest {draws} draws give" if p <= floor * (1 + 1e-9) else "")
    if recipe.target is not None:
        return (
            f"SIGReg {value:.4g} ({ptext}): against N(0, I), the p-value's null; this encoder was "
            f"trained towards {recipe.target_law()!r} instead, so a large value here is expected: "
            "read SIGReg (target) and the sparsity."
        )
    if p > SIGNIFICANT:
        return f"SIGReg {value:.4g} ({ptext}): the test embeddings score as N(0, I) data of their size do."
    if recipe.lam > 0 and recipe.steps > 0:
        return (
            f"SIGReg {value:.4g} ({ptext}): above what N(0, I) data of this size score, as expected "
            f"for a trained encoder's held-out embeddings at lam = {recipe.lam}: the prediction loss "
            "pulls the views of an image together, and SIGReg keeps the cloud spread out (see the "
            "embedding rank and std) rather than exactly Gaussian. A collapsed encoder (lam = 0) "
            "scores far higher."
        )
    why = "without SIGReg (lam = 0)" if recipe.lam == 0 else "an untrained encoder (0 steps)"
    return f"SIGReg {value:.4g} ({ptext}): not Gaussian, and nothing makes it so for {why}."


def table(metrics: dict[str, float], recipe: Recipe) -> str:
    """The metrics as an aligned three-column table under a line stating the recipe."""
    rows = [("metric", "value", "meaning")]
    rows += [(name, f"{value:.4g}", MEANING.get(name, "")) for name, value in metrics.items()]
    width = [max(len(row[i]) for row in rows) for i in range(2)]
    lines = [f"{a.ljust(width[0])}  {b.rjust(width[1])}  {c}".rstrip() for a, b, c in rows]
    lines.insert(1, f"{'-' * width[0]}  {'-' * width[1]}  {'-' * 7}")
    setup = ", ".join(f"{key} {value}" for key, value in asdict(recipe).items())
    return f"Recipe: {setup}\n\n" + "\n".join(lines) + "\n\n" + reading(metrics, recipe)


def main(run: Callable[[Recipe], dict[str, float]], description: str | None) -> None:
    """Parse ``--lam``, ``--steps``, ``--regulariser``, ``--unbiased``, ``--target`` and ``--json``,
    train, print."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--lam", type=float, default=Recipe.lam, help="weight of SIGReg in [0, 1]")
    parser.add_argument("--steps", type=int, default=Recipe.steps, help="training steps")
    parser.add_argument(
        "--regulariser", choices=("sigreg", "visreg"), default=Recipe.regulariser, help="the regulariser"
    )
    parser.add_argument("--unbiased", action="store_true", help="SIGReg's unbiased (U-statistic) form")
    parser.add_argument(
        "--target",
        choices=[name for name in _digits.TARGETS if name is not None],
        default=Recipe.target,
        help="SIGReg's target instead of N(0, I) (rdmreg: Rectified LpJEPA's, rectified embeddings)",
    )
    parser.add_argument("--json", action="store_true", help="print the metrics as one JSON object")
    args = parser.parse_args()
    options = {"regulariser": args.regulariser, "unbiased": args.unbiased, "target": args.target}
    recipe = Recipe(lam=args.lam, steps=args.steps, **options)
    metrics = run(recipe)
    print(json.dumps(metrics, indent=2) if args.json else table(metrics, recipe))
