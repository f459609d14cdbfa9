# mypy: disable-error-code="no-untyped-call"
# (jax.interpreters.ad and batching, and Primitive.bind, carry no annotations.)
"""JAX primitives for a statistic's sums (or values) with both a JVP and an exact transpose.

``jax.custom_vjp`` gives an exact reverse mode but no forward mode (``jvp``, ``jacfwd``,
``hessian``); ``jax.custom_jvp`` gives forward mode, but its reverse mode is JAX's transpose
of the JVP, not the statistic's own VJP (Horner's rule, the fused kernels). Three primitives
give both:

- ``primal(u)``: the sums (or values) of ``u``;
- ``tangent(u, u_dot)``: their JVP, linear in ``u_dot`` (the array-API formula linearised
  by ``jax.jvp``), whose transpose is ``cotangent``;
- ``cotangent(u, c)``: their VJP, linear in ``c`` (the statistic's own, kernels included),
  whose transpose is ``tangent``.

So reverse mode runs exactly the VJP the custom_vjp ran before, forward mode runs the JVP,
and higher orders (``hessian``, ``jacfwd(jacrev)``) differentiate ``tangent`` and
``cotangent`` in ``u`` through the array-API formula (plain ``jax.numpy``). ``vmap`` moves
the mapped axis to a leading batch axis, which every statistic takes: one call per batch.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
from jax.extend.core import Primitive
from jax.interpreters import ad, batching, mlir

from ..._core.plan import Plan

Array = Any


@dataclasses.dataclass(frozen=True)
class Linearised:
    """A statistic's sums (``sums=True``) or values as functions of ``u``, with JVP and VJP."""

    statistic: Any
    plan: Plan
    sums: bool

    @property
    def array_api(self) -> Plan:
        # The fused kernels have no derivative of their own: their derivatives use the array-API code.
        return dataclasses.replace(self.plan, kernel=None)

    def primal(self, u: Array, plan: Plan | None = None) -> Array:
        plan = self.plan if plan is None else plan
        if self.sums:
            return self.statistic.local_sums(u, jnp, plan)
        return self.statistic.forward(u, jnp, plan)[0]

    def tangent(self, u: Array, u_dot: Array) -> Array:
        return jax.jvp(lambda x: self.primal(x, self.array_api), (u,), (u_dot,))[1]

    def cotangent(self, u: Array, c: Array, plan: Plan | None = None) -> Array:
        plan = self.plan if plan is None else plan
        if self.sums:
            return self.statistic.local_sums_vjp(u, c, jnp, plan)
        # The residuals are recomputed from u (a primitive's operands are arrays); under jit
        # XLA shares them with the primal's when both are in one computation.
        _, residuals = self.statistic.forward(u, jnp, plan)
        return self.statistic.backward(u, residuals, c, jnp, plan)


primal_p: Any = Primitive("sigreg_primal")
tangent_p: Any = Primitive("sigreg_tangent")
cotangent_p: Any = Primitive("sigreg_cotangent")


def apply(op: Linearised, u: Array) -> Array:
    """``op.primal(u)``, differentiable in every mode and batchable."""
    return primal_p.bind(u, op=op)


def _aval(fn: Any, *args: Any) -> Any:
    shapes = [jax.ShapeDtypeStruct(a.shape, a.dtype) for a in args]
    out = jax.eval_shape(fn, *shapes)
    vma = frozenset().union(*(getattr(a, "vma", frozenset()) for a in args))
    try:
        return jax.core.ShapedArray(out.shape, out.dtype, vma=vma)  # type: ignore[call-arg]
    except TypeError:  # a JAX without varying manual axes
        return jax.core.ShapedArray(out.shape, out.dtype)


primal_p.def_impl(lambda u, op: op.primal(u))
tangent_p.def_impl(lambda u, u_dot, op: op.tangent(u, u_dot))
cotangent_p.def_impl(lambda u, c, op: op.cotangent(u, c))
primal_p.def_abstract_eval(lambda u, op: _aval(op.primal, u))
tangent_p.def_abstract_eval(lambda u, u_dot, op: _aval(op.tangent, u, u_dot))
cotangent_p.def_abstract_eval(lambda u, c, op: _aval(op.cotangent, u, c))
mlir.register_lowering(primal_p, mlir.lower_fun(lambda u, op: op.primal(u), multiple_results=False))
mlir.register_lowering(
    tangent_p, mlir.lower_fun(lambda u, u_dot, op: op.tangent(u, u_dot), multiple_results=False)
)
mlir.register_lowering(
    cotangent_p, mlir.lower_fun(lambda u, c, op: op.cotangent(u, c), multiple_results=False)
)

# Forward mode. In u_dot and c the maps are linear (so their JVP is the map itself); in u the
# derivative is a second derivative, of the array-API formula, by jax.jvp.
ad.defjvp(primal_p, lambda g, u, op: tangent_p.bind(u, g, op=op))
ad.defjvp(
    tangent_p,
    lambda g, u, u_dot, op: jax.jvp(lambda x: op.tangent(x, u_dot), (u,), (g,))[1],
    lambda g, u, u_dot, op: tangent_p.bind(u, g, op=op),
)
ad.defjvp(
    cotangent_p,
    lambda g, u, c, op: jax.jvp(lambda x: op.cotangent(x, c, op.array_api), (u,), (g,))[1],
    lambda g, u, c, op: cotangent_p.bind(u, g, op=op),
)


def _transpose(target: Primitive) -> Any:
    def rule(ct: Any, u: Any, linear: Any, op: Linearised) -> list[Any]:
        if ad.is_undefined_primal(u):
            raise ValueError("sigreg: u enters a linearised statistic non-linearly")
        if type(ct) is ad.Zero:
            return [None, ad.Zero(linear.aval)]
        return [None, target.bind(u, ct, op=op)]

    return rule


ad.primitive_transposes[tangent_p] = _transpose(cotangent_p)
ad.primitive_transposes[cotangent_p] = _transpose(tangent_p)


def _batch(prim: Primitive) -> Any:
    """vmap: every operand's mapped axis first (broadcast where unmapped), one call."""

    def rule(args: tuple[Any, ...], dims: tuple[Any, ...], op: Linearised) -> tuple[Any, int]:
        size = next(a.shape[d] for a, d in zip(args, dims, strict=True) if d is not None)
        moved = [
            jnp.broadcast_to(a, (size, *a.shape)) if d is None else jnp.moveaxis(a, d, 0)
            for a, d in zip(args, dims, strict=True)
        ]
        return prim.bind(*moved, op=op), 0

    return rule


for _prim in (primal_p, tangent_p, cotangent_p):
    batching.primitive_batchers[_prim] = _batch(_prim)
