"""Imported first by both examples: OpenMP threads that wait for work without spinning.

PyTorch's intra-op threads and the threads of sigreg's Numba kernels (GNU OpenMP) spin for a
while after each parallel region. On a machine whose cores other jobs share, the spinning threads
of one runtime take the cores that the other runtime, and the other jobs, need: 300 training steps
of the PyTorch example took 264 s with the default policy and 39 s with ``OMP_WAIT_POLICY=passive``
at a load average of 9 on 2 cores (``python examples/results.py --steps`` style timing, see
docs/examples.md). The policy is read when a runtime starts, so it is set before any import that
loads one (scikit-learn, PyTorch, Numba); a value already in the environment is kept.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "passive")
