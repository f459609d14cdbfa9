"""Compile the Pallas kernels (JAX on CUDA) ahead of time for sm_80/sm_90 and read the machine code.

    python benchmarks/pallas_kernels.py [--json] [--arch 80,90] [--subset] [--markdown FILE]

No GPU is needed, but both JAX and Triton are: JAX lowers ``sigreg._backend.kernels.pallas_ecf``
for the ``cuda`` platform (Pallas builds the Triton IR in Python and hands it to XLA, which
would compile it on a GPU); this script takes that IR (``lower_jaxpr_to_triton_module``'s
result, recorded during the lowering) and runs it through ``triton.compile`` for a named
target, then reads the cubin with the tools Triton bundles, as ``benchmarks/kernels.py``
does for the torch kernels (its ``analyse``: registers, spills, stack, the fast row loop's
SASS). The Triton that compiles here is the pip package's, not the one inside XLA's CUDA
plugin, so the numbers are those of the same IR through a close relative of XLA's pipeline.

Variants: float32 and float64; the sums and the VJP; directions per program 32, 64 and 128
(``num_warps`` 1, 2, 4: ``K`` = 20, 50, 512); one run of knots (``J`` = 16) or several
(``J`` = 17: the sums' knot block as a grid axis, the VJP's knot loop); ``N`` = 8192.
``--subset``: ``num_warps`` 4 only. ``sass_per_element``: the fast loop's instructions over
the (row, direction, knot) elements one thread handles per iteration, ``rows per step x 16``
(one run of knots per iteration in both kernels).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if os.environ.get("TRITON_INTERPRET") == "1":
    os.environ.pop("TRITON_INTERPRET")  # the interpreter replaces the compiler
os.environ.setdefault("JAX_PLATFORMS", "cpu")  # lowering for cuda needs no CUDA backend

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import kernels  # noqa: E402  (benchmarks/kernels.py: analyse)
import triton  # noqa: E402
from jax._src.pallas.triton import lowering as pallas_lowering  # noqa: E402
from triton.backends.compiler import GPUTarget  # noqa: E402

from sigreg._backend.kernels import pallas_ecf  # noqa: E402

ARCHS = (80, 90)
N = 8192
SHAPES = [(k, j) for k in (20, 50, 512) for j in (16, 17)]
DT = 3.0 / 16
# Pallas's defaults (num_stages 3 on CUDA); fused multiply-adds on, as Triton's default (set
# explicitly: Triton 3.9 warns when it is left to the default).
OPTIONS = {"num_stages": 3, "enable_fp_fusion": True}


def triton_modules(kernel: str, dtype: Any, k: int, num_knots: int) -> list[tuple[str, dict[str, Any]]]:
    """The Triton IR (text) of each pallas_call that lowering ``kernel`` for cuda builds."""
    recorded: list[tuple[str, dict[str, Any]]] = []
    real = pallas_lowering.lower_jaxpr_to_triton_module

    def record(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        recorded.append((result.module.operation.get_asm(enable_debug_info=False), {"grid": result.grid}))
        return result

    u = jax.ShapeDtypeStruct((N, k), dtype)
    bar = jax.ShapeDtypeStruct((k, 2 * num_knots), dtype)
    if kernel == "sums":
        step, args = (lambda u: pallas_ecf.ecf_sums(u, DT, num_knots)), (u,)
    else:
        step, args = (lambda u, b: pallas_ecf.ecf_sums_vjp(u, b, DT, num_knots)), (u, bar)
    pallas_lowering.lower_jaxpr_to_triton_module = record
    try:
        jax.jit(step).trace(*args).lower(lowering_platforms=("cuda",))
    finally:
        pallas_lowering.lower_jaxpr_to_triton_module = real
    return recorded


def variants(archs: tuple[int, ...], subset: bool) -> list[dict[str, Any]]:
    rows = []
    x64 = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for dtype in (jnp.float32, jnp.float64):
                for k, num_knots in SHAPES:
                    warps = pallas_ecf._block_k(k) // 32
                    if subset and warps != 4:
                        continue
                    for kernel in ("sums", "vjp"):
                        [(ttir, info)] = triton_modules(kernel, dtype, k, num_knots)
                        for arch in archs:
                            row = compile_row(ttir, info, kernel, dtype, warps, num_knots, arch, Path(tmp))
                            print(json.dumps(row, sort_keys=True), file=sys.stderr)
                            rows.append(row)
    finally:
        jax.config.update("jax_enable_x64", x64)
    return rows


def compile_row(
    ttir: str, info: dict[str, Any], kernel: str, dtype: Any, warps: int, num_knots: int, arch: int, tmp: Path
) -> dict[str, Any]:
    name = f"pallas_{kernel}_{jnp.dtype(dtype).name}_w{warps}_j{num_knots}_sm{arch}"
    row: dict[str, Any] = {
        "kernel": kernel,
        "dtype": jnp.dtype(dtype).name,
        "arch": arch,
        "num_warps": warps,
        "runs": "one" if num_knots <= 16 else "several",
        "grid": info["grid"],
    }
    source = tmp / f"{name}.ttir"
    source.write_text(ttir)
    began = time.perf_counter()
    try:
        compiled = triton.compile(
            str(source), target=GPUTarget("cuda", arch, 32), options={"num_warps": warps, **OPTIONS}
        )
        row.update(kernels.analyse(compiled, tmp, name, arch), compiled=True)
    except Exception as error:  # a compile error is a result: report it
        row["compiled"] = f"{type(error).__name__}: {str(error).splitlines()[0][:200]}"
        return row
    row["compile_s"] = round(time.perf_counter() - began, 1)
    elements = pallas_ecf._ROWS * 16
    loop = row["loop_instructions"]
    row["sass_per_element"] = None if loop is None else round(loop / elements, 1)
    return row


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = [
        "# Pallas kernel variants (JAX on CUDA), compiled ahead of time",
        "",
        "Generated by `python benchmarks/pallas_kernels.py --markdown docs/data/pallas-kernels.md`",
        f"(JAX {jax.__version__} lowers for `cuda`; Triton {triton.__version__} compiles the IR, with the",
        "`ptxas` and `cuobjdump` it bundles; no GPU involved). N = 8192. SASS/element: instructions of",
        "the fast row loop per (row, direction, knot) element.",
        "",
        "| kernel | dtype | arch | warps | runs of 16 knots | regs | spills [B] | stack [B] | shared [B]"
        " | loop instr. | SASS/element |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        head = f"| {r['kernel']} | {r['dtype']} | {r['arch']} | {r['num_warps']} | {r['runs']} |"
        if r["compiled"] is not True:
            lines.append(f"{head} failed: {r['compiled']} |")
            continue
        lines.append(
            f"{head} {r['n_regs']} | {r['n_spills']} | {r['stack']} | {r['shared']} |"
            f" {r['loop_instructions']} | {r['sass_per_element']} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON row per variant")
    parser.add_argument("--arch", default="80,90", help="compute capabilities, comma-separated")
    parser.add_argument("--subset", action="store_true", help="only num_warps=4")
    parser.add_argument("--markdown", type=Path, help="write the table as Markdown here")
    options = parser.parse_args(argv)
    began = time.perf_counter()
    rows = variants(tuple(int(a) for a in options.arch.split(",")), options.subset)
    if options.json:
        for row in rows:
            print(json.dumps(row, sort_keys=True))
    if options.markdown is not None:
        options.markdown.parent.mkdir(parents=True, exist_ok=True)
        options.markdown.write_text(markdown(rows))
    print(f"{len(rows)} variants in {time.perf_counter() - began:.0f} s", file=sys.stderr)
    return 0 if all(r["compiled"] is True for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
