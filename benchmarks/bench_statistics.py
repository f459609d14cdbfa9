"""Forward+backward time and peak memory of every normality statistic, against Epps-Pulley.

    python benchmarks/bench_statistics.py [--repeats 5] [--output docs/data/benchmark-statistics.md]

PyTorch on the CPU, float32, N=2048 samples, D=512 features. The one-dimensional
statistics run as SIGReg's slice test, ``sigreg.sigreg(z, statistic=NAME)`` with
K=1024 directions (the same directions for all); BHEP and Henze-Zirkler are
multivariate and run on ``z`` itself (no slices). Times: all statistics in one
process, called in turn (one call each, round after round), best of the repeats,
so that this 2-core VM's slow phases hit all of them alike; then the same again
while another process keeps one core busy. Peak memory: each statistic once in a
fresh process, the growth of the peak resident set over one call, after a first
call that warms the allocator (and compiles Numba's kernels where they run).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable

import numpy as np
from bench import _inputs, _peak_mib, _reset_peak, _rss_mib

N, K = 2048, 1024
SLICED = (
    "epps_pulley",
    "moments",
    "jarque_bera",
    "anderson_darling",
    "cramer_von_mises",
    "watson",
    "shapiro_wilk",
    "entropy",
    "wasserstein",
)
MULTIVARIATE = ("bhep", "henze_zirkler")


def make_step(name: str) -> Callable[[], object]:
    """A function computing one forward+backward of statistic ``name`` on fixed inputs."""
    import torch

    import sigreg

    z, a = _inputs(N, K)
    zt, at = torch.from_numpy(z), torch.from_numpy(a)
    if name in MULTIVARIATE:
        f = getattr(sigreg.stats, name)
    else:

        def f(x: torch.Tensor) -> torch.Tensor:
            return sigreg.sigreg(x, statistic=name, directions=at)

    def step() -> object:
        x = zt.detach().requires_grad_(True)
        f(x).backward()
        return x.grad

    return step


def measure_times(repeats: int) -> dict[str, float]:
    """Best time [ms] of each statistic, quiet and with one core busy (``<name>_busy``)."""
    steps = {name: make_step(name) for name in SLICED + MULTIVARIATE}
    for step in steps.values():
        step()  # warm-up (Numba compiles its kernels on the first call)
    best = {name + suffix: float("inf") for name in steps for suffix in ("", "_busy")}
    for suffix in ("", "_busy"):
        busy = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if suffix else None
        try:
            for _ in range(repeats):
                for name, step in steps.items():
                    start = time.perf_counter()
                    step()
                    best[name + suffix] = min(best[name + suffix], time.perf_counter() - start)
        finally:
            if busy is not None:
                busy.kill()
                busy.wait()
    return {key: 1e3 * t for key, t in best.items()}


def measure_memory(name: str) -> float:
    step = make_step(name)
    step()
    _reset_peak()
    before = _rss_mib()
    step()
    return _peak_mib() - before


def _isolated(*args: str) -> object:
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--memory", metavar="NAME", help="(internal) peak memory of one statistic")
    parser.add_argument("--time", action="store_true", help="(internal) the timing rounds")
    parser.add_argument("--output", help="also write the markdown table to this file")
    args = parser.parse_args()
    if args.memory:
        print(json.dumps(measure_memory(args.memory)))
        return
    if args.time:
        print(json.dumps(measure_times(args.repeats)))
        return
    times = _isolated("--time", "--repeats", str(args.repeats))
    assert isinstance(times, dict)
    ref, ref_busy = times["epps_pulley"], times["epps_pulley_busy"]
    lines = [
        "| statistic | input | forward+backward [ms] | / Epps-Pulley | / Epps-Pulley, one core busy "
        "| peak memory [MiB] |",
        "|---|---|---|---|---|---|",
    ]
    for name in SLICED + MULTIVARIATE:
        shape = f"z ({N} x 512)" if name in MULTIVARIATE else f"{K} slices of z ({N} x 512)"
        peak = _isolated("--memory", name)
        assert isinstance(peak, float)
        lines.append(
            f"| `{name}` | {shape} | {times[name]:.1f} | {times[name] / ref:.2f} | "
            f"{times[name + '_busy'] / ref_busy:.2f} | {peak:.0f} |"
        )
        print(lines[-1], flush=True)
    if args.output:
        import torch

        header = [
            f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}, numpy {np.__version__}, torch {torch.__version__}; "
            f"best of {args.repeats} rounds",
            "",
        ]
        with open(args.output, "w") as f:
            f.write("\n".join(header + lines) + "\n")


if __name__ == "__main__":
    main()
