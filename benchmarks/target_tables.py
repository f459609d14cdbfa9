"""Time to build the CF table of each tabulated target (host float64 quadrature, pure Python).

    python benchmarks/target_tables.py [--repeats 5] [--t-max 3 5]

A statistic with a target makes its table once, when it is made (``EppsPulley(target=...)``, or
each call of ``sigreg.sigreg(z, target=...)`` with a new target object: the tables are cached by
target and knots). Every build here starts from empty caches; the targets are built in turn, round
after round, and the median of the rounds is shown, with the table's size and the terms summed
(a cos, sin or exp times a weight: sigreg/_statistics/target_tables.py budgets 2 million).
"""

from __future__ import annotations

import argparse
import statistics
import time

import sigreg
from sigreg._statistics import target_tables
from sigreg.targets import GeneralizedNormal, RectifiedGeneralizedNormal

TARGETS = [
    *(GeneralizedNormal(beta) for beta in (0.1, 0.3, 0.7, 1.5, 3.0, 10.0)),
    RectifiedGeneralizedNormal(),
    RectifiedGeneralizedNormal(p=1.0),
    RectifiedGeneralizedNormal(p=1.0, mu=0.5),
    RectifiedGeneralizedNormal(p=1.0, mu=-3.0),
    RectifiedGeneralizedNormal(p=0.5, mu=1.0),
    RectifiedGeneralizedNormal(p=2.0, mu=3.0),
]


def _clear() -> None:
    for cached in (
        target_tables.gn_cf,
        target_tables.cf_table,
        target_tables._real_line_rule,
        target_tables._contour_rule,
    ):
        cached.cache_clear()


def _build(target: object, bound: float) -> tuple[float, int, int]:
    _clear()
    start_work = target_tables.work[0]
    start = time.perf_counter()
    table = target.table(bound)  # type: ignore[attr-defined]
    seconds = time.perf_counter() - start
    return seconds, len(table[2]) - 3, target_tables.work[0] - start_work


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--t-max", type=float, nargs="+", default=[3.0, 5.0])
    args = parser.parse_args()
    print(f"sigreg {sigreg.__version__}; median of {args.repeats} rounds, empty caches each time\n")
    for bound in args.t_max:
        times: dict[int, list[float]] = {i: [] for i in range(len(TARGETS))}
        sizes: dict[int, tuple[int, int]] = {}
        for _ in range(args.repeats):
            for i, target in enumerate(TARGETS):
                seconds, points, work = _build(target, bound)
                times[i].append(seconds)
                sizes[i] = (points, work)
        print(f"t_max = {bound:g}\n\n| target | seconds | table knots | terms |\n|---|---|---|---|")
        for i, target in enumerate(TARGETS):
            points, work = sizes[i]
            print(f"| {target!r} | {statistics.median(times[i]):.3f} | {points + 1} | {work:,} |")
        print()


if __name__ == "__main__":
    main()
