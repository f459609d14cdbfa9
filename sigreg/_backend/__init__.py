"""Which adapter, plan and kernel serve an array; Dask arrays; the autodiff adapters and
the fused kernels below. Never imports ``sigreg._api`` or the public modules.
"""
