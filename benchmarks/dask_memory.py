"""Peak memory of ``sigreg.sigreg`` on a lazily generated dask array (threaded scheduler).

    python benchmarks/dask_memory.py [--rows 2000000] [--dim 64] [--chunk-rows 250000]
                                     [--num-slices 1024] [--workers 2]

The array (float32, N(0, I)) is generated chunk by chunk inside the graph, so nothing
of size N exists before the evaluation; the script prints the peak resident set of
the process (Linux's VmHWM, which includes the interpreter, NumPy and Dask), the
growth of the peak over what the process held before computing, and the time.
Peak memory grows with ``chunk rows x workers``: each worker thread holds one chunk
of ``z`` (and its float64 draw while it is generated) and one slab of projections.
Not a test: it asserts nothing and prints numbers for docs/large.md.
"""

from __future__ import annotations

import argparse
import json
import time


def _status_mib(field: str) -> float:
    with open("/proc/self/status") as f:
        line = next(line for line in f if line.startswith(field + ":"))
    return int(line.split()[1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--chunk-rows", type=int, default=250_000)
    parser.add_argument("--num-slices", type=int, default=1024)
    parser.add_argument("--workers", type=int, default=2, help="threads of the threaded scheduler")
    args = parser.parse_args()

    import dask.array as da
    import numpy as np

    import sigreg

    z = da.random.default_rng(0).standard_normal(
        (args.rows, args.dim), chunks=(args.chunk_rows, args.dim), dtype=np.float32
    )
    value = sigreg.sigreg(z, num_slices=args.num_slices, seed=0)
    before = _status_mib("VmRSS")
    start = time.perf_counter()
    result = float(value.compute(scheduler="threads", num_workers=args.workers))
    seconds = time.perf_counter() - start
    peak = _status_mib("VmHWM")
    row = {
        "rows": args.rows,
        "dim": args.dim,
        "dtype": "float32",
        "data_mib": round(args.rows * args.dim * 4 / 2**20, 1),
        "chunk_rows": args.chunk_rows,
        "num_slices": args.num_slices,
        "workers": args.workers,
        "graph_tasks": len(value.__dask_graph__()),
        "sigreg": round(result, 4),
        "seconds": round(seconds, 1),
        "rss_before_mib": round(before, 1),
        "peak_rss_mib": round(peak, 1),
        "peak_growth_mib": round(peak - before, 1),
    }
    print(json.dumps(row))


if __name__ == "__main__":
    main()
