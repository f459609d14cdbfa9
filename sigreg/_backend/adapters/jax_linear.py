# mypy: disable-error-code="no-untyped-call"
# (jax.interpreters.ad and batching, and Primitive.bind, carry no annotations.)
"""JAX primitives for a statistic's sums (or values) with both a JVP and an exact transpose.

``jax.custom_vjp`` gives an exact reverse mode but no forward mode (``jvp``, ``jacfwd``,
``hessian``); ``jax.custom_jvp`` gives forward mode, but its reverse mode is JAX's transpose
of the JVP, not the statistic's own VJP (Horner's rule, the fused kernels). Three primitives
give both:

- ``primal(u)``: the sums (or values) of ``u``, and the residuals that the statistic's VJP
  reads (its ``forward``'s; none for sums, whose VJP reads ``u`` alone);
- ``tangent(u, *residuals, u_dot)``: their JVP, linear in ``u_dot`` (the array-API formula
  linearised by ``jax.jvp``), whose transpose is ``cotangent``;
- ``cotangent(u, *residuals, c)``: their VJP, linear in ``c`` (the statistic's own, kernels
  included, on the residuals the primal saved), whose transpose is ``tangent``.

So reverse mode runs exactly the VJP the custom_vjp ran before, on the same saved residuals
(the same bits), forward mode runs the JVP, and higher orders (``hessian``,
``jacfwd(jacrev)``) differentiate ``tangent`` and ``cotangent`` in ``u`` through the
array-API formula (plain ``jax.numpy``). The residuals are functions of ``u`` that only these
primitives read: they get zero tangents, and the derivatives in ``u`` recompute them from
``u``, so the dependence through them is counted once. ``vmap`` moves the mapped axis to a
leading batch axis, which every statistic takes: one call per batch.

A statistic bound to per-call constants (``target=``: Wasserstein's reference order
statistics) cannot be a static parameter, since the constants may be traced: ``bound=True``
passes them as an operand after ``u``, bound to the statistic inside each body
(``Statistic.bind``). They do not depend on ``z``: zero tangent, no
cotangent, and never mapped by ``vmap``.
"""

from __future__ import annotations

import dataclasses
import functools
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
    bound: bool = False  # one constant operand after u, bound to the statistic (target=)

    @property
    def num_constants(self) -> int:
        return int(self.bound)

    def _statistic(self, constants: tuple[Array, ...]) -> Any:
        return self.statistic.bind(constants[0]) if constants else self.statistic

    @property
    def array_api(self) -> Plan:
        # The fused kernels have no derivative of their own: their derivatives use the array-API code.
        return dataclasses.replace(self.plan, kernel=None)

    def primal(
        self, u: Array, plan: Plan | None = None, constants: tuple[Array, ...] = ()
    ) -> tuple[Array, tuple[Any, ...]]:
        """The sums (or values) and the residuals of the VJP (a pytree of arrays)."""
        plan = self.plan if plan is None else plan
        statistic = self._statistic(constants)
        if self.sums:
            return statistic.local_sums(u, jnp, plan), ()
        values, residuals = statistic.forward(u, jnp, plan)
        return values, tuple(residuals)

    def tangent(self, u: Array, u_dot: Array, constants: tuple[Array, ...] = ()) -> Array:
        return jax.jvp(lambda x: self.primal(x, self.array_api, constants)[0], (u,), (u_dot,))[1]

    def cotangent(
        self, u: Array, residuals: Any, c: Array, plan: Plan | None = None, constants: tuple[Array, ...] = ()
    ) -> Array:
        plan = self.plan if plan is None else plan
        statistic = self._statistic(constants)
        if self.sums:
            return statistic.local_sums_vjp(u, c, jnp, plan)
        return statistic.backward(u, residuals, c, jnp, plan)

    def cotangent_from_u(self, u: Array, c: Array, constants: tuple[Array, ...] = ()) -> Array:
        """The VJP with its residuals recomputed from ``u`` (array-API plan): differentiable in ``u``."""
        residuals = self.primal(u, self.array_api, constants)[1]
        return self.cotangent(u, residuals, c, self.array_api, constants)


primal_p: Any = Primitive("sigreg_primal")
primal_p.multiple_results = True
tangent_p: Any = Primitive("sigreg_tangent")
cotangent_p: Any = Primitive("sigreg_cotangent")


def apply(op: Linearised, u: Array, *constants: Array) -> Array:
    """``op.primal(u)[0]``, differentiable in every mode and batchable (``constants``: ``op.bound``'s)."""
    if len(constants) != op.num_constants:
        raise TypeError(f"sigreg: {op.num_constants} constant operand(s) expected, got {len(constants)}")
    tree = _residual_tree(op, u.shape, u.dtype, _avals(constants))
    return primal_p.bind(u, *constants, op=op, tree=tree)[0]


