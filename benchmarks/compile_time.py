"""Cold ``torch.compile`` of a SIGReg step on the CPU, with the direction draw as one op or not.

    python benchmarks/compile_time.py [--rounds 2]

Each measurement is a fresh process with an empty ``TORCHINDUCTOR_CACHE_DIR``: it compiles
``sigreg.sigreg(z, num_slices=32, seed=5)`` with ``fullgraph=True`` (N = 48, D = 6) and runs the
forward and the backward once. "op" is sigreg as shipped (the draw is the custom op
``sigreg::directions``); "inductor" lets Inductor generate and compile the draw's C++ itself
(the torch adapter's ``directions`` replaced, in that process only, by the plain eager draw,
which dynamo traces). The two alternate, round by round, and the ratio of the medians is printed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).parents[1]

STEP = """
import sys, time
import torch
import sigreg
if sys.argv[1] == "inductor":
    from array_api_compat import torch as xp
    from sigreg._backend.adapters import torch_autograd
    from sigreg._core import draws

    def directions(dim, num_slices, keys, device, dtype):
        return draws.from_keys(dim, num_slices, keys, xp, device, dtype)

    torch_autograd.directions = directions
z = (torch.randn(48, 6, generator=torch.Generator().manual_seed(2)) * 1.1 + 0.1).requires_grad_(True)
start = time.perf_counter()
torch.compile(lambda x: sigreg.sigreg(x, num_slices=32, seed=5), fullgraph=True)(z).backward()
print(time.perf_counter() - start)
"""


def cold_compile_seconds(mode: str) -> float:
    with tempfile.TemporaryDirectory(prefix="sigreg-inductor-") as cache:
        env = {**os.environ, "TORCHINDUCTOR_CACHE_DIR": cache, "PYTHONPATH": str(ROOT)}
        out = subprocess.run(
            [sys.executable, "-c", STEP, mode], capture_output=True, text=True, env=env, check=True
        )
    return float(out.stdout.split()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    times: dict[str, list[float]] = {"op": [], "inductor": []}
    for _ in range(args.rounds):
        for mode in times:
            times[mode].append(cold_compile_seconds(mode))
            print(f"{mode:>8}: {times[mode][-1]:.1f} s", flush=True)
    op, inductor = (statistics.median(times[m]) for m in ("op", "inductor"))
    summary = f"op {op:.1f} s, inductor {inductor:.1f} s, {inductor / op:.1f}x"
    print(f"cold compile, median of {args.rounds}: {summary}")


if __name__ == "__main__":
    main()
