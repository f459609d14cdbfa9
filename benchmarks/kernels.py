"""Compile every Triton kernel variant sigreg can launch, ahead of time, and read the machine code.

    python benchmarks/kernels.py --json [--cubin-dir DIR] [--arch 80,90] [--subset] [--markdown FILE]

No GPU is needed: ``triton.compile`` runs the whole pipeline (TTIR, TTGIR, LLVM IR, PTX,
cubin) for a named target, and the tools Triton bundles (``ptxas``, ``cuobjdump``) read the
result. The arguments are the host code's own: the kernel objects of
``sigreg._backend.kernels.triton_ecf`` are replaced for a moment by recorders, the host wrappers are
called on CPU tensors of the shapes below, and what they would have launched is bound
through the JIT function's own binder, so the specialisation (divisibility by 16, ``== 1``)
is the one a real launch would choose.

Variants: float32 and float64; for the sums each block of directions (``num_warps`` 1, 2,
4) and each block of knots (16 for ``J <= 16``, 32 above); for the VJP the same blocks of
directions and three knot regimes (``J <= 16``, ``J <= 32`` with the cotangents loaded once,
``J > 32`` reloaded per block of knots; the sums compile the first anchor of a block only
where there is more than one block); for ``sm_80`` and ``sm_90``. ``--subset`` keeps
``num_warps = 4`` (the configuration of every ``K >= 65``), which the CI test compiles.

Each JSON row (one line per variant, on stdout): ``kernel``, ``dtype``, ``arch``,
``constexprs``, ``compiled`` (bool, or the error), ``n_regs``, ``n_spills`` (bytes of spill
stores and loads that ``ptxas -v`` reports), ``shared`` (bytes), ``stack`` (bytes of stack
frame), ``loop_instructions`` (SASS instructions of the row loop), ``sass_per_element``
(those divided by the (row, direction, knot) elements one thread handles per iteration:
``ROWS x BLOCK_J``; exact for ``J`` a multiple of ``BLOCK_J``, the default 16 knots
included), ``variants`` (distinct specialisations a sweep of ``N`` from 1000 to 9000 binds,
i.e. how many times the JIT would compile) and ``compile_s``.

The row loop is found as a backward branch in the SASS: the fast loop is the one without
``LDG.E.CONSTANT`` loads (the Payne-Hanek table of libdevice's slow path, which only the
huge-angle fallback uses) and, for the VJP with many knots, the innermost one.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if os.environ.get("TRITON_INTERPRET") == "1":
    # The interpreter replaces the JIT functions: there would be nothing to compile.
    os.environ.pop("TRITON_INTERPRET")

import torch
import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource, make_backend

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from sigreg._backend.kernels import triton_ecf

ARCHS = (80, 90)
# N from 1000 to 9000: what the JIT specialises on is N modulo 16 (and strides): 64 consecutive
# values cover every residue, a coarse step the rest of the range (every N takes minutes).
SWEEP = [*range(1000, 1064), *range(1064, 9001, 499), 9000]
# (K, J) shapes that reach each configuration: K picks num_warps, J the knot block.
SUMS_SHAPES = [(k, j) for k in (20, 50, 512) for j in (16, 17, 100)]
VJP_SHAPES = [(k, j) for k in (20, 50, 512) for j in (16, 17, 100)]
N = 1000


def _tool(name: str) -> str:
    path = Path(triton.__file__).parent / "backends" / "nvidia" / "bin" / name
    if not path.exists():
        raise FileNotFoundError(f"{name} is not bundled with this Triton at {path}")
    return str(path)


class _Recorder:
    """Stands in for a JIT kernel: ``kernel[grid](*args, **kwargs)`` records the launch."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.fn = real.fn
        self.calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def __getitem__(self, grid: Any) -> Any:
        def launch(*args: Any, **kwargs: Any) -> None:
            self.calls.append((args, kwargs))

        return launch


def recorded_launches(
    dtype: torch.dtype, kind: str, n: int, k: int, j: int, buffer: torch.Tensor
) -> list[Any]:
    """The launches ``(args, kwargs)`` the host code makes for ``u`` of shape (n, k)."""
    name = "_ecf_sums_kernel" if kind == "sums" else "_ecf_sums_vjp_kernel"
    real = getattr(triton_ecf, name)
    recorder = _Recorder(real)
    check, rows = triton_ecf._check_launchable, triton_ecf._rows
    setattr(triton_ecf, name, recorder)
    # CPU tensors stand in for CUDA ones: the checks and the row groups of a CUDA launch.
    triton_ecf._check_launchable = lambda u: None
    triton_ecf._rows = lambda device, n: rows(None, n)
    try:
        u = buffer[: n * k].view(n, k)
        if kind == "sums":
            triton_ecf._sums(u, 3.0 / j, j)
        else:
            triton_ecf._sums_vjp(u, torch.zeros((k, 2 * j), dtype=dtype), 3.0 / j, j)
    finally:
        setattr(triton_ecf, name, real)
        triton_ecf._check_launchable, triton_ecf._rows = check, rows
    return recorder.calls