def _avals(constants: Any) -> tuple[tuple[tuple[int, ...], Any], ...]:
    return tuple((tuple(c.shape), c.dtype) for c in constants)


def _residual_shapes(op: Linearised, shape: tuple[int, ...], dtype: Any, constants: Any) -> Any:
    specs = [jax.ShapeDtypeStruct(s, d) for s, d in constants]
    return jax.eval_shape(lambda x, *c: op.primal(x, None, c)[1], jax.ShapeDtypeStruct(shape, dtype), *specs)


@functools.cache
def _residual_tree(op: Linearised, shape: tuple[int, ...], dtype: Any, constants: Any = ()) -> Any:
    """The pytree structure of the residuals for ``u`` of this shape and dtype."""
    return jax.tree_util.tree_structure(_residual_shapes(op, shape, dtype, constants))


# The primitives' bodies: residuals travel as a flat list of arrays, ``tree`` rebuilds them.
# The operands: u, then op.num_constants constants, then (tangent, cotangent) the residuals and
# the linear operand.
def _primal(u: Array, *constants: Array, op: Linearised, tree: Any) -> list[Array]:
    out, residuals = op.primal(u, None, constants)
    return [out, *jax.tree_util.tree_leaves(residuals)]


def _tangent(u: Array, *rest: Array, op: Linearised, tree: Any) -> Array:
    return op.tangent(u, rest[-1], rest[: op.num_constants])


def _cotangent(u: Array, *rest: Array, op: Linearised, tree: Any) -> Array:
    k = op.num_constants
    residuals = jax.tree_util.tree_unflatten(tree, rest[k:-1])
    return op.cotangent(u, residuals, rest[-1], None, rest[:k])


def _abstract(body: Any, multiple: bool) -> Any:
    """The output avals as JAX itself derives them from the body traced on the operands' avals:
    inside shard_map they then vary over the manual axes as the body's result does (which
    transposition checks: a cotangent varies as its primal)."""

    def rule(*avals: Any, **params: Any) -> Any:
        out = jax.make_jaxpr(functools.partial(body, **params))(*avals).out_avals
        return list(out) if multiple else out[0]

    return rule


for _prim, _body in ((primal_p, _primal), (tangent_p, _tangent), (cotangent_p, _cotangent)):
    _prim.def_impl(_body)
    _prim.def_abstract_eval(_abstract(_body, _prim.multiple_results))
    mlir.register_lowering(_prim, mlir.lower_fun(_body, multiple_results=_prim.multiple_results))


_typeof: Any = getattr(jax, "typeof", None) or getattr(jax.core, "get_aval")  # noqa: B009 (typeof: JAX 0.4.36 on)


def _zero(x: Array) -> Any:
    return ad.Zero(_typeof(x).to_tangent_aval())


def _sum(terms: list[Any], like: Array) -> Any:
    terms = [t for t in terms if type(t) is not ad.Zero]
    return functools.reduce(jnp.add, terms) if terms else _zero(like)


# Forward mode. The residual outputs get zero tangents: only tangent and cotangent read them,
# and their derivatives in u recompute them from u. In u_dot and c the maps are linear (their
# JVP is the map itself); in u the derivative is a second derivative, of the array-API formula.
# The constants are constants of z: their tangents (zero, as they are made) are not read.
def _primal_jvp(primals: Any, tangents: Any, *, op: Linearised, tree: Any) -> Any:
    (u, *constants), u_dot = primals, tangents[0]
    out = primal_p.bind(u, *constants, op=op, tree=tree)
    if type(u_dot) is ad.Zero:
        return out, [_zero(o) for o in out]
    tangent = tangent_p.bind(u, *constants, *out[1:], u_dot, op=op, tree=tree)
    return out, [tangent, *(_zero(r) for r in out[1:])]


def _linear_jvp(prim: Primitive, in_u: Any) -> Any:
    def rule(primals: Any, tangents: Any, *, op: Linearised, tree: Any) -> Any:
        u, *residuals, linear = primals  # residuals: the constants first, then the VJP's
        constants = tuple(residuals[: op.num_constants])
        g_u, *_, g_linear = tangents
        out = prim.bind(*primals, op=op, tree=tree)
        terms = []
        if type(g_u) is not ad.Zero:
            terms.append(jax.jvp(lambda x: in_u(op, x, linear, constants), (u,), (g_u,))[1])
        if type(g_linear) is not ad.Zero:
            terms.append(prim.bind(u, *residuals, g_linear, op=op, tree=tree))
        return out, _sum(terms, out)

    return rule


