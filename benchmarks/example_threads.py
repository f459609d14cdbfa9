"""OpenMP's wait policy and the PyTorch digits example: ``python benchmarks/example_threads.py``.

Trains ``examples/lejepa_digits_torch.py``'s recipe for ``--steps`` steps in fresh processes,
alternately with OpenMP's default wait policy (``OMP_WAIT_POLICY`` unset: what a user has;
sigreg then keeps PyTorch's idle threads from spinning itself, kernels/openmp.py) and
``passive``, ``--rounds`` times, while ``--busy`` other processes keep cores busy, and prints
each run's time and the ratios to passive. ``--policies default,passive,spinning`` adds
libgomp's own spin count (``GOMP_SPINCOUNT=300000``, which turns sigreg's calming off); with
``--busy 0`` the same rows say what the calming costs on a quiet machine. A step is everything
between two batches.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
# The environments compared: what a user has, OpenMP's passive policy, and libgomp's own spin
# count set explicitly (sigreg then leaves OpenMP alone: its calming off).
POLICIES = {
    "default": {},
    "passive": {"OMP_WAIT_POLICY": "passive"},
    "spinning": {"GOMP_SPINCOUNT": "300000"},
}


def _spin() -> None:
    while True:
        pass


def _train(steps: int, policy: str) -> float:
    sys.path.insert(0, str(EXAMPLES))
    import _digits
    import lejepa_digits_torch

    start = time.perf_counter()
    lejepa_digits_torch.train(_digits.Recipe(steps=steps), progress=False)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--busy", type=int, default=2, help="processes that keep a core busy")
    parser.add_argument("--policies", default="default,passive", help=f"comma list of {', '.join(POLICIES)}")
    parser.add_argument("--train", nargs=2, metavar=("STEPS", "POLICY"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.train:
        print(_train(int(args.train[0]), args.train[1]))
        return
    busy = [multiprocessing.Process(target=_spin, daemon=True) for _ in range(args.busy)]
    for p in busy:
        p.start()
    times: dict[str, list[float]] = {policy: [] for policy in args.policies.split(",")}
    try:
        for _ in range(args.rounds):
            for policy in times:
                env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
                env |= POLICIES[policy]
                out = subprocess.run(
                    [sys.executable, __file__, "--train", str(args.steps), policy],
                    env=env,
                    capture_output=True,
                    text=True,
                    check=True,
                )
                times[policy].append(float(out.stdout.strip().splitlines()[-1]))
                print(f"{policy:8s} {times[policy][-1]:7.1f} s", flush=True)
    finally:
        for p in busy:
            p.terminate()
    best = {policy: min(t) for policy, t in times.items()}
    reference = best.get("passive", next(iter(best.values())))
    summary = ", ".join(f"{policy} {t:.1f} s ({t / reference:.2f}x)" for policy, t in best.items())
    setting = f"{args.steps} steps, {args.busy} busy processes, {os.cpu_count()} cores"
    print(f"{setting}, best of {args.rounds}: {summary}")


if __name__ == "__main__":
    main()
