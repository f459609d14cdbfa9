"""``python -m sigreg [demo]``: the demo; ``python -m sigreg check``: the backend check;
``python -m sigreg warmup``: compile the CPU kernels ahead of time."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ._cli import files as _files


def run_demo() -> int:
    from . import demo
    from ._cli import check as _check

    print("A collapsed cloud (a thin line in 3-D) unfolds under gradient steps on SIGReg")
    print(f"({demo.NUM_POINTS} points, {demo.NUM_SLICES} fresh slices per step, NumPy, analytic gradient)\n")
    print(" step   SIGReg   sd axis 1  sd axis 2  sd axis 3")
    last = 0.0
    for step, value, z in demo.unfold(demo.collapsed_cloud()):
        s = demo.spreads(z)
        print(f"{step:5d} {value:8.3f}   {s[0]:9.3f}  {s[1]:9.3f}  {s[2]:9.3f}")
        last = value
    print(
        "\n  step       gradient steps taken (learning rate 1.0)\n"
        "  SIGReg     the points' value before that step\n"
        "  sd axis i  the cloud's standard deviation along its i-th principal axis, largest first:\n"
        "             a line has one large and two near 0; a round N(0, I) cloud has all three near 1"
    )
    low, high = demo.null_range()
    print(
        f"\nA good value at N = {demo.NUM_POINTS}, K = {demo.NUM_SLICES} is about {demo.null_mean():.2f}:"
        " the mean of SIGReg for an exact\nN(0, I) sample, at every N and K (closed form); 90% of"
        f" N(0, I) samples of {demo.NUM_POINTS} points in 3-D\nscore between {low:.2f} and {high:.2f}."
        f" The unfolded cloud ends at {last:.2f}, {_unfolded_reading(last, low, high)}\n"
        "Read values inside that band as Gaussian; sigreg.test turns a value into a p-value.\n"
    )
    print("The same SIGReg value and gradient on every installed backend")
    print(
        f"(input {_check.SHAPE}, {_check.NUM_SLICES} slices, seed {_check.SEED}; "
        "deviation from NumPy float64):\n"
    )
    rows = _check.run()
    print(_check.format_table(rows))
    print("\n" + _check.legend())
    print(_table_input_reading(rows))
    return 0 if all(r.ok for r in rows) else 1


def _unfolded_reading(last: float, low: float, high: float) -> str:
    """What the demo's final value means against the N(0, I) band [low, high]."""
    if last < low:
        return (
            "below that band, because its points\nwere optimised against the test itself: they cancel "
            "the sampling noise that any random sample\nhas."
        )
    if last > high:
        return "above that band: the cloud is not yet round."
    return "inside that band: as round as an N(0, I) sample."


def _table_input_reading(rows: list[Any]) -> str:
    """Why the table's values sit far from 1.05, and which backends are missing from it."""
    from . import demo
    from ._cli import check as _check

    n, dim = _check.SHAPE
    low, high = demo.null_range(num_points=n, dim=dim, num_slices=_check.NUM_SLICES, draws=50)
    value = rows[0].value if rows else float("nan")
    where = "far above" if value > high else "inside" if value >= low else "below"
    lines = [
        f"\nThe table's input is deliberately not Gaussian (feature scales 0.5 to 1.5, a shift of 0.1), so"
        f"\nthat value and gradient are far from zero: its value {value:.2f} is {where} the band of N(0, I)"
        f"\ndata of this size ({low:.2f} to {high:.2f} for 90% of them). The table compares backends,"
        " not data."
    ]
    absent = _check.missing()
    if absent:
        lines.append(
            "Not installed, so not in the table: " + "; ".join(f"{m} ({how})" for m, how in absent) + "."
        )
    return "\n".join(lines)