ad.primitive_jvps[primal_p] = _primal_jvp
ad.primitive_jvps[tangent_p] = _linear_jvp(tangent_p, lambda op, x, u_dot, k: op.tangent(x, u_dot, k))
ad.primitive_jvps[cotangent_p] = _linear_jvp(cotangent_p, lambda op, x, c, k: op.cotangent_from_u(x, c, k))


def _transpose(target: Primitive) -> Any:
    def rule(ct: Any, u: Any, *rest: Any, op: Linearised, tree: Any) -> list[Any]:
        *residuals, linear = rest
        if ad.is_undefined_primal(u) or any(ad.is_undefined_primal(r) for r in residuals):
            raise ValueError("sigreg: u enters a linearised statistic non-linearly")
        nothing = [None] * (1 + len(residuals))
        if type(ct) is ad.Zero:
            return [*nothing, ad.Zero(linear.aval)]
        return [*nothing, target.bind(u, *residuals, ct, op=op, tree=tree)]

    return rule


ad.primitive_transposes[tangent_p] = _transpose(cotangent_p)
ad.primitive_transposes[cotangent_p] = _transpose(tangent_p)


def _leading(a: Array, d: Any, size: int) -> Array:
    return jnp.broadcast_to(a, (size, *a.shape)) if d is None else jnp.moveaxis(a, d, 0)


def _batched_residual_shapes(op: Linearised, u: Array, constants: Any) -> list[tuple[int, ...]]:
    # ``u`` carries the batch axis first: the residuals' shapes for it, the batch axis included.
    out = _residual_shapes(op, u.shape, u.dtype, _avals(constants))
    return [tuple(leaf.shape) for leaf in jax.tree_util.tree_leaves(out)]


def _unmapped_constants(dims: Any) -> None:
    if any(d is not None for d in dims):
        raise NotImplementedError(
            "sigreg: vmap over a statistic's constants (the target's, made from the directions) is "
            "not supported; the directions must be the same for every mapped element"
        )


def _batch_primal(args: Any, dims: Any, *, op: Linearised, tree: Any) -> Any:
    """vmap: the mapped axis first, one call; each residual is mapped where it carries it."""
    (u, *constants), (d, *d_constants) = args, dims
    _unmapped_constants(d_constants)
    u = jnp.moveaxis(u, d, 0)
    out = primal_p.bind(u, *constants, op=op, tree=_residual_tree(op, u.shape, u.dtype, _avals(constants)))
    # A residual of the unbatched shape does not depend on u (a constant table): unmapped.
    unbatched = _residual_shapes(op, u.shape[1:], u.dtype, _avals(constants))
    out_dims: list[int | None] = [0]
    for r, s in zip(out[1:], jax.tree_util.tree_leaves(unbatched), strict=True):
        out_dims.append(None if tuple(r.shape) == tuple(s.shape) else 0)
    return out, out_dims


def _batch_linear(prim: Primitive) -> Any:
    """vmap: u and the linear operand with the mapped axis first (broadcast where unmapped); a
    residual unmapped where the batch would map it (u unmapped, as in jacrev) is broadcast too."""

    def rule(args: Any, dims: Any, *, op: Linearised, tree: Any) -> Any:
        size = next(a.shape[d] for a, d in zip(args, dims, strict=True) if d is not None)
        (u, *residuals, linear), (d_u, *d_residuals, d_linear) = args, dims
        k = op.num_constants
        constants, residuals, d_residuals = residuals[:k], residuals[k:], d_residuals[k:]
        _unmapped_constants(dims[1 : 1 + k])
        u = _leading(u, d_u, size)
        shapes = _batched_residual_shapes(op, u, constants)
        moved = []
        for r, d, shape in zip(residuals, d_residuals, shapes, strict=True):
            if d is not None:
                r = jnp.moveaxis(r, d, 0)
            elif tuple(r.shape) != shape:
                r = jnp.broadcast_to(r, shape)  # a per-example residual of an unmapped u
            moved.append(r)
        batched_tree = _residual_tree(op, u.shape, u.dtype, _avals(constants))
        linear = _leading(linear, d_linear, size)
        return prim.bind(u, *constants, *moved, linear, op=op, tree=batched_tree), 0

    return rule


batching.primitive_batchers[primal_p] = _batch_primal
batching.primitive_batchers[tangent_p] = _batch_linear(tangent_p)
batching.primitive_batchers[cotangent_p] = _batch_linear(cotangent_p)
