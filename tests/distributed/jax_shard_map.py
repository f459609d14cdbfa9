"""Run by tests/backend/test_distributed.py in a fresh process (needs 4 host devices before JAX starts).

A linear encoder with replicated parameters, the batch sharded over 4 devices
with ``shard_map``: value and ``pmean``-ed parameter gradients must equal the
unsharded computation, with replication checking on and off, eagerly and jitted.
Prints one JSON line of relative errors.
"""

import json
import os

os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=4"
os.environ["JAX_PLATFORMS"] = "cpu"

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh
from jax.sharding import PartitionSpec as P

import sigreg
import sigreg.jax

jax.config.update("jax_enable_x64", True)


def shard_map(f, mesh, in_specs, out_specs, check):
    if hasattr(jax, "shard_map"):
        return jax.shard_map(f, mesh=mesh, in_specs=in_specs, out_specs=out_specs, check_vma=check)
    from jax.experimental.shard_map import shard_map as legacy

    return legacy(f, mesh=mesh, in_specs=in_specs, out_specs=out_specs, check_rep=check)


def encode(w, x):
    return jnp.stack([x @ w, jnp.tanh(x @ w)])  # two views, (V, N, D)


def regulariser(w, x, all_reduce=None):
    return sigreg.sigreg(encode(w, x), num_slices=12, seed=3, all_reduce=all_reduce)


def objective(w, x, all_reduce=None):
    return sigreg.lejepa_loss(encode(w, x), lam=0.5, num_slices=12, seed=3, all_reduce=all_reduce)


def grad_then_pmean(w, x):
    """The usual recipe: gradient of the (global) SIGReg, then pmean over workers."""
    value, grad = jax.value_and_grad(regulariser)(w, x, sigreg.jax.all_reduce("batch"))
    return value, jax.lax.pmean(grad, "batch")


def grad_of_pmean(w, x):
    """LeJEPA's prediction term is a per-worker mean: differentiate its pmean."""

    def loss(w):
        return jax.lax.pmean(objective(w, x, sigreg.jax.all_reduce("batch")), "batch")

    value, grad = jax.value_and_grad(loss)(w)
    return value, jax.lax.pmean(grad, "batch")


rng = np.random.default_rng(0)
x = jnp.asarray(rng.standard_normal((64, 6)))
w = jnp.asarray(rng.standard_normal((6, 5)) * 0.5)
mesh = Mesh(np.array(jax.devices()[:4]), ("batch",))

errors = {}
for name, local, reference in (
    ("sigreg", grad_then_pmean, regulariser),
    ("lejepa", grad_of_pmean, objective),
):
    ref_value, ref_grad = jax.value_and_grad(reference)(w, x)
    for check in (True, False):
        sharded = shard_map(local, mesh, (P(), P("batch")), (P(), P()), check)
        for mode, f in (("eager", sharded), ("jit", jax.jit(sharded))):
            value, grad = f(w, x)
            errors[f"{name},check={check},{mode}"] = {
                "value": float(abs(value - ref_value) / abs(ref_value)),
                "grad": float(jnp.max(jnp.abs(grad - ref_grad)) / jnp.max(jnp.abs(ref_grad))),
            }
print(json.dumps(errors))
