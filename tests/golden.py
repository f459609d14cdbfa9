"""Golden values: every public function on fixed inputs, values and gradients.

They pin the numbers of a tree so that a change meant to leave behaviour alone (a
restructuring, a rename) can prove it did: ``tests/project/test_golden.py`` recomputes them
and compares bit for bit. Regenerate them only for a change that alters numbers on
purpose, in a commit that says why::

    python -m tests.golden --write          # the backends installed here
    python -m tests.golden --write --no-numba

(as a module, from the repository root: run as a script, its folder would come first on
``sys.path`` and ``tests/statistics`` would hide the standard library's ``statistics``).

The values depend on which fused kernels serve (Numba's reorders sums), so each file is
named by backend and by whether Numba imports: ``tests/data/golden/<config>.npz``.
They are bit for bit under the versions of ``backends/lock.txt``, which the nox sessions install
(a newer JAX, NumPy or Numba may reorder a sum: ``nox -s latest`` shows it). They also depend on
the CPU: Numba compiles its kernels for the host's instruction set (the ``-numba`` files), and
NumPy and XLA pick vector kernels by CPU features; these were recorded on CI's kind of machine
(an x86-64 AMD EPYC with AVX2 and FMA). On another CPU, regenerate them before a restructuring.
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

FOLDER = Path(__file__).parent / "data" / "golden"
BACKENDS = ("numpy", "torch", "jax", "jax_x64")
N, D, K = 48, 6, 12
# Fixed lists, not the registry's: a new statistic adds no golden value (its contract tests hold it).
STATISTICS = (
    "epps_pulley",
    "anderson_darling",
    "cramer_von_mises",
    "watson",
    "shapiro_wilk",
    "jarque_bera",
    "moments",
    "entropy",
    "wasserstein",
)
FUNCTIONS = (
    "anderson_darling",
    "bhep",
    "cramer_von_mises",
    "ecf",
    "entropy",
    "epps_pulley",
    "henze_zirkler",
    "jarque_bera",
    "moments",
    "shapiro_wilk",
    "wasserstein",
    "watson",
)


def numba_imports() -> bool:
    return importlib.util.find_spec("numba") is not None and sys.modules.get("numba", 0) is not None


def config(backend: str) -> str:
    return f"{backend}-{'numba' if numba_imports() else 'plain'}"


def _inputs(seed: int, shape: tuple[int, ...]) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape) * 1.3 + 0.4


class _Backend:
    """Arrays of one library, and the gradient of a scalar function of one array."""

    def __init__(self, name: str) -> None:
        self.name = name
        if name == "numpy":
            self.xp: Any = np
        elif name == "torch":
            import torch

            self.xp = torch
        else:
            import jax

            jax.config.update("jax_enable_x64", name == "jax_x64")
            import jax.numpy as jnp

            self.xp = jnp

    @property
    def dtypes(self) -> tuple[str, ...]:
        return ("float32",) if self.name == "jax" else ("float32", "float64")

    def array(self, x: np.ndarray, dtype: str) -> Any:
        if self.name == "torch":
            import torch

            return torch.asarray(x.astype(dtype))
        return self.xp.asarray(x.astype(dtype))

    def grad(self, f: Callable[[Any], Any], x: Any) -> Any | None:
        if self.name == "torch":
            import torch

            x = x.detach().requires_grad_(True)
            (g,) = torch.autograd.grad(torch.sum(f(x)), x)
            return g
        if self.name.startswith("jax"):
            import jax

            return jax.grad(lambda a: self.xp.sum(f(a)))(x)
        return None


def _cases(b: _Backend, dtype: str) -> Iterator[tuple[str, Callable[[], Any], Any]]:
    """(name, a function of nothing, the array to differentiate by or None)."""
    import sigreg
    import sigreg.stats

    z = b.array(_inputs(0, (N, D)), dtype)
    x = b.array(_inputs(1, (N, 4)), dtype)
    views = b.array(_inputs(2, (2, N, D)), dtype)
    local = b.array(_inputs(3, (3, N, D)), dtype)

    def differentiable(name: str, f: Callable[[Any], Any], at: Any) -> Iterator[tuple[str, Any, Any]]:
        yield name, (lambda: f(at)), (f, at)

    for statistic in STATISTICS:
        value = functools.partial(sigreg.sigreg, statistic=statistic, num_slices=K, seed=3)
        yield from differentiable(f"sigreg[{statistic}]", value, z)
    for integration in ("trapezoid", "simpson", "gauss_hermite", "exact"):
        yield from differentiable(
            f"sigreg[epps_pulley,{integration}]",
            lambda a, i=integration: sigreg.sigreg(a, integration=i, num_slices=K, seed=4, reduction="none"),
            z,
        )
    for kind in ("random", "orthogonal", "sobol"):
        yield (
            f"directions[{kind}]",
            lambda k=kind: sigreg.directions(D, K, seed=5, kind=k, xp=b.xp, dtype=z.dtype),
            None,
        )
    yield from differentiable(
        "lejepa_loss[views]",
        lambda a: sigreg.lejepa_loss(a, local, lam=0.05, num_slices=K, seed=6),
        views,
    )
    yield from differentiable(
        "lejepa_loss[all]",
        lambda a: sigreg.lejepa_loss(a, lam=0.3, num_slices=K, seed=6, sigreg_on="all"),
        views,
    )
    if b.name == "numpy":
        yield "value_and_grad", (lambda: np.stack(sigreg.value_and_grad(z, num_slices=K, seed=7)[1:])), None
        yield "value_and_grad[value]", (lambda: sigreg.value_and_grad(z, num_slices=K, seed=7)[0]), None
    for name in FUNCTIONS:
        function = getattr(sigreg.stats, name)
        if name == "ecf":
            yield from differentiable("stats.ecf", lambda a, f=function: sum(f(a, (0.0, 0.5, 1.7))), x)
        elif name in {"bhep", "henze_zirkler"}:
            yield from differentiable(f"stats.{name}", function, z)
        else:
            yield from differentiable(f"stats.{name}", function, x)
    for method in ("auto", "monte_carlo"):
        memo: dict[str, Any] = {}

        def field_of(name: str, m: str = method, memo: dict[str, Any] = memo) -> Any:
            if "result" not in memo:  # one test per method, four fields of it
                memo["result"] = sigreg.test(z, num_slices=K, seed=8, method=m, n_resamples=19)
            return getattr(memo["result"], name)

        for field in ("statistic", "pvalue", "slice_statistics", "slice_pvalues"):
            yield f"test[{method}].{field}", (lambda f=field, g=field_of: g(f)), None

    def accumulated(a: Any) -> Any:
        acc = sigreg.Accumulator()
        for part in (a[:20], a[20:]):
            sigreg.sigreg(part, num_slices=K, seed=9, all_reduce=acc.collect)
        parts = (a[:20], a[20:])
        return sum(sigreg.sigreg(part, num_slices=K, seed=9, all_reduce=acc.reduce) for part in parts)

    yield from differentiable("Accumulator", accumulated, z)


def _numpy(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach()
    return np.asarray(x)


EXTRAS = ("null_mean", "null_range")  # NumPy's keys that belong to no dtype (shard 0 has them)


def _all_cases(b: _Backend) -> Iterator[tuple[str, Callable[[], Any], Any]]:
    for dtype in b.dtypes:
        for name, value, differentiate in _cases(b, dtype):
            yield f"{dtype}/{name}", value, differentiate


def shard_of(backend: str, shards: int) -> dict[str, int]:
    """The shard of each case (its key without ``/grad``), computing no value."""
    cases = _all_cases(_Backend(backend))
    return {**{key: i % shards for i, (key, _, _) in enumerate(cases)}, **dict.fromkeys(EXTRAS, 0)}


def compute(backend: str, shard: int = 0, shards: int = 1) -> dict[str, np.ndarray]:
    """Every golden value of ``backend``, keyed ``<dtype>/<case>`` (and ``.../grad``); with
    ``shards > 1``, only the cases of ``shard`` (see ``shard_of``), so that test workers can share
    them: eager JAX spends 80 s on them all."""
    b = _Backend(backend)
    out: dict[str, np.ndarray] = {}
    for i, (key, value, differentiate) in enumerate(_all_cases(b)):
        if i % shards != shard:
            continue
        out[key] = _numpy(value())
        if differentiate is not None:
            gradient = b.grad(*differentiate)
            if gradient is not None:
                out[f"{key}/grad"] = _numpy(gradient)
    if backend == "numpy" and shard == 0:
        import sigreg.demo

        out["null_mean"] = np.asarray(sigreg.demo.null_mean())
        out["null_range"] = np.asarray(sigreg.demo.null_range(num_points=40, dim=3, draws=5))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--write", action="store_true", help="write the files (else: print the keys)")
    parser.add_argument("--no-numba", action="store_true", help="as if Numba were not installed")
    parser.add_argument("backends", nargs="*", default=list(BACKENDS))
    args = parser.parse_args()
    if args.no_numba:
        sys.modules["numba"] = None  # type: ignore[assignment]  # import numba now fails
    FOLDER.mkdir(parents=True, exist_ok=True)
    for backend in args.backends:
        values = compute(backend)
        if args.write:
            np.savez(FOLDER / f"{config(backend)}.npz", **values)
        print(config(backend), len(values), "values")


if __name__ == "__main__":
    main()
