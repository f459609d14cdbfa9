"""The Numba kernels compiled for portable CPU targets against this CPU's own.

    python benchmarks/cpu_targets.py [--rounds 3] [--dtype float32]

A cache shared by machines with different CPUs (a container image) needs a target that every
one of them runs: ``NUMBA_CPU_NAME=generic`` (any CPU of the architecture) or an x86-64 level
(``x86-64-v3``: AVX2 and FMA) with ``NUMBA_CPU_FEATURES=""``. Each round starts one fresh process
per target, alternately, with a compile cache of this run; each times sums and gradient
(``ecf_sums`` then ``ecf_sums_vjp``, N=2048, K=1024, J=16) and prints the median of 11 calls.
The table gives each target's median over the rounds and its ratio to this CPU's own target.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {
    "this CPU": {},
    "x86-64-v3": {"NUMBA_CPU_NAME": "x86-64-v3", "NUMBA_CPU_FEATURES": ""},
    "generic": {"NUMBA_CPU_NAME": "generic"},
}
STEP = """
import json, statistics, sys, time
import numpy as np
from sigreg._backend.kernels import numba_ecf
dtype = sys.argv[1]
u = np.random.default_rng(0).standard_normal((2048, 1024)).astype(dtype)
bar = np.random.default_rng(1).standard_normal((1024, 32)).astype(dtype)
numba_ecf.ecf_sums_vjp(u, numba_ecf.ecf_sums(u, 0.1875, 16), 0.1875, 16)  # compiles or loads
times = []
for _ in range(11):
    start = time.perf_counter()
    numba_ecf.ecf_sums_vjp(u, numba_ecf.ecf_sums(u, 0.1875, 16), 0.1875, 16)
    times.append(time.perf_counter() - start)
print(json.dumps(1e3 * statistics.median(times)))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    args = parser.parse_args()
    if os.uname().machine not in ("x86_64", "AMD64"):
        del TARGETS["x86-64-v3"]
    times: dict[str, list[float]] = {name: [] for name in TARGETS}
    with tempfile.TemporaryDirectory(prefix="sigreg-cpu-targets-") as cache:
        base = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_CPU_")}
        base |= {"NUMBA_CACHE_DIR": cache, "PYTHONPATH": os.environ.get("PYTHONPATH", str(ROOT))}
        for _ in range(args.rounds):
            for name, env in TARGETS.items():
                out = subprocess.run(
                    [sys.executable, "-c", STEP, args.dtype],
                    env={**base, **env},
                    capture_output=True,
                    text=True,
                    check=True,
                )
                times[name].append(json.loads(out.stdout.strip().splitlines()[-1]))
                print(f"{name:>10}: {times[name][-1]:.1f} ms", flush=True)
    own = statistics.median(times["this CPU"])
    print(f"\n| target ({args.dtype}, sums + gradient, N=2048, K=1024) | time [ms] | against this CPU |")
    print("|---|---|---|")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"| {name} | {median:.1f} | {median / own:.2f}x |")


if __name__ == "__main__":
    main()
