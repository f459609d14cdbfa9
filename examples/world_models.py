"""The results table of the LeWorldModel room examples.

    python examples/world_models.py [--output docs/data/world-models.md] [--frameworks torch jax]

For each framework: LeWM (lam = 0.1, no stop-gradient: the paper's recipe; with a second seed
too), lam = 0 (no SIGReg: the collapse baseline), a stop-gradient baseline (the target
detached, lam = 0) and the untrained encoder and predictor; then, as references, the true state
(the agent's position read off the frame, the room's own dynamics: what the planner reaches with
a perfect model) and random actions on the same pairs.
A second table follows the effective rank and SIGReg p-value of held-out latents through training.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _room import DISTANCES, Recipe, evaluate, random_actions, true_state

FRAMEWORKS = {"torch": ("PyTorch", "lewm_room_torch"), "jax": ("JAX", "lewm_room_jax")}
HEADER = (
    "framework",
    "model",
    "position probe R^2",
    "distance fidelity (near / all)",
    "planning success, near goals [%]",
    "planning success, far goals [%]",
    "planning time [s / episode]",
    "surprise AUROC",
    "effective rank",
    "latent std",
    "SIGReg (held-out)",
    "SIGReg p-value",
    "train time [s]",
)


def variants(recipe: Recipe) -> list[tuple[str, Recipe]]:
    """(label, recipe) of every trained row, in table order."""
    return [
        (f"LeWM, lam = {recipe.lam}", recipe),
        # the same with other initial weights and data order: how much of a difference is the seed's
        (
            f"LeWM, lam = {recipe.lam}, seed {recipe.seed + 1}",
            dataclasses.replace(recipe, seed=recipe.seed + 1),
        ),
        ("lam = 0 (no SIGReg)", dataclasses.replace(recipe, lam=0.0)),
        ("stop-gradient, lam = 0", dataclasses.replace(recipe, lam=0.0, detach_target=True)),
        ("untrained (0 steps)", dataclasses.replace(recipe, steps=0)),
    ]


def row(name: str, label: str, m: dict, seconds: float) -> dict[str, str]:
    times = [m[f"planning time ({d})"] for d in DISTANCES]
    cells = (
        name,
        label,
        f"{m['position probe R^2']:.2f}",
        f"{m['distance fidelity (near)']:.2f} / {m['distance fidelity (all)']:.2f}",
        f"{m['planning success (near)']:.0f}",
        f"{m['planning success (far)']:.0f}",
        f"{sum(times) / len(times):.2f}",
        f"{m['surprise AUROC']:.3f}",
        f"{m['effective rank']:.1f}",
        f"{m['latent std']:.3g}",
        f"{m['SIGReg']:.1f}",
        f"{m['SIGReg p-value']:.2g}",
        f"{seconds:.0f}",
    )
    return dict(zip(HEADER, cells, strict=True))


def markdown(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + [
        "| " + " | ".join(r) + " |" for r in rows
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--output")
    parser.add_argument("--frameworks", nargs="+", choices=list(FRAMEWORKS), default=list(FRAMEWORKS))
    parser.add_argument(
        "--steps", type=int, default=Recipe.steps, help="training steps (a quick look: fewer)"
    )
    parser.add_argument("--pairs", type=int, default=50, help="start/goal pairs per goal distance")
    args = parser.parse_args()
    recipe = Recipe(steps=args.steps)
    load = [os.getloadavg()[0]]  # other jobs on the machine lengthen every time in the table
    rows, histories, totals = [], [], []
    for key in args.frameworks:
        name, module_name = FRAMEWORKS[key]
        module = importlib.import_module(module_name)
        began = time.perf_counter()
        for label, r in variants(recipe):
            start = time.perf_counter()
            metrics = module.run(r, progress=False, planned_pairs=args.pairs)
            rows.append(row(name, label, metrics, time.perf_counter() - start))
            histories.append((name, label, metrics["history"]))
            print(name, label, {k: v for k, v in metrics.items() if k != "history"}, flush=True)
        totals.append(f"{name} {time.perf_counter() - began:.0f} s")
    load.append(os.getloadavg()[0])
    truth = evaluate(true_state(), args.pairs)
    oracle = row("-", "true state (position and dynamics)", truth, 0.0)
    oracle |= dict.fromkeys(
        ("effective rank", "latent std", "SIGReg (held-out)", "SIGReg p-value", "train time [s]"), "-"
    )
    chance = {d: random_actions(args.pairs, d) for d in DISTANCES}
    reference = dict.fromkeys(HEADER, "-")
    reference |= {
        "model": "random actions",
        "planning success, near goals [%]": f"{chance['near']:.0f}",
        "planning success, far goals [%]": f"{chance['far']:.0f}",
    }
    steps = [str(h["step"]) for h in histories[0][2]]
    lines = [
        f"Recipe: {recipe}",
        f"Machine: {platform.machine()}, Python {platform.python_version()}. "
        f"Command: `python examples/world_models.py --output docs/data/world-models.md`. Whole run per "
        f"framework (training, evaluation, {args.pairs} plans per goal distance and row): "
        f"{', '.join(totals)}; load average {load[0]:.1f} at the start, {load[1]:.1f} at the end.",
        "",
        *markdown(list(HEADER), [[r[c] for c in HEADER] for r in [*rows, oracle, reference]]),
        "",
        "Effective rank / latent std / SIGReg p-value of the latents of 512 held-out frames through "
        "training, by step:",
        "",
        *markdown(
            ["framework", "model", *steps],
            [
                [
                    name,
                    label,
                    *(
                        f"{h['effective rank']:.1f} / {h['latent std']:.2g} / {h['SIGReg p-value']:.2g}"
                        for h in history
                    ),
                ]
                for name, label, history in histories
                if history  # the untrained rows have no training to follow
            ],
        ),
    ]
    text = "\n".join(lines)
    print(text)
    if args.output:
        Path(args.output).write_text(text + "\n")


if __name__ == "__main__":
    main()
