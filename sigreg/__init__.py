"""SIGReg: Sketched Isotropic Gaussian Regularization, on any array-API library.

One implementation, written against the Python array API standard, for NumPy,
CuPy, PyTorch, JAX and array-api-strict arrays. Importing ``sigreg`` imports no
array library; ``sigreg.torch`` and ``sigreg.jax`` load when their arrays show up.
"""

from ._api import directions, epps_pulley, lejepa_loss, sigreg, value_and_grad

__all__ = ["directions", "epps_pulley", "lejepa_loss", "sigreg", "value_and_grad"]
__version__ = "0.1.0"
