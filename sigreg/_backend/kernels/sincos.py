"""The coefficients of sin and cos that the GPU kernels evaluate, one copy for Triton's and Pallas's.

Numba's kernels (``numba_ecf``) keep their own copy of the float64 ones: their disk cache is
named by the hash of that one file (``numba_cache``), so a constant they read from here could
change without invalidating it.

Numba's, Triton's and Pallas's kernels reduce an angle by pi/2 and evaluate minimax
polynomials on [-pi/4, pi/4]: fdlibm's in float64 (``__kernel_sin``, ``__kernel_cos``),
cephes' in float32 (``sinf``, ``cosf``). With ``z = r^2``: ``sin r = r + r^3 (S1 + z S2 + ...)``,
``cos r = 1 - z/2 + z^2 (C1 + z C2 + ...)``. The float32 parts of pi/2 differ by kernel (they
depend on whether the products are fused), so each kernel keeps its own.
"""

from __future__ import annotations

TWO_OVER_PI = 0.63661977236758134308
# pi/2 in three parts of 33 significant bits (fdlibm's pio2_1, pio2_2, pio2_3): n * part is
# exact for |n| < 2**20, with or without fused multiply-adds.
F64_PIO2 = (1.57079632673412561417e00, 6.07710050630396597660e-11, 2.02226624871116645580e-21)
F64_SIN = (
    -1.66666666666666324348e-01,
    8.33333333332248946124e-03,
    -1.98412698298579493134e-04,
    2.75573137070700676789e-06,
    -2.50507602534068634195e-08,
    1.58969099521155010221e-10,
)
F64_COS = (
    4.16666666666666019037e-02,
    -1.38888888888741095749e-03,
    2.48015872894767294178e-05,
    -2.75573143513906633035e-07,
    2.08757232129817482790e-09,
    -1.13596475577881948265e-11,
)
F32_SIN = (-1.6666654611e-1, 8.3321608736e-3, -1.9515295891e-4)
F32_COS = (4.166664568298827e-2, -1.388731625493765e-3, 2.443315711809948e-5)
