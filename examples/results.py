"""The results table of the LeJEPA digits examples.

    python examples/results.py [--output docs/data/examples.md] [--only LABEL ...]


For each framework: LeJEPA (default lam) with SIGReg, its unbiased form, VISReg in its
place (also at lam = 0.9, its authors' weight) and SIGReg towards RDMReg's target with
rectified embeddings (Rectified LpJEPA), lam = 0 (no SIGReg), and the randomly initialised
encoder (0 steps); and PCA of the pixels with the same number of components as the
representation.

``--only LABEL`` (repeatable) trains only the rows of that encoder label, in both frameworks,
and merges them into the table already at ``--output`` (the other rows kept as they are, a
column the old table lacks shown as "-"): new rows without rerunning the others.
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

HEADER = (
    "framework",
    "encoder",
    "linear probe [%]",
    "5-NN [%]",
    "effective rank (representation)",
    "effective rank (embedding)",
    "embedding std",
    "SIGReg (test)",
    "sparsity [% zeros]",
    "train time [s]",
)


def encoders(recipe: Recipe) -> list[tuple[str, Recipe]]:
    """(label, recipe) of every trained row, in table order."""
    return [
        (f"LeJEPA, lam = {recipe.lam}", recipe),
        ("LeJEPA, unbiased SIGReg", dataclasses.replace(recipe, unbiased=True)),
        ("LeJEPA, VISReg", dataclasses.replace(recipe, regulariser="visreg")),
        # VISReg's authors weigh it 0.9 (HaiyuWu/visreg, configs/default.yaml: lamb 0.9)
        ("LeJEPA, VISReg, lam = 0.9", dataclasses.replace(recipe, regulariser="visreg", lam=0.9)),
        # Rectified LpJEPA: SIGReg towards RDMReg's target, ReLU'd embeddings (non-negative, sparse)
        ("LeJEPA, RDMReg target", dataclasses.replace(recipe, target="rdmreg")),
        ("lam = 0 (no SIGReg)", dataclasses.replace(recipe, lam=0.0)),
        ("random encoder", dataclasses.replace(recipe, steps=0)),
    ]


def row(name: str, label: str, m: dict[str, float], seconds: float) -> dict[str, str]:
    """One table row as {column: cell}."""
    sparsity = f"{100 * m['sparsity']:.1f}" if "sparsity" in m else "-"
    statistic = f"{m['SIGReg']:.2f}"
    if "SIGReg (target)" in m:  # trained towards another target: its statistic against that one too
        statistic += f" ({m['SIGReg (target)']:.2f} against its target)"
    cells = (
        name,
        label,
        f"{m['linear probe']:.1f}",
        f"{m['5-NN']:.1f}",
        f"{m['representation rank']:.2f}",
        f"{m['embedding rank']:.2f}",
        f"{m['embedding std']:.3g}",
        statistic,
        sparsity,
        f"{seconds:.0f}",
    )
    return dict(zip(HEADER, cells, strict=True))


def read_rows(text: str) -> list[dict[str, str]]:
    """The rows of a table written by this script (any earlier set of columns) as {column: cell}."""
    lines = [line for line in text.splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    return [
        dict(zip(header, (cell.strip() for cell in line.strip("|").split("|")), strict=True))
        for line in lines[2:]
    ]


def merge(old: list[dict[str, str]], new: list[dict[str, str]], recipe: Recipe) -> list[dict[str, str]]:
    """``old`` with each (framework, encoder) of ``new`` replaced or, if absent, put in table order."""
    fresh = {(r["framework"], r["encoder"]): r for r in new}
    rows = [fresh.pop((r["framework"], r["encoder"]), r) for r in old]
    order = [label for label, _ in encoders(recipe)]
    for key, r in fresh.items():
        # After the last row of the same framework whose label comes earlier in the table order.
        rank = order.index(key[1])
        at = max(
            (
                i + 1
                for i, o in enumerate(rows)
                if o["framework"] == key[0] and o["encoder"] in order and order.index(o["encoder"]) < rank
            ),
            default=len(rows),
        )
        rows.insert(at, r)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--output")
    parser.add_argument("--only", action="append", help="train only this encoder label; merge into --output")
    args = parser.parse_args()
    recipe = Recipe()
    labels = [label for label, _ in encoders(recipe)]
    for label in args.only or ():
        if label not in labels:
            parser.error(f"--only must be one of {', '.join(map(repr, labels))}; got {label!r}")
    if args.only and not (args.output and Path(args.output).exists()):
        parser.error("--only merges into an existing table: give --output with the table to update")
    rows = []
    for name, module in (("PyTorch", lejepa_digits_torch), ("JAX", lejepa_digits_jax)):
        for label, r in encoders(recipe):
            if args.only and label not in args.only:
                continue
            start = time.perf_counter()
            metrics = module.run(r, progress=False)
            rows.append(row(name, label, metrics, time.perf_counter() - start))
            print(name, label, metrics, f"{rows[-1]['train time [s]']} s", flush=True)
    command = "`python examples/results.py --output docs/data/examples.md`"
    if args.only:
        text = Path(args.output).read_text()
        rows = merge(read_rows(text), rows, recipe)
        only = " ".join(f"--only '{label}'" for label in args.only)
        command += f"; rows {', '.join(args.only)}: "
        command += f"`python examples/results.py --output {args.output} {only}`"
    else:
        pca = pca_baseline(recipe)
        rows.append(row("-", f"PCA of the pixels, {recipe.representation} components", pca, 0.0))
    lines = [
        f"Recipe: {recipe}",
        f"Machine: {platform.machine()}, Python {platform.python_version()}. Command: {command}.",
        "",
        "| " + " | ".join(HEADER) + " |",
        "|" + "---|" * len(HEADER),
    ]
    lines += ["| " + " | ".join(r.get(column, "-") for column in HEADER) + " |" for r in rows]
    text = "\n".join(lines)
    print(text)
    if args.output:
        Path(args.output).write_text(text + "\n")


if __name__ == "__main__":
    main()
