"""SIGReg: Sketched Isotropic Gaussian Regularization, on any array-API library.

One implementation, written against the Python array API standard, for NumPy,
CuPy, PyTorch, JAX and array-api-strict arrays. Importing ``sigreg`` imports no
array library; the framework adapters load when their arrays show up.
``sigreg.stats`` holds the normality statistics; ``sigreg.torch`` and
``sigreg.jax`` the framework extras (module, all-reduce).
"""

from . import stats, targets
from ._api.accumulate import Accumulator
from ._api.lewm import lewm_loss, lewm_value_and_grad
from ._api.regulariser import directions, lejepa_loss, sigreg, value_and_grad
from ._api.visreg import visreg, visreg_value_and_grad
from ._api.warmup import warmup
from ._backend.kernels.warning import KernelWarning
from ._core.public import rehome as _rehome
from ._pvalues.sliced import TestResult, test
from .stats import epps_pulley

__all__ = [
    "Accumulator",
    "KernelWarning",
    "TestResult",
    "directions",
    "epps_pulley",
    "lejepa_loss",
    "lewm_loss",
    "lewm_value_and_grad",
    "sigreg",
    "stats",
    "targets",
    "test",
    "value_and_grad",
    "visreg",
    "visreg_value_and_grad",
    "warmup",
]
__version__ = "0.1.0"
_rehome(globals(), __name__)
