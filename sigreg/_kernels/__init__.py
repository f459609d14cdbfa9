"""Fused device kernels (optional: each module needs its own framework and compiler)."""