def _bind(jitfn: Any, backend: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    # Private Triton API (3.6-3.9): the binder a launch uses to pick its specialisation.
    binder = triton.runtime.jit.create_function_from_signature(jitfn.signature, jitfn.params, backend)
    bound_args, specialization, options = binder(*args, **kwargs)
    return bound_args, specialization, options


def specialisation_key(jitfn: Any, backend: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    _, specialization, _ = _bind(jitfn, backend, args, kwargs)
    return repr((specialization, sorted(kwargs.items())))


@dataclass
class Loop:
    start: int  # index of the first instruction
    end: int  # index of the backward branch

    def contains(self, other: Loop) -> bool:
        return self.start <= other.start and other.end <= self.end and self != other


def parse_sass(sass: str) -> list[tuple[int, str]]:
    """``(address, instruction)`` of each SASS instruction of the listing."""
    out = []
    for line in sass.splitlines():
        m = re.match(r"\s*/\*([0-9a-f]{4,})\*/\s+(.*?)\s*;", line)
        if m:
            out.append((int(m.group(1), 16), m.group(2)))
    return out


def fast_loop(instructions: list[tuple[int, str]]) -> Loop | None:
    """The row loop of the fast path (see the module docstring)."""
    index = {addr: i for i, (addr, _) in enumerate(instructions)}
    loops = []
    for i, (addr, text) in enumerate(instructions):
        m = re.search(r"(?:^|\s)BRA\b.*?(0x[0-9a-f]+)", text)
        if m:
            target = int(m.group(1), 16)
            if target < addr and target in index:
                loops.append(Loop(index[target], i))
    fast = [
        lp for lp in loops if not any("LDG.E.CONSTANT" in t for _, t in instructions[lp.start : lp.end + 1])
    ]
    if not fast:
        return None
    innermost = [lp for lp in fast if not any(lp.contains(other) for other in fast)]
    return max(innermost, key=lambda lp: lp.end - lp.start)


def _run(cmd: list[str]) -> str:
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout + ""


def _ptxas_verbose(ptx: Path, gpu: str) -> str:
    """``ptxas -v`` of ``ptx``: the bundled ``ptxas``, or ``ptxas-blackwell`` where the PTX is
    of a newer ISA version than ``ptxas`` reads (Triton itself picks the newer one then)."""
    errors = []
    for name in ("ptxas", "ptxas-blackwell"):
        try:
            tool = _tool(name)
        except FileNotFoundError as error:
            errors.append(str(error))
            continue
        done = subprocess.run(
            [tool, "-v", f"--gpu-name={gpu}", str(ptx), "-o", os.devnull], capture_output=True, text=True
        )
        if done.returncode == 0:
            return done.stderr + done.stdout
        errors.append(done.stderr.strip())
    raise RuntimeError("; ".join(errors))


def analyse(kernel: Any, tmp: Path, name: str, arch: int) -> dict[str, Any]:
    cubin = tmp / f"{name}.cubin"
    ptx = tmp / f"{name}.ptx"
    cubin.write_bytes(kernel.asm["cubin"])
    ptx.write_text(kernel.asm["ptx"])
    usage = _run([_tool("cuobjdump"), "-res-usage", str(cubin)])
    regs = int(re.search(r"REG:(\d+)", usage).group(1))  # type: ignore[union-attr]
    stack = int(re.search(r"STACK:(\d+)", usage).group(1))  # type: ignore[union-attr]
    gpu = f"sm_{arch}a" if arch >= 90 else f"sm_{arch}"
    verbose = _ptxas_verbose(ptx, gpu)
    spills = sum(int(b) for b in re.findall(r"(\d+) bytes spill (?:stores|loads)", verbose))
    sass = parse_sass(_run([_tool("cuobjdump"), "-sass", str(cubin)]))
    loop = fast_loop(sass)
    return {
        "n_regs": regs,
        "n_spills": spills,
        "stack": stack,
        "shared": int(kernel.metadata.shared),
        "loop_instructions": None if loop is None else loop.end - loop.start + 1,
    }


def compile_variant(
    jitfn: Any, args: tuple[Any, ...], kwargs: dict[str, Any], arch: int
) -> tuple[Any, dict[str, Any]]:
    target = GPUTarget("cuda", arch, 32)
    backend = make_backend(target)
    bound_args, specialization, options = _bind(jitfn, backend, args, kwargs)
    options, signature, constexprs, attrs = jitfn._pack_args(
        backend, kwargs, bound_args, specialization, options
    )
    src = ASTSource(jitfn, signature, constexprs, attrs)
    return triton.compile(src, target=target, options=options.__dict__), constexprs


def variants(
    cubin_dir: Path | None, archs: tuple[int, ...], subset: bool, knots: set[int] | None = None
) -> list[dict[str, Any]]:
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        tmp = Path(scratch)
        for dtype in (torch.float32, torch.float64):
            buffer = torch.zeros(max(SWEEP) * 512, dtype=dtype)
            for kind, shapes in (("sums", SUMS_SHAPES), ("vjp", VJP_SHAPES)):
                seen: set[str] = set()
                for k, j in shapes:
                    if (subset and k < 65) or (knots is not None and j not in knots):
                        continue
                    (args, kwargs), *_ = recorded_launches(dtype, kind, N, k, j, buffer)
                    config = json.dumps(
                        {key: v for key, v in kwargs.items() if key.isupper() or key == "num_warps"},
                        sort_keys=True,
                    )
                    if config in seen:
                        continue
                    seen.add(config)
                    jitfn = getattr(
                        triton_ecf, "_ecf_sums_kernel" if kind == "sums" else "_ecf_sums_vjp_kernel"
                    )
                    backend = make_backend(GPUTarget("cuda", 90, 32))
                    keys = set()
                    for n in SWEEP:
                        for a, kw in recorded_launches(dtype, kind, n, k, j, buffer):
                            keys.add(specialisation_key(jitfn, backend, a, kw))
                    for arch in archs:
                        row: dict[str, Any] = {
                            "kernel": kind,
                            "dtype": str(dtype).removeprefix("torch."),
                            "arch": f"sm_{arch}",
                            "constexprs": json.loads(config),
                            "shape": {"K": k, "J": j},
                            "variants": len(keys),
                        }
                        began = time.perf_counter()
                        try:
                            compiled, _ = compile_variant(jitfn, args, kwargs, arch)
                        except Exception as error:
                            row.update(compiled=f"{type(error).__name__}: {error}"[:500])
                            rows.append(row)
                            continue
                        row["compile_s"] = round(time.perf_counter() - began, 2)
                        name = (
                            f"{kind}_{row['dtype']}_{row['arch']}_w{kwargs['num_warps']}_j{kwargs['BLOCK_J']}"
                        )
                        name += "_one" if kwargs["ONE_J_BLOCK"] else "_many"
                        row.update(compiled=True, **analyse(compiled, tmp, name, arch))
                        per_iteration = kwargs["ROWS"] * kwargs["BLOCK_J"]
                        loop = row["loop_instructions"]
                        row["sass_per_element"] = None if loop is None else round(loop / per_iteration, 2)
                        if cubin_dir is not None:
                            cubin_dir.mkdir(parents=True, exist_ok=True)
                            (cubin_dir / f"{name}.cubin").write_bytes(compiled.asm["cubin"])
                        rows.append(row)
    return rows


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = [
        "# Triton kernel variants, compiled ahead of time",
        "",
        "Generated by `python benchmarks/kernels.py --markdown docs/data/kernels.md`",
        f"(Triton {triton.__version__}, the `ptxas` and `cuobjdump` it bundles; no GPU involved).",
        "One row per variant the dispatcher can launch. SASS/element: instructions of the fast row",
        "loop per (row, direction, knot) element; variants: compilations for N = 1000 .. 9000.",
        "",
        "| kernel | dtype | arch | warps | BLOCK_J | one J block | regs | spills [B] | stack [B]"
        " | shared [B] | loop instr. | SASS/element | variants (N sweep) | compile [s] |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        c = r["constexprs"]
        if r["compiled"] is not True:
            lines.append(
                f"| {r['kernel']} | {r['dtype']} | {r['arch']} | {c['num_warps']} | failed: {r['compiled']} |"
            )
            continue
        one = "-" if "ONE_J_BLOCK" not in c else ("yes" if c["ONE_J_BLOCK"] else "no")
        lines.append(
            f"| {r['kernel']} | {r['dtype']} | {r['arch']} | {c['num_warps']} | {c['BLOCK_J']} | {one} |"
            f" {r['n_regs']} | {r['n_spills']} | {r['stack']} | {r['shared']} | {r['loop_instructions']} |"
            f" {r['sass_per_element']} | {r['variants']} | {r['compile_s']} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON row per variant")
    parser.add_argument("--cubin-dir", type=Path, help="write the cubins here")
    parser.add_argument("--arch", default="80,90", help="compute capabilities, comma-separated")
    parser.add_argument("--subset", action="store_true", help="only num_warps=4 (the CI test's set)")
    parser.add_argument("--markdown", type=Path, help="write the table as Markdown here")
    parser.add_argument("--knots", help="only the knot counts J given (comma-separated: 16, 17, 100)")
    parser.add_argument("--from-json", type=Path, help="read the rows from an earlier --json run")
    options = parser.parse_args(argv)
    began = time.perf_counter()
    if options.from_json is not None:
        rows = [json.loads(line) for line in options.from_json.read_text().splitlines() if line.strip()]
    else:
        knots = None if options.knots is None else {int(j) for j in options.knots.split(",")}
        archs = tuple(int(a) for a in options.arch.split(","))
        rows = variants(options.cubin_dir, archs, options.subset, knots)
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