def check(args: argparse.Namespace) -> int:
    from ._cli import check as _check

    rows = _check.run()
    if args.json:
        print(json.dumps(_check.as_json(rows), indent=2))
    else:
        print(_check.format_table(rows))
        print("\n" + _check.legend())
        absent = _check.missing()
        if absent:
            print(
                "Not installed, so not in the table: " + "; ".join(f"{m} ({how})" for m, how in absent) + "."
            )
        failed = [r for r in rows if not r.ok]
        print(
            f"\n{len(rows) - len(failed)} of {len(rows)} backend rows within tolerance "
            f"({_check.tolerance_text()})"
        )
    return 0 if all(r.ok for r in rows) else 1


def warmup(args: argparse.Namespace) -> int:
    import os
    import time

    from ._api.warmup import warmup as compile_kernels
    from ._backend.kernels import numba_cache

    start = time.perf_counter()
    status = compile_kernels(args.dtype, check=args.check)
    if set(status.values()) == {"unavailable"}:
        print("Numba is not installed (pip install 'sigreg[numba]'): no CPU kernels to compile")
        return 0
    if set(status.values()) == {"disabled"}:
        print("SIGREG_KERNELS leaves Numba out: no CPU kernels to compile")
        return 0
    for dtype, how in status.items():
        print(f"{dtype}: {how}")
    folder = numba_cache.cache_dir()
    _, cpu, features = numba_cache.target()
    where = f"NUMBA_CPU_NAME={cpu}" + (f", NUMBA_CPU_FEATURES={features!r}" if len(features) < 60 else "")
    writable = "writable" if os.access(folder, os.W_OK) else "read-only here"
    if not args.check:
        seconds = time.perf_counter() - start
        print(f"{seconds:.1f} s; the kernels are cached in {folder} ({writable}; {where})")
        return 1 if "failed" in status.values() else 0
    missing = [dtype for dtype, how in status.items() if how == "missing"]
    print(f"cache: {folder} ({writable}); this process looks for kernels compiled for {where}")
    lacking = numba_cache.missing_features()
    if lacking:
        print(f"this CPU lacks {', '.join(lacking)}, which NUMBA_CPU_NAME asks for: the kernels will not run")
        return 1
    if missing:
        print(
            f"not cached for this target: {', '.join(missing)}. `python -m sigreg warmup` with the same "
            "NUMBA_CACHE_DIR and NUMBA_CPU_NAME fills the cache (docs/deploying.md)"
        )
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="sigreg",
        description="SIGReg: demo, backend check and normality test. Without a subcommand, runs the demo.",
    )
    sub = parser.add_subparsers(dest="command", title="subcommands")
    sub.add_parser(
        "demo",
        help="a collapsed cloud unfolds under SIGReg, then the backend table (the default)",
        description="A collapsed cloud unfolds under gradient steps on SIGReg; then `sigreg check`'s table.",
    )
    check_parser = sub.add_parser(
        "check",
        help="compare value and gradient on every installed backend",
        description="SIGReg's value and gradient on every installed backend against NumPy float64.",
    )
    check_parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    warmup_parser = sub.add_parser(
        "warmup",
        help="compile the fused CPU kernels now (a Docker build, the start of a job)",
        description="Compile the Numba CPU kernels ahead of time and keep them in the disk cache "
        "(NUMBA_CACHE_DIR, else ~/.cache/sigreg/numba), so that the first sigreg call is fast.",
    )
    warmup_parser.add_argument(
        "--check",
        action="store_true",
        help="compile nothing: say whether the cache holds the kernels for this CPU (exit 1 if not)",
    )
    warmup_parser.add_argument(
        "--dtype",
        action="append",
        choices=("float32", "float64"),
        help="a compute dtype to compile for (repeatable; default: both)",
    )
    _files.add_parser(sub)
    args = parser.parse_args(argv)
    if args.command == "check":
        return check(args)
    if args.command == "warmup":
        return warmup(args)
    if args.command == "test":
        return _files.run(args)
    return run_demo()


if __name__ == "__main__":
    sys.exit(main())
