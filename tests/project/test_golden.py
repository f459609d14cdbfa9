"""The golden values of ``tests/golden.py``, recomputed and compared bit for bit.

A restructuring or a rename must leave every number alone: this test proves it on
the backends of the session. Files exist per backend and per kernel configuration
(with or without Numba); a configuration with no file skips and says so.
"""

from __future__ import annotations

import numpy as np
import pytest

from .. import golden, support
from ..conftest import BACKENDS

GOLDEN_BACKENDS = [b for b in BACKENDS if getattr(b, "values", [b])[0] in golden.BACKENDS]


SHARDS = 4  # the cases, split among the test workers (eager JAX spends 80 s on them all)


@pytest.mark.parametrize("shard", range(SHARDS))
@pytest.mark.parametrize("backend", GOLDEN_BACKENDS)
def test_every_public_function_gives_its_golden_values(backend, shard):
    path = golden.FOLDER / f"{golden.config(backend)}.npz"
    if not path.exists():
        pytest.skip(f"no golden values recorded for {golden.config(backend)}")
    expected = dict(np.load(path))
    with support.backend(backend):
        shard_of = golden.shard_of(backend, SHARDS)
        actual = golden.compute(backend, shard, SHARDS)
    # every recorded key is some shard's, and this shard computes exactly its own
    assert all(key.removesuffix("/grad") in shard_of for key in expected)
    mine = sorted(key for key in expected if shard_of[key.removesuffix("/grad")] == shard)
    assert sorted(actual) == mine
    changed = [k for k in mine if not np.array_equal(actual[k], expected[k], equal_nan=True)]
    assert not changed, f"{len(changed)} values changed, e.g. {changed[:5]}"
